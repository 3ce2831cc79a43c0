/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Acceptance scenarios of semantics.md §10 on groups (41-54, 85-87) and
 * the group layer around them: dependency order inside a group, providers
 * that fail, OfflineGroup's flags and parameters, group restarts and
 * FailoverThreshold.  Each case runs its own hagentd with hamon-test
 * monitors; the order of entry points comes from hamon-test's record file,
 * states and sequences from the state segment.
 *
 * Times are scaled down (delays of a few hundred ms); the waits are
 * generous bounds and the only time checks are orderings and lower bounds.
 * Where the product differs from WSFC (no handles, no OpenDelay), the case
 * tests the nearest real behaviour and says so.
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proplist.h"
#include "test-scenario-util.h"

#define NEVER	   "4294967295" /* RetryPeriodOnFailure: no retry */
#define NOBODY_UID 65534
#define NOBODY_GID 65534

/* A running agent with group g; resources are added through the control API. */
static void start_with_group(const char *g)
{
	struct scn_reply rep;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group(g, &rep), 0);
}

/* A test resource of group g recording into the record file, with props, depending on deps. */
static void add_props(const char *name, const char *g, const struct config_prop *props, size_t n,
		      const char *const *deps, size_t n_deps)
{
	struct config_prop all[32];
	struct scn_reply rep;

	ck_assert_uint_lt(n, ELEMENTSOF(all));
	if (n)
		memcpy(all, props, n * sizeof(*props));
	all[n] = (struct config_prop){"RecordFile", scn_record_path()};
	ck_assert_msg(scn_add_resource_deps(name, g, NULL, all, n + 1, deps, n_deps, &rep) == 0,
		      "add %s: %s", name, rep.message);
}

/* A test resource of group g recording into the record file, depending on deps. */
static void add(const char *name, const char *g, const char *online_delay, const char *const *deps,
		size_t n_deps)
{
	struct config_prop props[] = {
		{"RecordFile", scn_record_path()},
		{"OnlineDelay", online_delay ?: "0"},
		{"OfflineDelay", online_delay ?: "0"},
	};
	struct scn_reply rep;

	ck_assert_msg(scn_add_resource_deps(name, g, NULL, props, ELEMENTSOF(props), deps, n_deps,
					    &rep) == 0,
		      "add %s: %s", name, rep.message);
	scn_wait_state(name, HAGENT_RESOURCE_OFFLINE, 10000);
}

/* The time of the n-th (from 0) record line of res matching pattern after from_ns. */
static uint64_t nth_record(const char *res, const char *pattern, size_t nth, uint64_t from_ns)
{
	uint64_t t[64];
	size_t n = scn_record_times(res, pattern, from_ns, t, ELEMENTSOF(t));

	ck_assert_msg(n > nth, "%zu '%s' lines for %s, want line %zu", n, pattern, res, nth);
	return t[nth];
}

/*
 * The event-log position of the nth (from 0) change of res into state at or
 * after position from; there must be one.  Orderings are checked on these:
 * the log is the agent's own order, and an OnlinePending (OfflinePending)
 * is written when it posts the Online (Offline) call.
 */
static uint64_t ev_pos(const char *res, int32_t state, size_t nth, uint64_t from)
{
	uint64_t pos = scn_state_event_pos(res, state, nth, from);

	ck_assert_msg(pos != UINT64_MAX, "%s: no state event %zu into %s", res, nth,
		      scn_state_name(state));
	return pos;
}

#define ON	  HAGENT_RESOURCE_ONLINE
#define OFF	  HAGENT_RESOURCE_OFFLINE
#define ON_PEND	  HAGENT_RESOURCE_ONLINE_PENDING
#define OFF_PEND  HAGENT_RESOURCE_OFFLINE_PENDING
#define NS_PER_MS UINT64_C(1000000)

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Group g's state read from the segment now. */
static int32_t group_state(const char *g)
{
	return scn_group(g).state;
}

/* OnlineGroup(g) accepted, then Online within the bound. */
static void group_online(const char *g)
{
	struct scn_reply rep;

	ck_assert_msg(scn_online_group(g, 0, &rep) == 0, "online %s: %s", g, rep.message);
	scn_wait_group_state(g, HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
}

/* ---- 41-43: state derivation ---- */

/*
 * 41. R1 Online and R2 Offline: PartialOnline; both Online: Online; both
 * Offline: Offline.  Each change of the derived value bumps the group's
 * sequence.
 */
START_TEST(s41_partial_online_online_offline)
{
	struct scn_reply rep;
	struct hagent_group g0, g1, g2, g3;

	start_with_group("G");
	add("R1", "G", NULL, NULL, 0);
	add("R2", "G", NULL, NULL, 0);
	g0 = scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_online("R1", &rep), 0);
	scn_wait_state("R1", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	g1 = scn_wait_group_state("G", HAGENT_GROUP_PARTIAL_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_gt(g1.state_seq, g0.state_seq);
	ck_assert_int_eq(scn_online("R2", &rep), 0);
	scn_wait_state("R2", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	g2 = scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_gt(g2.state_seq, g1.state_seq);
	ck_assert_int_eq(scn_offline("R1", 0, &rep), 0);
	ck_assert_int_eq(scn_offline("R2", 0, &rep), 0);
	scn_wait_state("R1", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_wait_state("R2", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	g3 = scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_gt(g3.state_seq, g2.state_seq);
	scn_agent_stop();
}
END_TEST

/*
 * 42. R1 Offline and R2 Initializing: Offline (Initializing counts as
 * Offline, not as pending).  hamon-test has no OpenDelay: R2's open hangs
 * (Hang=open, DeadlockTimeout at its default of 5 minutes), which keeps it
 * Initializing for the whole test.  With R1 Online the group is
 * PartialOnline, again not Pending.
 */
START_TEST(s42_offline_and_initializing_is_offline)
{
	const struct config_prop hang[] = {{"Hang", "open"}};
	uint64_t end;
	struct scn_reply rep;

	start_with_group("G");
	add("R1", "G", NULL, NULL, 0);
	add_props("R2", "G", hang, ELEMENTSOF(hang), NULL, 0);
	scn_record_wait("R2", "hang open", 1, SCN_WAIT_MS);
	ck_assert_int_eq(scn_res("R2").state, HAGENT_RESOURCE_INITIALIZING);
	end = now_ms() + 500;
	do {
		ck_assert_int_eq(group_state("G"), HAGENT_GROUP_OFFLINE);
		usleep(2000);
	} while (now_ms() < end);
	ck_assert_int_eq(scn_online("R1", &rep), 0);
	scn_wait_state("R1", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_PARTIAL_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_res("R2").state, HAGENT_RESOURCE_INITIALIZING);
	/* No stop: R2's monitor hangs in open; the teardown kills it. */
}
END_TEST

/*
 * 43. A member change that leaves the derived state as it is does not bump
 * the group's sequence and writes no GROUP_STATE event: (a) the literal
 * case, an Online member probed (looks_alive every 100 ms) in an Online
 * group; (b) a member going Offline -> OnlinePending -> Online -> Offline
 * while another member is Failed (rule 1 keeps the group Failed).
 */
START_TEST(s43_no_group_sequence_bump_without_change)
{
	const struct config_prop probed[] = {{"LooksAlivePollInterval", "100"},
					     {"IsAlivePollInterval", "60000"}};
	const struct config_prop broken[] = {{"OpenError", "5"}};
	const struct config_prop slow[] = {{"OnlineDelay", "200"}, {"OfflineDelay", "200"}};
	struct hagent_group g0, g1;
	struct scn_reply rep;
	uint64_t from;

	start_with_group("G");
	add_props("R1", "G", probed, ELEMENTSOF(probed), NULL, 0);
	scn_wait_state("R1", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	group_online("G");
	g0 = scn_group("G");
	from = scn_event_head();
	scn_record_wait("R1", "looks_alive", 5, SCN_WAIT_MS);
	g1 = scn_group("G");
	ck_assert_int_eq(g1.state, HAGENT_GROUP_ONLINE);
	ck_assert_uint_eq(g1.state_seq, g0.state_seq);
	ck_assert_uint_eq(scn_group_state_events("G", from, NULL, 0), 0);

	ck_assert_int_eq(scn_add_group("H", &rep), 0);
	add_props("F", "H", broken, ELEMENTSOF(broken), NULL, 0);
	scn_wait_state("F", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	add_props("S", "H", slow, ELEMENTSOF(slow), NULL, 0);
	scn_wait_state("S", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	g0 = scn_wait_group_state("H", HAGENT_GROUP_FAILED, SCN_WAIT_MS);
	from = scn_event_head();
	ck_assert_int_eq(scn_online("S", &rep), 0);
	scn_wait_state("S", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_offline("S", 0, &rep), 0);
	scn_wait_state("S", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_ge(scn_state_events("S", from, NULL, 0), 4); /* S did change */
	g1 = scn_group("H");
	ck_assert_int_eq(g1.state, HAGENT_GROUP_FAILED);
	ck_assert_uint_eq(g1.state_seq, g0.state_seq);
	ck_assert_uint_eq(scn_group_state_events("H", from, NULL, 0), 0);
	scn_agent_stop();
}
END_TEST

/* ---- 44-45: dependencies ---- */

START_TEST(s44_online_providers_first_offline_dependents_first)
{
	const char *on_p[] = {"P"}, *on_d[] = {"D"};
	struct scn_reply rep;
	uint64_t t0, from;

	start_with_group("G");
	add("P", "G", "150", NULL, 0);
	add("D", "G", "100", on_p, 1);
	add("E", "G", "50", on_d, 1);
	from = scn_event_head();
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, 10000);
	/* Online(P) completes (the agent has its Online report) before Online(D) is called... */
	ck_assert_uint_lt(ev_pos("P", ON, 0, from), ev_pos("D", ON_PEND, 0, from));
	ck_assert_uint_lt(ev_pos("D", ON, 0, from), ev_pos("E", ON_PEND, 0, from));
	/* ...so the calls are at least the provider's OnlineDelay apart. */
	ck_assert_uint_ge(scn_record_first("D", "online", t0) - scn_record_first("P", "online", t0),
			  150 * NS_PER_MS);
	ck_assert_uint_ge(scn_record_first("E", "online", t0) - scn_record_first("D", "online", t0),
			  100 * NS_PER_MS);

	from = scn_event_head();
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, 10000);
	ck_assert_uint_lt(ev_pos("E", OFF, 0, from), ev_pos("D", OFF_PEND, 0, from));
	ck_assert_uint_lt(ev_pos("D", OFF, 0, from), ev_pos("P", OFF_PEND, 0, from));
	ck_assert_uint_ge(scn_record_first("D", "offline", t0) -
				  scn_record_first("E", "offline", t0),
			  50 * NS_PER_MS);
	ck_assert_uint_ge(scn_record_first("P", "offline", t0) -
				  scn_record_first("D", "offline", t0),
			  100 * NS_PER_MS);
}
END_TEST

/*
 * 44, a diamond: B and C depend on A, D on both B and C.  B and C are
 * independent branches and come online in parallel (semantics.md §5.3
 * DECISION): both Online calls are made before either completes (delays of
 * 1 s make that a wide margin); D is called after both are Online.  Offline
 * is the mirror image.
 */
START_TEST(s44_diamond_branches_in_parallel)
{
	const char *on_a[] = {"A"}, *on_bc[] = {"B", "C"};
	struct scn_reply rep;
	uint64_t t0, from;

	start_with_group("G");
	add("A", "G", "100", NULL, 0);
	add("B", "G", "1000", on_a, 1);
	add("C", "G", "1000", on_a, 1);
	add("D", "G", "100", on_bc, 2);
	from = scn_event_head();
	t0 = scn_now_ns();
	group_online("G");
	ck_assert_uint_lt(ev_pos("A", ON, 0, from),
			  min_u64(ev_pos("B", ON_PEND, 0, from), ev_pos("C", ON_PEND, 0, from)));
	ck_assert_uint_lt(max_u64(ev_pos("B", ON_PEND, 0, from), ev_pos("C", ON_PEND, 0, from)),
			  min_u64(ev_pos("B", ON, 0, from), ev_pos("C", ON, 0, from)));
	ck_assert_uint_lt(max_u64(ev_pos("B", ON, 0, from), ev_pos("C", ON, 0, from)),
			  ev_pos("D", ON_PEND, 0, from));
	/* Both entry points ran before either was done: the calls overlapped. */
	ck_assert_uint_lt(
		max_u64(scn_record_first("B", "online", t0), scn_record_first("C", "online", t0)),
		min_u64(scn_record_first("B", "status online", t0),
			scn_record_first("C", "status online", t0)));
	ck_assert_uint_ge(scn_record_first("D", "online", t0) -
				  max_u64(scn_record_first("B", "online", t0),
					  scn_record_first("C", "online", t0)),
			  1000 * NS_PER_MS);

	from = scn_event_head();
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("D", OFF, 0, from),
			  min_u64(ev_pos("B", OFF_PEND, 0, from), ev_pos("C", OFF_PEND, 0, from)));
	ck_assert_uint_lt(max_u64(ev_pos("B", OFF_PEND, 0, from), ev_pos("C", OFF_PEND, 0, from)),
			  min_u64(ev_pos("B", OFF, 0, from), ev_pos("C", OFF, 0, from)));
	ck_assert_uint_lt(max_u64(ev_pos("B", OFF, 0, from), ev_pos("C", OFF, 0, from)),
			  ev_pos("A", OFF_PEND, 0, from));
	ck_assert_uint_lt(
		max_u64(scn_record_first("B", "offline", t0), scn_record_first("C", "offline", t0)),
		min_u64(scn_record_first("B", "status offline", t0),
			scn_record_first("C", "status offline", t0)));
	scn_agent_stop();
}
END_TEST

/*
 * 45. P fails (its monitor killed) while D, which depends on it, is
 * Online: D is taken offline (its Offline entry point runs; Offline, not
 * left Online, not Failed) with its persistent state kept online; when P
 * has been restarted (RestartDelay 1 s) D follows it back online, after P's
 * Online report.
 */
START_TEST(s45_provider_fails_dependent_follows)
{
	const struct config_prop p_props[] = {
		{"OnlineDelay", "100"}, {"RestartDelay", "1000"}, {"RestartAction", "1"}};
	const char *on_p[] = {"P"};
	struct hagent_resource d;
	uint64_t t_kill, from;
	pid_t pid;

	start_with_group("G");
	add_props("P", "G", p_props, ELEMENTSOF(p_props), NULL, 0);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	add("D", "G", "100", on_p, 1);
	group_online("G");
	pid = scn_res("P").monitor_pid;
	ck_assert_int_gt(pid, 0);
	from = scn_event_head();
	t_kill = scn_now_ns();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	/* D goes down while P waits for its restart, and keeps its persistent state. */
	d = scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(d.persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_int_ne(scn_res("P").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_uint_ge(scn_record_find("D", "offline", t_kill, NULL, 0), 1);
	/* P comes back, then D. */
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("D", OFF, 0, from), ev_pos("P", ON, 0, from));
	ck_assert_uint_lt(ev_pos("P", ON, 0, from), ev_pos("D", ON_PEND, 0, from));
	ck_assert_uint_eq(scn_state_event_pos("D", HAGENT_RESOURCE_FAILED, 0, from), UINT64_MAX);
	ck_assert_uint_ge(scn_record_first("D", "online", t_kill) - t_kill, 1000 * NS_PER_MS);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(scn_res("P").persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_uint_eq(scn_record_find("D", "status failed", t_kill, NULL, 0), 0);
	scn_agent_stop();
}
END_TEST

/* ---- 46-54: OfflineGroup ---- */

/* R1 locks itself when Online; R2 does not; the group Online, R1's lock seen by the agent. */
static void locked_group_online(void)
{
	const struct config_prop locked[] = {{"Locked", "1"}};
	uint64_t end = now_ms() + SCN_WAIT_MS;

	start_with_group("G");
	add_props("R1", "G", locked, ELEMENTSOF(locked), NULL, 0);
	scn_wait_state("R1", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	add("R2", "G", NULL, NULL, 0);
	group_online("G");
	while (!(scn_res("R1").flags & HAGENT_RESOURCE_LOCKED)) {
		ck_assert_msg(now_ms() < end, "R1 is not shown locked");
		usleep(2000);
	}
}

/*
 * 46. A member locked and Online: OfflineGroup with flags 0 fails at once
 * with ResourceLocked (ERROR_CLUSTER_RESOURCE_LOCKED_STATUS), and nothing
 * changes: no segment commit, no event, no Offline call, the persistent
 * state still online.
 */
START_TEST(s46_locked_member_refuses_group_offline)
{
	struct scn_reply rep;
	struct scn_mark mark;

	locked_group_online();
	mark = scn_mark_take();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), -EBUSY);
	scn_assert_error(&rep, CONTROL_ERROR_RESOURCE_LOCKED, -EBUSY);
	ck_assert_ptr_nonnull(strstr(rep.message, "R1"));
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);
	ck_assert_int_eq(scn_group("G").persistent_state, CONFIG_TARGET_ONLINE);
	scn_agent_stop();
}
END_TEST

/* 47. The same with flags 0x1 (ignore the locked status): 997, and the group reaches Offline. */
START_TEST(s47_ignore_locked_takes_group_offline)
{
	struct scn_reply rep;

	locked_group_online();
	ck_assert_int_eq(scn_offline_group("G", CONTROL_FLAG_IGNORE_LOCKED, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 1);
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 1);
	ck_assert_int_eq(scn_group("G").persistent_state, CONFIG_TARGET_OFFLINE);
	scn_agent_stop();
}
END_TEST

/* 48. Flags 0x2 (or any bit but 0x1): InvalidArgument, and nothing changes. */
START_TEST(s48_unknown_flag_invalid)
{
	struct scn_reply rep;
	struct scn_mark mark;

	start_with_group("G");
	add("R1", "G", NULL, NULL, 0);
	group_online("G");
	mark = scn_mark_take();
	ck_assert_int_eq(scn_offline_group("G", 0x2, NULL, 0, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_offline_group("G", 0x3, NULL, 0, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_offline_group("G", 0x80000000u, NULL, 0, &rep), -EINVAL);
	/* OnlineGroup has no flag at all. */
	ck_assert_int_eq(scn_online_group("G", 0x1, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);
	scn_agent_stop();
}
END_TEST

/* R1 Online, R2 Offline in group G; the list "SaveState=1" in buf (*len bytes). */
static void r1_online_r2_offline(uint8_t *buf, size_t size, size_t *len)
{
	const char *pairs[] = {"SaveState=1"};
	struct scn_reply rep;

	ck_assert_int_eq(proplist_encode(pairs, 1, buf, size, len), 0);
	start_with_group("G");
	add("R1", "G", NULL, NULL, 0);
	add("R2", "G", NULL, NULL, 0);
	ck_assert_int_eq(scn_online("R1", &rep), 0);
	scn_wait_state("R1", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_PARTIAL_ONLINE, SCN_WAIT_MS);
}

/*
 * 49. A valid property list naming SaveState, R1 Online and R2 Offline: R1's
 * Offline entry point receives exactly those bytes (hamon-test records
 * every byte in hex), R2's Offline is not called at all.
 */
START_TEST(s49_params_reach_online_members_only)
{
	uint8_t buf[128];
	char want[2 * sizeof(buf) + 16];
	size_t len = 0, k;
	struct scn_record rec[4];
	struct scn_reply rep;

	r1_online_r2_offline(buf, sizeof(buf), &len);
	k = (size_t) snprintf(want, sizeof(want), "offline ");
	for (size_t i = 0; i < len; i++)
		k += (size_t) snprintf(want + k, sizeof(want) - k, "%02x", buf[i]);
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("R1", "offline", 0, rec, ELEMENTSOF(rec)), 1);
	ck_assert_str_eq(rec[0].what, want);
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);
	scn_agent_stop();
}
END_TEST

/*
 * 50. A truncated list (count 2, one property): InvalidArgument, no
 * resource touched, nothing in the segment changes.
 */
START_TEST(s50_truncated_list_invalid)
{
	uint8_t buf[128];
	size_t len = 0;
	struct scn_reply rep;
	struct scn_mark mark;

	r1_online_r2_offline(buf, sizeof(buf), &len);
	buf[0] = 2; /* count 2, little-endian; one property follows */
	mark = scn_mark_take();
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* Cut short inside the property: the same. */
	buf[0] = 1;
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len - 4, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);
	ck_assert_int_eq(scn_res("R1").state, HAGENT_RESOURCE_ONLINE);
	scn_agent_stop();
}
END_TEST

/* Whether the record file has the line "<ns> res offline <hex of params>". */
static bool record_has_offline(const char *res, const uint8_t *params, size_t len)
{
	_cleanup_free_ char *file = malloc(SCN_RECORD_MAX + 1), *needle = malloc(2 * len + 128);
	size_t k, n = 0;
	ssize_t got;
	int fd;

	ck_assert_ptr_nonnull(file);
	ck_assert_ptr_nonnull(needle);
	fd = open(scn_record_path(), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	while (n < SCN_RECORD_MAX && (got = read(fd, file + n, SCN_RECORD_MAX - n)) > 0)
		n += (size_t) got;
	close(fd);
	file[n] = '\0';
	k = (size_t) sprintf(needle, " %s offline ", res);
	for (size_t i = 0; i < len; i++)
		k += (size_t) sprintf(needle + k, "%02x", params[i]);
	strcpy(needle + k, "\n");
	return strstr(file, needle) != NULL;
}

/* A list of one property "K" whose string value has n characters: 28 + 4 * ceil((n + 1) / 2) bytes.
 */
static size_t long_list(uint8_t *buf, size_t size, size_t n)
{
	char pair[1024];
	const char *pairs[] = {pair};
	size_t len = 0;

	ck_assert_uint_lt(n + 3, sizeof(pair));
	memcpy(pair, "K=", 2);
	memset(pair + 2, 'v', n);
	pair[n + 2] = '\0';
	ck_assert_int_eq(proplist_encode(pairs, 1, buf, size, &len), 0);
	return len;
}

/*
 * The parameters' size limit (CONTROL_PARAMS_MAX, what one channel command
 * carries): a list of exactly 992 bytes reaches R1's Offline whole; one of
 * 996 bytes is TooBig and changes nothing.
 */
START_TEST(params_size_limit)
{
	uint8_t buf[2048], scratch[128];
	size_t len, k = 0, n;
	struct scn_reply rep;
	struct scn_mark mark;
	struct scn_record rec[4];

	r1_online_r2_offline(scratch, sizeof(scratch), &k);
	len = long_list(buf, sizeof(buf), 482);
	ck_assert_uint_eq(len, CONTROL_PARAMS_MAX + 4);
	mark = scn_mark_take();
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), -E2BIG);
	scn_assert_error(&rep, CONTROL_ERROR_TOO_BIG, -E2BIG);
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);

	len = long_list(buf, sizeof(buf), 481);
	ck_assert_uint_eq(len, CONTROL_PARAMS_MAX);
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	n = scn_record_find("R1", "offline", 0, rec, ELEMENTSOF(rec));
	ck_assert_uint_eq(n, 1);
	/* scn_record keeps the start of a line; the whole line is in the file. */
	ck_assert(record_has_offline("R1", buf, len));
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);
	scn_agent_stop();
}
END_TEST

/* res's offline record lines since from_ns, in order: each "offline <hex>" or "offline -". */
static size_t offline_lines(const char *res, uint64_t from_ns, struct scn_record *out, size_t max)
{
	return scn_record_find(res, "offline", from_ns, out, max);
}

/*
 * The parameters belong to the OfflineGroup call that gave them.  P is
 * Online and waits for its dependent D (a slow offline) when the operator
 * changes their mind: OnlineGroup (or OnlineResource of P) keeps P Online.
 * A later offline of P (OfflineGroup without parameters, or OfflineResource)
 * must not hand P the first call's parameters: its offline gets none.
 */
START_TEST(offline_params_not_kept_past_their_call)
{
	const char *pairs[] = {"SaveState=1"}, *on_p[] = {"P"};
	uint8_t buf[128];
	size_t len = 0;
	struct scn_record rec[4];
	struct scn_reply rep;
	uint64_t t0;

	ck_assert_int_eq(proplist_encode(pairs, 1, buf, sizeof(buf), &len), 0);
	start_with_group("G");
	add("P", "G", NULL, NULL, 0);
	add("D", "G", "1000", on_p, 1);

	/* Reversed by OnlineGroup, then an OfflineGroup without parameters. */
	group_online("G");
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), 0);
	ck_assert_int_eq(scn_res("D").state, HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	scn_record_wait("D", "online", 2, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("P", "offline"), 0);
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(offline_lines("P", t0, rec, ELEMENTSOF(rec)), 1);
	ck_assert_str_eq(rec[0].what, "offline -");
	ck_assert_uint_eq(offline_lines("D", t0, rec, ELEMENTSOF(rec)), 1);
	ck_assert_str_eq(rec[0].what, "offline -");

	/* Reversed by OnlineResource of P, then OfflineResource of P. */
	group_online("G");
	ck_assert_int_eq(scn_offline_group("G", 0, buf, len, &rep), 0);
	ck_assert_int_eq(scn_res("D").state, HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_int_eq(scn_online("P", &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_res("P").state, HAGENT_RESOURCE_ONLINE);
	t0 = scn_now_ns();
	ck_assert_msg(scn_offline("P", 0, &rep) == 0, "%s: %s", rep.error, rep.message);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(offline_lines("P", t0, rec, ELEMENTSOF(rec)), 1);
	ck_assert_str_eq(rec[0].what, "offline -");
	scn_agent_stop();
}
END_TEST

/*
 * 51. The D-Bus API has no NULL buffer with a size (an array carries its
 * own length): the nearest case is 16 zero bytes, count 0 followed by 12
 * bytes that must not be there: InvalidArgument, nothing changes.  An
 * empty array is "no parameters": accepted, and R1's Offline gets none.
 */
START_TEST(s51_garbage_after_empty_list_invalid_empty_array_accepted)
{
	const uint8_t zeros[16] = {0};
	uint8_t buf[128];
	size_t len = 0;
	struct scn_reply rep;
	struct scn_record rec[4];
	struct scn_mark mark;

	r1_online_r2_offline(buf, sizeof(buf), &len);
	mark = scn_mark_take();
	ck_assert_int_eq(scn_offline_group("G", 0, zeros, sizeof(zeros), &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);

	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("R1", "offline", 0, rec, ELEMENTSOF(rec)), 1);
	ck_assert_str_eq(rec[0].what, "offline -");
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);
	scn_agent_stop();
}
END_TEST

/* Runs fn in a child that became uid/gid (no supplementary groups); returns its exit code. */
static int as_user(uid_t uid, gid_t gid, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		scn.bus = NULL; /* the parent's connection is not ours to use */
		scn.shm = NULL;
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(90);
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child status 0x%x", status);
	return WEXITSTATUS(status);
}

/* Child: a method call on a connection of its own; 0 if refused with AccessDenied. */
static int call_denied(const char *method, const char *sig, ...)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus *bus = NULL;
	char addr[160];
	va_list ap;
	int r;

	(void) sd_bus_error_add_map(control_error_map);
	snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);
	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 || sd_bus_start(bus) < 0)
		return 3;
	if (sd_bus_message_new_method_call(bus, &m, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
					   method) < 0)
		return 4;
	va_start(ap, sig);
	r = sd_bus_message_appendv(m, sig, ap);
	va_end(ap);
	if (r < 0)
		return 5;
	r = sd_bus_call(bus, m, 10 * 1000 * 1000, &err, &reply);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	if (r >= 0)
		return 1;
	fprintf(stderr, "%s as uid %u: %s: %s\n", method, (unsigned) getuid(), err.name,
		err.message);
	return sd_bus_error_has_name(&err, CONTROL_ERROR_ACCESS_DENIED) && r == -EACCES ? 0 : 2;
}

static int offline_group_denied(void)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus *bus = NULL;
	char addr[160];
	int r;

	(void) sd_bus_error_add_map(control_error_map);
	snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);
	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 || sd_bus_start(bus) < 0)
		return 3;
	if (sd_bus_message_new_method_call(bus, &m, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
					   "OfflineGroup") < 0 ||
	    sd_bus_message_append(m, "su", "G", 0u) < 0 ||
	    sd_bus_message_append_array(m, 'y', "", 0) < 0)
		return 4;
	r = sd_bus_call(bus, m, 10 * 1000 * 1000, &err, &reply);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	if (r >= 0)
		return 1;
	fprintf(stderr, "OfflineGroup as uid %u: %s: %s\n", (unsigned) getuid(), err.name,
		err.message);
	return sd_bus_error_has_name(&err, CONTROL_ERROR_ACCESS_DENIED) && r == -EACCES ? 0 : 2;
}

/* An agent that grants nobody full access (an admin group that does not exist), G Online. */
static bool start_restricted(void)
{
	struct scn_reply rep;

	if (geteuid() != 0) {
		fprintf(stderr, "not root: cannot act as an unprivileged peer; case skipped\n");
		return false;
	}
	ck_assert_int_eq(chmod(base, 0755), 0); /* nobody must reach control.sock */
	scn_agent_start_args((const char *const[]){"--admin-group", "hagent-test-none", NULL});
	ck_assert_int_eq(scn_add_group("G", &rep), 0);
	add("R1", "G", NULL, NULL, 0);
	group_online("G");
	return true;
}

/*
 * 52. There are no handles with an access mask: access is by the peer's
 * credentials (docs/control-api.md).  An unprivileged peer (uid/gid 65534,
 * not in the admin group) calling OfflineGroup gets AccessDenied, and the
 * group stays Online.  Skipped (with a message) when not run as root.
 */
START_TEST(s52_offline_group_access_denied)
{
	struct scn_mark mark;

	if (!start_restricted())
		return;
	mark = scn_mark_take();
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, offline_group_denied), 0);
	scn_mark_assert_unchanged(mark);
	ck_assert_int_eq(group_state("G"), HAGENT_GROUP_ONLINE);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);
	scn_agent_stop();
}
END_TEST

/* Child: reads group G from the segment; 0 if it is there and Online. */
static int read_group_online(void)
{
	hagent_shm *s = NULL;
	struct hagent_group g;
	uint32_t slot;
	size_t n;
	int r = hagent_shm_open(rundir, &s);

	if (r < 0) {
		fprintf(stderr, "segment as uid %u: %s\n", (unsigned) getuid(),
			hagent_shm_strerror(r));
		return 3;
	}
	r = hagent_shm_find(s, 2, "G", &slot);
	if (r >= 0)
		r = hagent_shm_read_group(s, slot, &g, NULL, 0, &n);
	hagent_shm_unref(s);
	return r < 0 ? 4 : g.state == HAGENT_GROUP_ONLINE ? 0 : 5;
}

static int set_group_props_denied(void)
{
	return call_denied("SetGroupProperties", "sa(ss)", "G", 1, "FailoverThreshold", "5");
}

static int online_group_denied(void)
{
	return call_denied("OnlineGroup", "su", "G", 0u);
}

/*
 * 85. A Read handle's counterpart, an unprivileged peer: it reads the group's
 * state from the segment, but SetGroupProperties and OnlineGroup are
 * refused with AccessDenied and change nothing.  (There is no
 * SetGroupDependencyExpression yet; SetGroupProperties is the nearest
 * write.)  Skipped when not run as root.
 */
START_TEST(s85_read_only_peer_reads_but_cannot_write)
{
	struct scn_mark mark;

	if (!start_restricted())
		return;
	mark = scn_mark_take();
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, read_group_online), 0);
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, set_group_props_denied), 0);
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, online_group_denied), 0);
	scn_mark_assert_unchanged(mark);
	ck_assert(!scn_group_prop_is("G", "FailoverThreshold=5"));
	scn_agent_stop();
}
END_TEST

/*
 * 53. G Online: OfflineGroup returns 997 with the group Pending, and a read
 * of the segment right after the reply shows Pending (never a stale Online).
 * The same for OnlineGroup on an Offline group (never a stale Offline).
 */
START_TEST(s53_pending_before_the_reply)
{
	struct scn_reply rep;
	struct hagent_group g;

	start_with_group("G");
	add("R1", "G", "500", NULL, 0);
	add("R2", "G", "500", NULL, 0);
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	g = scn_group("G");
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	ck_assert_int_eq(g.state, HAGENT_GROUP_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	g = scn_group("G");
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	ck_assert_int_eq(g.state, HAGENT_GROUP_PENDING);
	ck_assert_uint_ge(g.state_seq, rep.state_seq);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	scn_agent_stop();
}
END_TEST

/*
 * 54. G already Offline: OfflineGroup returns SUCCESS (0) at once with the
 * state Offline; no entry point runs, the group's sequence does not move
 * and no GROUP_STATE event is written.  The same for an empty group, and,
 * the mirror image, for OnlineGroup on an Online group.
 */
START_TEST(s54_already_offline_succeeds_at_once)
{
	struct scn_reply rep;
	struct hagent_group g0, g1;
	uint64_t from;

	start_with_group("G");
	add("R1", "G", NULL, NULL, 0);
	add("R2", "G", NULL, NULL, 0);
	ck_assert_int_eq(scn_add_group("E", &rep), 0);
	g0 = scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	from = scn_event_head();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_OFFLINE);
	ck_assert_int_eq(scn_offline_group("E", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_OFFLINE);
	scn_sleep_ms(200);
	g1 = scn_group("G");
	ck_assert_int_eq(g1.state, HAGENT_GROUP_OFFLINE);
	ck_assert_uint_eq(g1.state_seq, g0.state_seq);
	ck_assert_uint_eq(scn_group_state_events("G", from, NULL, 0), 0);
	ck_assert_uint_eq(scn_record_count("R1", "offline"), 0);
	ck_assert_uint_eq(scn_record_count("R2", "offline"), 0);

	g0 = scn_group("G");
	group_online("G");
	g0 = scn_group("G");
	from = scn_event_head();
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_ONLINE);
	ck_assert_uint_eq(rep.state_seq, g0.state_seq);
	scn_sleep_ms(200);
	g1 = scn_group("G");
	ck_assert_uint_eq(g1.state_seq, g0.state_seq);
	ck_assert_uint_eq(scn_group_state_events("G", from, NULL, 0), 0);
	ck_assert_uint_eq(scn_record_count("R1", "online"), 1);
	ck_assert_uint_eq(scn_record_count("R2", "online"), 1);
	scn_agent_stop();
}
END_TEST

/*
 * A group offline while its online is still going, and an online while its
 * offline is: the members pending finish first (semantics.md §5.3 never
 * cuts a pending call short for an operator's request), then the group
 * goes where it was asked last.  D, which depends on the slow P, is never
 * called online in the first case.
 */
START_TEST(group_reverses_while_pending)
{
	const char *on_p[] = {"P"};
	struct scn_reply rep;

	start_with_group("G");
	add("P", "G", "500", NULL, 0);
	add("D", "G", "100", on_p, 1);
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_int_eq(scn_res("P").state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	scn_record_wait("P", "offline", 1, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("P", "online"), 1);
	ck_assert_uint_eq(scn_record_count("D", "online"), 0);
	ck_assert_uint_eq(scn_record_count("P", "terminate"), 0);

	group_online("G");
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_int_eq(scn_res("D").state, HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_record_wait("D", "online", 2, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("D", "offline"), 1);
	ck_assert_uint_eq(scn_record_count("P", "offline"), 1); /* P stayed up for D */
	ck_assert_uint_eq(scn_record_count("P", "online"), 2);
	scn_agent_stop();
}
END_TEST

/* ---- 86-87: removed and non-empty groups ---- */

/*
 * 86. There are no group handles: a group is named in every call.  The
 * nearest case: a group removed, then OnlineGroup, OfflineGroup and
 * SetGroupProperties on its name fail with NotFound, even after another
 * group was added (which may take the freed slot), and no other group is
 * touched.
 */
START_TEST(s86_removed_group_not_found)
{
	struct scn_reply rep;
	struct hagent_group h0, h1;

	start_with_group("G");
	ck_assert_int_eq(scn_add_group("H", &rep), 0);
	add("R", "H", NULL, NULL, 0);
	ck_assert_int_eq(scn_remove_group("G", &rep), 0);
	ck_assert_int_eq(scn_add_group("K", &rep), 0);
	add("S", "K", NULL, NULL, 0);
	h0 = scn_group("H");
	ck_assert_int_eq(scn_online_group("G", 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverThreshold", "1"}), &rep),
			 -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	scn_sleep_ms(200);
	h1 = scn_group("H");
	ck_assert_uint_eq(h1.state_seq, h0.state_seq);
	ck_assert_int_eq(h1.persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(scn_group("K").persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_uint_eq(scn_record_count("R", "online"), 0);
	ck_assert_uint_eq(scn_record_count("S", "online"), 0);
	ck_assert(!scn_group_prop_is("K", "FailoverThreshold=1"));
	scn_agent_stop();
}
END_TEST

/* 87. RemoveGroup of a group that still has resources: NotEmpty, and the group stays. */
START_TEST(s87_remove_non_empty_group)
{
	struct scn_reply rep;

	start_with_group("G");
	add("R", "G", NULL, NULL, 0);
	ck_assert_int_eq(scn_remove_group("G", &rep), -ENOTEMPTY);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_EMPTY, -ENOTEMPTY);
	(void) scn_group("G");
	(void) scn_res("R");
	scn_agent_stop();
}
END_TEST

/* ---- dependencies: the checks of AddResourceDependency and RemoveResourceDependency ---- */

/*
 * semantics.md §5.3: a direct or transitive cycle is CircularDependency
 * (ELOOP); a resource on itself and ends in different groups are
 * InvalidArgument; a duplicate is Exists; an Online dependent refuses a new
 * provider (ResourceOnline); removing a dependency that does not exist (only
 * a transitive one does) is NotFound, as is an unknown resource.
 */
START_TEST(dependency_checks)
{
	const char *on_a[] = {"A"}, *on_b[] = {"B"};
	struct scn_reply rep;

	start_with_group("G");
	ck_assert_int_eq(scn_add_group("H", &rep), 0);
	add("A", "G", NULL, NULL, 0);
	add("B", "G", NULL, on_a, 1);
	add("C", "G", NULL, on_b, 1);
	add("E", "G", NULL, NULL, 0);
	add("X", "H", NULL, NULL, 0);

	ck_assert_int_eq(scn_dependency("A", "B", true, &rep), -ELOOP);
	scn_assert_error(&rep, CONTROL_ERROR_CIRCULAR_DEPENDENCY, -ELOOP);
	ck_assert_int_eq(scn_dependency("A", "C", true, &rep), -ELOOP);
	scn_assert_error(&rep, CONTROL_ERROR_CIRCULAR_DEPENDENCY, -ELOOP);
	ck_assert_int_eq(scn_dependency("A", "A", true, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_dependency("A", "X", true, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_dependency("X", "A", true, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_dependency("B", "A", true, &rep), -EEXIST);
	scn_assert_error(&rep, CONTROL_ERROR_EXISTS, -EEXIST);
	ck_assert_int_eq(scn_dependency("C", "nope", true, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_dependency("C", "A", false, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	/* The transitive one is fine to add explicitly (no cycle), and to remove again. */
	ck_assert_int_eq(scn_dependency("C", "A", true, &rep), 0);
	ck_assert_int_eq(scn_dependency("C", "A", false, &rep), 0);

	/* C Online (with its providers): a new provider for it is refused. */
	ck_assert_int_eq(scn_online("C", &rep), 0);
	scn_wait_state("C", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_dependency("C", "E", true, &rep), -EBUSY);
	scn_assert_error(&rep, CONTROL_ERROR_RESOURCE_ONLINE, -EBUSY);
	ck_assert_int_eq(scn_res("E").state, HAGENT_RESOURCE_OFFLINE);
	/* An Offline dependent of an Online provider may get it. */
	ck_assert_int_eq(scn_dependency("E", "B", true, &rep), 0);
	scn_agent_stop();
}
END_TEST

/* ---- group restart, persistent state, resource-level ordering ---- */

/*
 * A RestartAction 2 escalation with FailoverThreshold 1 (set through
 * SetGroupProperties): P fails 1.5 s after each Online with no restart
 * allowed (RestartThreshold 0), D depends on P.  The first escalation
 * restarts the group in place (the failover on one node): D is taken down
 * before P's next Online call, then P and D come online again in that
 * order, failover_count 1.  The second escalation exceeds the threshold:
 * the group is left Failed, P is not started again and D stays Offline.
 */
START_TEST(group_restart_then_failed)
{
	const struct config_prop p_props[] = {{"IsAlive", "after:1500"},
					      {"IsAlivePollInterval", "100"},
					      {"LooksAlivePollInterval", "60000"},
					      {"RestartThreshold", "0"},
					      {"RestartAction", "2"},
					      {"RestartDelay", "100"},
					      {"RetryPeriodOnFailure", NEVER},
					      {"OnlineDelay", "100"}};
	const char *on_p[] = {"P"};
	struct scn_reply rep;
	struct hagent_group g;
	uint64_t t0, from;

	start_with_group("G");
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverThreshold", "1"}), &rep), 0);
	add_props("P", "G", p_props, ELEMENTSOF(p_props), NULL, 0);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	add("D", "G", "200", on_p, 1);
	from = scn_event_head();
	t0 = scn_now_ns();
	group_online("G");
	/* The restart: D down before P's second Online call, then P and D online again. */
	scn_record_wait("D", "online", 2, 2 * SCN_WAIT_MS);
	scn_wait_state("D", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("D", OFF, 0, from), ev_pos("P", ON_PEND, 1, from));
	ck_assert_uint_lt(scn_record_first("D", "offline", t0), nth_record("P", "online", 1, t0));
	ck_assert_uint_lt(ev_pos("P", ON, 1, from), ev_pos("D", ON_PEND, 1, from));
	ck_assert_uint_ge(nth_record("D", "online", 1, t0) - nth_record("P", "online", 1, t0),
			  100 * NS_PER_MS);
	ck_assert_uint_eq(scn_group("G").failover_count, 1);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_ONLINE);

	/* The second escalation: over the threshold, the group stays failed. */
	scn_wait_state("P", HAGENT_RESOURCE_FAILED, 2 * SCN_WAIT_MS);
	g = scn_wait_group_state("G", HAGENT_GROUP_FAILED, SCN_WAIT_MS);
	scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_stays_state("P", HAGENT_RESOURCE_FAILED, 1500);
	ck_assert_uint_eq(scn_record_count("P", "online"), 2);
	ck_assert_uint_eq(scn_record_count("D", "online"), 2);
	g = scn_group("G");
	ck_assert_int_eq(g.state, HAGENT_GROUP_FAILED);
	ck_assert_uint_eq(g.failover_count, 2);
	ck_assert(scn_log_contains("the group stays failed."));
	scn_agent_stop();
}
END_TEST

/*
 * §5.2: OnlineGroup stores the persistent state; after the agent stops and
 * starts again the group comes back Online, providers first.
 */
START_TEST(persistent_state_survives_restart)
{
	const char *on_p[] = {"P"};
	uint64_t t0;

	start_with_group("G");
	add("P", "G", "200", NULL, 0);
	add("D", "G", "100", on_p, 1);
	group_online("G");
	ck_assert_int_eq(scn_group("G").persistent_state, CONFIG_TARGET_ONLINE);
	scn_agent_stop();
	t0 = scn_now_ns();
	scn_agent_start();
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	/* A new segment: its event log starts at 0. */
	ck_assert_uint_lt(ev_pos("P", ON, 0, 0), ev_pos("D", ON_PEND, 0, 0));
	ck_assert_uint_ge(scn_record_first("D", "online", t0) - scn_record_first("P", "online", t0),
			  200 * NS_PER_MS);
	ck_assert_int_eq(scn_group("G").persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(scn_res("P").persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_ONLINE);
	scn_agent_stop();
}
END_TEST

/*
 * §5.3 on single resources: OnlineResource of D with P Offline is pending
 * (997) and brings P online first; OfflineResource of P with D Online is
 * pending and takes D offline first.  The persistent states follow: both
 * online, then both offline.
 */
START_TEST(resource_online_offline_follow_dependencies)
{
	const char *on_p[] = {"P"};
	struct scn_reply rep;
	uint64_t t0, from;

	start_with_group("G");
	add("P", "G", "200", NULL, 0);
	add("D", "G", "200", on_p, 1);
	from = scn_event_head();
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_online("D", &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state,
			 HAGENT_RESOURCE_OFFLINE); /* docs/control-api.md: still Offline */
	scn_wait_state("D", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("P", ON, 0, from), ev_pos("D", ON_PEND, 0, from));
	ck_assert_uint_ge(scn_record_first("D", "online", t0) - scn_record_first("P", "online", t0),
			  200 * NS_PER_MS);
	ck_assert_int_eq(scn_res("P").persistent_state, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_ONLINE);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);

	from = scn_event_head();
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_offline("P", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("D", OFF, 0, from), ev_pos("P", OFF_PEND, 0, from));
	ck_assert_uint_ge(scn_record_first("P", "offline", t0) -
				  scn_record_first("D", "offline", t0),
			  200 * NS_PER_MS);
	ck_assert_int_eq(scn_res("D").state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(scn_res("P").persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_OFFLINE);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, SCN_WAIT_MS);

	/* FORCE: P is terminated at once, D follows it down (and stays offline). */
	ck_assert_int_eq(scn_online("D", &rep), 0);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, SCN_WAIT_MS);
	from = scn_event_head();
	ck_assert_int_eq(scn_offline("P", CONTROL_FLAG_FORCE, &rep), 0);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_ge(scn_record_count("P", "terminate"), 1);
	ck_assert_uint_lt(ev_pos("P", OFF, 0, from), ev_pos("D", OFF, 0, from));
	ck_assert_int_eq(scn_res("P").persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_OFFLINE);
	scn_stays_state("D", HAGENT_RESOURCE_OFFLINE, 300);

	/* A provider whose dependents are all down goes offline at once, as any resource. */
	ck_assert_int_eq(scn_online("P", &rep), 0);
	scn_wait_state("P", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	t0 = scn_now_ns();
	ck_assert_msg(scn_offline("P", 0, &rep) == 0, "%s: %s", rep.error, rep.message);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("P", "offline", t0, NULL, 0), 1);
	ck_assert_uint_eq(scn_record_count("D", "online"), 2);
	scn_agent_stop();
}
END_TEST

/*
 * A Failed member that will not be restarted (RestartThreshold 0,
 * RestartAction 1, no retry): its dependent goes down with it and waits.
 * OnlineGroup is the operator acting: the failed member gets an online
 * attempt, and its dependent follows it back.  OfflineGroup of a group whose
 * only trouble is a Failed member with nothing running: ResourceFailed,
 * persistent state offline (docs/control-api.md).
 */
START_TEST(online_group_retries_failed_member)
{
	const struct config_prop p_props[] = {{"IsAlive", "after:1000"},
					      {"IsAlivePollInterval", "100"},
					      {"LooksAlivePollInterval", "60000"},
					      {"RestartThreshold", "0"},
					      {"RestartAction", "1"},
					      {"RetryPeriodOnFailure", NEVER},
					      {"OnlineDelay", "100"}};
	const char *on_p[] = {"P"};
	struct scn_reply rep;
	uint64_t from;

	start_with_group("G");
	add_props("P", "G", p_props, ELEMENTSOF(p_props), NULL, 0);
	scn_wait_state("P", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	add("D", "G", "100", on_p, 1);
	group_online("G");
	scn_wait_state("P", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	scn_wait_group_state("G", HAGENT_GROUP_FAILED, SCN_WAIT_MS);
	scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_stays_state("P", HAGENT_RESOURCE_FAILED, 300);
	ck_assert_uint_eq(scn_record_count("P", "online"), 1);

	from = scn_event_head();
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	scn_record_wait("D", "online", 2, SCN_WAIT_MS);
	ck_assert_uint_lt(ev_pos("P", ON, 0, from), ev_pos("D", ON_PEND, 0, from));
	ck_assert_uint_eq(scn_record_count("P", "online"), 2);

	/* P fails again: D goes down, and the offline finds nothing but a Failed member. */
	scn_wait_state("P", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	scn_wait_state("D", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), -EIO);
	scn_assert_error(&rep, CONTROL_ERROR_RESOURCE_FAILED, -EIO);
	ck_assert_int_eq(scn_group("G").persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(scn_res("D").persistent_state, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(scn_res("P").state, HAGENT_RESOURCE_FAILED);
	scn_agent_stop();
}
END_TEST

/*
 * SetGroupProperties: an unknown key or a bad number is InvalidArgument,
 * FailoverPeriod 0 and FailoverThreshold 1001 are OutOfRange, and none of
 * them changes anything; valid values show in the group's properties in
 * the segment and survive a restart; an empty value resets to the default.
 */
START_TEST(set_group_properties)
{
	struct scn_reply rep;
	struct scn_mark mark;

	start_with_group("G");
	ck_assert(scn_group_prop_is("G", "FailoverThreshold=4294967295"));
	ck_assert(scn_group_prop_is("G", "FailoverPeriod=6"));
	mark = scn_mark_take();
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"Bogus", "1"}), &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverThreshold", "x1"}), &rep),
			 -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverPeriod", "0"}), &rep),
			 -ERANGE);
	scn_assert_error(&rep, CONTROL_ERROR_OUT_OF_RANGE, -ERANGE);
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverThreshold", "1001"}), &rep),
			 -ERANGE);
	scn_assert_error(&rep, CONTROL_ERROR_OUT_OF_RANGE, -ERANGE);
	ck_assert_int_eq(
		scn_set_group_props(
			"G", SCN_PROPS({"FailoverPeriod", "2"}, {"FailoverPeriod", "3"}), &rep),
		-EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* One bad property spoils the call: the good one is not applied either. */
	ck_assert_int_eq(
		scn_set_group_props(
			"G", SCN_PROPS({"FailoverThreshold", "3"}, {"FailoverPeriod", "0"}), &rep),
		-ERANGE);
	scn_sleep_ms(200);
	scn_mark_assert_unchanged(mark);
	ck_assert(scn_group_prop_is("G", "FailoverThreshold=4294967295"));

	ck_assert_int_eq(
		scn_set_group_props(
			"G", SCN_PROPS({"FailoverThreshold", "3"}, {"FailoverPeriod", "12"}), &rep),
		0);
	ck_assert(scn_group_prop_is("G", "FailoverThreshold=3"));
	ck_assert(scn_group_prop_is("G", "FailoverPeriod=12"));
	scn_agent_stop();
	scn_agent_start();
	ck_assert(scn_group_prop_is("G", "FailoverThreshold=3"));
	ck_assert(scn_group_prop_is("G", "FailoverPeriod=12"));
	ck_assert_int_eq(scn_set_group_props("G", SCN_PROPS({"FailoverPeriod", ""}), &rep), 0);
	ck_assert(scn_group_prop_is("G", "FailoverPeriod=6"));
	ck_assert(scn_group_prop_is("G", "FailoverThreshold=3"));
	scn_agent_stop();
}
END_TEST

static Suite *groups_suite(void)
{
	Suite *s = suite_create("scenarios-groups");

	scn_tcase_add(s, "s41", s41_partial_online_online_offline, 60);
	scn_tcase_add(s, "s42", s42_offline_and_initializing_is_offline, 60);
	scn_tcase_add(s, "s43", s43_no_group_sequence_bump_without_change, 60);
	scn_tcase_add(s, "s44", s44_online_providers_first_offline_dependents_first, 60);
	scn_tcase_add(s, "s44_diamond", s44_diamond_branches_in_parallel, 60);
	scn_tcase_add(s, "s45", s45_provider_fails_dependent_follows, 60);
	scn_tcase_add(s, "s46", s46_locked_member_refuses_group_offline, 60);
	scn_tcase_add(s, "s47", s47_ignore_locked_takes_group_offline, 60);
	scn_tcase_add(s, "s48", s48_unknown_flag_invalid, 60);
	scn_tcase_add(s, "s49", s49_params_reach_online_members_only, 60);
	scn_tcase_add(s, "s50", s50_truncated_list_invalid, 60);
	scn_tcase_add(s, "s51", s51_garbage_after_empty_list_invalid_empty_array_accepted, 60);
	scn_tcase_add(s, "params_size_limit", params_size_limit, 60);
	scn_tcase_add(s, "offline_params_not_kept", offline_params_not_kept_past_their_call, 60);
	scn_tcase_add(s, "s52", s52_offline_group_access_denied, 60);
	scn_tcase_add(s, "s53", s53_pending_before_the_reply, 60);
	scn_tcase_add(s, "s54", s54_already_offline_succeeds_at_once, 60);
	scn_tcase_add(s, "s85", s85_read_only_peer_reads_but_cannot_write, 60);
	scn_tcase_add(s, "group_reverses_while_pending", group_reverses_while_pending, 60);
	scn_tcase_add(s, "s86", s86_removed_group_not_found, 60);
	scn_tcase_add(s, "s87", s87_remove_non_empty_group, 60);
	scn_tcase_add(s, "dependency_checks", dependency_checks, 60);
	scn_tcase_add(s, "group_restart", group_restart_then_failed, 90);
	scn_tcase_add(s, "persistent_state", persistent_state_survives_restart, 60);
	scn_tcase_add(s, "resource_ordering", resource_online_offline_follow_dependencies, 60);
	scn_tcase_add(s, "online_group_retries_failed", online_group_retries_failed_member, 60);
	scn_tcase_add(s, "set_group_properties", set_group_properties, 60);
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR"))
		return 77;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return EXIT_FAILURE;
	return test_run_suite(groups_suite());
}
