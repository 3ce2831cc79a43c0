/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The process monitor program, hamon-process (monitorlib/monitors/), seen
 * from the agent's end of a real channel, as tests/test-hamon-test.c does
 * for hamon-test: each test forks and execs the program as hagentd does,
 * posts commands and checks the answers, and looks at the command it runs
 * through a pidfile the command writes ("echo $$ > pid") and /proc.  Every
 * wait is bounded; the fixture kills the command's group and the program
 * and reaps the program whatever happens.  HAMON_PROCESS_BIN names the
 * program (meson sets it); without it the suite is skipped.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "test-monitor-prog.h"
#include "test-util.h"
#include "time-util.h"

#define N_SLOTS 8

/* Records the command's pid (= its process group) in "pid", relative to the working dir. */
#define PIDFILE_CMD "echo $$ > pid; exec sleep 30"

/* The fixture's own state, beside the monitor under test (M): one per test. */
static struct {
	pid_t pgid;   /* the command's group, once known: killed by the fixture */
	char dir[64]; /* the commands' working directory */
	char pidfile[128];
	char workdir_prop[128];
} F;

static void cleanup_dir(void)
{
	if (F.pgid > 0)
		(void) kill(-F.pgid, SIGKILL);
	(void) unlink(F.pidfile);
}

static void setup(void)
{
	memset(&M, 0, sizeof(M));
	memset(&F, 0, sizeof(F));
	ck_assert_int_eq(chan_agent_new(N_SLOTS, 7, &M.a), 0);
	snprintf(F.dir, sizeof(F.dir), "/tmp/test-hamon-process.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.dir));
}

static void teardown(void)
{
	if (M.pid > 0) {
		(void) kill(M.pid, SIGKILL);
		(void) waitpid(M.pid, NULL, 0);
		M.pid = 0;
	}
	cleanup_dir();
	(void) rmdir(F.dir);
	M.a = chan_agent_free(M.a);
}

/* WorkingDirectory= for the fixture's dir, where PIDFILE_CMD writes. */
static const char *wd(void)
{
	snprintf(F.workdir_prop, sizeof(F.workdir_prop), "WorkingDirectory=%s", F.dir);
	snprintf(F.pidfile, sizeof(F.pidfile), "%s/pid", F.dir);
	return F.workdir_prop;
}

/* Waits up to WAIT_MS for the pidfile; the command's pid. */
/*
 * PIDFILE_CMD's shell has exec'd sleep: until then it may hold the
 * redirection's descriptor, and the checks of the command's fds would race it.
 */
static bool exec_done(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone: the caller's checks will say so */
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "sleep", 5) == 0;
}

static pid_t read_pidfile(void)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	for (;;) {
		FILE *f = fopen(F.pidfile, "re");
		int pid = 0;

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0) {
			F.pgid = pid;
			return pid;
		}
		ck_assert_msg(ms_since(t0) < WAIT_MS, "no pidfile %s", F.pidfile);
		sleep_ms(10);
	}
}

/* How many live (not zombie) processes are in group pgid, per /proc. */
static int group_size(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p;
		int pgrp = 0;
		char state = 0;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || !(p = strrchr(buf, ')')))
			continue;
		/* ") S ppid pgrp ..." */
		if (sscanf(p + 1, " %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid && state != 'Z')
			n++;
	}
	closedir(d);
	return n;
}

/* Waits up to WAIT_MS for group pgid to be empty. */
static void expect_group_gone(pid_t pgid)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	while (group_size(pgid) > 0) {
		ck_assert_msg(ms_since(t0) < WAIT_MS, "process group %d still has members",
			      (int) pgid);
		sleep_ms(10);
	}
}

/* The command's pid is reaped by the monitor: no such process any more. */
static void expect_reaped(pid_t pid)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	while (kill(pid, 0) == 0) {
		ck_assert_msg(ms_since(t0) < WAIT_MS, "pid %d still exists", (int) pid);
		sleep_ms(10);
	}
	ck_assert_int_eq(errno, ESRCH);
}

static const struct chan_status_body *offline(void)
{
	return run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
}

/*
 * Online, answered Online with CHAN_F_FAILURE_FD: the watcher signals an
 * exit on the failure fd, so hagentd need not poll looks_alive.  Returns
 * how many entry-pending markers the online got.
 */
static unsigned online_declared(void)
{
	uint64_t id = post(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	const struct chan_status_body *d = expect_done(CHAN_CLASS_TRANSITION, id);
	unsigned markers = 0;

	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_ONLINE);
	ck_assert_uint_eq(d->flags, CHAN_F_FAILURE_FD);
	for (const struct chan_status_body *b = M.log; b < d; b++)
		markers += b->type == CHAN_ST_PROGRESS && b->cmd_id == id &&
			   (b->flags & CHAN_F_ENTRY_PENDING);
	return markers;
}

/* ---- tests ---- */

/* Online starts the command in its own group, offline stops it with SIGTERM. */
START_TEST(test_run_stop)
{
	const struct chan_status_body *d;
	char link[64], target[64];
	uint64_t t0;
	ssize_t n;
	pid_t pid;

	start(PROPS("Command=" PIDFILE_CMD, wd()));
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	online_ok();
	pid = read_pidfile(); /* written in WorkingDirectory */
	for (uint64_t t1 = now_ns(CLOCK_MONOTONIC); !exec_done(pid);) {
		ck_assert_msg(ms_since(t1) < WAIT_MS, "the command did not exec sleep");
		sleep_ms(5);
	}
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	ck_assert_int_eq(probe(CHAN_CLASS_LOOKS_ALIVE), 1);
	ck_assert_int_eq(kill(pid, 0), 0);
	ck_assert_int_eq(getpgid(pid), pid);
	/* stdin is /dev/null, the channel's fds 3-6 are not inherited. */
	snprintf(link, sizeof(link), "/proc/%d/fd/0", (int) pid);
	n = readlink(link, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_str_eq(target, "/dev/null");
	for (int fd = 3; fd <= 6; fd++) {
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int) pid, fd);
		ck_assert_int_lt(readlink(link, target, sizeof(target)), 0);
	}

	t0 = now_ns(CLOCK_MONOTONIC);
	d = offline();
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
	ck_assert_uint_lt(ms_since(t0), 5000); /* sleep dies of SIGTERM: far below StopTimeout */
	expect_reaped(pid);
	expect_group_gone(pid);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	ck_assert_int_eq(find(0, CHAN_ST_FAILURE, -1, UINT64_MAX), -1);

	/* Again: a second run starts a new process. */
	ck_assert_int_eq(unlink(F.pidfile), 0);
	online_ok();
	ck_assert_int_ne(read_pidfile(), 0);
	ck_assert_int_eq(offline()->state, ST_OFFLINE);
	close_and_exit();
}
END_TEST

/* A command that ignores SIGTERM: offline SIGKILLs the whole group after StopTimeout. */
START_TEST(test_ignore_sigterm)
{
	const struct chan_status_body *d;
	uint64_t t0, ms;
	pid_t pid;

	start(PROPS("Command=trap '' TERM; echo $$ > pid; while :; do sleep 0.1; done",
		    "StopTimeout=300", wd()));
	online_ok();
	pid = read_pidfile();
	t0 = now_ns(CLOCK_MONOTONIC);
	d = offline();
	ms = ms_since(t0);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
	ck_assert_uint_ge(ms, 300);
	ck_assert_uint_lt(ms, 5000);
	expect_reaped(pid);
	expect_group_gone(pid);
	ck_assert_int_eq(find(0, CHAN_ST_FAILURE, -1, UINT64_MAX), -1);
	close_and_exit();
}
END_TEST

/* The command exits on its own while Online: FAILURE at once, then not alive. */
START_TEST(test_unexpected_exit)
{
	long f;

	start(PROPS("Command=sleep 0.2"));
	ck_assert_uint_eq(online_declared(), 0); /* synchronous: no marker */
	f = wait_for(0, CHAN_ST_FAILURE, -1, UINT64_MAX, WAIT_MS);
	ck_assert_msg(f >= 0, "no FAILURE within %d ms", WAIT_MS);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	ck_assert_int_eq(probe(CHAN_CLASS_LOOKS_ALIVE), 0);
	ck_assert_int_eq(offline()->state, ST_OFFLINE);
	close_and_exit();
}
END_TEST

/* StartCheckDelay: pending, then Online if the command still runs. */
START_TEST(test_start_check_ok)
{
	uint64_t t0 = 0;
	pid_t pid;

	start(PROPS("Command=" PIDFILE_CMD, "StartCheckDelay=200", wd()));
	t0 = now_ns(CLOCK_MONOTONIC);
	ck_assert_uint_eq(online_declared(), 1); /* pending: marked once */
	ck_assert_uint_ge(ms_since(t0), 200);
	pid = read_pidfile();
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	ck_assert_int_eq(offline()->state, ST_OFFLINE);
	expect_reaped(pid);
	close_and_exit();
}
END_TEST

/* StartCheckDelay: the command is gone before the delay ends: online fails. */
START_TEST(test_start_check_fail)
{
	const struct chan_status_body *d;

	start(PROPS("Command=exit 3", "StartCheckDelay=200"));
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	ck_assert_int_eq(d->state, ST_FAILED);
	ck_assert_int_ne(d->code, 0);
	ck_assert_uint_eq(d->flags, 0);
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	close_and_exit();
}
END_TEST

/* Invalid properties: open fails with -EINVAL; a valid slot keeps the program alive. */
START_TEST(test_invalid)
{
	const char *const *cases[] = {
		PROPS("StopTimeout=100"), /* no Command */
		PROPS("Command="),
		PROPS("Command=true", "StopTimeout=-1"),
		PROPS("Command=true", "StopTimeout=86400001"),
		PROPS("Command=true", "StartCheckDelay=1x"),
		PROPS("Command=true", "WorkingDirectory=relative"),
	};
	const struct chan_status_body *d;

	ck_assert_uint_lt(ELEMENTSOF(cases), N_SLOTS);
	start(PROPS("Command=true"));
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		d = expect_done(CHAN_CLASS_TRANSITION,
				post_open_res((uint32_t) i + 1, "bad", cases[i]));
		ck_assert_msg(d->code == -EINVAL, "case %zu: code %d", i, d->code);
		ck_assert_int_eq(d->state, ST_FAILED);
	}
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		d = expect_done(
			CHAN_CLASS_TRANSITION,
			post_res((uint32_t) i + 1, CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE, NULL, 0));
		ck_assert_int_eq(d->code, 0);
	}
	close_and_exit();
}
END_TEST

/* TERMINATE during a pending online kills the command at once. */
START_TEST(test_terminate_pending)
{
	const struct chan_status_body *d;
	uint64_t on, t0;
	pid_t pid;

	start(PROPS("Command=" PIDFILE_CMD, "StartCheckDelay=60000", wd()));
	on = post_transition(CHAN_OP_ONLINE);
	pid = read_pidfile();
	t0 = now_ns(CLOCK_MONOTONIC);
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	d = expect_done(CHAN_CLASS_TRANSITION, on);
	ck_assert_int_eq(d->state, ST_FAILED);
	ck_assert_uint_lt(ms_since(t0), 5000);
	expect_reaped(pid);
	expect_group_gone(pid);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	/* Idempotent. */
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	close_and_exit();
}
END_TEST

/* TERMINATE during an offline waiting for StopTimeout: SIGKILL at once. */
START_TEST(test_terminate_offline)
{
	uint64_t off, t0;
	pid_t pid;

	start(PROPS("Command=trap '' TERM; echo $$ > pid; while :; do sleep 0.1; done",
		    "StopTimeout=60000", wd()));
	online_ok();
	pid = read_pidfile();
	off = post_transition(CHAN_OP_OFFLINE);
	sleep_ms(100);
	t0 = now_ns(CLOCK_MONOTONIC);
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	(void) expect_done(CHAN_CLASS_TRANSITION, off);
	ck_assert_uint_lt(ms_since(t0), 5000);
	expect_reaped(pid);
	expect_group_gone(pid);
	close_and_exit();
}
END_TEST

/* CLOSE while Online: the command is killed, the program exits 0. */
START_TEST(test_close_online)
{
	pid_t pid;

	start(PROPS("Command=" PIDFILE_CMD, wd()));
	online_ok();
	pid = read_pidfile();
	close_and_exit();
	expect_reaped(pid);
	expect_group_gone(pid);
}
END_TEST

Suite *hamon_process_suite(void);

Suite *hamon_process_suite(void)
{
	Suite *s = suite_create("hamon-process");
	TCase *tc;

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_run_stop);
	tcase_add_test(tc, test_ignore_sigterm);
	tcase_add_test(tc, test_unexpected_exit);
	tcase_add_test(tc, test_start_check_ok);
	tcase_add_test(tc, test_start_check_fail);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("terminate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_terminate_pending);
	tcase_add_test(tc, test_terminate_offline);
	tcase_add_test(tc, test_close_online);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	prog_bin = getenv("HAMON_PROCESS_BIN");
	prog_name = "hamon-process";
	open_type = "process";
	if (!prog_bin || access(prog_bin, X_OK) < 0) {
		fprintf(stderr, "HAMON_PROCESS_BIN not set or not executable: skipped\n");
		return 77;
	}
	return test_run_suite(hamon_process_suite());
}
