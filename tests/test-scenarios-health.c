/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Acceptance scenarios 21-40 of semantics.md §10 (requests on a resource in
 * the wrong state, hung and killed monitors, health checks, the restart
 * policy, group state derivation), each against its own hagentd with
 * hamon-test monitors: what the scenario's Then says, read from the state
 * segment (states, sequences, restart counts, events, group records) and
 * from hamon-test's record file (which entry points ran, in what order, how
 * often).  Where the product has no counterpart yet (ResourceControl, group
 * failover and FailoverThreshold, type-wide property values) the case tests
 * the nearest real behaviour and says so.  Then monitors that misbehave:
 * garbage in the channel, a crash loop.
 *
 * Times are scaled down (poll intervals of 100-200 ms, restart windows of a
 * second or ten, DeadlockTimeout at its minimum of 1000); the waits are
 * generous bounds, and the only time checks are lower bounds (a timer never
 * fires early).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hagent/hamon.h"
#include "test-scenario-util.h"

#define NS_PER_MS UINT64_C(1000000)
#define NEVER	  "4294967295" /* RetryPeriodOnFailure: no retry */

/* A resource of type test, recording into the shared record file. */
static void seed(const char *name, const char *group, const struct config_prop *props, size_t n,
		 bool online)
{
	struct config_prop all[32];

	ck_assert_uint_lt(n, ELEMENTSOF(all));
	if (n)
		memcpy(all, props, n * sizeof(*props));
	all[n] = (struct config_prop){"RecordFile", scn_record_path()};
	scn_seed_resource(name, group, NULL, all, n + 1, online);
}

/* The group and its members (up to max) as of one commit; *n gets the member count. */
static struct hagent_group group_members(const char *name, struct hagent_resource *members,
					 size_t max, size_t *n)
{
	struct hagent_group g;
	uint32_t slot;

	ck_assert_msg(hagent_shm_find(scn.shm, 2, name, &slot) == 0, "no group %s", name);
	ck_assert_int_eq(hagent_shm_read_group(scn.shm, slot, &g, members, max, n), 0);
	ck_assert_uint_le(*n, max);
	return g;
}

static int32_t member_state(const struct hagent_resource *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return m[i].state;
	ck_abort_msg("%s is not a member", name);
	return -1;
}

/* Times (ns) of the record lines of res matching pattern, into out; returns how many. */
static size_t record_times(const char *res, const char *pattern, uint64_t *out, size_t max)
{
	struct scn_record rec[256];
	size_t n = scn_record_find(res, pattern, 0, rec, ELEMENTSOF(rec));

	ck_assert_uint_le(n, ELEMENTSOF(rec));
	ck_assert_uint_le(n, max);
	for (size_t i = 0; i < n; i++)
		out[i] = rec[i].ns;
	return n;
}

/* Of the n times t[], how many are in (after, before). */
static size_t count_between(const uint64_t *t, size_t n, uint64_t after, uint64_t before)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (t[i] > after && t[i] < before)
			k++;
	return k;
}

/* The last of the n times t[] before before, 0 if none. */
static uint64_t last_before(const uint64_t *t, size_t n, uint64_t before)
{
	uint64_t last = 0;

	for (size_t i = 0; i < n; i++)
		if (t[i] < before && t[i] > last)
			last = t[i];
	return last;
}

/* How many times needle occurs in the agent's log. */
static unsigned log_count(const char *needle)
{
	const char *log = log_read("agent.log");
	unsigned n = 0;

	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/*
 * Waits until name is Failed with n onlines recorded, then asserts it stays
 * Failed (same sequence) for ms with no further online.
 */
static struct hagent_resource failed_for_good(const char *name, size_t n, unsigned ms)
{
	struct hagent_resource a, b;

	scn_record_wait(name, "online", n, 2 * SCN_WAIT_MS);
	a = scn_wait_state(name, HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	b = scn_stays_state(name, HAGENT_RESOURCE_FAILED, ms);
	ck_assert_uint_eq(b.state_seq, a.state_seq);
	ck_assert_uint_eq(scn_record_count(name, "online"), n);
	return b;
}

/* ---- Entry points & pending protocol: 21-26 ---- */

/*
 * 21. An Online request on an Online resource and an Offline request on an
 * Offline one complete with ERROR_SUCCESS at once and run no entry point.
 */
START_TEST(s21_request_in_target_state_runs_nothing)
{
	const struct config_prop quiet[] = {{"LooksAlivePollInterval", "60000"},
					    {"IsAlivePollInterval", "60000"}};
	struct hagent_resource on, off, r;
	struct scn_reply rep;

	seed("on", "g", quiet, ELEMENTSOF(quiet), true);
	seed("off", "g", quiet, ELEMENTSOF(quiet), false);
	scn_agent_start();
	on = scn_wait_state("on", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	off = scn_wait_state("off", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_record_wait("on", "online", 1, SCN_WAIT_MS);
	scn_record_wait("off", "open", 1, SCN_WAIT_MS);

	ck_assert_int_eq(scn_online("on", &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_ONLINE);
	ck_assert_uint_eq(rep.state_seq, on.state_seq);
	ck_assert_int_eq(scn_offline("off", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(rep.state_seq, off.state_seq);

	/* Anything the requests started would have run within this time. */
	r = scn_stays_state("on", HAGENT_RESOURCE_ONLINE, 500);
	ck_assert_uint_eq(r.state_seq, on.state_seq);
	r = scn_res("off");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(r.state_seq, off.state_seq);
	ck_assert_uint_eq(scn_record_count("on", "online"), 1);
	ck_assert_uint_eq(scn_record_count("on", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("on", "terminate"), 0);
	ck_assert_uint_eq(scn_record_count("off", "online"), 0);
	ck_assert_uint_eq(scn_record_count("off", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("off", "terminate"), 0);
	scn_agent_stop();
}
END_TEST

/* 22. An Offline (not forced) request on an OnlinePending resource: InvalidState, no change. */
START_TEST(s22_offline_while_online_pending_is_invalid_state)
{
	const struct config_prop hang[] = {{"OnlineResult", "hang"}, {"PendingTimeout", "60000"}};
	struct hagent_resource before, after;
	struct scn_reply rep;
	struct scn_mark mark;

	seed("r", "g", hang, ELEMENTSOF(hang), true);
	scn_agent_start();
	before = scn_wait_state("r", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	scn_record_wait("r", "online", 1, SCN_WAIT_MS);
	scn_sleep_ms(100); /* the ACCEPTED of the online is in: the segment is quiet */
	mark = scn_mark_take();

	ck_assert_int_eq(scn_offline("r", 0, &rep), -EBUSY);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_STATE, -EBUSY);
	scn_mark_assert_unchanged(mark);
	after = scn_stays_state("r", HAGENT_RESOURCE_ONLINE_PENDING, 300);
	ck_assert_uint_eq(after.state_seq, before.state_seq);
	ck_assert_int_eq(after.persistent_state, before.persistent_state);
	ck_assert_uint_eq(after.pending_deadline_ns, before.pending_deadline_ns);
	ck_assert_uint_eq(scn_record_count("r", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
	scn_agent_stop();
}
END_TEST

/*
 * 23. An Offline request on a Failed resource: ResourceFailed (5038), the
 * persistent state becomes offline, and the restart that was due never runs.
 */
START_TEST(s23_offline_on_failed_stops_restarts)
{
	const struct config_prop fail[] = {
		{"OnlineResult", "fail"}, {"RestartDelay", "1500"}, {"RestartThreshold", "3"}};
	struct hagent_resource failed, r;
	struct scn_reply rep;

	seed("r", "g", fail, ELEMENTSOF(fail), true);
	scn_agent_start();
	failed = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(failed.persistent_state, CONFIG_TARGET_ONLINE);

	ck_assert_int_eq(scn_offline("r", 0, &rep), -EIO);
	scn_assert_error(&rep, CONTROL_ERROR_RESOURCE_FAILED, -EIO);
	r = scn_res("r");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(r.persistent_state, CONFIG_TARGET_OFFLINE);

	r = scn_stays_state("r", HAGENT_RESOURCE_FAILED, 2500); /* well past RestartDelay */
	ck_assert_uint_eq(r.state_seq, failed.state_seq);
	ck_assert_int_eq(r.persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_uint_eq(scn_record_count("r", "online"), 1);
	scn_agent_stop();
}
END_TEST

/*
 * 24. An entry point that never returns: past DeadlockTimeout the monitor is
 * killed, the resource it hosted is Failed (a RESOURCE_STATE event), and the
 * restart runs in a new monitor.  No re-attach: hamon-test has no recovery.
 */
START_TEST(s24_deadlock_recycles_monitor)
{
	const struct config_prop hang[] = {
		{"Hang", "is_alive"},	     {"IsAlivePollInterval", "100"},
		{"DeadlockTimeout", "1000"}, {"RestartThreshold", "1"},
		{"RestartDelay", "100"},     {"RetryPeriodOnFailure", NEVER}};
	struct hagent_resource on, failed, again;
	struct hagent_event ev[16];
	size_t n;
	uint64_t from;

	seed("r", "g", hang, ELEMENTSOF(hang), true);
	scn_agent_start();
	on = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_gt(on.monitor_pid, 0);
	from = scn_event_head();
	scn_record_wait("r", "hang is_alive", 1, SCN_WAIT_MS);
	failed = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_uint_gt(failed.state_seq, on.state_seq);
	n = scn_state_events("r", from, ev, ELEMENTSOF(ev));
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_FAILED);

	/* Recycled: the hung monitor is gone, a new one opens the resource again. */
	again = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_gt(again.monitor_pid, 0);
	ck_assert_int_ne(again.monitor_pid, on.monitor_pid);
	ck_assert_int_ne(kill(on.monitor_pid, 0), 0);
	ck_assert_uint_eq(again.restart_count, 1);
	ck_assert_uint_eq(scn_record_count("r", "open"), 2);
	ck_assert_uint_eq(scn_record_count("r", "online"), 2);
	ck_assert(scn_log_contains("killing monitor"));
	scn_agent_stop();
}
END_TEST

/*
 * 25. The monitor is SIGKILLed while the resource is OnlinePending: Failed,
 * a RESOURCE_STATE event, and the restart in a new monitor.
 */
START_TEST(s25_monitor_killed_while_pending)
{
	const struct config_prop slow[] = {
		{"OnlineDelay", "1500"}, {"ProgressInterval", "100"}, {"RestartDelay", "300"}};
	struct hagent_resource pending, failed, again;
	struct hagent_event ev[16];
	uint64_t from;
	size_t n;

	seed("r", "g", slow, ELEMENTSOF(slow), true);
	scn_agent_start();
	pending = scn_wait_state("r", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	scn_record_wait("r", "online", 1, SCN_WAIT_MS);
	ck_assert_int_gt(pending.monitor_pid, 0);
	from = scn_event_head();
	ck_assert_int_eq(kill(pending.monitor_pid, SIGKILL), 0);

	failed = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_uint_gt(failed.state_seq, pending.state_seq);
	n = scn_state_events("r", from, ev, ELEMENTSOF(ev));
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_FAILED);
	ck_assert_uint_eq(ev[0].state_seq, failed.state_seq);
	again = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_gt(again.monitor_pid, 0);
	ck_assert_int_ne(again.monitor_pid, pending.monitor_pid);
	ck_assert_uint_eq(again.restart_count, 1);
	ck_assert_uint_eq(scn_record_count("r", "open"), 2);
	ck_assert_uint_eq(scn_record_count("r", "online"), 2);
	/*
	 * Only the new monitor reported an outcome: the killed one's online was
	 * lost.  hamon-test records the report after posting it, so the agent can
	 * show Online first: wait for the line, then count.
	 */
	scn_record_wait("r", "status online", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("r", "status online"), 1);
	scn_agent_stop();
}
END_TEST

/* ControlResource(name, code, input): 0 and the answer in out, or the error in *rep. */
static int control(const char *name, uint32_t code, const void *in, size_t len, uint8_t *out,
		   size_t *out_len, struct scn_reply *rep)
{
	sd_bus_message *m = scn_method_new("ControlResource"), *reply = NULL;
	const void *data;
	size_t n;
	int r;

	ck_assert_int_ge(sd_bus_message_append(m, "su", name, code), 0);
	ck_assert_int_ge(sd_bus_message_append_array(m, 'y', in, len), 0);
	r = scn_method_send(m, rep, &reply);
	if (r < 0)
		return r;
	ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &data, &n), 0);
	ck_assert_uint_le(n, 12);
	memcpy(out, data, n);
	*out_len = n;
	sd_bus_message_unref(reply);
	return 0;
}

/*
 * 26. The implementation returns ERROR_INVALID_FUNCTION (-EOPNOTSUPP) for a
 * code: the monitor's default handling (libhamon) answers it.  hamon-test
 * handles only 0x100 (echo) and leaves everything else to the default.
 */
START_TEST(s26_control_default_handling)
{
	uint8_t out[12];
	uint32_t v;
	size_t n;
	struct scn_reply rep;
	struct scn_mark mark;

	seed("r", "g", NULL, 0, true);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	mark = scn_mark_take();

	/* Left to the default: the state as the monitor knows it. */
	ck_assert_int_eq(control("r", HAMON_CONTROL_GET_STATE, NULL, 0, out, &n, &rep), 0);
	ck_assert_uint_eq(n, sizeof(v));
	memcpy(&v, out, sizeof(v));
	ck_assert_uint_eq(v, HAMON_STATE_ONLINE);
	ck_assert_uint_eq(scn_record_count("r", "control 0x1"), 1); /* it was asked first */
	ck_assert_int_eq(control("r", HAMON_CONTROL_GET_FLAGS, NULL, 0, out, &n, &rep), 0);
	memcpy(&v, out, sizeof(v));
	ck_assert_uint_eq(v, HAMON_CONTROL_F_OPENED); /* open, no failure fd declared */
	/* Handled by the implementation. */
	ck_assert_int_eq(control("r", 0x100, "hello", 5, out, &n, &rep), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(out, "hello", 5), 0);
	/* Neither: ERROR_INVALID_FUNCTION reaches the client. */
	ck_assert_int_lt(control("r", 0x999, NULL, 0, out, &n, &rep), 0);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_SUPPORTED, -EOPNOTSUPP);
	ck_assert_msg(strstr(rep.message, "0x999"), "%s", rep.message);
	/* Bad input. */
	ck_assert_int_lt(control("nope", 1, NULL, 0, out, &n, &rep), 0);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	{
		uint8_t big[989] = {0};

		ck_assert_int_lt(control("r", 0x100, big, sizeof(big), out, &n, &rep), 0);
		scn_assert_error(&rep, CONTROL_ERROR_TOO_BIG, -E2BIG);
	}
	/* A control code changes nothing the segment shows. */
	scn_mark_assert_unchanged(mark);
	ck_assert_uint_eq(scn_record_count("r", "control 0x999"), 1);
	scn_agent_stop();
}
END_TEST

/* 26, continued: a resource whose monitor is not open cannot be asked. */
START_TEST(s26_control_needs_an_open_monitor)
{
	uint8_t out[12];
	size_t n;
	struct scn_reply rep;

	seed("r", "g", (const struct config_prop[]){{"OpenError", "5"}}, 1, false);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_lt(control("r", HAMON_CONTROL_GET_STATE, NULL, 0, out, &n, &rep), 0);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_STATE, -EBUSY);
	scn_agent_stop();
}
END_TEST

/* ---- Failure detection & policy: 27-37 ---- */

/* LooksAlive false every 200 ms; IsAlive true and its own poll a minute away. */
static const struct config_prop looks_false[] = {{"LooksAlive", "false"},
						 {"LooksAlivePollInterval", "200"},
						 {"IsAlivePollInterval", "60000"}};

/*
 * 27. LooksAlive false: IsAlive runs at once, before the next LooksAlive.
 * With the IsAlive poll a minute away, every is_alive follows a looks_alive.
 */
START_TEST(s27_looks_alive_false_runs_is_alive_before_next)
{
	uint64_t la[256], is[256];
	size_t n_la, n_is;

	seed("r", "g", looks_false, ELEMENTSOF(looks_false), true);
	scn_agent_start();
	(void) scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	scn_record_wait("r", "looks_alive", 5, SCN_WAIT_MS);
	n_la = record_times("r", "looks_alive", la, ELEMENTSOF(la));
	n_is = record_times("r", "is_alive", is, ELEMENTSOF(is));
	ck_assert_uint_ge(n_la, 5);
	ck_assert_uint_eq(count_between(is, n_is, 0, la[0]), 0);
	for (size_t i = 0; i + 1 < n_la; i++)
		ck_assert_msg(count_between(is, n_is, la[i], la[i + 1]) == 1,
			      "%zu is_alive between looks_alive %zu and %zu",
			      count_between(is, n_is, la[i], la[i + 1]), i, i + 1);
	scn_agent_stop();
}
END_TEST

/* 28. LooksAlive false, IsAlive true: Online, the sequence unchanged, no event. */
START_TEST(s28_looks_alive_false_is_alive_true_stays_online)
{
	struct hagent_resource on, r;
	uint64_t from;

	seed("r", "g", looks_false, ELEMENTSOF(looks_false), true);
	scn_agent_start();
	on = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	from = scn_event_head();
	scn_record_wait("r", "is_alive", 4, SCN_WAIT_MS);
	r = scn_stays_state("r", HAGENT_RESOURCE_ONLINE, 300);
	ck_assert_uint_eq(r.state_seq, on.state_seq);
	ck_assert_uint_eq(scn_state_events("r", from, NULL, 0), 0);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
	scn_agent_stop();
}
END_TEST

/* Online, then IsAlive false ~200 ms later (polled every 100 ms); restarts 200 ms after. */
#define DYING                                                                                      \
	{"IsAlive", "after:200"}, {"IsAlivePollInterval", "100"},                                  \
		{"LooksAlivePollInterval", "60000"},                                               \
	{                                                                                          \
		"RestartDelay", "200"                                                              \
	}

/*
 * 29. IsAlive false: Failed, Terminate before the restart's Online, and the
 * restart RestartDelay after the failure.
 */
START_TEST(s29_is_alive_false_terminates_before_restart)
{
	const struct config_prop p[] = {
		DYING, {"RestartThreshold", "1"}, {"RetryPeriodOnFailure", NEVER}};
	uint64_t on[8], term[8], is[256], failing;
	size_t n_on, n_term, n_is;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	(void) scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	(void) scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	scn_record_wait("r", "online", 2, SCN_WAIT_MS);
	n_on = record_times("r", "online", on, ELEMENTSOF(on));
	n_term = record_times("r", "terminate", term, ELEMENTSOF(term));
	n_is = record_times("r", "is_alive", is, ELEMENTSOF(is));
	ck_assert_uint_ge(n_on, 2);
	/* Exactly one terminate between the first online and the restart's. */
	ck_assert_uint_eq(count_between(term, n_term, on[0], on[1]), 1);
	/* The failing is_alive came before that terminate... */
	failing = last_before(is, n_is, last_before(term, n_term, on[1]));
	ck_assert_uint_gt(failing, on[0]);
	/* ...and the restart waited RestartDelay after it (timers never fire early). */
	ck_assert_uint_ge(on[1] - failing, 200 * NS_PER_MS);
	scn_agent_stop();
}
END_TEST

/*
 * 30. A signal on the failure fd is verified with IsAlive: false -> Failed
 * and Terminate; true -> Online with the same sequence, and the fd drained:
 * a single is_alive (an undrained fd would signal again and again).
 */
START_TEST(s30_failure_fd_verified_by_is_alive)
{
	const struct config_prop real[] = {{"FailAfter", "300"},
					   {"IsAlive", "false"},
					   {"IsAlivePollInterval", "60000"},
					   {"LooksAlivePollInterval", "60000"},
					   {"RestartAction", "0"}};
	const struct config_prop spurious[] = {{"FailAfter", "300"},
					       {"IsAlive", "true"},
					       {"IsAlivePollInterval", "60000"},
					       {"LooksAlivePollInterval", "60000"},
					       {"RestartAction", "0"}};
	struct hagent_resource on_sp, sp;
	uint64_t fail[4], is[4], term[4];

	seed("real", "g", real, ELEMENTSOF(real), true);
	seed("spurious", "g", spurious, ELEMENTSOF(spurious), true);
	scn_agent_start();
	on_sp = scn_wait_state("spurious", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	(void) scn_wait_state("real", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	scn_record_wait("real", "terminate", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(record_times("real", "fail", fail, ELEMENTSOF(fail)), 1);
	ck_assert_uint_eq(record_times("real", "is_alive", is, ELEMENTSOF(is)), 1);
	ck_assert_uint_eq(record_times("real", "terminate", term, ELEMENTSOF(term)), 1);
	ck_assert_uint_gt(is[0], fail[0]);
	ck_assert_uint_gt(term[0], is[0]);

	scn_record_wait("spurious", "is_alive", 1, SCN_WAIT_MS);
	sp = scn_stays_state("spurious", HAGENT_RESOURCE_ONLINE, 700);
	ck_assert_uint_eq(sp.state_seq, on_sp.state_seq);
	ck_assert_uint_eq(record_times("spurious", "fail", fail, ELEMENTSOF(fail)), 1);
	ck_assert_uint_eq(record_times("spurious", "is_alive", is, ELEMENTSOF(is)), 1);
	ck_assert_uint_gt(is[0], fail[0]);
	ck_assert_uint_eq(scn_record_count("spurious", "terminate"), 0);
	scn_agent_stop();
}
END_TEST

/*
 * 31. RestartThreshold 2, RestartPeriod 10 s, RestartAction 2: the first two
 * failures in the window are restarted locally after RestartDelay, the
 * third escalates to a group failover.  On one node the default
 * FailoverThreshold (number of nodes - 1) is 0, so this failover is over the
 * threshold: the resource stays Failed, the group stays Failed where it is,
 * and its failover_count shows the one failover asked for.  (With a
 * FailoverThreshold above 0 the group restarts in place:
 * test-scenarios-groups.)
 */
START_TEST(s31_third_failure_in_window_escalates)
{
	const struct config_prop p[] = {DYING,
					{"RestartThreshold", "2"},
					{"RestartPeriod", "10000"},
					{"RestartAction", "2"},
					{"RetryPeriodOnFailure", NEVER}};
	uint64_t on[8], is[256];
	struct hagent_resource r;
	struct hagent_group g;
	size_t n_is;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	r = failed_for_good("r", 3, 1500);
	ck_assert_uint_eq(r.restart_count, 3);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 3);
	ck_assert_uint_eq(record_times("r", "online", on, ELEMENTSOF(on)), 3);
	n_is = record_times("r", "is_alive", is, ELEMENTSOF(is));
	for (size_t i = 1; i < 3; i++) {
		uint64_t failing = last_before(is, n_is, on[i]);

		ck_assert_uint_gt(failing, on[i - 1]);
		ck_assert_uint_ge(on[i] - failing, 200 * NS_PER_MS);
	}
	g = scn_group("g");
	ck_assert_int_eq(g.state, HAGENT_GROUP_FAILED);
	ck_assert_uint_eq(g.failover_count, 1);
	ck_assert_uint_eq(log_count("in the restart window: restart."), 2);
	ck_assert(scn_log_contains("r: failure 3 in the restart window: escalate."));
	ck_assert(scn_log_contains("over FailoverThreshold 0 in 6 hours: the group stays failed."));
	scn_agent_stop();
}
END_TEST

/*
 * 32. The same threshold, failures further apart than RestartPeriod (scaled
 * down: a 1 s window, failures every ~1.5 s): every one is restarted, and
 * the window never holds more than one.
 */
START_TEST(s32_failures_spread_out_all_restart)
{
	const struct config_prop p[] = {{"IsAlive", "after:1200"},
					{"IsAlivePollInterval", "100"},
					{"LooksAlivePollInterval", "60000"},
					{"RestartDelay", "200"},
					{"RestartThreshold", "2"},
					{"RestartPeriod", "1000"},
					{"RestartAction", "2"}};
	uint64_t end;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	/* 4 failures, each one restarted: 5 onlines. */
	end = now_ms() + 3 * SCN_WAIT_MS;
	while (scn_record_count("r", "online") < 5) {
		ck_assert_uint_le(scn_res("r").restart_count, 1);
		ck_assert_msg(now_ms() < end, "%zu onlines", scn_record_count("r", "online"));
		scn_sleep_ms(20);
	}
	ck_assert_uint_ge(scn_record_count("r", "terminate"), 4);
	ck_assert_uint_ge(log_count("in the restart window: restart."), 4);
	ck_assert(!scn_log_contains("escalate"));
	ck_assert(!scn_log_contains("stay-failed"));
	scn_agent_stop();
}
END_TEST

/* 33. RestartAction 1 over the threshold: Failed on this node, the group does not move. */
START_TEST(s33_restart_action_1_stays_failed)
{
	const struct config_prop p[] = {DYING,
					{"RestartThreshold", "1"},
					{"RestartAction", "1"},
					{"RetryPeriodOnFailure", NEVER}};
	struct hagent_group g;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	(void) failed_for_good("r", 2, 1500);
	g = scn_group("g");
	ck_assert_int_eq(g.state, HAGENT_GROUP_FAILED);
	ck_assert_uint_eq(g.failover_count, 0);
	ck_assert(scn_log_contains("r: failure 2 in the restart window: stay-failed."));
	ck_assert(!scn_log_contains("escalate"));
	scn_agent_stop();
}
END_TEST

/* 34. RestartAction 0: one failure, no restart, no failover. */
START_TEST(s34_restart_action_0_never_restarts)
{
	const struct config_prop p[] = {DYING, {"RestartAction", "0"}};

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	(void) failed_for_good("r", 1, 1500);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 1);
	ck_assert_uint_eq(scn_group("g").failover_count, 0);
	ck_assert(scn_log_contains("r: failure 1 in the restart window: not-allowed."));
	scn_agent_stop();
}
END_TEST

/*
 * 35. Over the threshold with failover impossible (RestartAction 1): exactly
 * one more online attempt, RetryPeriodOnFailure (scaled down: 2 s) after
 * the failure; with 0xFFFFFFFF never.
 */
START_TEST(s35_retry_period_on_failure)
{
	const struct config_prop retry[] = {{"OnlineResult", "fail"},
					    {"RestartAction", "1"},
					    {"RestartThreshold", "0"},
					    {"RestartPeriod", "1000"},
					    {"RetryPeriodOnFailure", "2000"}};
	const struct config_prop never[] = {{"OnlineResult", "fail"},
					    {"RestartAction", "1"},
					    {"RestartThreshold", "0"},
					    {"RestartPeriod", "1000"},
					    {"RetryPeriodOnFailure", NEVER}};
	uint64_t on[8];

	seed("retry", "g", retry, ELEMENTSOF(retry), true);
	seed("never", "g", never, ELEMENTSOF(never), true);
	scn_agent_start();
	(void) failed_for_good("retry", 2, 3000);
	ck_assert_uint_eq(record_times("retry", "online", on, ELEMENTSOF(on)), 2);
	ck_assert_uint_ge(on[1] - on[0], 2000 * NS_PER_MS);
	ck_assert(scn_log_contains("retry: failure 1 in the restart window: stay-failed."));
	ck_assert(scn_log_contains("retry: failure 1 in the restart window: give-up."));
	ck_assert_uint_eq(scn_record_count("never", "online"), 1);
	ck_assert_int_eq(scn_res("never").state, HAGENT_RESOURCE_FAILED);
	scn_agent_stop();
}
END_TEST

/*
 * 36. FailoverThreshold 1, FailoverPeriod 1 h: the first escalation (a
 * member over its restart threshold, RestartAction 2) restarts the group in
 * place, on one node its failover; when the group needs a second failover
 * within the hour it is left failed where it is: its members Failed and not
 * restarted again, the group Failed, failover_count 2 or more (each member
 * that escalates asks for one).
 */
START_TEST(s36_second_escalation_leaves_group_failed_here)
{
	const struct config_prop p[] = {DYING,
					{"RestartThreshold", "0"},
					{"RestartAction", "2"},
					{"RetryPeriodOnFailure", NEVER}};
	struct hagent_resource m[8];
	struct hagent_group g;
	size_t n;

	const struct config_prop gp[] = {{"FailoverThreshold", "1"}, {"FailoverPeriod", "1"}};

	seed("a", "g", p, ELEMENTSOF(p), true);
	seed("b", "g", p, ELEMENTSOF(p), true);
	scn_seed_group_props("g", gp, ELEMENTSOF(gp));
	scn_agent_start();
	(void) failed_for_good("a", 2, 0);
	(void) failed_for_good("b", 2, 1500);
	g = group_members("g", m, ELEMENTSOF(m), &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(member_state(m, n, "a"), HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(member_state(m, n, "b"), HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(g.state, HAGENT_GROUP_FAILED);
	ck_assert_uint_ge(g.failover_count, 2);
	ck_assert_uint_eq(log_count("restarting the group (failover 1 of 1 allowed in 1 hours)."),
			  1);
	ck_assert(scn_log_contains("the group stays failed."));
	scn_agent_stop();
}
END_TEST

/*
 * 37. Type-wide property values do not exist yet (a type has no
 * properties): what exists is the resource's value.  LooksAlivePollInterval
 * 0 is rejected as invalid by the configuration store and by the control
 * API, and nothing changes.
 */
START_TEST(s37_zero_looks_alive_interval_rejected)
{
	const struct config_prop zero[] = {{"LooksAlivePollInterval", "0"}};
	struct scn_reply rep;
	struct scn_mark mark;
	const char *key = NULL;

	seed("r", "g", NULL, 0, false);
	{
		_cleanup_(config_store_freep) struct config_store *st = scn_store_open();

		ck_assert_int_eq(
			config_store_resource_add(st, "bad", "g", "test", zero, 1, NULL, &key),
			-EINVAL);
		ck_assert_str_eq(key, "LooksAlivePollInterval");
		key = NULL;
		ck_assert_int_eq(config_store_resource_set_props(st, "r", zero, 1, &key), -EINVAL);
		ck_assert_str_eq(key, "LooksAlivePollInterval");
	}
	scn_agent_start();
	(void) scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert(!scn_res_find("bad", &(struct hagent_resource){}));
	mark = scn_mark_take();
	ck_assert_int_eq(scn_set_props("r", zero, 1, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_add_resource("bad", "g", NULL, zero, 1, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	scn_mark_assert_unchanged(mark);
	scn_agent_stop();
}
END_TEST

/*
 * 37, second half: a resource value of 0xFFFFFFFF means "use the type's
 * value" (semantics.md §4.1); with no type values yet that is the type
 * default, 5000 ms, so a looks_alive runs within ~5 s of Online.
 */
START_TEST(s37_unset_looks_alive_interval_inherits)
{
	const struct config_prop unset[] = {{"LooksAlivePollInterval", "4294967295"},
					    {"IsAlivePollInterval", "60000"}};

	seed("r", "g", unset, ELEMENTSOF(unset), true);
	scn_agent_start();
	(void) scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	scn_record_wait("r", "looks_alive", 1, SCN_WAIT_MS);
	scn_agent_stop();
}
END_TEST

/* ---- Groups: 38-40 (the group record of the segment) ---- */

/* 38. An empty group is Offline. */
START_TEST(s38_empty_group_offline)
{
	struct hagent_resource m[8];
	struct hagent_group g;
	size_t n = 99;

	scn_seed_type("test");
	scn_seed_group("empty", false);
	seed("r", "other", NULL, 0, true);
	scn_agent_start();
	(void) scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	g = group_members("empty", m, ELEMENTSOF(m), &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(g.n_members, 0);
	ck_assert_int_eq(g.state, HAGENT_GROUP_OFFLINE);
	ck_assert_int_eq(scn_group("other").state, HAGENT_GROUP_ONLINE);
	scn_agent_stop();
}
END_TEST

/* 39. Online, Failed and OnlinePending members: the group is Failed. */
START_TEST(s39_failed_member_wins)
{
	const struct config_prop broken[] = {{"OpenError", "5"}};
	const struct config_prop hang[] = {{"OnlineResult", "hang"}, {"PendingTimeout", "60000"}};
	struct hagent_resource m[8];
	struct hagent_group g;
	size_t n;

	seed("r1", "g", NULL, 0, true);
	seed("r2", "g", broken, ELEMENTSOF(broken), false);
	seed("r3", "g", hang, ELEMENTSOF(hang), true);
	scn_agent_start();
	(void) scn_wait_state("r1", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	(void) scn_wait_state("r2", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	(void) scn_wait_state("r3", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	g = group_members("g", m, ELEMENTSOF(m), &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(member_state(m, n, "r1"), HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(member_state(m, n, "r2"), HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(member_state(m, n, "r3"), HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_int_eq(g.state, HAGENT_GROUP_FAILED);
	scn_agent_stop();
}
END_TEST

/* 40. Online and OfflinePending members, none Failed: the group is Pending. */
START_TEST(s40_pending_member_makes_group_pending)
{
	const struct config_prop slow_off[] = {{"OfflineResult", "hang"},
					       {"PendingTimeout", "60000"}};
	struct hagent_resource m[8];
	struct hagent_group g;
	struct scn_reply rep;
	size_t n;

	seed("r1", "g", NULL, 0, true);
	seed("r2", "g", slow_off, ELEMENTSOF(slow_off), true);
	scn_agent_start();
	(void) scn_wait_state("r1", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	(void) scn_wait_state("r2", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_group("g").state, HAGENT_GROUP_ONLINE);
	ck_assert_int_eq(scn_offline("r2", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_OFFLINE_PENDING);
	/* Pending before the reply (§5.4): read at once, no wait. */
	g = group_members("g", m, ELEMENTSOF(m), &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(member_state(m, n, "r1"), HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(member_state(m, n, "r2"), HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_int_eq(g.state, HAGENT_GROUP_PENDING);
	/*
	 * No graceful stop: it would wait for r2's hanging offline, up to its
	 * PendingTimeout of 60 s (docs/agent-restart.md, "Stopping").  The
	 * teardown kills the agent and its monitors.
	 */
}
END_TEST

/* ---- monitors that misbehave ---- */

/*
 * Garbage in the channel while Online (every kind of invalid ring entry, or
 * a forged latest-status register): the agent rejects and counts it, keeps
 * running, the resource stays Online with its sequence and monitor, and the
 * honest statuses that follow still count: the later is_alive failure makes
 * it Failed.
 */
static void garbage_case(const char *kind)
{
	const struct config_prop p[] = {
		{"GarbageAfter", "300"},	{"GarbageKind", kind},
		{"GarbageCount", "10"},		{"IsAlive", "after:1500"},
		{"IsAlivePollInterval", "100"}, {"LooksAlivePollInterval", "60000"},
		{"RestartAction", "0"}};
	struct hagent_shm_info i1, i2;
	struct hagent_resource on, r;
	char want[64];

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	on = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	snprintf(want, sizeof(want), "garbage %s", kind);
	scn_record_wait("r", want, 1, SCN_WAIT_MS);
	r = scn_stays_state("r", HAGENT_RESOURCE_ONLINE, 400);
	ck_assert_uint_eq(r.state_seq, on.state_seq);
	ck_assert_int_eq(r.monitor_pid, on.monitor_pid);
	ck_assert(scn_log_contains("invalid status entries"));
	ck_assert(scn_agent_alive());
	ck_assert_int_eq(hagent_shm_get_info(scn.shm, &i1), 0);
	scn_sleep_ms(300);
	ck_assert_int_eq(hagent_shm_get_info(scn.shm, &i2), 0);
	ck_assert_uint_gt(i2.heartbeat_ns, i1.heartbeat_ns);
	/* Probes still work after the corruption: the failure at 1.5 s is seen. */
	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_uint_gt(r.state_seq, on.state_seq);
	ck_assert_uint_ge(scn_record_count("r", "is_alive"), 5);
	scn_record_wait("r", "terminate", 1, SCN_WAIT_MS);
	scn_agent_stop();
}

START_TEST(m_garbage_ring_entries)
{
	garbage_case("ring");
}
END_TEST

START_TEST(m_garbage_register)
{
	garbage_case("register");
}
END_TEST

/*
 * A monitor that crashes (SIGSEGV) every time its resource has been Online
 * for 200 ms: three monitors (RestartThreshold 2), then Failed for good with
 * no monitor left, and the agent still running.
 */
START_TEST(m_crash_loop_bounded_by_restart_policy)
{
	const struct config_prop p[] = {{"Crash", "after:200"},	   {"CrashSignal", "segv"},
					{"RestartThreshold", "2"}, {"RestartPeriod", "60000"},
					{"RestartDelay", "100"},   {"RetryPeriodOnFailure", NEVER}};
	struct hagent_resource r;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	r = failed_for_good("r", 3, 1500);
	ck_assert_uint_eq(scn_record_count("r", "open"), 3);
	ck_assert_uint_eq(scn_record_count("r", "crash"), 3);
	ck_assert_uint_eq(r.restart_count, 3);
	ck_assert_int_eq(r.monitor_pid, 0);
	ck_assert_uint_eq(log_count("was killed by signal 11"), 3);
	ck_assert(scn_log_contains("r: failure 3 in the restart window: escalate."));
	ck_assert(scn_agent_alive());
	scn_agent_stop();
}
END_TEST

/* A monitor crashing in is_alive, the same bound. */
START_TEST(m_crash_in_probe_bounded)
{
	const struct config_prop p[] = {{"Crash", "is_alive"},
					{"IsAlivePollInterval", "100"},
					{"RestartThreshold", "1"},
					{"RestartDelay", "100"},
					{"RetryPeriodOnFailure", NEVER}};
	struct hagent_resource r;

	seed("r", "g", p, ELEMENTSOF(p), true);
	scn_agent_start();
	r = failed_for_good("r", 2, 1000);
	ck_assert_uint_eq(scn_record_count("r", "crash is_alive"), 2);
	ck_assert_uint_eq(r.restart_count, 2);
	ck_assert_int_eq(r.monitor_pid, 0);
	ck_assert(scn_agent_alive());
	scn_agent_stop();
}
END_TEST

/*
 * Check runs no checked teardown after a failed check, nor atexit handlers
 * (the test's process ends at once), and kills only that process's group:
 * hagentd goes, but its monitors (each in a session of its own) stay,
 * holding the test's stdout open.  The runner is a child subreaper (main()),
 * so they become its children, and this unchecked teardown, run by the
 * runner after each case, kills and reaps every child left: all of them
 * were started by this program.
 */
static void reap_orphans(void)
{
	DIR *d = opendir("/proc");

	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		char path[300], buf[512], *p;
		pid_t pid = (pid_t) atoi(de->d_name);
		int ppid = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
			(void) kill(pid, SIGKILL);
			(void) waitpid(pid, NULL, 0);
		}
	}
	closedir(d);
}

struct health_case {
	const char *name;
	const TTest *fn;
};

static void tcase_add(Suite *s, const struct health_case *c)
{
	TCase *tc = tcase_create(c->name);

	tcase_add_checked_fixture(tc, scn_setup, scn_teardown);
	tcase_add_unchecked_fixture(tc, NULL, reap_orphans);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, c->fn);
	suite_add_tcase(s, tc);
}

static Suite *suite(void)
{
	const struct health_case cases[] = {
		{"s21_request_in_target_state_runs_nothing",
		 s21_request_in_target_state_runs_nothing},
		{"s22_offline_while_online_pending_is_invalid_state",
		 s22_offline_while_online_pending_is_invalid_state},
		{"s23_offline_on_failed_stops_restarts", s23_offline_on_failed_stops_restarts},
		{"s24_deadlock_recycles_monitor", s24_deadlock_recycles_monitor},
		{"s25_monitor_killed_while_pending", s25_monitor_killed_while_pending},
		{"s26_control_default_handling", s26_control_default_handling},
		{"s26_control_needs_an_open_monitor", s26_control_needs_an_open_monitor},
		{"s27_looks_alive_false_runs_is_alive_before_next",
		 s27_looks_alive_false_runs_is_alive_before_next},
		{"s28_looks_alive_false_is_alive_true_stays_online",
		 s28_looks_alive_false_is_alive_true_stays_online},
		{"s29_is_alive_false_terminates_before_restart",
		 s29_is_alive_false_terminates_before_restart},
		{"s30_failure_fd_verified_by_is_alive", s30_failure_fd_verified_by_is_alive},
		{"s31_third_failure_in_window_escalates", s31_third_failure_in_window_escalates},
		{"s32_failures_spread_out_all_restart", s32_failures_spread_out_all_restart},
		{"s33_restart_action_1_stays_failed", s33_restart_action_1_stays_failed},
		{"s34_restart_action_0_never_restarts", s34_restart_action_0_never_restarts},
		{"s35_retry_period_on_failure", s35_retry_period_on_failure},
		{"s36_second_escalation_leaves_group_failed_here",
		 s36_second_escalation_leaves_group_failed_here},
		{"s37_zero_looks_alive_interval_rejected", s37_zero_looks_alive_interval_rejected},
		{"s37_unset_looks_alive_interval_inherits",
		 s37_unset_looks_alive_interval_inherits},
		{"s38_empty_group_offline", s38_empty_group_offline},
		{"s39_failed_member_wins", s39_failed_member_wins},
		{"s40_pending_member_makes_group_pending", s40_pending_member_makes_group_pending},
		{"m_garbage_ring_entries", m_garbage_ring_entries},
		{"m_garbage_register", m_garbage_register},
		{"m_crash_loop_bounded_by_restart_policy", m_crash_loop_bounded_by_restart_policy},
		{"m_crash_in_probe_bounded", m_crash_in_probe_bounded},
	};
	Suite *s = suite_create("scenarios-health");

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		tcase_add(s, &cases[i]);
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR"))
		return 77;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return EXIT_FAILURE;
	return test_run_suite(suite());
}
