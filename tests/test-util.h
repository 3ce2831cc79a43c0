/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the Check suites in tests/: header-only, each test
 * program includes it once.  Nothing here is specific to one subsystem.
 */
#pragma once

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "macro.h"

/*
 * ck_assert*() records its location with a write() each time it passes;
 * hot loops, and loops racing another thread or process, use these
 * instead, so that checking changes neither their speed and interleavings
 * nor their syscall count.
 */
#define fast_assert_msg(expr, ...)                                                                 \
	do {                                                                                       \
		if (_unlikely_(!(expr)))                                                           \
			_ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed",      \
					  __VA_ARGS__);                                            \
	} while (false)
#define fast_assert(expr) fast_assert_msg(expr, NULL)

/* One xorshift64 step on *state (which must not be 0); the caller owns seeding. */
static inline uint64_t xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Anonymous memory shared with forked children: how they report back. */
static inline void *shared_new(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static inline void shared_free(void *p, size_t size)
{
	ck_assert_int_eq(munmap(p, size), 0);
}

/* Runs every test of s (CK_RUN_CASE, CK_FORK etc. apply); returns main()'s exit code. */
static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
