/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Group dependency expressions (semantics.md §6, seed 003
 * ApiSetGroupDependencyExpression): the grammar of the seed, parsed into the
 * list of group references it names.  Resolving a reference (exact id, then
 * case-insensitive name) and the cycle checks are the agent's business; this
 * is syntax only.  No I/O; the result points into the caller's text.
 *
 *   expression := term { "and" term }
 *   term       := "[" reference "]" | "{" expression "}" | "(" expression ")"
 *
 * Decisions (docs/groups.md "Group dependency expressions"):
 *   - "and" is matched case-insensitively and needs whitespace (or a bracket
 *     of a grouping) on both sides: "[a]and[b]" is an error;
 *   - "{ }" and "( )" group and are discarded; they must be balanced and
 *     matched by kind ("{[a])" is an error), and must not be empty;
 *   - whitespace between tokens is ignored; whitespace inside "[ ]" is part
 *     of the reference ("[ a ]" names " a "), which must not be empty nor
 *     contain "[" (a "]" ends it);
 *   - "or" (any case) where "and" could stand is an error of its own, with
 *     the reason "only 'and' is allowed";
 *   - the empty string parses to zero references (it clears the
 *     dependencies); a string of only whitespace is an error;
 *   - at most GROUP_EXPR_DEPTH_MAX nested groupings and GROUP_EXPR_TERMS_MAX
 *     references; the text at most GROUP_EXPR_LEN_MAX bytes; a NUL byte
 *     inside len is an error.
 * Duplicates are kept here (the agent collapses them after resolving).
 */

#include <stddef.h>

#define GROUP_EXPR_LEN_MAX   65536
#define GROUP_EXPR_DEPTH_MAX 64
#define GROUP_EXPR_TERMS_MAX 1024

struct group_expr_ref {
	const char *text; /* the reference between "[" and "]", not NUL-terminated */
	size_t len;
	size_t pos; /* byte offset of the "[" in the expression */
};

struct group_expr {
	size_t n_refs;
	struct group_expr_ref *refs; /* in the order they appear; NULL when n_refs is 0 */
};

/*
 * Parses text[0..len).  0 and *ret filled (free with group_expr_done()), or:
 * -EINVAL with *ret_pos the byte offset where the fault was found (len for
 * "ended too early") and *ret_reason a static English phrase
 * ("'and' must be followed by a group reference"); -E2BIG for a text longer
 * than GROUP_EXPR_LEN_MAX or more than GROUP_EXPR_TERMS_MAX references, or
 * nesting deeper than GROUP_EXPR_DEPTH_MAX (also with pos and reason);
 * -ENOMEM.  ret_pos and ret_reason may be NULL.  *ret is untouched on error.
 */
int group_expr_parse(const char *text, size_t len, struct group_expr *ret, size_t *ret_pos,
		     const char **ret_reason);

void group_expr_done(struct group_expr *e);
