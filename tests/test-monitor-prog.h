/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Driving a monitor program from the agent's end of a real channel, as
 * hagentd does (test-hamon-test.c and test-hamon-process.c): spawning it with
 * the channel at fds 3-6, posting commands, and bounded waits for the answers.
 * The suite sets prog_bin, prog_name and open_type before spawning.
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "time-util.h"

#define LOG_MAX 4096
#define WAIT_MS 10000 /* for what must happen: generous, sanitizers are slow */

#define ST_ONLINE  2
#define ST_OFFLINE 3
#define ST_FAILED  4

static const char *prog_bin;  /* the program spawn() execs */
static const char *prog_name; /* its argv[0] */
static const char *open_type; /* the .type of the OPEN records */

/* The monitor under test: one per test, reaped by the suite's fixture. */
static struct {
	pid_t pid;
	struct chan_agent *a;
	struct chan_status_body log[LOG_MAX]; /* everything drained, in order */
	size_t n_log;
} M;

static inline uint64_t ms_since(uint64_t t0)
{
	return (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* As hagentd: the channel's fds become 3-6, every other fd but 0-2 is closed. */
static inline void spawn(void)
{
	struct chan_fds f;
	pid_t pid;

	chan_agent_fds(M.a, &f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int src[4] = {f.producer, f.agent, f.mon_bell, f.agent_bell}, tmp[4];

		for (int i = 0; i < 4; i++) {
			tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 100);
			if (tmp[i] < 0)
				_exit(127);
		}
		for (int i = 0; i < 4; i++)
			if (dup2(tmp[i], 3 + i) < 0) /* clears FD_CLOEXEC */
				_exit(127);
		(void) close_range(7, ~0u, 0);
		(void) setenv("HAGENT_CHANNEL_FDS", "3,4,5,6", 1);
		execl(prog_bin, prog_name, (char *) NULL);
		_exit(127);
	}
	M.pid = pid;
}

/* Waits up to ms for some status, drains everything into the log. */
static inline void pump(unsigned ms)
{
	struct pollfd p = {.fd = chan_agent_bell_fd(M.a), .events = POLLIN};
	size_t n;
	int r;

	if (chan_agent_prepare_sleep(M.a) == 0) {
		r = poll(&p, 1, (int) ms);
		ck_assert_int_ge(r, 0);
	}
	chan_agent_woken(M.a);
	do {
		ck_assert_uint_lt(M.n_log, LOG_MAX);
		r = chan_agent_drain(M.a, M.log + M.n_log, LOG_MAX - M.n_log, &n);
		ck_assert_int_ge(r, 0);
		M.n_log += n;
	} while (r == 1);
}

/* Index of the first status from index from matching type/class/command, or -1. */
static inline long find(size_t from, uint16_t type, int cls, uint64_t cmd_id)
{
	for (size_t i = from; i < M.n_log; i++) {
		const struct chan_status_body *b = &M.log[i];

		if (b->type == type && (cls < 0 || b->cls == cls) &&
		    (cmd_id == UINT64_MAX || b->cmd_id == cmd_id))
			return (long) i;
	}
	return -1;
}

/* Waits up to ms for such a status; -1 if none came. */
static inline long wait_for(size_t from, uint16_t type, int cls, uint64_t cmd_id, unsigned ms)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	long i;

	for (;;) {
		i = find(from, type, cls, cmd_id);
		if (i >= 0 || ms_since(t0) >= ms)
			return i;
		pump(20);
	}
}

static inline const struct chan_status_body *expect(uint16_t type, int cls, uint64_t cmd_id)
{
	long i = wait_for(0, type, cls, cmd_id, WAIT_MS);

	ck_assert_msg(i >= 0, "no status type %u class %d command %" PRIu64 " within %d ms", type,
		      cls, cmd_id, WAIT_MS);
	return &M.log[i];
}

static inline const struct chan_status_body *expect_done(int cls, uint64_t cmd_id)
{
	return expect(CHAN_ST_DONE, cls, cmd_id);
}

static inline uint64_t post_res(uint32_t res, enum chan_cmd_class cls, enum chan_op op,
				const void *args, uint32_t len)
{
	uint64_t id = 0;

	ck_assert_int_eq(chan_agent_post(M.a, res, cls, op,
					 now_ns(CLOCK_MONOTONIC) + 60 * NSEC_PER_SEC, args, len,
					 &id),
			 0);
	return id;
}

static inline uint64_t post(enum chan_cmd_class cls, enum chan_op op, const void *args,
			    uint32_t len)
{
	return post_res(0, cls, op, args, len);
}

static inline uint64_t post_transition(enum chan_op op)
{
	return post(CHAN_CLASS_TRANSITION, op, NULL, 0);
}

/* OPEN of resource "name" in slot res with the NULL-terminated key=value properties. */
static inline uint64_t post_open_res(uint32_t res, const char *name, const char *const *props)
{
	char rec[CHAN_ARGS_MAX];
	size_t n = 0;

	n += (size_t) snprintf(rec, sizeof(rec), ".name=%s", name) + 1;
	n += (size_t) snprintf(rec + n, sizeof(rec) - n, ".type=%s", open_type) + 1;
	n += (size_t) snprintf(rec + n, sizeof(rec) - n, ".id=0123456789abcdef0123456789abcdef") +
	     1;
	for (; *props; props++) {
		size_t l = strlen(*props) + 1;

		ck_assert_uint_le(n + l, sizeof(rec));
		memcpy(rec + n, *props, l);
		n += l;
	}
	return post_res(res, CHAN_CLASS_TRANSITION, CHAN_OP_OPEN, rec, (uint32_t) n);
}

static inline uint64_t post_open_named(const char *name, const char *const *props)
{
	return post_open_res(0, name, props);
}

#define PROPS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Starts the program and opens r1 with props: it must come up Offline. */
static inline void start(const char *const *props)
{
	const struct chan_status_body *d;

	spawn();
	d = expect_done(CHAN_CLASS_TRANSITION, post_open_named("r1", props));
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
}

/* Posts op, waits for its DONE; returns it (a pointer into the log). */
static inline const struct chan_status_body *run(enum chan_cmd_class cls, enum chan_op op)
{
	return expect_done(cls, post(cls, op, NULL, 0));
}

static inline void online_ok(void)
{
	const struct chan_status_body *d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);

	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_ONLINE);
}

static inline int probe(enum chan_cmd_class cls)
{
	return run(cls, cls == CHAN_CLASS_IS_ALIVE ? CHAN_OP_IS_ALIVE : CHAN_OP_LOOKS_ALIVE)->code;
}

/* Waits up to ms for the child to end; its wait status, or -1 (still running). */
static inline int wait_exit(unsigned ms)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int status;

	for (;;) {
		pid_t p = waitpid(M.pid, &status, WNOHANG);

		ck_assert_int_ge(p, 0);
		if (p == M.pid) {
			M.pid = 0;
			return status;
		}
		if (ms_since(t0) >= ms)
			return -1;
		sleep_ms(5);
	}
}

/* CLOSE of the last resource: answered, and the program exits 0. */
static inline void close_and_exit(void)
{
	int status;

	ck_assert_int_eq(run(CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE)->code, 0);
	status = wait_exit(WAIT_MS);
	ck_assert_msg(status != -1, "still running after the close of its last resource");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status 0x%x", status);
}
