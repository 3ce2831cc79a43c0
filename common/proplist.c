/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MS-CMRP property lists (proplist.h).  The bytes come from a D-Bus client
 * and end up in every monitor process of a group, so the parser trusts
 * nothing: each length is compared with what is left of the buffer by
 * subtraction (never by adding to an offset, which could wrap), and each
 * property is parsed by the same function whether it is validated or
 * iterated, so that proplist_next() cannot read what proplist_validate()
 * did not check.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proplist.h"

/*
 * The smallest property: name header, a one-unit name with its NUL (4
 * bytes), a value header with no data, the end mark.  Bounds the count
 * before anything is parsed.
 */
#define PROPERTY_MIN (8 + 4 + 8 + 4)

struct cursor {
	const uint8_t *b;
	size_t len;
	size_t pos;
	size_t err_offset;
	const char *reason;
};

static int fail(struct cursor *c, size_t offset, const char *reason)
{
	c->err_offset = offset;
	c->reason = reason;
	return -EINVAL;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static size_t left(const struct cursor *c)
{
	return c->len - c->pos;
}

/* Reads a u32 at the cursor; why: the phrase if fewer than 4 bytes are left. */
static int take_u32(struct cursor *c, uint32_t *ret, const char *why)
{
	if (left(c) < 4)
		return fail(c, c->pos, why);
	*ret = get_u32(c->b + c->pos);
	c->pos += 4;
	return 0;
}

/* Skips size data bytes and the zero padding after them up to a multiple of 4. */
static int take_data(struct cursor *c, uint32_t size, const char *why)
{
	size_t pad = (4 - size % 4) % 4;

	if (size > left(c) || pad > left(c) - size)
		return fail(c, c->pos, why);
	c->pos += size;
	for (size_t i = 0; i < pad; i++)
		if (c->b[c->pos + i] != 0)
			return fail(c, c->pos + i, "padding byte is not zero");
	c->pos += pad;
	return 0;
}

/* Appends code point cp as UTF-8 to out at *n if out is not NULL (the caller measured: it fits); counts it in *n. */
static void utf8_put(uint32_t cp, char *out, size_t size, size_t *n)
{
	uint8_t u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (uint8_t) cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t) (0xc0 | cp >> 6);
		u[1] = (uint8_t) (0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t) (0xe0 | cp >> 12);
		u[1] = (uint8_t) (0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t) (0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (uint8_t) (0xf0 | cp >> 18);
		u[1] = (uint8_t) (0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t) (0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t) (0x80 | (cp & 0x3f));
		k = 4;
	}
	if (out && k < size - *n)
		memcpy(out + *n, u, k);
	*n += k;
}

/*
 * Decodes a UTF-16LE string of size bytes whose last unit, and only that
 * one, is NUL.  out NULL: measures only, *ret_len gets the UTF-8 length.
 * Else out (out_size > *ret_len, from a measuring call) gets the UTF-8 and
 * a NUL.  Returns NULL, or why the string is invalid, with *ret_bad the
 * byte offset of the fault within s.
 */
static const char *utf16_decode(const uint8_t *s, size_t size, char *out, size_t out_size,
				size_t *ret_len, size_t *ret_bad)
{
	size_t n = 0, units = size / 2;

	if (size % 2 != 0) {
		*ret_bad = 0;
		return "string size is odd";
	}
	if (units == 0 || (s[size - 2] | s[size - 1]) != 0) {
		*ret_bad = size >= 2 ? size - 2 : 0;
		return "string is not NUL-terminated at its size";
	}
	for (size_t i = 0; i + 1 < units; i++) {
		uint32_t u = (uint32_t) s[2 * i] | (uint32_t) s[2 * i + 1] << 8, lo;

		if (u == 0) {
			*ret_bad = 2 * i;
			return "NUL inside a string";
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			*ret_bad = 2 * i;
			return "UTF-16 low surrogate without a high one";
		}
		if (u >= 0xd800 && u <= 0xdbff) {
			/* The NUL is never a low surrogate: i + 1 < units - 1 is the pair's only room. */
			lo = i + 2 < units ? (uint32_t) s[2 * i + 2] | (uint32_t) s[2 * i + 3] << 8 : 0;
			if (lo < 0xdc00 || lo > 0xdfff) {
				*ret_bad = 2 * i;
				return "UTF-16 high surrogate without a low one";
			}
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			i++;
		}
		utf8_put(u, out, out_size, &n);
	}
	if (out && n < out_size)
		out[n] = '\0';
	*ret_len = n;
	return NULL;
}

/*
 * Parses the property at c->pos and leaves c->pos after its end mark.
 * Fills ret (if not NULL) with the name and the first value.
 */
static int parse_property(struct cursor *c, struct proplist_entry *ret)
{
	const uint8_t *name, *value = NULL;
	uint32_t syntax, size, first_syntax = 0, first_size = 0;
	size_t at, name_len, bad;
	const char *why;
	bool has_value = false;
	int r;

	at = c->pos;
	if (left(c) < 8)
		return fail(c, at, "property truncated before its name");
	(void) take_u32(c, &syntax, NULL);
	if (syntax != PROPLIST_SYNTAX_NAME)
		return fail(c, at, "property does not start with a name");
	at = c->pos;
	(void) take_u32(c, &size, NULL);
	if (size % 2 != 0)
		return fail(c, at, "name size is odd");
	if (size < 2)
		return fail(c, at, "name size is below 2");
	name = c->b + c->pos;
	r = take_data(c, size, "name runs past the end of the list");
	if (r < 0)
		return r;
	why = utf16_decode(name, size, NULL, 0, &name_len, &bad);
	if (why)
		return fail(c, (size_t) (name - c->b) + bad, why);
	if (name_len == 0)
		return fail(c, (size_t) (name - c->b), "name is empty");
	if (name_len > PROPLIST_NAME_MAX)
		return fail(c, (size_t) (name - c->b), "name is longer than 255 UTF-8 bytes");
	if (ret)
		(void) utf16_decode(name, size, ret->name, sizeof(ret->name), &name_len, &bad);

	for (;;) {
		at = c->pos;
		r = take_u32(c, &syntax, "property truncated before its end mark");
		if (r < 0)
			return r;
		if (syntax == PROPLIST_SYNTAX_ENDMARK)
			break;
		if (syntax == PROPLIST_SYNTAX_NAME)
			return fail(c, at, "name where a value or the end mark was expected");
		if (left(c) < 4)
			return fail(c, at, "value truncated before its size");
		(void) take_u32(c, &size, NULL);
		if (!has_value) {
			has_value = true;
			first_syntax = syntax;
			first_size = size;
			value = c->b + c->pos;
		}
		r = take_data(c, size, "value runs past the end of the list");
		if (r < 0)
			return r;
	}
	if (!has_value)
		return fail(c, at, "property has no value");

	if (ret) {
		ret->syntax = first_syntax;
		ret->value = value;
		ret->value_size = first_size;
	}
	return 0;
}

static int validate(struct cursor *c)
{
	uint32_t count;
	int r;

	if (!c->b)
		return fail(c, 0, "no buffer");
	r = take_u32(c, &count, "list is shorter than its count");
	if (r < 0)
		return r;
	/* Before any loop: a hostile count costs nothing. */
	if (count > left(c) / PROPERTY_MIN)
		return fail(c, 0, "count promises more properties than the list holds");
	for (uint32_t i = 0; i < count; i++) {
		if (left(c) == 0)
			return fail(c, 0, "count promises more properties than the list holds");
		r = parse_property(c, NULL);
		if (r < 0)
			return r;
	}
	if (left(c) > 0)
		return fail(c, c->pos, "bytes after the last property");
	return 0;
}

int proplist_validate(const void *buf, size_t len, size_t *ret_offset, const char **ret_reason)
{
	struct cursor c = {.b = buf, .len = len};
	int r;

	r = validate(&c);
	if (r < 0) {
		if (ret_offset)
			*ret_offset = c.err_offset;
		if (ret_reason)
			*ret_reason = c.reason;
	}
	return r;
}

int proplist_next(const void *buf, size_t len, size_t *offset, struct proplist_entry *ret)
{
	struct cursor c = {.b = buf, .len = len};
	int r;

	assert_return(offset && ret, -EINVAL);
	/* Validating again on the first call costs one pass over at most a few KiB, and makes every later step safe. */
	if (*offset == 0) {
		r = validate(&c);
		if (r < 0)
			return r;
		c.pos = 4;
	} else if (!buf || *offset > len)
		return -EINVAL;
	else
		c.pos = *offset;
	if (left(&c) == 0) {
		*offset = c.pos;
		return 0;
	}
	r = parse_property(&c, ret);
	if (r < 0)
		return r;
	*offset = c.pos;
	return 1;
}

/*
 * Decodes one strict UTF-8 code point (no overlong forms, no surrogates,
 * at most U+10FFFF) at *s, advancing *s; -EINVAL if there is none.
 */
static int utf8_get(const unsigned char **s, uint32_t *ret)
{
	const unsigned char *p = *s;
	uint32_t cp, min;
	size_t k;

	if (p[0] < 0x80) {
		*ret = p[0];
		*s = p + 1;
		return 0;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		k = 1;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		k = 2;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		k = 3;
		min = 0x10000;
	} else
		return -EINVAL;
	for (size_t i = 1; i <= k; i++) {
		/* A NUL ends the loop here too: it is not a continuation byte. */
		if ((p[i] & 0xc0) != 0x80)
			return -EINVAL;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -EINVAL;
	*ret = cp;
	*s = p + k + 1;
	return 0;
}

/* Appends s[0..n) (n bytes of UTF-8, no NUL) as NUL-terminated UTF-16LE, padded to 4, with its header. */
static int put_string(uint8_t *out, size_t size, size_t *pos, uint32_t syntax, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *) s, *end = p + n;
	size_t units = 1, start;
	uint32_t cp, bytes, padded;
	int r;

	/* First pass: validity and size, so that nothing is written for a bad string. */
	while (p < end) {
		/* A sequence cannot run past end: the byte there is '=' or the NUL, never a continuation. */
		r = utf8_get(&p, &cp);
		if (r < 0)
			return -EINVAL;
		units += cp >= 0x10000 ? 2 : 1;
	}
	if (units > (UINT32_MAX - 3) / 2)
		return -E2BIG;
	bytes = (uint32_t) units * 2;
	padded = (bytes + 3) & ~UINT32_C(3);
	if (size - *pos < 8 || padded > size - *pos - 8)
		return -E2BIG;

	put_u32(out + *pos, syntax);
	put_u32(out + *pos + 4, bytes);
	start = *pos + 8;
	memset(out + start, 0, padded);
	p = (const unsigned char *) s;
	for (size_t u = 0; p < end;) {
		(void) utf8_get(&p, &cp);
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			uint16_t hi = (uint16_t) (0xd800 | v >> 10), lo = (uint16_t) (0xdc00 | (v & 0x3ff));

			out[start + 2 * u] = (uint8_t) hi;
			out[start + 2 * u + 1] = (uint8_t) (hi >> 8);
			u++;
			out[start + 2 * u] = (uint8_t) lo;
			out[start + 2 * u + 1] = (uint8_t) (lo >> 8);
		} else {
			out[start + 2 * u] = (uint8_t) cp;
			out[start + 2 * u + 1] = (uint8_t) (cp >> 8);
		}
		u++;
	}
	*pos = start + padded;
	return 0;
}

int proplist_encode(const char *const *pairs, size_t n, void *buf, size_t size, size_t *ret_len)
{
	uint8_t *out = buf;
	size_t pos = 0;
	int r;

	assert_return(pairs || n == 0, -EINVAL);
	assert_return(buf || size == 0, -EINVAL);
	assert_return(ret_len, -EINVAL);

	/* Syntax errors first: a bad pair is -EINVAL even when the list would not fit either. */
	for (size_t i = 0; i < n; i++) {
		const char *eq;

		if (!pairs[i])
			return -EINVAL;
		eq = strchr(pairs[i], '=');
		if (!eq || eq == pairs[i] || (size_t) (eq - pairs[i]) > PROPLIST_NAME_MAX)
			return -EINVAL;
	}
	if (n > UINT32_MAX)
		return -E2BIG;
	if (size < 4)
		return -E2BIG;
	put_u32(out, (uint32_t) n);
	pos = 4;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(pairs[i], '=');

		r = put_string(out, size, &pos, PROPLIST_SYNTAX_NAME, pairs[i], (size_t) (eq - pairs[i]));
		if (r < 0)
			return r;
		r = put_string(out, size, &pos, PROPLIST_SYNTAX_LIST_VALUE_SZ, eq + 1, strlen(eq + 1));
		if (r < 0)
			return r;
		if (size - pos < 4)
			return -E2BIG;
		put_u32(out + pos, PROPLIST_SYNTAX_ENDMARK);
		pos += 4;
	}
	*ret_len = pos;
	return 0;
}

/* ASCII-only case folding: names are compared the same way in every locale. */
static bool name_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char) *a, y = (unsigned char) *b;

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
		if (x == 0)
			return true;
	}
}

int proplist_get(const void *buf, size_t len, const char *name, char *out, size_t size)
{
	struct proplist_entry e;
	size_t offset = 0, n, bad;
	int r;

	assert_return(name, -EINVAL);
	assert_return(out || size == 0, -EINVAL);
	if (len == 0)
		return -ENOENT;

	while ((r = proplist_next(buf, len, &offset, &e)) > 0) {
		if (!name_equal(e.name, name))
			continue;
		switch (e.syntax) {
		case PROPLIST_SYNTAX_LIST_VALUE_SZ:
			/* Measured first: out stays untouched unless the whole string fits. */
			if (utf16_decode(e.value, e.value_size, NULL, 0, &n, &bad))
				return -EINVAL;
			if (n < size)
				(void) utf16_decode(e.value, e.value_size, out, size, &n, &bad);
			break;
		case PROPLIST_SYNTAX_LIST_VALUE_DWORD: {
			char text[sizeof("4294967295")];

			if (e.value_size != 4)
				return -EINVAL;
			n = (size_t) snprintf(text, sizeof(text), "%" PRIu32, get_u32(e.value));
			if (n < size)
				memcpy(out, text, n + 1);
			break;
		}
		default:
			return -EOPNOTSUPP;
		}
		if (n >= size)
			return -ENOBUFS;
		if (n > INT_MAX)
			return -EOVERFLOW;
		return (int) n;
	}
	return r < 0 ? r : -ENOENT;
}
