/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MS-CMRP property lists (common/proplist.c) and libhamon's
 * hamon_params_get(): the exact bytes monitorctl sends, the round trip
 * through validation and iteration (non-ASCII too), each way a hostile
 * list can be malformed with the reason and offset reported, and a
 * deterministic mutation loop over a valid list.  Every list under test
 * sits in a heap block of exactly its size, so that the ASan build catches
 * a read past its end.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hagent/hamon.h>

#include "proplist.h"
#include "test-util.h"

/* ---- building lists by hand ---- */

struct blob {
	uint8_t b[2048];
	size_t n;
};

static void u32(struct blob *x, uint32_t v)
{
	ck_assert_uint_le(x->n + 4, sizeof(x->b));
	x->b[x->n++] = (uint8_t) v;
	x->b[x->n++] = (uint8_t) (v >> 8);
	x->b[x->n++] = (uint8_t) (v >> 16);
	x->b[x->n++] = (uint8_t) (v >> 24);
}

static void raw(struct blob *x, const void *p, size_t n)
{
	ck_assert_uint_le(x->n + n, sizeof(x->b));
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void pad(struct blob *x)
{
	while (x->n % 4 != 0)
		x->b[x->n++] = 0;
}

/* An ASCII string as UTF-16LE with its NUL: syntax, size, units, padding. */
static void ascii16(struct blob *x, uint32_t syntax, const char *s)
{
	size_t n = strlen(s);

	u32(x, syntax);
	u32(x, (uint32_t) (2 * n + 2));
	for (size_t i = 0; i <= n; i++) {
		uint8_t u[2] = {(uint8_t) s[i], 0};

		raw(x, u, 2);
	}
	pad(x);
}

static void name(struct blob *x, const char *s)
{
	ascii16(x, PROPLIST_SYNTAX_NAME, s);
}

static void sz(struct blob *x, const char *s)
{
	ascii16(x, PROPLIST_SYNTAX_LIST_VALUE_SZ, s);
}

static void dword(struct blob *x, uint32_t v)
{
	u32(x, PROPLIST_SYNTAX_LIST_VALUE_DWORD);
	u32(x, 4);
	u32(x, v);
}

static void endmark(struct blob *x)
{
	u32(x, PROPLIST_SYNTAX_ENDMARK);
}

/* A copy of p[0..n) in a heap block of exactly n bytes (one byte for n 0, never read). */
static uint8_t *exact(const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

static int validate_exact(const void *p, size_t n, size_t *ret_offset, const char **ret_reason)
{
	_cleanup_free_ uint8_t *c = exact(p, n);

	return proplist_validate(c, n, ret_offset, ret_reason);
}

/* Walks a list with proplist_next(); returns the number of properties, or the error. */
static int count_props(const uint8_t *b, size_t len)
{
	struct proplist_entry e;
	size_t off = 0;
	int r, k = 0;

	/* Each property is at least 24 bytes: more steps than that is a loop that does not end. */
	for (size_t steps = 0; steps <= len / 24 + 1; steps++) {
		r = proplist_next(b, len, &off, &e);
		if (r <= 0)
			return r < 0 ? r : k;
		fast_assert(off <= len);
		fast_assert(strlen(e.name) >= 1 && strlen(e.name) <= PROPLIST_NAME_MAX);
		k++;
	}
	ck_abort_msg("proplist_next does not end");
	return -1;
}

/* ---- encoding and the round trip ---- */

START_TEST(test_encode_bytes)
{
	static const uint8_t want[] = {
		0x01, 0x00, 0x00, 0x00,					/* count */
		0x03, 0x00, 0x04, 0x00, 0x04, 0x00, 0x00, 0x00,		/* NAME, 4 bytes */
		'A',  0x00, 0x00, 0x00,					/* "A\0" */
		0x03, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,		/* LIST_VALUE_SZ, 6 bytes */
		'b',  0x00, 'c',  0x00, 0x00, 0x00, 0x00, 0x00,		/* "bc\0", pad */
		0x00, 0x00, 0x00, 0x00,					/* ENDMARK */
	};
	const char *pairs[] = {"A=bc"};
	uint8_t buf[64];
	size_t len = 0;

	ck_assert_int_eq(proplist_encode(pairs, 1, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));

	/* No pairs: the 4-byte empty list, which is valid and has no property. */
	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(proplist_encode(NULL, 0, buf, 4, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(buf, "\0\0\0\0", 4);
	ck_assert_int_eq(validate_exact(buf, 4, NULL, NULL), 0);
	ck_assert_int_eq(count_props(buf, 4), 0);
}
END_TEST

START_TEST(test_round_trip)
{
	/* U+1F600 (4 UTF-8 bytes) is a surrogate pair in UTF-16; é and € take 2 and 3 bytes. */
	const char *pairs[] = {
		"SaveState=1",
		"Mode=fast and quiet",
		"Ünïcode€\xF0\x9F\x98\x80=\xF0\x9F\x98\x80x",
		"Empty=",
		"Eq=a=b",
	};
	const char *want_name[] = {"SaveState", "Mode", "Ünïcode€\xF0\x9F\x98\x80", "Empty", "Eq"};
	const char *want_value[] = {"1", "fast and quiet", "\xF0\x9F\x98\x80x", "", "a=b"};
	static const uint8_t pair16[] = {0x3d, 0xd8, 0x00, 0xde, 'x', 0x00, 0x00, 0x00};
	uint8_t buf[512];
	_cleanup_free_ uint8_t *list = NULL;
	struct proplist_entry e;
	size_t len, off = 0;
	char out[64];

	ck_assert_int_eq(proplist_encode(pairs, ELEMENTSOF(pairs), buf, sizeof(buf), &len), 0);
	list = exact(buf, len);
	ck_assert_int_eq(proplist_validate(list, len, NULL, NULL), 0);
	ck_assert_uint_eq(list[0], ELEMENTSOF(pairs));

	for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
		ck_assert_int_eq(proplist_next(list, len, &off, &e), 1);
		ck_assert_str_eq(e.name, want_name[i]);
		ck_assert_uint_eq(e.syntax, PROPLIST_SYNTAX_LIST_VALUE_SZ);
		ck_assert_uint_eq(e.value_size % 2, 0);
		if (i == 2) {
			/* The smiley as the pair D83D DE00, then 'x' and the NUL. */
			ck_assert_uint_eq(e.value_size, sizeof(pair16));
			ck_assert_mem_eq(e.value, pair16, sizeof(pair16));
		}
		ck_assert_int_eq(hamon_params_get(list, len, want_name[i], out, sizeof(out)),
				 (int) strlen(want_value[i]));
		ck_assert_str_eq(out, want_value[i]);
	}
	ck_assert_int_eq(proplist_next(list, len, &off, &e), 0);
	ck_assert_uint_eq(off, len);
	ck_assert_int_eq(proplist_next(list, len, &off, &e), 0); /* and stays there */
}
END_TEST

START_TEST(test_encode_errors)
{
	char key255[300], key256[300];
	const char *bad[] = {
		"NoEquals",
		"=value",
		"K\xC0\x80=v",	   /* overlong NUL */
		"K\x80=v",	   /* lone continuation byte */
		"K\xED\xA0\x80=v", /* a surrogate in UTF-8 */
		"K\xF4\x90\x80\x80=v", /* above U+10FFFF */
		"K\xE2\x82=v",	   /* truncated sequence, cut by '=' */
		"K=v\xF0\x9F\x98", /* truncated at the end */
		"K=\xFF",
		key256,
	};
	const char *pairs[] = {"SaveState=1", "K=\xE2\x82\xAC"};
	uint8_t buf[1024];
	size_t len = 7, need;

	memset(key255, 'k', 255);
	strcpy(key255 + 255, "=v");
	memset(key256, 'k', 256);
	strcpy(key256 + 256, "=v");

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(proplist_encode(&bad[i], 1, buf, sizeof(buf), &len) == -EINVAL, "pair %zu",
			      i);
	ck_assert_uint_eq(len, 7); /* untouched on failure */
	ck_assert_int_eq(proplist_encode((const char *[]){key255}, 1, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(validate_exact(buf, len, NULL, NULL), 0);

	/* Every size short of the need is -E2BIG, the need itself fits. */
	ck_assert_int_eq(proplist_encode(pairs, 2, buf, sizeof(buf), &need), 0);
	for (size_t size = 0; size < need; size++) {
		_cleanup_free_ uint8_t *c = malloc(size ? size : 1);

		ck_assert_msg(proplist_encode(pairs, 2, size ? c : NULL, size, &len) == -E2BIG, "size %zu",
			      size);
	}
	_cleanup_free_ uint8_t *c = malloc(need);
	ck_assert_int_eq(proplist_encode(pairs, 2, c, need, &len), 0);
	ck_assert_uint_eq(len, need);
	ck_assert_mem_eq(c, buf, need);
}
END_TEST

/* ---- malformations ---- */

struct bad_case {
	const char *what;
	struct blob x;
	const char *reason;
	size_t offset;
};

static void expect_bad(const struct bad_case *c)
{
	size_t off = 12345;
	const char *reason = NULL;
	_cleanup_free_ uint8_t *list = exact(c->x.b, c->x.n);
	struct proplist_entry e;
	size_t next_off = 0;
	char out[16];

	ck_assert_msg(proplist_validate(list, c->x.n, &off, &reason) == -EINVAL, "%s: accepted", c->what);
	ck_assert_msg(reason && strcmp(reason, c->reason) == 0, "%s: reason \"%s\", expected \"%s\"",
		      c->what, reason ? reason : "(null)", c->reason);
	ck_assert_msg(off == c->offset, "%s: offset %zu, expected %zu", c->what, off, c->offset);
	/* The other entry points refuse it too. */
	ck_assert_int_eq(proplist_next(list, c->x.n, &next_off, &e), -EINVAL);
	ck_assert_uint_eq(next_off, 0);
	/* ... but for hamon_params_get() no bytes at all are the empty list. */
	ck_assert_int_eq(hamon_params_get(list, c->x.n, "A", out, sizeof(out)),
			 c->x.n == 0 ? -ENOENT : -EINVAL);
}

/* count 1, name "A", one SZ value "v", end mark: 32 bytes. */
static struct blob one_prop(void)
{
	struct blob x = {.n = 0};

	u32(&x, 1);
	name(&x, "A");
	sz(&x, "v");
	endmark(&x);
	return x;
}

START_TEST(test_malformed)
{
	struct bad_case c = {.what = NULL};
	struct blob ok = one_prop();

	ck_assert_uint_eq(ok.n, 32);
	ck_assert_int_eq(validate_exact(ok.b, ok.n, NULL, NULL), 0);

	c = (struct bad_case){"empty buffer", .reason = "list is shorter than its count", .offset = 0};
	expect_bad(&c);

	c = (struct bad_case){"3 bytes", .reason = "list is shorter than its count", .offset = 0};
	raw(&c.x, "\0\0\0", 3);
	expect_bad(&c);

	/* Scenario 50: count 2, one entry. */
	c = (struct bad_case){"count 2, one entry", .x = ok,
			      .reason = "count promises more properties than the list holds", .offset = 0};
	c.x.b[0] = 2;
	expect_bad(&c);
	/* ... even with room for a second property's worth of zeros (then the bytes are at fault). */
	c = (struct bad_case){"count 2, one entry and zeros", .x = ok,
			      .reason = "property does not start with a name", .offset = 32};
	c.x.b[0] = 2;
	raw(&c.x, (uint8_t[24]){0}, 24);
	expect_bad(&c);

	c = (struct bad_case){"count 0xFFFFFFFF", .x = ok,
			      .reason = "count promises more properties than the list holds", .offset = 0};
	memset(c.x.b, 0xff, 4);
	expect_bad(&c);

	c = (struct bad_case){"trailing bytes", .x = ok, .reason = "bytes after the last property",
			      .offset = 32};
	u32(&c.x, 0);
	expect_bad(&c);

	c = (struct bad_case){"one trailing byte", .x = ok, .reason = "bytes after the last property",
			      .offset = 32};
	raw(&c.x, "x", 1);
	expect_bad(&c);

	c = (struct bad_case){"16 zero bytes", .reason = "bytes after the last property", .offset = 4};
	raw(&c.x, (uint8_t[16]){0}, 16);
	expect_bad(&c);

	c = (struct bad_case){"not a name first", .x = ok, .reason = "property does not start with a name",
			      .offset = 4};
	c.x.b[4] = 0x02; /* 0x00040002 */
	expect_bad(&c);

	c = (struct bad_case){"odd name size", .x = ok, .reason = "name size is odd", .offset = 8};
	c.x.b[8] = 3;
	expect_bad(&c);

	c = (struct bad_case){"name size 0xFFFFFFFF", .x = ok, .reason = "name size is odd", .offset = 8};
	memset(c.x.b + 8, 0xff, 4);
	expect_bad(&c);

	c = (struct bad_case){"name size 0xFFFFFFFE", .x = ok,
			      .reason = "name runs past the end of the list", .offset = 12};
	memset(c.x.b + 8, 0xff, 4);
	c.x.b[8] = 0xfe;
	expect_bad(&c);

	c = (struct bad_case){"name size 0", .x = ok, .reason = "name size is below 2", .offset = 8};
	c.x.b[8] = 0;
	expect_bad(&c);

	/* Size 2: just the NUL. */
	c = (struct bad_case){"empty name", .reason = "name is empty", .offset = 12};
	u32(&c.x, 1);
	name(&c.x, "");
	sz(&c.x, "v");
	endmark(&c.x);
	expect_bad(&c);

	c = (struct bad_case){"name without its NUL", .x = ok,
			      .reason = "string is not NUL-terminated at its size", .offset = 14};
	c.x.b[14] = 'B'; /* "AB", size 4 */
	expect_bad(&c);

	c = (struct bad_case){"NUL inside a name", .reason = "NUL inside a string", .offset = 14};
	u32(&c.x, 1);
	u32(&c.x, PROPLIST_SYNTAX_NAME);
	u32(&c.x, 6);
	raw(&c.x, "A\0\0\0\0\0\0\0", 8); /* "A", NUL, NUL; pad */
	sz(&c.x, "v");
	endmark(&c.x);
	expect_bad(&c);

	c = (struct bad_case){"nonzero name padding", .reason = "padding byte is not zero", .offset = 19};
	u32(&c.x, 1);
	name(&c.x, "AB"); /* 6 bytes at 12, padding at 18 and 19 */
	c.x.b[19] = 1;
	sz(&c.x, "v");
	endmark(&c.x);
	expect_bad(&c);

	/* The value "v\0" (4 bytes at 24) as 2 bytes: 26 and 27 become its padding. */
	c = (struct bad_case){"nonzero value padding", .x = ok, .reason = "padding byte is not zero",
			      .offset = 27};
	c.x.b[20] = 2;
	c.x.b[27] = 0x80;
	expect_bad(&c);

	/* A name and its end mark, then zeros so that the count is not what fails. */
	c = (struct bad_case){"no value", .reason = "property has no value", .offset = 16};
	u32(&c.x, 1);
	name(&c.x, "A");
	endmark(&c.x);
	raw(&c.x, (uint8_t[8]){0}, 8);
	expect_bad(&c);

	c = (struct bad_case){"no end mark", .reason = "property truncated before its end mark",
			      .offset = 28};
	u32(&c.x, 1);
	name(&c.x, "A");
	sz(&c.x, "v");
	expect_bad(&c);

	c = (struct bad_case){"next name before the end mark",
			      .reason = "name where a value or the end mark was expected", .offset = 28};
	u32(&c.x, 2);
	name(&c.x, "A");
	sz(&c.x, "v");
	name(&c.x, "B");
	sz(&c.x, "w");
	endmark(&c.x);
	expect_bad(&c);

	c = (struct bad_case){"value header cut", .reason = "value truncated before its size",
			      .offset = 28};
	u32(&c.x, 1);
	name(&c.x, "A");
	sz(&c.x, "v");
	u32(&c.x, PROPLIST_SYNTAX_LIST_VALUE_DWORD);
	expect_bad(&c);

	c = (struct bad_case){"value size 0xFFFFFFFF", .x = ok,
			      .reason = "value runs past the end of the list", .offset = 24};
	memset(c.x.b + 20, 0xff, 4);
	expect_bad(&c);

	c = (struct bad_case){"value size 0xFFFFFFFC", .x = ok,
			      .reason = "value runs past the end of the list", .offset = 24};
	memset(c.x.b + 20, 0xff, 4);
	c.x.b[20] = 0xfc;
	expect_bad(&c);

	c = (struct bad_case){"value size one too many", .x = ok,
			      .reason = "value runs past the end of the list", .offset = 24};
	c.x.b[20] = 5; /* 5 + 3 padding runs over the end mark */
	c.x.n = 28 + 3;
	expect_bad(&c);

	/* UTF-16 in names. */
	static const struct {
		const char *what;
		uint8_t units[6];
		const char *reason;
		size_t at;
	} utf16[] = {
		{"lone low surrogate", {0x00, 0xdc, 'A', 0, 0, 0}, "UTF-16 low surrogate without a high one", 0},
		{"high surrogate then NUL", {'A', 0, 0x3d, 0xd8, 0, 0}, "UTF-16 high surrogate without a low one", 2},
		{"high surrogate then A", {0x3d, 0xd8, 'A', 0, 0, 0}, "UTF-16 high surrogate without a low one", 0},
		{"two high surrogates", {0x3d, 0xd8, 0x3d, 0xd8, 0, 0}, "UTF-16 high surrogate without a low one", 0},
	};
	for (size_t i = 0; i < ELEMENTSOF(utf16); i++) {
		c = (struct bad_case){utf16[i].what, .reason = utf16[i].reason, .offset = 12 + utf16[i].at};
		u32(&c.x, 1);
		u32(&c.x, PROPLIST_SYNTAX_NAME);
		u32(&c.x, 6);
		raw(&c.x, utf16[i].units, 6);
		pad(&c.x);
		sz(&c.x, "v");
		endmark(&c.x);
		expect_bad(&c);
	}

	/* 255 UTF-8 bytes (85 × U+20AC) pass, 256 (128 × U+00E9) do not. */
	struct blob x = {.n = 0};
	u32(&x, 1);
	u32(&x, PROPLIST_SYNTAX_NAME);
	u32(&x, 86 * 2);
	for (int i = 0; i < 85; i++)
		raw(&x, "\xac\x20", 2);
	raw(&x, "\0\0", 2);
	pad(&x);
	sz(&x, "v");
	endmark(&x);
	ck_assert_int_eq(validate_exact(x.b, x.n, NULL, NULL), 0);

	c = (struct bad_case){"256-byte name", .reason = "name is longer than 255 UTF-8 bytes", .offset = 12};
	u32(&c.x, 1);
	u32(&c.x, PROPLIST_SYNTAX_NAME);
	u32(&c.x, 129 * 2);
	for (int i = 0; i < 128; i++)
		raw(&c.x, "\xe9\x00", 2);
	raw(&c.x, "\0\0", 2);
	pad(&c.x);
	sz(&c.x, "v");
	endmark(&c.x);
	expect_bad(&c);

	/* NULL with a length. */
	size_t off;
	const char *reason;
	ck_assert_int_eq(proplist_validate(NULL, 16, &off, &reason), -EINVAL);
	ck_assert_str_eq(reason, "no buffer");
}
END_TEST

/* ---- iteration details ---- */

START_TEST(test_next)
{
	struct blob x = {.n = 0};
	_cleanup_free_ uint8_t *list = NULL;
	struct proplist_entry e;
	size_t off = 0;

	u32(&x, 3);
	name(&x, "Two");
	dword(&x, 7); /* the first value is the one reported */
	sz(&x, "second");
	endmark(&x);
	name(&x, "Odd");
	u32(&x, 0x00010007); /* any other syntax, any bytes */
	u32(&x, 3);
	raw(&x, "\x01\x02\x03\x00", 4);
	endmark(&x);
	name(&x, "Last");
	sz(&x, "z");
	endmark(&x);
	list = exact(x.b, x.n);

	ck_assert_int_eq(proplist_validate(list, x.n, NULL, NULL), 0);
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), 1);
	ck_assert_str_eq(e.name, "Two");
	ck_assert_uint_eq(e.syntax, PROPLIST_SYNTAX_LIST_VALUE_DWORD);
	ck_assert_uint_eq(e.value_size, 4);
	ck_assert_uint_eq(e.value[0], 7);
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), 1);
	ck_assert_str_eq(e.name, "Odd");
	ck_assert_uint_eq(e.syntax, 0x00010007);
	ck_assert_uint_eq(e.value_size, 3);
	ck_assert_mem_eq(e.value, "\x01\x02\x03", 3);
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), 1);
	ck_assert_str_eq(e.name, "Last");
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), 0);
	ck_assert_uint_eq(off, x.n);

	/* A bogus offset is refused or read safely, never past the end. */
	off = x.n + 1;
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), -EINVAL);
	off = 5;
	ck_assert_int_eq(proplist_next(list, x.n, &off, &e), -EINVAL);
	off = 0;
	ck_assert_int_eq(proplist_next(NULL, 0, &off, &e), -EINVAL);
	ck_assert_int_eq(proplist_next(list, x.n, NULL, &e), -EINVAL);
}
END_TEST

/* ---- hamon_params_get ---- */

START_TEST(test_params_get)
{
	struct blob x = {.n = 0};
	_cleanup_free_ uint8_t *list = NULL;
	char out[32];

	u32(&x, 7);
	name(&x, "SaveState");
	sz(&x, "yes");
	endmark(&x);
	name(&x, "Timeout");
	dword(&x, 4294967295u);
	endmark(&x);
	name(&x, "savestate"); /* a duplicate: the first one counts */
	sz(&x, "no");
	endmark(&x);
	name(&x, "Zero");
	dword(&x, 0);
	endmark(&x);
	name(&x, "Long");
	u32(&x, 0x00010007);
	u32(&x, 4);
	u32(&x, 1);
	endmark(&x);
	name(&x, "ShortDword");
	u32(&x, PROPLIST_SYNTAX_LIST_VALUE_DWORD);
	u32(&x, 2);
	u32(&x, 0);
	endmark(&x);
	name(&x, "BadString");
	u32(&x, PROPLIST_SYNTAX_LIST_VALUE_SZ);
	u32(&x, 4);
	raw(&x, "a\0b\0", 4); /* no NUL */
	endmark(&x);
	list = exact(x.b, x.n);
	ck_assert_int_eq(proplist_validate(list, x.n, NULL, NULL), 0);

	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveState", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "yes");
	ck_assert_int_eq(hamon_params_get(list, x.n, "SAVESTATE", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "yes");
	ck_assert_int_eq(hamon_params_get(list, x.n, "timeout", out, sizeof(out)), 10);
	ck_assert_str_eq(out, "4294967295");
	ck_assert_int_eq(hamon_params_get(list, x.n, "Zero", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "0");

	/* Not there: a prefix, a longer name, the empty list. */
	ck_assert_int_eq(hamon_params_get(list, x.n, "Save", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveStateX", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get(list, x.n, "", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get(NULL, 0, "SaveState", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get("\0\0\0\0", 4, "SaveState", out, sizeof(out)), -ENOENT);

	/* Value kinds it does not convert, and malformed values in a well-formed list. */
	ck_assert_int_eq(hamon_params_get(list, x.n, "Long", out, sizeof(out)), -EOPNOTSUPP);
	ck_assert_int_eq(hamon_params_get(list, x.n, "ShortDword", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hamon_params_get(list, x.n, "BadString", out, sizeof(out)), -EINVAL);

	/* Buffer sizes: the text and its NUL fit exactly, or nothing is written. */
	memset(out, '#', sizeof(out));
	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveState", out, 3), -ENOBUFS);
	ck_assert_int_eq(hamon_params_get(list, x.n, "Timeout", out, 10), -ENOBUFS);
	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveState", NULL, 0), -ENOBUFS);
	ck_assert_int_eq(out[0], '#');
	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveState", out, 4), 3);
	ck_assert_str_eq(out, "yes");
	ck_assert_int_eq(hamon_params_get(list, x.n, "Timeout", out, 11), 10);

	/* Misuse. */
	ck_assert_int_eq(hamon_params_get(NULL, 8, "SaveState", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hamon_params_get(list, x.n, NULL, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(hamon_params_get(list, x.n, "SaveState", NULL, 8), -EINVAL);
	ck_assert_int_eq(hamon_params_get(list, x.n - 1, "SaveState", out, sizeof(out)), -EINVAL);
}
END_TEST

START_TEST(test_params_get_non_ascii)
{
	/* Non-ASCII bytes compare exactly: "É" is not "é". */
	const char *pairs[] = {"Étape=\xF0\x9F\x98\x80 €", "é=small"};
	uint8_t buf[256];
	size_t len;
	char out[16];

	ck_assert_int_eq(proplist_encode(pairs, 2, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(hamon_params_get(buf, len, "Étape", out, sizeof(out)), 8);
	ck_assert_str_eq(out, "\xF0\x9F\x98\x80 €");
	ck_assert_int_eq(hamon_params_get(buf, len, "éTAPE", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get(buf, len, "é", out, sizeof(out)), 5);
	ck_assert_int_eq(hamon_params_get(buf, len, "É", out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(hamon_params_get(buf, len, "Étape", out, 8), -ENOBUFS);
}
END_TEST

/* ---- hostile bytes ---- */

/* Validates p[0..n) from an exact heap copy; a list it accepts must iterate to its count. */
static bool check_one(const uint8_t *p, size_t n)
{
	_cleanup_free_ uint8_t *c = exact(p, n);
	size_t off = SIZE_MAX;
	const char *reason = NULL;
	char out[8];
	int r;

	r = proplist_validate(c, n, &off, &reason);
	if (r < 0) {
		fast_assert(r == -EINVAL);
		fast_assert(reason != NULL && off <= n);
		fast_assert(count_props(c, n) == -EINVAL);
		return false;
	}
	fast_assert(n >= 4);
	fast_assert(count_props(c, n) == (int) (c[0] | c[1] << 8 | c[2] << 16 | (uint32_t) c[3] << 24));
	r = hamon_params_get(c, n, "SaveState", out, sizeof(out));
	fast_assert(r == -ENOENT || r == -ENOBUFS || r == -EINVAL || r == -EOPNOTSUPP ||
		    (r >= 0 && (size_t) r == strlen(out)));
	return true;
}

START_TEST(test_mutations)
{
	const char *pairs[] = {"SaveState=1", "Ünïcode=\xF0\x9F\x98\x80", "Empty="};
	struct blob x = {.n = 0};
	uint8_t m[sizeof(x.b)];
	size_t len, accepted = 0;
	uint64_t seed = 0x9e3779b97f4a7c15u;

	ck_assert_int_eq(proplist_encode(pairs, ELEMENTSOF(pairs), x.b, sizeof(x.b), &len), 0);
	x.n = len;
	/* Add a property with two values, one a DWORD, as hand-made lists may have. */
	x.b[0] = 4;
	name(&x, "Two");
	dword(&x, 42);
	sz(&x, "x");
	endmark(&x);
	len = x.n;
	ck_assert(check_one(x.b, len));

	/* Every strict prefix is malformed: the count promises what is cut off. */
	for (size_t n = 0; n < len; n++)
		ck_assert_msg(!check_one(x.b, n), "prefix of %zu bytes accepted", n);

	/* Every byte, every value. */
	for (size_t i = 0; i < len; i++)
		for (unsigned v = 0; v < 256; v++) {
			memcpy(m, x.b, len);
			m[i] = (uint8_t) v;
			accepted += check_one(m, len);
		}
	/* Some of them are still lists (the name letters, value bytes): the loop saw both outcomes. */
	ck_assert_uint_gt(accepted, len);
	ck_assert_uint_lt(accepted, len * 256);

	/* Random multi-byte damage, with random lengths. */
	for (int k = 0; k < 200000; k++) {
		size_t n = len - xorshift64(&seed) % 8;
		int hits = 1 + (int) (xorshift64(&seed) % 4);

		memcpy(m, x.b, len);
		for (int h = 0; h < hits; h++) {
			uint64_t rnd = xorshift64(&seed);

			m[rnd % n] = (uint8_t) (rnd >> 32);
		}
		(void) check_one(m, n);
	}
}
END_TEST

static Suite *proplist_suite(void)
{
	Suite *s = suite_create("proplist");
	TCase *tc = tcase_create("proplist");

	tcase_add_test(tc, test_encode_bytes);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_next);
	tcase_add_test(tc, test_params_get);
	tcase_add_test(tc, test_params_get_non_ascii);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(proplist_suite());
}
