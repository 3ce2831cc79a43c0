/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target for the group dependency expression parser (common/group-expr.c).
 * The input goes into a heap block of exactly its size, so that the
 * sanitizers see a read past text+len.  Besides "no crash, no leak" it checks
 * what a caller relies on, and that a parse is reproducible: the references
 * of a successful parse, written out again as "[r1] and [r2] ...", parse to
 * the same names.  A broken invariant is an abort().
 *
 * Built two ways: by tests/fuzz/run-fuzz.sh with clang and libFuzzer, and
 * with -DFUZZ_REPLAY_MAIN by meson with the project's compiler, as a program
 * that runs each file given (or each file of a directory given) through the
 * same function, so the corpus is exercised in every build.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group-expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(expr)                                                                                \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant '%s' broken\n", __FILE__, __LINE__,      \
				#expr);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_refs(const char *text, size_t len, const struct group_expr *e)
{
	check(e->n_refs <= GROUP_EXPR_TERMS_MAX);
	check((e->n_refs == 0) == (e->refs == NULL));
	for (size_t k = 0; k < e->n_refs; k++) {
		const struct group_expr_ref *r = &e->refs[k];

		check(r->len > 0);
		check(r->pos < len && r->len < len - r->pos - 1); /* "[", name, "]" inside */
		check(text[r->pos] == '[');
		check(r->text == text + r->pos + 1);
		check(text[r->pos + 1 + r->len] == ']');
		check(!memchr(r->text, '[', r->len) && !memchr(r->text, ']', r->len));
		check(k == 0 || r->pos > e->refs[k - 1].pos + e->refs[k - 1].len + 1);
	}
}

/* "[r1] and [r2] and ..." must give back the same names. */
static void check_round_trip(const struct group_expr *e)
{
	size_t len = 0, off = 0;
	struct group_expr again = {};
	char *s;
	int r;

	if (e->n_refs == 0)
		return;
	for (size_t k = 0; k < e->n_refs; k++)
		len += e->refs[k].len + 2 + (k ? 5 : 0);
	s = malloc(len);
	check(s);
	for (size_t k = 0; k < e->n_refs; k++) {
		if (k) {
			memcpy(s + off, " and ", 5);
			off += 5;
		}
		s[off++] = '[';
		memcpy(s + off, e->refs[k].text, e->refs[k].len);
		off += e->refs[k].len;
		s[off++] = ']';
	}
	check(off == len);
	/* may exceed GROUP_EXPR_LEN_MAX only if the input did: longer names cannot appear */
	r = group_expr_parse(s, len, &again, NULL, NULL);
	if (r == -E2BIG && len > GROUP_EXPR_LEN_MAX) {
		free(s);
		return;
	}
	check(r == 0);
	check(again.n_refs == e->n_refs);
	for (size_t k = 0; k < e->n_refs; k++) {
		check(again.refs[k].len == e->refs[k].len);
		check(memcmp(again.refs[k].text, e->refs[k].text, e->refs[k].len) == 0);
	}
	group_expr_done(&again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc(0) may return NULL, which the parser rightly refuses: keep one byte */
	char *text = malloc(size ? size : 1);
	struct group_expr sentinel = {.n_refs = 4242, .refs = (struct group_expr_ref *) 0x1};
	struct group_expr e = sentinel;
	const char *reason = NULL;
	size_t pos = SIZE_MAX;
	int r;

	check(text);
	if (size)
		memcpy(text, data, size);

	r = group_expr_parse(text, size, &e, &pos, &reason);
	if (r == 0) {
		check(pos == SIZE_MAX && reason == NULL);
		check_refs(text, size, &e);
		check_round_trip(&e);
		group_expr_done(&e);
		check(e.n_refs == 0 && e.refs == NULL);
	} else {
		check(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
		check(e.n_refs == sentinel.n_refs && e.refs == sentinel.refs);
		if (r != -ENOMEM) {
			size_t pos2 = SIZE_MAX;
			const char *reason2 = NULL;

			check(pos <= size);
			check(reason != NULL && reason[0] != '\0');
			/* the same text, the same answer */
			check(group_expr_parse(text, size, &e, &pos2, &reason2) == r);
			check(pos2 == pos && reason2 == reason);
		}
	}
	free(text);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include <dirent.h>
#include <sys/stat.h>

/* Runs one file through the target; 1 if it was run, 0 if skipped, -1 on error. */
static int replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t n;
	FILE *f;

	f = fopen(path, "rbe");
	if (!f) {
		fprintf(stderr, "%s: %m\n", path);
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return 0;
	}
	buf = malloc(st.st_size ? (size_t) st.st_size : 1);
	if (!buf) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t) st.st_size, f);
	if (ferror(f) || n != (size_t) st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 1;
}

static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n, total = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %m\n", dir);
		return -1;
	}
	for (int k = 0; k < n; k++) {
		char *path;
		int r = 0;

		if (names[k]->d_name[0] != '.') {
			if (asprintf(&path, "%s/%s", dir, names[k]->d_name) < 0)
				r = -1;
			else {
				r = replay_file(path);
				free(path);
			}
		}
		free(names[k]);
		if (r < 0 || total < 0)
			total = -1;
		else
			total += r;
	}
	free(names);
	return total;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int k = 1; k < argc; k++) {
		struct stat st;
		int r;

		if (stat(argv[k], &st) < 0) {
			fprintf(stderr, "%s: %m\n", argv[k]);
			return 1;
		}
		r = S_ISDIR(st.st_mode) ? replay_dir(argv[k]) : replay_file(argv[k]);
		if (r < 0)
			return 1;
		total += r;
	}
	/* an empty corpus would make this test pass without testing anything */
	if (total == 0) {
		fprintf(stderr, "no input found\n");
		return 1;
	}
	printf("%d inputs replayed\n", total);
	return 0;
}
#endif
