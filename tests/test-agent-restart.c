/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An agent restart that disturbs no resource (docs/agent-restart.md): after
 * kill -9 of hagentd, or a stop with --stop-mode leave, the next hagentd
 * re-attaches every live monitor.  Same monitor pids, same resource
 * processes, same states and sequences, no restart counted; commands reach
 * the adopted monitors; a pending operation goes on (or times out on its
 * original deadline); a monitor that died meanwhile is a failure handled by
 * the restart policy; monitors nobody knows are refused and close their
 * resources; an orphan that nobody adopts gives up after --orphan-timeout.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-scenario-util.h"

#define N_PROC 6

static pid_t read_pid(const char *name)
{
	char path[300];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", base, name);
	for (uint64_t end = scn_now_ns() / 1000000 + SCN_WAIT_MS;;) {
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0)
			return pid;
		ck_assert_msg(scn_now_ns() / 1000000 < end, "no pid file %s", path);
		scn_sleep_ms(20);
	}
}

static bool alive(pid_t pid)
{
	char path[64], buf[512], *p;
	bool running = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	if (p && p[1] == ' ' && p[2] != '\0')
		running = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return running;
}

/* utime + stime of pid, in clock ticks. */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st),
			 2);
	return ut + st;
}

/* An orphan waits for its next agent asleep: far less than a CPU over a second. */
static void assert_idle(const pid_t *pids, size_t n)
{
	unsigned long long before[16], hz = (unsigned long long) sysconf(_SC_CLK_TCK);

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		before[i] = cpu_ticks(pids[i]);
	scn_sleep_ms(1000);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(cpu_ticks(pids[i]) - before[i] < hz / 4,
			      "monitor %d spins: %llu ticks in 1 s", (int) pids[i],
			      cpu_ticks(pids[i]) - before[i]);
}

static void wait_dead(pid_t pid)
{
	for (uint64_t end = scn_now_ns() / 1000000 + SCN_WAIT_MS; alive(pid);) {
		ck_assert_msg(scn_now_ns() / 1000000 < end, "process %d still runs", (int) pid);
		scn_sleep_ms(20);
	}
}

static size_t log_count(const char *what)
{
	size_t n = 0;

	for (const char *p = log_read("agent.log"); (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Waits until the agent's log says what n times in all (it appends across restarts). */
static void wait_log(const char *what, size_t n)
{
	for (uint64_t end = scn_now_ns() / 1000000 + SCN_WAIT_MS; log_count(what) < n;) {
		ck_assert_msg(scn_now_ns() / 1000000 < end, "the log says '%s' %zu times, not %zu",
			      what, log_count(what), n);
		scn_sleep_ms(20);
	}
}

/* The pid files of processes known to be gone: the next ones are new. */
static void forget_pids(void)
{
	char path[300];

	for (int i = 0; i < N_PROC; i++) {
		snprintf(path, sizeof(path), "%s/p%d.pid", base, i);
		(void) unlink(path);
	}
}

/* A process resource whose command writes its pid to <base>/<name>.pid and sleeps. */
static void add_proc(const char *name, const char *group)
{
	char cmd[400];
	struct scn_reply rep;

	snprintf(cmd, sizeof(cmd), "echo $$ > %s/%s.pid.tmp && mv %s/%s.pid.tmp %s/%s.pid; "
		 "exec sleep 1000", base, name, base, name, base, name);
	ck_assert_int_eq(scn_add_resource(name, group, "process", SCN_PROPS({"Command", cmd}),
					  &rep),
			 0);
}

struct snap {
	pid_t proc, monitor;
	uint32_t seq;
};

static struct snap snap_of(const char *name)
{
	struct hagent_resource r = scn_wait_state(name, HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);

	ck_assert_int_gt(r.monitor_pid, 0);
	return (struct snap){.proc = read_pid(name), .monitor = r.monitor_pid, .seq = r.state_seq};
}

static void assert_undisturbed(const char *name, struct snap before)
{
	struct hagent_resource r = scn_wait_state(name, HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);

	ck_assert_int_eq(r.monitor_pid, before.monitor);
	ck_assert_uint_eq(r.state_seq, before.seq);
	ck_assert_uint_eq(r.restart_count, 0);
	ck_assert_int_eq(read_pid(name), before.proc);
	ck_assert(alive(before.proc));
}

static void setup_procs(struct snap *s)
{
	struct scn_reply rep;
	char name[16];

	ck_assert_int_eq(scn_add_group("g1", &rep), 0);
	ck_assert_int_eq(scn_add_group("g2", &rep), 0);
	for (int i = 0; i < N_PROC; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		add_proc(name, i % 2 ? "g2" : "g1");
	}
	ck_assert_int_eq(scn_online_group("g1", 0, &rep), 0);
	ck_assert_int_eq(scn_online_group("g2", 0, &rep), 0);
	for (int i = 0; i < N_PROC; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		s[i] = snap_of(name);
	}
}

static void assert_all_undisturbed(const struct snap *s)
{
	char name[16];

	for (int i = 0; i < N_PROC; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_undisturbed(name, s[i]);
	}
	scn_wait_group_state("g1", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("g2", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
}

/* Offline of both groups: the adopted monitors take commands; the processes end. */
static void offline_all(const struct snap *s)
{
	struct scn_reply rep;
	char name[16];

	ck_assert_int_eq(scn_offline_group("g1", 0, NULL, 0, &rep), 0);
	ck_assert_int_eq(scn_offline_group("g2", 0, NULL, 0, &rep), 0);
	for (int i = 0; i < N_PROC; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		scn_wait_state(name, HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
		wait_dead(s[i].proc);
	}
}

START_TEST(kill9_leaves_resources_untouched)
{
	struct snap s[N_PROC];

	uint32_t gseq[2];

	scn_agent_start();
	setup_procs(s);
	scn_wait_group_state("g1", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("g2", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	gseq[0] = scn_group("g1").state_seq;
	gseq[1] = scn_group("g2").state_seq;
	for (int round = 0; round < 3; round++) {
		pid_t mons[N_PROC];

		scn_agent_kill9();
		for (int i = 0; i < N_PROC; i++) {
			ck_assert(alive(s[i].proc));
			mons[i] = s[i].monitor;
		}
		if (round == 0)
			assert_idle(mons, N_PROC);
		scn_agent_start();
		/* The restored state shows at once; then each monitor re-attaches. */
		assert_all_undisturbed(s);
		wait_log("re-attached monitor", (size_t) (round + 1) * N_PROC);
		assert_all_undisturbed(s);
		/* Groups' sequences go on too: a reader's remembered one stays valid. */
		ck_assert_uint_eq(scn_group("g1").state_seq, gseq[0]);
		ck_assert_uint_eq(scn_group("g2").state_seq, gseq[1]);
	}
	offline_all(s);
	scn_agent_stop();
}
END_TEST

START_TEST(stop_mode_leave_then_offline)
{
	struct snap s[N_PROC];
	char path[300];

	scn_agent_start_args((const char *const[]){"--stop-mode", "leave", NULL});
	setup_procs(s);
	scn_agent_stop(); /* exits 0, leaving everything running */
	for (int i = 0; i < N_PROC; i++) {
		ck_assert(alive(s[i].proc));
		ck_assert(alive(s[i].monitor));
	}
	scn_agent_start(); /* default: --stop-mode offline */
	wait_log("re-attached monitor", N_PROC);
	assert_all_undisturbed(s);
	scn_agent_stop(); /* takes them offline: nothing is left for a next agent */
	for (int i = 0; i < N_PROC; i++) {
		wait_dead(s[i].proc);
		wait_dead(s[i].monitor);
	}
	forget_pids();
	snprintf(path, sizeof(path), "%s/volatile", rundir);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* And the next start is a fresh one: online again, new processes. */
	scn_agent_start();
	ck_assert_int_ne(snap_of("p0").proc, s[0].proc);
	scn_agent_stop();
}
END_TEST

/* An Online that is pending when the agent dies ends Online, answered to the new agent. */
START_TEST(pending_online_goes_on)
{
	struct scn_reply rep;
	struct hagent_resource r;
	pid_t mon;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	ck_assert_int_eq(scn_add_resource("slow", "g", NULL,
					  SCN_PROPS({"OnlineDelay", "2500"},
						    {"ProgressInterval", "200"},
						    {"PendingTimeout", "20000"}),
					  &rep),
			 0);
	ck_assert_int_eq(scn_online("slow", &rep), 0);
	r = scn_wait_state("slow", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	mon = r.monitor_pid;
	scn_agent_kill9();
	scn_agent_start();
	r = scn_res("slow");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_ONLINE_PENDING);
	r = scn_wait_state("slow", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(r.monitor_pid, mon);
	ck_assert_uint_eq(r.restart_count, 0);
	scn_agent_stop();
}
END_TEST

/* A pending Online that hangs is terminated by its timeout, counted from before the restart. */
START_TEST(pending_online_times_out)
{
	struct scn_reply rep;
	struct hagent_resource r;
	uint64_t deadline;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	ck_assert_int_eq(scn_add_resource("stuck", "g", NULL,
					  SCN_PROPS({"OnlineResult", "hang"},
						    {"PendingTimeout", "2000"},
						    {"RestartAction", "0"}),
					  &rep),
			 0);
	ck_assert_int_eq(scn_online("stuck", &rep), 0);
	r = scn_wait_state("stuck", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	deadline = r.pending_deadline_ns;
	ck_assert_uint_gt(deadline, 0);
	scn_agent_kill9();
	scn_agent_start();
	r = scn_res("stuck");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_uint_eq(r.pending_deadline_ns, deadline); /* not restarted by the restart */
	scn_wait_state("stuck", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_uint_ge(scn_now_ns(), deadline);
	scn_agent_stop();
}
END_TEST

/* A monitor that dies while no agent runs: the resource failed, and its policy restarts it. */
START_TEST(monitor_died_meanwhile)
{
	struct snap s[N_PROC];
	struct hagent_resource r;

	scn_agent_start();
	setup_procs(s);
	scn_agent_kill9();
	ck_assert_int_eq(kill(s[0].monitor, SIGKILL), 0);
	wait_dead(s[0].monitor);
	scn_agent_start();
	for (uint64_t end = scn_now_ns() / 1000000 + SCN_WAIT_MS;
	     (r = scn_res("p0")).monitor_pid == s[0].monitor || r.state != HAGENT_RESOURCE_ONLINE;) {
		ck_assert_msg(scn_now_ns() / 1000000 < end, "p0 did not come back");
		scn_sleep_ms(20);
	}
	ck_assert_uint_eq(r.restart_count, 1);
	ck_assert_uint_gt(r.state_seq, s[0].seq);
	for (int i = 1; i < N_PROC; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		assert_undisturbed(name, s[i]);
	}
	scn_agent_stop();
}
END_TEST

/* Without the store, the new agent knows no monitor: each is refused and closes its resource. */
START_TEST(unknown_monitors_are_refused)
{
	struct snap s[N_PROC];
	char path[300];
	char name[16];

	scn_agent_start();
	setup_procs(s);
	scn_agent_kill9();
	snprintf(path, sizeof(path), "%s/volatile", rundir);
	ck_assert_int_eq(unlink(path), 0);
	scn_agent_start();
	for (int i = 0; i < N_PROC; i++) {
		wait_dead(s[i].monitor);
		wait_dead(s[i].proc);
	}
	for (int i = 0; i < N_PROC; i++) {
		struct hagent_resource r;

		/* Started again by this agent: a new monitor, a new process. */
		snprintf(name, sizeof(name), "p%d", i);
		r = scn_wait_state(name, HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
		ck_assert_int_ne(r.monitor_pid, s[i].monitor);
		for (uint64_t end = scn_now_ns() / 1000000 + SCN_WAIT_MS; read_pid(name) == s[i].proc;) {
			ck_assert_msg(scn_now_ns() / 1000000 < end, "%s: no new process", name);
			scn_sleep_ms(20);
		}
		ck_assert(alive(read_pid(name)));
	}
	ck_assert(scn_log_contains("refused"));
	scn_agent_stop();
}
END_TEST

/* An orphan nobody adopts gives up after --orphan-timeout: its resource is closed. */
START_TEST(orphans_give_up)
{
	struct snap s[N_PROC];

	scn_agent_start_args((const char *const[]){"--orphan-timeout", "1", NULL});
	setup_procs(s);
	scn_agent_kill9();
	for (int i = 0; i < N_PROC; i++) {
		wait_dead(s[i].monitor);
		wait_dead(s[i].proc);
	}
}
END_TEST

/*
 * A graceful stop takes the resources offline in order: dependent groups
 * first, dependents first inside a group; the persistent states stay, so
 * the next start brings them all back.
 */
START_TEST(graceful_stop_in_order)
{
	static const char *const on_a[] = {"a"};
	struct scn_reply rep;
	sd_bus_message *m;
	uint64_t t0;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g1", &rep), 0);
	ck_assert_int_eq(scn_add_group("g2", &rep), 0);
	ck_assert_int_eq(scn_add_resource("a", "g1", NULL,
					  SCN_PROPS({"RecordFile", scn_record_path()}), &rep),
			 0);
	ck_assert_int_eq(scn_add_resource_deps("b", "g1", NULL,
					       SCN_PROPS({"RecordFile", scn_record_path()}), on_a,
					       1, &rep),
			 0);
	ck_assert_int_eq(scn_add_resource("c", "g2", NULL,
					  SCN_PROPS({"RecordFile", scn_record_path()}), &rep),
			 0);
	m = scn_method_new("SetGroupDependencyExpression");
	ck_assert_int_ge(sd_bus_message_append(m, "ss", "g2", "[g1]"), 0);
	ck_assert_int_eq(scn_method_send(m, &rep, NULL), 0);
	ck_assert_int_eq(scn_online_group("g1", 0, &rep), 0);
	ck_assert_int_eq(scn_online_group("g2", 0, &rep), 0);
	scn_wait_group_state("g2", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("g1", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);

	t0 = scn_now_ns();
	scn_agent_stop();
	ck_assert(scn_log_contains("Every resource is offline."));
	ck_assert_uint_lt(scn_record_first("c", "offline", t0),
			  scn_record_first("b", "offline", t0));
	ck_assert_uint_lt(scn_record_first("b", "offline", t0),
			  scn_record_first("a", "offline", t0));

	scn_agent_start();
	scn_wait_group_state("g1", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("g2", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	scn_agent_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent-restart");
	int failed;
	SRunner *sr;

	scn_tcase_add(s, "kill9", kill9_leaves_resources_untouched, 120);
	scn_tcase_add(s, "leave", stop_mode_leave_then_offline, 120);
	scn_tcase_add(s, "pending", pending_online_goes_on, 60);
	scn_tcase_add(s, "timeout", pending_online_times_out, 60);
	scn_tcase_add(s, "died", monitor_died_meanwhile, 60);
	scn_tcase_add(s, "refused", unknown_monitors_are_refused, 60);
	scn_tcase_add(s, "orphans", orphans_give_up, 60);
	scn_tcase_add(s, "ordered-stop", graceful_stop_in_order, 60);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
