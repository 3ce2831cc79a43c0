/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd's resource lifecycle with real monitors ($HAGENTD_BIN, hamon-test
 * from $HAMON_MONITOR_DIR): a resource whose persistent state is online goes
 * Initializing -> OnlinePending -> Online, an offline one Offline, both with
 * a live monitor; a killed monitor makes its resource Failed, then the
 * restart brings it back; a monitor crashing in online uses up its restarts;
 * a type without a program is Failed with -ENOENT; SIGTERM stops the
 * monitors and hagentd exits 0.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config-store.h"
#include "hagent/shm.h"
#include "macro.h"
#include "test-hagentd-util.h"
#include "test-util.h"

static pid_t agent_pid;
static pid_t seen_monitors[32];
static unsigned n_seen_monitors;

static void setup(void)
{
	dirs_setup("/tmp/test-hagentd-lc-XXXXXX");
	agent_pid = 0;
	n_seen_monitors = 0;
}

static void teardown(void)
{
	/* A failed test may leave hagentd and its monitors (which outlive it) running. */
	if (agent_pid > 0) {
		(void) kill(agent_pid, SIGKILL);
		(void) waitpid(agent_pid, NULL, 0);
	}
	for (unsigned i = 0; i < n_seen_monitors; i++)
		(void) kill(seen_monitors[i], SIGKILL);
	dirs_remove();
}

static void monitor_seen(pid_t pid)
{
	for (unsigned i = 0; i < n_seen_monitors; i++)
		if (seen_monitors[i] == pid)
			return;
	if (pid > 0 && n_seen_monitors < ELEMENTSOF(seen_monitors))
		seen_monitors[n_seen_monitors++] = pid;
}

static struct config_store *store_new(void)
{
	struct config_store *s = NULL;

	ck_assert_int_eq(mkdir(statedir, 0700), 0);
	ck_assert_int_eq(config_store_open(statedir, &s), 0);
	ck_assert_int_eq(config_store_type_add(s, "test", NULL), 0);
	return s;
}

static void agent_start(void)
{
	const char *bin = getenv("HAGENTD_BIN"), *mondir = getenv("HAMON_MONITOR_DIR");
	char path[160];

	ck_assert_msg(bin, "HAGENTD_BIN is not set");
	ck_assert_msg(mondir, "HAMON_MONITOR_DIR is not set");
	snprintf(path, sizeof(path), "%s/agent.log", base);
	agent_pid = fork();
	ck_assert_int_ge(agent_pid, 0);
	if (agent_pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		struct rlimit nocore = {0, 0};

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(99);
		(void) setrlimit(RLIMIT_CORE, &nocore); /* crashing monitors: no cores */
		unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		execl(bin, bin, "--runtime-dir", rundir, "--state-dir", statedir, "--monitor-dir",
		      mondir, (char *) NULL);
		_exit(98);
	}
}

/* SIGTERM, exit 0 within 10 s. */
static void agent_stop(void)
{
	int status;

	ck_assert_int_eq(kill(agent_pid, SIGTERM), 0);
	status = pid_wait(agent_pid);
	agent_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}

/* A snapshot of one resource (and its group's state), read from the segment. */
struct snap {
	struct hagent_resource r;
	int32_t group_state;
};

static struct snap snap_read(hagent_shm *s, const char *name)
{
	struct hagent_shm_table *t = NULL;
	struct snap out = {};
	bool found = false;

	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	for (size_t i = 0; i < t->n_resources; i++)
		if (strcmp(t->resources[i].name, name) == 0) {
			out.r = t->resources[i];
			found = true;
		}
	ck_assert_msg(found, "resource %s missing", name);
	for (size_t i = 0; i < t->n_groups; i++)
		if (t->groups[i].slot == out.r.group_slot)
			out.group_state = t->groups[i].state;
	hagent_shm_table_free(t);
	monitor_seen(out.r.monitor_pid);
	return out;
}

/*
 * Polls (every 2 ms, at most 10 s) until name is in state want; *seen (may
 * be NULL) gets a bit per state seen on the way (1 << state, pending ones
 * as 1 << (state - 120)).
 */
static struct snap wait_state(hagent_shm *s, const char *name, int32_t want, uint32_t *seen)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;

	for (;;) {
		struct snap sn = snap_read(s, name);
		int32_t st = sn.r.state;

		if (seen)
			*seen |= 1u << (st > 100 ? st - 120 : st);
		if (st == want)
			return sn;
		ck_assert_msg(now_ms() < end, "%s: state %s, waiting for %s", name,
			      hagent_resource_state_to_string(st),
			      hagent_resource_state_to_string(want));
		usleep(2000);
	}
}

#define SEEN(st) (1u << ((st) > 100 ? (st) -120 : (st)))

static bool pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

static void check_monitorctl(const char *const *want, size_t n)
{
	char out[8192];

	monitorctl_status_json(out, sizeof(out));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(out, want[i]), "'%s' not in %s", want[i], out);
}

START_TEST(test_lifecycle)
{
	static const struct config_prop on[] = {
		{"OnlineDelay", "100"}, {"ProgressInterval", "20"}, {"RestartDelay", "300"}};
	_cleanup_(config_store_freep) struct config_store *st = store_new();
	struct snap a, b, a2;
	uint32_t seen = 0;
	char want_on[64], want_off[64], want_grp[64];
	hagent_shm *s;

	ck_assert_int_eq(config_store_group_add(st, "g", NULL), 0);
	ck_assert_int_eq(
		config_store_resource_add(st, "r-on", "g", "test", on, ELEMENTSOF(on), NULL, NULL),
		0);
	ck_assert_int_eq(config_store_resource_add(st, "r-off", "g", "test", NULL, 0, NULL, NULL),
			 0);
	ck_assert_int_eq(config_store_resource_set_target(st, "r-on", CONFIG_TARGET_ONLINE), 0);
	st = config_store_free(st);

	agent_start();
	s = segment_open();
	a = wait_state(s, "r-on", HAGENT_RESOURCE_ONLINE, &seen);
	ck_assert_msg(seen & SEEN(HAGENT_RESOURCE_ONLINE_PENDING), "seen 0x%x", seen);
	ck_assert_uint_ge(a.r.state_seq, 3); /* initializing, (offline,) online-pending, online */
	ck_assert_int_gt(a.r.monitor_pid, 0);
	ck_assert(pid_alive(a.r.monitor_pid));
	ck_assert_uint_eq(a.r.restart_count, 0);
	ck_assert_int_eq(a.r.last_error, 0);
	b = wait_state(s, "r-off", HAGENT_RESOURCE_OFFLINE, NULL);
	ck_assert_int_gt(b.r.monitor_pid, 0);
	ck_assert(pid_alive(b.r.monitor_pid));
	ck_assert_int_ne(b.r.monitor_pid, a.r.monitor_pid);
	a = snap_read(s, "r-on");
	ck_assert_int_eq(a.group_state, HAGENT_GROUP_PARTIAL_ONLINE);

	snprintf(want_on, sizeof(want_on), "\"state\":\"%s\"",
		 hagent_resource_state_to_string(HAGENT_RESOURCE_ONLINE));
	snprintf(want_off, sizeof(want_off), "\"state\":\"%s\"",
		 hagent_resource_state_to_string(HAGENT_RESOURCE_OFFLINE));
	snprintf(want_grp, sizeof(want_grp), "\"state\":\"%s\"",
		 hagent_group_state_to_string(HAGENT_GROUP_PARTIAL_ONLINE));
	check_monitorctl(
		(const char *const[]){"\"r-on\"", "\"r-off\"", want_on, want_off, want_grp}, 5);

	/* The monitor dies: Failed, then restarted after RestartDelay with a new monitor. */
	ck_assert_int_eq(kill(a.r.monitor_pid, SIGKILL), 0);
	seen = 0;
	a2 = wait_state(s, "r-on", HAGENT_RESOURCE_FAILED, &seen);
	ck_assert_int_eq(a2.group_state, HAGENT_GROUP_FAILED);
	ck_assert_uint_gt(a2.r.state_seq, a.r.state_seq);
	a2 = wait_state(s, "r-on", HAGENT_RESOURCE_ONLINE, NULL);
	ck_assert_uint_eq(a2.r.restart_count, 1);
	ck_assert_int_gt(a2.r.monitor_pid, 0);
	ck_assert_int_ne(a2.r.monitor_pid, a.r.monitor_pid);
	ck_assert(pid_alive(a2.r.monitor_pid));
	ck_assert_int_eq(a2.group_state, HAGENT_GROUP_PARTIAL_ONLINE);

	hagent_shm_unref(s);
	agent_stop();
	/* hagentd reaped its monitors before it exited: the pids are gone. */
	ck_assert(!pid_alive(a2.r.monitor_pid));
	ck_assert(!pid_alive(b.r.monitor_pid));
	ck_assert_ptr_nonnull(strstr(log_read("agent.log"), "Received SIGTERM"));
}
END_TEST

START_TEST(test_crash_gives_up)
{
	static const struct config_prop crash[] = {
		{"Crash", "online"}, {"RestartThreshold", "1"}, {"RestartDelay", "0"}};
	_cleanup_(config_store_freep) struct config_store *st = store_new();
	uint64_t end;
	struct snap a;
	hagent_shm *s;

	ck_assert_int_eq(config_store_group_add(st, "g", NULL), 0);
	ck_assert_int_eq(config_store_resource_add(st, "crasher", "g", "test", crash,
						   ELEMENTSOF(crash), NULL, NULL),
			 0);
	ck_assert_int_eq(config_store_resource_set_target(st, "crasher", CONFIG_TARGET_ONLINE), 0);
	st = config_store_free(st);

	agent_start();
	s = segment_open();
	/* Failed with no monitor left and the restarts used up, for good. */
	end = now_ms() + HAGENTD_WAIT_MS;
	for (;;) {
		a = snap_read(s, "crasher");
		if (a.r.state == HAGENT_RESOURCE_FAILED && a.r.monitor_pid == 0 &&
		    a.r.restart_count >= 2)
			break;
		ck_assert_msg(now_ms() < end, "state %s, pid %d, restarts %u",
			      hagent_resource_state_to_string(a.r.state), a.r.monitor_pid,
			      a.r.restart_count);
		usleep(2000);
	}
	usleep(500000);
	a = snap_read(s, "crasher");
	ck_assert_int_eq(a.r.state, HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(a.r.monitor_pid, 0);
	ck_assert_int_eq(a.group_state, HAGENT_GROUP_FAILED);
	hagent_shm_unref(s);
	agent_stop();
	ck_assert_ptr_nonnull(
		strstr(log_read("agent.log"), "crasher: failure 2 in the restart window"));
}
END_TEST

START_TEST(test_missing_program)
{
	_cleanup_(config_store_freep) struct config_store *st = store_new();
	struct snap a;
	hagent_shm *s;

	ck_assert_int_eq(config_store_type_add(st, "nothing", NULL), 0);
	ck_assert_int_eq(config_store_group_add(st, "g", NULL), 0);
	ck_assert_int_eq(
		config_store_resource_add(st, "ghost", "g", "nothing", NULL, 0, NULL, NULL), 0);
	st = config_store_free(st);

	agent_start();
	s = segment_open();
	a = wait_state(s, "ghost", HAGENT_RESOURCE_FAILED, NULL);
	ck_assert_int_eq(a.r.last_error, -ENOENT);
	ck_assert_int_eq(a.r.monitor_pid, 0);
	hagent_shm_unref(s);
	agent_stop();
	ck_assert_ptr_nonnull(strstr(log_read("agent.log"), "/hamon-nothing does not exist"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hagentd-lifecycle");
	const struct {
		const char *name;
		const TTest *fn;
	} cases[] = {
		{"lifecycle", test_lifecycle},
		{"crash_gives_up", test_crash_gives_up},
		{"missing_program", test_missing_program},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, cases[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR"))
		return 77;
	return test_run_suite(suite());
}
