/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Group dependency expressions (common/group-expr.c), syntax only: the
 * examples of semantics.md §6 and scenarios 55-61 and 65 at the parser
 * level, each decision of group-expr.h, and the limits.  Valid texts give
 * their references in order with positions; invalid ones the exact error,
 * position and reason.  Every text sits in a heap block of exactly its size
 * (it is not NUL-terminated), so the ASan build catches a read past its end.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group-expr.h"
#include "test-util.h"

struct ref_want {
	const char *name;
	size_t pos;
};

struct valid_case {
	const char *text;
	size_t n_refs;
	struct ref_want refs[4];
};

struct invalid_case {
	const char *text;
	int r;
	size_t pos;
	const char *reason;
};

#define UUID "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

static const struct valid_case valid_cases[] = {
	/* semantics.md §6.2 */
	{"[a] and {[b] and [c]}", 3, {{"a", 0}, {"b", 9}, {"c", 17}}},
	{"[a] and [b] and [c]", 3, {{"a", 0}, {"b", 8}, {"c", 16}}},
	/* scenarios 55, 57 (the duplicate is kept here), 58, 60, 61, 65 */
	{"[B] and [C]", 2, {{"B", 0}, {"C", 8}}},
	{"{[B] and [C]} and [B]", 3, {{"B", 1}, {"C", 9}, {"B", 18}}},
	{"([B] and [C])", 2, {{"B", 1}, {"C", 9}}},
	{"[" UUID "] and [c]", 2, {{UUID, 0}, {"c", 43}}},
	{"[Z]", 1, {{"Z", 0}}},
	{"[A]", 1, {{"A", 0}}},
	/* "and" in any case; names may contain "and" and "or" */
	{"[B] AND [C]", 2, {{"B", 0}, {"C", 8}}},
	{"[b] And [c] aNd [d]", 3, {{"b", 0}, {"c", 8}, {"d", 16}}},
	{"[door] and [orchid]", 2, {{"door", 0}, {"orchid", 11}}},
	{"[and] and [or]", 2, {{"and", 0}, {"or", 10}}},
	{"[a and b] and [c or d]", 2, {{"a and b", 0}, {"c or d", 14}}},
	/* only "[" is forbidden inside a reference */
	{"[a}b(c)]", 1, {{"a}b(c)", 0}}},
	/* groupings */
	{"{ [a] }", 1, {{"a", 2}}},
	{"([a] and {[b] and [c]})", 3, {{"a", 1}, {"b", 10}, {"c", 18}}},
	{"{([a])}", 1, {{"a", 2}}},
	{"{[a]} and ([b])", 2, {{"a", 1}, {"b", 11}}},
	/* a grouping bracket stands for the whitespace around "and" */
	{"{[a]}and {[b]}", 2, {{"a", 1}, {"b", 10}}},
	{"[a] and{[b]}", 2, {{"a", 0}, {"b", 8}}},
	{"([a])and([b])", 2, {{"a", 1}, {"b", 9}}},
	/* whitespace: tabs, newlines, CR; leading and trailing */
	{"\t[a]\nand\r\n[b] ", 2, {{"a", 1}, {"b", 10}}},
	{" \v\f[a] ", 1, {{"a", 3}}},
	/* whitespace inside brackets is part of the name */
	{"[ a ]", 1, {{" a ", 0}}},
	{"[\ta\n]", 1, {{"\ta\n", 0}}},
	/* UTF-8 byte-exact */
	{"[Gr\xc3\xbcppe \xe2\x98\x83] and [\xe6\x97\xa5\xe6\x9c\xac]",
	 2,
	 {{"Gr\xc3\xbcppe \xe2\x98\x83", 0}, {"\xe6\x97\xa5\xe6\x9c\xac", 18}}},
	/* duplicates are the agent's business */
	{"[a] and [a]", 2, {{"a", 0}, {"a", 8}}},
	/* the empty string clears */
	{"", 0, {}},
};

static const struct invalid_case invalid_cases[] = {
	/* scenario 56 and other spellings of "or" */
	{"[B] or [C]", -EINVAL, 4, "only 'and' is allowed"},
	{"[B] OR [C]", -EINVAL, 4, "only 'and' is allowed"},
	{"[B] Or [C]", -EINVAL, 4, "only 'and' is allowed"},
	{"[B]or[C]", -EINVAL, 3, "only 'and' is allowed"},
	{"{[B]} or [C]", -EINVAL, 6, "only 'and' is allowed"},
	{"[a] and [b] or [c]", -EINVAL, 12, "only 'and' is allowed"},
	{"[a] or", -EINVAL, 4, "only 'and' is allowed"},
	/* scenario 59 */
	{"[B] and", -EINVAL, 7, "'and' must be followed by a group reference"},
	{"[B] [C]", -EINVAL, 4, "missing 'and' between two terms"},
	{"[]", -EINVAL, 0, "empty group reference '[]'"},
	{"[B] and {[C]", -EINVAL, 12, "unclosed '{'"},
	{"B", -EINVAL, 0, "expected a group reference '[...]'"},
	/* "and" needs whitespace on both sides unless a grouping bracket stands there */
	{"[a]and[b]", -EINVAL, 3, "'and' needs whitespace on both sides"},
	{"{[a]}and[b]", -EINVAL, 5, "'and' needs whitespace on both sides"},
	{"[a]and [b]", -EINVAL, 3, "'and' needs whitespace on both sides"},
	{"[a] and[b]", -EINVAL, 4, "'and' needs whitespace on both sides"},
	/* "and" misplaced */
	{"[a] and", -EINVAL, 7, "'and' must be followed by a group reference"},
	{"[a] and \t", -EINVAL, 9, "'and' must be followed by a group reference"},
	{"and [a]", -EINVAL, 0, "expected a group reference '[...]'"},
	{"[a] and and [b]", -EINVAL, 8, "'and' must be followed by a group reference"},
	{"{[a] and }", -EINVAL, 9, "'and' must be followed by a group reference"},
	{"[a] and }", -EINVAL, 8, "'and' must be followed by a group reference"},
	{"[a] and b", -EINVAL, 8, "'and' must be followed by a group reference"},
	/* two terms side by side */
	{"[a][b]", -EINVAL, 3, "missing 'and' between two terms"},
	{"[a] {[b]}", -EINVAL, 4, "missing 'and' between two terms"},
	{"{[a]} ([b])", -EINVAL, 6, "missing 'and' between two terms"},
	/* not a keyword */
	{"[a] andy [b]", -EINVAL, 4, "expected 'and'"},
	{"[a] order [b]", -EINVAL, 4, "expected 'and'"},
	{"[a] && [b]", -EINVAL, 4, "expected 'and'"},
	{"[a] b", -EINVAL, 4, "expected 'and'"},
	/* references */
	{"[[a]]", -EINVAL, 1, "'[' inside a group reference"},
	{"[a[b]", -EINVAL, 2, "'[' inside a group reference"},
	{"[a", -EINVAL, 2, "unterminated group reference"},
	{"[a] and [", -EINVAL, 9, "unterminated group reference"},
	{"[a]]", -EINVAL, 3, "']' outside a group reference"},
	{"]", -EINVAL, 0, "expected a group reference '[...]'"},
	/* groupings */
	{"{[a])", -EINVAL, 4, "'{' closed by ')'"},
	{"([a]}", -EINVAL, 4, "'(' closed by '}'"},
	{"{}", -EINVAL, 1, "empty grouping"},
	{"( )", -EINVAL, 2, "empty grouping"},
	{"{[a]} and {}", -EINVAL, 11, "empty grouping"},
	{"}", -EINVAL, 0, "unbalanced '}'"},
	{"[a]}", -EINVAL, 3, "unbalanced '}'"},
	{"[a])", -EINVAL, 3, "unbalanced ')'"},
	{"{[a]}}", -EINVAL, 5, "unbalanced '}'"},
	{"{", -EINVAL, 1, "expected a group reference '[...]'"},
	{"{[a]", -EINVAL, 4, "unclosed '{'"},
	{"([a]", -EINVAL, 4, "unclosed '('"},
	{"{([a])", -EINVAL, 6, "unclosed '{'"},
	/* only whitespace does not clear */
	{"   ", -EINVAL, 3, "expression is empty (use \"\" to clear)"},
	{"\t\n", -EINVAL, 2, "expression is empty (use \"\" to clear)"},
};

/* A heap copy of exactly n bytes (one for n = 0: the pointer must not be NULL). */
static char *exact_copy(const char *s, size_t n)
{
	char *c = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(c);
	memcpy(c, s, n);
	return c;
}

START_TEST(test_valid)
{
	const struct valid_case *t = &valid_cases[_i];
	size_t len = strlen(t->text), pos = 4242;
	_cleanup_free_ char *text = exact_copy(t->text, len);
	struct group_expr e = {};
	const char *reason = "untouched";
	int r;

	r = group_expr_parse(text, len, &e, &pos, &reason);
	ck_assert_msg(r == 0, "\"%s\": r=%d pos=%zu reason=%s", t->text, r, pos, reason);
	/* ret_pos and ret_reason are for errors */
	ck_assert_uint_eq(pos, 4242);
	ck_assert_str_eq(reason, "untouched");
	ck_assert_uint_eq(e.n_refs, t->n_refs);
	if (t->n_refs == 0)
		ck_assert_ptr_null(e.refs);
	for (size_t k = 0; k < t->n_refs; k++) {
		const struct group_expr_ref *ref = &e.refs[k];

		ck_assert_uint_eq(ref->pos, t->refs[k].pos);
		/* the reference points into the caller's text, right after its "[" */
		ck_assert_ptr_eq(ref->text, text + ref->pos + 1);
		ck_assert_int_eq(text[ref->pos], '[');
		ck_assert_uint_eq(ref->len, strlen(t->refs[k].name));
		ck_assert_mem_eq(ref->text, t->refs[k].name, ref->len);
		ck_assert_int_eq(text[ref->pos + 1 + ref->len], ']');
	}
	group_expr_done(&e);
	ck_assert_uint_eq(e.n_refs, 0);
	ck_assert_ptr_null(e.refs);
}
END_TEST

START_TEST(test_invalid)
{
	const struct invalid_case *t = &invalid_cases[_i];
	size_t len = strlen(t->text), pos = 4242;
	_cleanup_free_ char *text = exact_copy(t->text, len);
	struct group_expr sentinel = {.n_refs = 77, .refs = (void *) 0x1}, e = sentinel;
	const char *reason = NULL;
	int r;

	r = group_expr_parse(text, len, &e, &pos, &reason);
	ck_assert_msg(r == t->r, "\"%s\": r=%d, expected %d", t->text, r, t->r);
	ck_assert_msg(pos == t->pos, "\"%s\": pos=%zu, expected %zu", t->text, pos, t->pos);
	ck_assert_ptr_nonnull(reason);
	ck_assert_str_eq(reason, t->reason);
	ck_assert_uint_le(pos, len);
	/* *ret is untouched on error */
	ck_assert_uint_eq(e.n_refs, sentinel.n_refs);
	ck_assert_ptr_eq(e.refs, sentinel.refs);

	/* ret_pos and ret_reason may be NULL */
	ck_assert_int_eq(group_expr_parse(text, len, &e, NULL, NULL), t->r);
}
END_TEST

/* Runs an exact-size copy of s[0..len) through the parser. */
static int parse_copy(const char *s, size_t len, struct group_expr *e, size_t *pos,
		      const char **reason)
{
	_cleanup_free_ char *text = exact_copy(s, len);

	return group_expr_parse(text, len, e, pos, reason);
}

/* depth groupings around "[a]", alternating "{" and "(". */
static char *nested(size_t depth, size_t *ret_len)
{
	size_t len = 2 * depth + 3, i = 0;
	char *s = malloc(len);

	ck_assert_ptr_nonnull(s);
	for (size_t d = 0; d < depth; d++)
		s[i++] = d % 2 ? '(' : '{';
	memcpy(s + i, "[a]", 3);
	i += 3;
	for (size_t d = depth; d > 0; d--)
		s[i++] = (d - 1) % 2 ? ')' : '}';
	ck_assert_uint_eq(i, len);
	*ret_len = len;
	return s;
}

START_TEST(test_nesting_limit)
{
	size_t len, pos = 0;
	_cleanup_free_ char *ok = nested(GROUP_EXPR_DEPTH_MAX, &len);
	struct group_expr e = {};
	const char *reason = NULL;

	ck_assert_int_eq(parse_copy(ok, len, &e, &pos, &reason), 0);
	ck_assert_uint_eq(e.n_refs, 1);
	ck_assert_uint_eq(e.refs[0].pos, GROUP_EXPR_DEPTH_MAX);
	group_expr_done(&e);

	_cleanup_free_ char *deep = nested(GROUP_EXPR_DEPTH_MAX + 1, &len);
	ck_assert_int_eq(parse_copy(deep, len, &e, &pos, &reason), -E2BIG);
	/* at the 65th opener */
	ck_assert_uint_eq(pos, GROUP_EXPR_DEPTH_MAX);
	ck_assert_str_eq(reason, "nesting deeper than 64");

	/* depth is nesting, not the number of groupings */
	_cleanup_free_ char *flat = malloc(7 * 200 + 5 * 199);
	ck_assert_ptr_nonnull(flat);
	size_t n = 0;
	for (size_t k = 0; k < 200; k++) {
		if (k > 0) {
			memcpy(flat + n, " and ", 5);
			n += 5;
		}
		memcpy(flat + n, "{([a])}", 7);
		n += 7;
	}
	ck_assert_int_eq(parse_copy(flat, n, &e, &pos, &reason), 0);
	ck_assert_uint_eq(e.n_refs, 200);
	group_expr_done(&e);
}
END_TEST

/* n references "[a] and [a] and ... [a]"; each "[a] and " is 8 bytes. */
static char *chain(size_t n, size_t *ret_len)
{
	size_t len = 8 * n - 5;
	char *s = malloc(len);

	ck_assert_ptr_nonnull(s);
	for (size_t k = 0; k < n; k++)
		memcpy(s + 8 * k, k + 1 < n ? "[a] and " : "[a]", k + 1 < n ? 8 : 3);
	*ret_len = len;
	return s;
}

START_TEST(test_terms_limit)
{
	size_t len, pos = 0;
	_cleanup_free_ char *ok = chain(GROUP_EXPR_TERMS_MAX, &len);
	struct group_expr e = {};
	const char *reason = NULL;

	ck_assert_int_eq(parse_copy(ok, len, &e, &pos, &reason), 0);
	ck_assert_uint_eq(e.n_refs, GROUP_EXPR_TERMS_MAX);
	for (size_t k = 0; k < e.n_refs; k++) {
		ck_assert_uint_eq(e.refs[k].pos, 8 * k);
		ck_assert_uint_eq(e.refs[k].len, 1);
	}
	group_expr_done(&e);

	_cleanup_free_ char *many = chain(GROUP_EXPR_TERMS_MAX + 1, &len);
	ck_assert_int_eq(parse_copy(many, len, &e, &pos, &reason), -E2BIG);
	/* at the "[" of the 1025th */
	ck_assert_uint_eq(pos, 8 * GROUP_EXPR_TERMS_MAX);
	ck_assert_str_eq(reason, "too many group references");
}
END_TEST

START_TEST(test_length_limit)
{
	_cleanup_free_ char *s = malloc(GROUP_EXPR_LEN_MAX + 1);
	struct group_expr e = {};
	const char *reason = NULL;
	size_t pos = 0;

	ck_assert_ptr_nonnull(s);
	/* one reference filling exactly GROUP_EXPR_LEN_MAX bytes */
	s[0] = '[';
	memset(s + 1, 'x', GROUP_EXPR_LEN_MAX - 2);
	s[GROUP_EXPR_LEN_MAX - 1] = ']';
	ck_assert_int_eq(parse_copy(s, GROUP_EXPR_LEN_MAX, &e, &pos, &reason), 0);
	ck_assert_uint_eq(e.n_refs, 1);
	ck_assert_uint_eq(e.refs[0].len, GROUP_EXPR_LEN_MAX - 2);
	group_expr_done(&e);

	/* one byte more (whitespace, harmless by itself) is too long */
	s[GROUP_EXPR_LEN_MAX] = ' ';
	ck_assert_int_eq(parse_copy(s, GROUP_EXPR_LEN_MAX + 1, &e, &pos, &reason), -E2BIG);
	ck_assert_uint_eq(pos, GROUP_EXPR_LEN_MAX);
	ck_assert_str_eq(reason, "expression longer than 65536 bytes");
}
END_TEST

START_TEST(test_nul)
{
	static const struct {
		const char *s;
		size_t len, pos;
	} cases[] = {
		/* clang-format off */
		{"[a\0b]", 5, 2},
		{"[a]\0", 4, 3},
		{"\0[a]", 4, 0},
		{"[a] and \0[b]", 12, 8},
		{"\0", 1, 0},
		/* clang-format on */
	};

	for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
		struct group_expr e = {};
		const char *reason = NULL;
		size_t pos = 4242;

		ck_assert_int_eq(parse_copy(cases[k].s, cases[k].len, &e, &pos, &reason), -EINVAL);
		ck_assert_uint_eq(pos, cases[k].pos);
		ck_assert_str_eq(reason, "NUL byte");
	}
}
END_TEST

START_TEST(test_len_bounds_the_text)
{
	/* the parser reads text[0..len) only: a prefix of a longer text is parsed alone */
	static const char s[] = "[a] and [b] garbage";
	struct group_expr e = {};

	ck_assert_int_eq(parse_copy(s, 11, &e, NULL, NULL), 0);
	ck_assert_uint_eq(e.n_refs, 2);
	group_expr_done(&e);
	ck_assert_int_eq(parse_copy(s, 0, &e, NULL, NULL), 0);
	ck_assert_uint_eq(e.n_refs, 0);
	ck_assert_ptr_null(e.refs);
}
END_TEST

START_TEST(test_null_text)
{
	struct group_expr e = {};
	const char *reason = NULL;
	size_t pos = 4242;

	/* only the empty string clears; NULL is an invalid parameter (semantics.md §6.3) */
	ck_assert_int_eq(group_expr_parse(NULL, 0, &e, &pos, &reason), -EINVAL);
	ck_assert_uint_eq(pos, 0);
	ck_assert_ptr_nonnull(reason);
	ck_assert_int_eq(group_expr_parse("[a]", 3, NULL, NULL, NULL), -EINVAL);
	group_expr_done(NULL);
}
END_TEST

static Suite *group_expr_suite(void)
{
	Suite *s = suite_create("group-expr");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, ELEMENTSOF(valid_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, ELEMENTSOF(invalid_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_terms_limit);
	tcase_add_test(tc, test_length_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("bytes");
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_len_bounds_the_text);
	tcase_add_test(tc, test_null_text);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run_suite(group_expr_suite());
}
