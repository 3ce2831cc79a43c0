/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd as a Type=notify service, under tests/notify-harness (systemd's
 * side of sd_notify, testing.md §A(iii)) with WATCHDOG_USEC=1 s: READY=1
 * only once the segment is published (monitorctl status, run the moment
 * READY arrives, lists the resource configured beforehand), WATCHDOG=1
 * pings through a 3 s window up to the SIGTERM, STATUS= lines, STOPPING=1
 * and exit 0.  And that the harness can fail: hagentd SIGSTOPped for 2.5 s
 * after READY is a missed watchdog; a program that never gets ready, or
 * exits on its own, is reported.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config-store.h"
#include "macro.h"
#include "test-hagentd-util.h"
#include "test-util.h"

/* What the harness printed (stdout) and its exit code; hagentd's log goes to <base>/agent.log. */
struct harness_run {
	int code;
	char out[65536];
};

static void setup(void)
{
	dirs_setup("/tmp/test-notify-harness-XXXXXX");
	/* Monitors outlive hagentd by design: orphans come to this process, which kills them. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* SIGKILLs and reaps every child left (monitors reparented to this subreaper). */
static void children_kill(void)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	for (int round = 0; round < 100; round++) {
		char path[64];
		bool any = false;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
		f = fopen(path, "re");
		if (!f)
			break;
		while (fscanf(f, "%d", &pid) == 1) {
			(void) kill(pid, SIGKILL);
			any = true;
		}
		fclose(f);
		if (!any)
			break;
		while (waitpid(-1, NULL, 0) > 0)
			;
	}
}

static void teardown(void)
{
	children_kill();
	dirs_remove();
}

/* The configuration hagentd finds: type test (hamon-test), group g, resource web (offline). */
static void config_write(void)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;

	ck_assert_int_eq(mkdir(statedir, 0700), 0);
	ck_assert_int_eq(config_store_open(statedir, &s), 0);
	ck_assert_int_eq(config_store_type_add(s, "test", NULL), 0);
	ck_assert_int_eq(config_store_group_add(s, "g", NULL), 0);
	ck_assert_int_eq(config_store_resource_add(s, "web", "g", "test", NULL, 0, NULL, NULL), 0);
}

/* Reads fd to its end (no silence longer than 60 s) into r->out. */
static void read_all(struct harness_run *r, int fd)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ck_assert_msg(poll(&pf, 1, 60000) > 0, "the harness was silent for 60 s");
		n = read(fd, r->out + len, sizeof(r->out) - 1 - len);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += (size_t) n;
		ck_assert_uint_lt(len, sizeof(r->out) - 1);
	}
	r->out[len] = '\0';
}

/*
 * Runs notify-harness with the options opts (NULL-terminated) on argv
 * (NULL-terminated); prints and returns what it said.
 */
static void harness_run(struct harness_run *r, const char *const *opts, const char *const *prog)
{
	const char *bin = getenv("NOTIFY_HARNESS_BIN");
	const char *argv[32];
	char log[160];
	size_t n = 0;
	int out[2], status;
	pid_t pid;

	ck_assert_msg(bin, "NOTIFY_HARNESS_BIN is not set");
	argv[n++] = bin;
	for (; *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = "--";
	for (; *prog; prog++)
		argv[n++] = *prog;
	argv[n] = NULL;
	ck_assert_uint_lt(n, ELEMENTSOF(argv));
	snprintf(log, sizeof(log), "%s/agent.log", base);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(out[1], STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(99);
		unsetenv("JOURNAL_STREAM");
		execv(bin, (char *const *) argv);
		_exit(98);
	}
	safe_close(out[1]);
	read_all(r, out[0]);
	safe_close(out[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the harness died: 0x%x", status);
	r->code = WEXITSTATUS(status);
	printf("%s", r->out);
	fflush(stdout);
}

static void has(const struct harness_run *r, const char *what)
{
	ck_assert_msg(strstr(r->out, what), "'%s' not in the harness's output:\n%s", what, r->out);
}

/* The "N WATCHDOG=1" count of the summary line. */
static unsigned pings(const struct harness_run *r)
{
	const char *p = strstr(r->out, " WATCHDOG=1, max gap");
	unsigned n = 0;

	ck_assert_ptr_nonnull(p);
	while (p > r->out && p[-1] >= '0' && p[-1] <= '9')
		p--;
	ck_assert_int_eq(sscanf(p, "%u", &n), 1);
	return n;
}

/* hagentd's argv: the private dirs and the built monitors. */
#define HAGENTD_ARGV                                                                               \
	getenv("HAGENTD_BIN"), "--runtime-dir", rundir, "--state-dir", statedir, "--monitor-dir",  \
		getenv("HAMON_MONITOR_DIR")

START_TEST(test_hagentd)
{
	static struct harness_run r;
	char status[512];
	const char *mctl = getenv("MONITORCTL_BIN");

	ck_assert_msg(mctl && getenv("HAGENTD_BIN") && getenv("HAMON_MONITOR_DIR"),
		      "MONITORCTL_BIN, HAGENTD_BIN or HAMON_MONITOR_DIR is not set");
	config_write();
	/* The moment READY=1 arrives: the segment is there and lists web. */
	snprintf(status, sizeof(status),
		 "'%s' --runtime-dir '%s' status --json > '%s/status.json' && "
		 "grep -q '\"web\"' '%s/status.json'",
		 mctl, rundir, base, base);
	harness_run(&r, (const char *const[]){"-w", "1000000", "-t", "3", "-a", status, NULL},
		    (const char *const[]){HAGENTD_ARGV, NULL});
	ck_assert_msg(r.code == 0, "harness exit %d:\n%s\nhagentd's log:\n%s", r.code, r.out,
		      log_read("agent.log"));
	has(&r, "READY=1\n");
	has(&r, "the command exited 0");
	has(&r, "STATUS=");
	has(&r, "SIGTERM\n");
	has(&r, "STOPPING=1\n");
	has(&r, "wait status 0x0\n");
	has(&r, "notify-harness: ok\n");
	/* 3 s of window with a 1 s limit cannot pass with fewer. */
	ck_assert_uint_ge(pings(&r), 3);
}
END_TEST

/* SIGSTOP for 2.5 s > WatchdogSec: the harness must report it, as systemd would act on it. */
START_TEST(test_hagentd_stopped)
{
	static struct harness_run r;

	config_write();
	harness_run(&r,
		    (const char *const[]){"-w", "1000000", "-t", "3", "-a",
					  "kill -STOP $MAINPID && sleep 2.5 && kill -CONT $MAINPID",
					  NULL},
		    (const char *const[]){HAGENTD_ARGV, NULL});
	ck_assert_int_eq(r.code, 1);
	has(&r, "VIOLATION: missed watchdog: no WATCHDOG=1 for ");
	has(&r, "FAILED: 1 violation(s)\n");
	/* Everything else held: it came back, pinged, stopped cleanly. */
	has(&r, "STOPPING=1\n");
	has(&r, "wait status 0x0\n");
}
END_TEST

/* Programs that are no notify service at all. */
START_TEST(test_not_a_service)
{
	static struct harness_run r;

	harness_run(&r, (const char *const[]){"-r", "0.5", "-t", "0.2", "-k", "5", NULL},
		    (const char *const[]){"sleep", "60", NULL});
	ck_assert_int_eq(r.code, 1);
	has(&r, "VIOLATION: no READY=1 within 500 ms");
	has(&r, "VIOLATION: no STATUS= line");
	has(&r, "VIOLATION: no STOPPING=1 after SIGTERM");
	has(&r, "VIOLATION: the program did not exit 0");

	harness_run(&r, (const char *const[]){NULL}, (const char *const[]){"true", NULL});
	ck_assert_int_eq(r.code, 1);
	has(&r, "VIOLATION: the program exited before SIGTERM");
	has(&r, "VIOLATION: no READY=1");

	harness_run(&r, (const char *const[]){"-w", "x", NULL},
		    (const char *const[]){"true", NULL});
	ck_assert_int_eq(r.code, 2);
}
END_TEST

static Suite *notify_harness_suite(void)
{
	Suite *s = suite_create("notify-harness");
	TCase *tc = tcase_create("hagentd");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hagentd);
	tcase_add_test(tc, test_hagentd_stopped);
	tcase_add_test(tc, test_not_a_service);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(notify_harness_suite());
}
