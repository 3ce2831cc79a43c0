/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Group dependency expressions (group-expr.h).  The text comes from a
 * D-Bus client and is not NUL-terminated, so every read is checked against
 * len; it is never copied, the references point into it.  The parser is a
 * loop over tokens with an explicit stack of open groupings (bounded by
 * GROUP_EXPR_DEPTH_MAX), so hostile nesting costs no C stack.
 *
 * Where an error is reported (*ret_pos): at the offending token ("or":
 * its 'o'; "[]": its '['; a '[' inside a reference: that '['; a closer
 * that does not fit: the closer), and at len when the text ends while
 * something is still expected ("[a] and", "[a", "{[a]", "   ").
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "group-expr.h"
#include "macro.h"

/* What the parser expects next. */
enum expect {
	EXPECT_FIRST_TERM, /* at the start of the text or right after "{" or "(" */
	EXPECT_TERM_AFTER_AND,
	EXPECT_AND, /* after a term: "and", a closer, or the end */
};

struct parser {
	const char *t;
	size_t len;
	size_t i;
	enum expect expect;
	bool after_ref;	 /* the last token was a reference's "]" ... */
	size_t prev_end; /* ... and ended here (for the whitespace before "and") */
	size_t depth;
	char open[GROUP_EXPR_DEPTH_MAX]; /* '{' or '(' of each open grouping */
	struct group_expr_ref *refs;
	size_t n_refs;
	size_t n_alloc;
	size_t err_pos;
	const char *reason;
};

static int fail(struct parser *p, int r, size_t pos, const char *reason)
{
	p->err_pos = pos;
	p->reason = reason;
	return r;
}

/* Whitespace is ASCII only: isspace() would depend on the locale. */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* What may follow a keyword: anything else makes it part of a longer word ("andy", "order"). */
static bool is_delim(char c)
{
	return is_ws(c) || (c != '\0' && strchr("[]{}()", c));
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* Whether the word kw (lower case) stands at p->i, in any case, as a whole word. */
static bool keyword_at(const struct parser *p, const char *kw)
{
	size_t n = strlen(kw);

	if (p->len - p->i < n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (ascii_lower(p->t[p->i + k]) != kw[k])
			return false;
	return p->i + n == p->len || is_delim(p->t[p->i + n]);
}

static int add_ref(struct parser *p, size_t pos, size_t len)
{
	if (p->n_refs == GROUP_EXPR_TERMS_MAX)
		return fail(p, -E2BIG, pos, "too many group references");
	if (p->n_refs == p->n_alloc) {
		size_t n = p->n_alloc ? 2 * p->n_alloc : 8;
		struct group_expr_ref *refs;

		if (n > GROUP_EXPR_TERMS_MAX)
			n = GROUP_EXPR_TERMS_MAX;
		refs = reallocarray(p->refs, n, sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		p->refs = refs;
		p->n_alloc = n;
	}
	p->refs[p->n_refs++] = (struct group_expr_ref){
		.text = p->t + pos + 1,
		.len = len,
		.pos = pos,
	};
	return 0;
}

/* A reference: p->i is at its "[". Everything up to the next "]" is the name, byte-exact. */
static int parse_ref(struct parser *p)
{
	size_t start = p->i, j;
	int r;

	for (j = start + 1; j < p->len && p->t[j] != ']'; j++)
		if (p->t[j] == '[')
			return fail(p, -EINVAL, j, "'[' inside a group reference");
	if (j == p->len)
		return fail(p, -EINVAL, p->len, "unterminated group reference");
	if (j == start + 1)
		return fail(p, -EINVAL, start, "empty group reference '[]'");
	r = add_ref(p, start, j - start - 1);
	if (r < 0)
		return r;
	p->i = j + 1;
	p->after_ref = true;
	p->prev_end = p->i;
	p->expect = EXPECT_AND;
	return 0;
}

/* A term is expected at p->i (not whitespace, not the end). */
static int parse_term(struct parser *p)
{
	char c = p->t[p->i];

	switch (c) {
	case '[':
		return parse_ref(p);
	case '{':
	case '(':
		if (p->depth == GROUP_EXPR_DEPTH_MAX)
			return fail(p, -E2BIG, p->i, "nesting deeper than 64");
		p->open[p->depth++] = c;
		p->i++;
		p->expect = EXPECT_FIRST_TERM;
		return 0;
	}
	if (p->expect == EXPECT_TERM_AFTER_AND)
		return fail(p, -EINVAL, p->i, "'and' must be followed by a group reference");
	if (c == '}' || c == ')') {
		if (p->depth == 0)
			return fail(p, -EINVAL, p->i,
				    c == '}' ? "unbalanced '}'" : "unbalanced ')'");
		return fail(p, -EINVAL, p->i, "empty grouping");
	}
	return fail(p, -EINVAL, p->i, "expected a group reference '[...]'");
}

static int parse_close(struct parser *p)
{
	char c = p->t[p->i];

	if (p->depth == 0)
		return fail(p, -EINVAL, p->i, c == '}' ? "unbalanced '}'" : "unbalanced ')'");
	if (p->open[p->depth - 1] == '{' && c == ')')
		return fail(p, -EINVAL, p->i, "'{' closed by ')'");
	if (p->open[p->depth - 1] == '(' && c == '}')
		return fail(p, -EINVAL, p->i, "'(' closed by '}'");
	p->depth--;
	p->i++;
	p->after_ref = false;
	return 0;
}

/* After a term, at p->i (not whitespace, not the end): "and", a closer, or an error. */
static int parse_after_term(struct parser *p)
{
	char c = p->t[p->i];

	if (c == '}' || c == ')')
		return parse_close(p);
	if (keyword_at(p, "and")) {
		/* "and" needs whitespace on both sides, where no grouping bracket stands. */
		if ((p->after_ref && p->i == p->prev_end) ||
		    (p->i + 3 < p->len && p->t[p->i + 3] == '['))
			return fail(p, -EINVAL, p->i, "'and' needs whitespace on both sides");
		p->i += 3;
		p->expect = EXPECT_TERM_AFTER_AND;
		return 0;
	}
	if (keyword_at(p, "or"))
		return fail(p, -EINVAL, p->i, "only 'and' is allowed");
	if (c == '[' || c == '{' || c == '(')
		return fail(p, -EINVAL, p->i, "missing 'and' between two terms");
	if (c == ']')
		return fail(p, -EINVAL, p->i, "']' outside a group reference");
	return fail(p, -EINVAL, p->i, "expected 'and'");
}

static int parse_end(struct parser *p)
{
	switch (p->expect) {
	case EXPECT_FIRST_TERM:
		if (p->depth == 0) /* nothing but whitespace: "" is how to clear */
			return fail(p, -EINVAL, p->len, "expression is empty (use \"\" to clear)");
		return fail(p, -EINVAL, p->len, "expected a group reference '[...]'");
	case EXPECT_TERM_AFTER_AND:
		return fail(p, -EINVAL, p->len, "'and' must be followed by a group reference");
	case EXPECT_AND:
		if (p->depth > 0)
			return fail(p, -EINVAL, p->len,
				    p->open[p->depth - 1] == '{' ? "unclosed '{'" : "unclosed '('");
		return 0;
	}
	return -EINVAL;
}

static int parse(struct parser *p)
{
	const char *nul;

	if (!p->t)
		return fail(p, -EINVAL, 0, "no expression");
	if (p->len > GROUP_EXPR_LEN_MAX)
		return fail(p, -E2BIG, GROUP_EXPR_LEN_MAX, "expression longer than 65536 bytes");
	/* A NUL would cut the text short for whoever reads it as a C string later. */
	nul = memchr(p->t, 0, p->len);
	if (nul)
		return fail(p, -EINVAL, (size_t) (nul - p->t), "NUL byte");
	if (p->len == 0)
		return 0;

	for (;;) {
		int r;

		while (p->i < p->len && is_ws(p->t[p->i]))
			p->i++;
		if (p->i == p->len)
			return parse_end(p);
		if (p->expect == EXPECT_AND)
			r = parse_after_term(p);
		else
			r = parse_term(p);
		if (r < 0)
			return r;
	}
}

int group_expr_parse(const char *text, size_t len, struct group_expr *ret, size_t *ret_pos,
		     const char **ret_reason)
{
	struct parser p = {
		.t = text,
		.len = len,
		.expect = EXPECT_FIRST_TERM,
	};
	int r;

	assert_return(ret, -EINVAL);

	r = parse(&p);
	if (r < 0) {
		free(p.refs);
		if (p.reason) {
			if (ret_pos)
				*ret_pos = p.err_pos;
			if (ret_reason)
				*ret_reason = p.reason;
		}
		return r;
	}
	*ret = (struct group_expr){
		.n_refs = p.n_refs,
		.refs = p.n_refs ? p.refs : NULL,
	};
	return 0;
}

void group_expr_done(struct group_expr *e)
{
	if (!e)
		return;
	free(e->refs);
	*e = (struct group_expr){};
}
