/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a program as a user would and collecting what it says: its stdout,
 * its stderr and its exit code (test-monitorctl.c, test-monitorctl-control.c).
 */
#pragma once

#include <check.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

struct run {
	int code; /* exit code */
	char out[16384];
	char err[8192];
};

/* Appends what is readable on fd to buf (NUL-terminated); false at EOF. */
static inline bool run_drain(int fd, char *buf, size_t size)
{
	size_t len = strlen(buf);
	ssize_t n;

	ck_assert_uint_lt(len, size - 1);
	n = read(fd, buf + len, size - 1 - len);
	ck_assert_int_ge(n, 0);
	buf[len + (size_t) n] = '\0';
	return n > 0;
}

/*
 * Reads the child's stdout (out) and stderr (err) to their ends, closes them
 * and reaps pid, which must exit (not die of a signal).  Any single silence
 * longer than 60 s fails the test.
 */
static inline void run_collect(struct run *r, pid_t pid, int out, int err)
{
	bool out_open = true, err_open = true;
	int status;

	*r = (struct run){.code = -1};
	while (out_open || err_open) {
		struct pollfd pf[2] = {
			{.fd = out_open ? out : -1, .events = POLLIN},
			{.fd = err_open ? err : -1, .events = POLLIN},
		};

		ck_assert_int_gt(poll(pf, 2, 60000), 0);
		if (pf[0].revents)
			out_open = run_drain(out, r->out, sizeof(r->out));
		if (pf[1].revents)
			err_open = run_drain(err, r->err, sizeof(r->err));
	}
	safe_close(out);
	safe_close(err);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the program died: status 0x%x", status);
	r->code = WEXITSTATUS(status);
}
