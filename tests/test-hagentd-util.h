/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the suites that run hagentd as a program (test-hagentd.c
 * and test-hagentd-lifecycle.c): the private base/runtime/state dirs, bounded
 * waits for the agent and its segment, its log and monitorctl's status.
 */
#pragma once

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hagent/shm.h"

/* How long the bounded waits below (and the suites' own) wait, in ms. */
#define HAGENTD_WAIT_MS 10000

/* Per-test directories (each test runs in its own process): <base>/run and <base>/state. */
static char base[64], rundir[96], statedir[96];

/* Creates base from tmpl ("/tmp/...-XXXXXX"); the run and state dirs are not created. */
static inline void dirs_setup(const char *tmpl)
{
	snprintf(base, sizeof(base), "%s", tmpl);
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(rundir, sizeof(rundir), "%s/run", base);
	snprintf(statedir, sizeof(statedir), "%s/state", base);
}

static inline void dirs_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	(void) !system(cmd); /* best effort: the directory only holds this test's files */
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Waits (at most HAGENTD_WAIT_MS) for the child pid to exit; returns its wait status. */
static inline int pid_wait(pid_t pid)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ge(r, 0);
		if (r == pid)
			return status;
		ck_assert_msg(now_ms() < end, "hagentd did not exit");
		usleep(10000);
	}
}

/* Connects (waiting at most HAGENTD_WAIT_MS for the agent) and maps the segment. */
static inline hagent_shm *segment_open(void)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	hagent_shm *s = NULL;
	int r;

	while ((r = hagent_shm_open(rundir, &s)) < 0) {
		ck_assert_msg(now_ms() < end, "no segment: %s", hagent_shm_strerror(r));
		usleep(10000);
	}
	return s;
}

/* The first 64 KiB of <base>/<log>, NUL-terminated, in a static buffer. */
static inline char *log_read(const char *log)
{
	static char buf[65536];
	char path[160];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, log);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* Runs "$MONITORCTL_BIN --runtime-dir <rundir> status --json" into out; it must exit 0. */
static inline void monitorctl_status_json(char *out, size_t size)
{
	const char *bin = getenv("MONITORCTL_BIN");
	char cmd[512];
	size_t n;
	FILE *f;

	ck_assert_msg(bin, "MONITORCTL_BIN is not set");
	snprintf(cmd, sizeof(cmd), "'%s' --runtime-dir '%s' status --json", bin, rundir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
}
