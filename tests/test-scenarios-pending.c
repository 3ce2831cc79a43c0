/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Acceptance scenarios 1-20 of semantics.md §10 ("Entry points & pending
 * protocol"), each against its own hagentd with hamon-test monitors: what
 * the scenario's Then says, read from the state segment (states, sequences,
 * deadlines, events) and from hamon-test's record file (which entry points
 * ran, how often, what SetResourceStatus answered).  Where the product has
 * no counterpart of a scenario (Startup version ranges, quorum types, a
 * closed RESOURCE_HANDLE), the case tests the nearest real behaviour and
 * says so.  Then the control API's refusals (bad names, unknown objects,
 * bad flags, duplicate keys, out-of-range common properties, a caller
 * without access): each documented error, with nothing changed in the
 * segment.
 *
 * Times are scaled down (PendingTimeout of a few hundred ms, DeadlockTimeout
 * at its minimum of 1000); the waits are generous bounds.
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-scenario-util.h"

#define NS_PER_MS UINT64_C(1000000)

/* The record file's <what> for a report: "status <state> <checkpoint> <answer>". */
static bool record_answer_is(const struct scn_record *rec, const char *answer)
{
	const char *sp = strrchr(rec->what, ' ');

	return sp && strcmp(sp + 1, answer) == 0;
}

/* ---- Entry points & pending protocol ---- */

/*
 * 1. Startup with a version range: libhamon has no Startup and no API
 * version negotiation (hamon.h), so there is no ERROR_REVISION_MISMATCH.
 * Nearest real behaviour: a type hagentd cannot load (no monitor program
 * hamon-<type>) opens none of its resources: they are Failed with -ENOENT,
 * no monitor runs and no entry point is called, while a loadable type in
 * the same group is opened as usual.
 */
START_TEST(s01_startup_mismatch_opens_nothing)
{
	const char *rec = scn_record_path();
	struct hagent_resource a, b, ok;

	scn_seed_type("v2only");
	scn_seed_resource("a", "g", "v2only", SCN_PROPS({"RecordFile", rec}), true);
	scn_seed_resource("b", "g", "v2only", SCN_PROPS({"RecordFile", rec}), false);
	scn_seed_resource("ok", "g", NULL, SCN_PROPS({"RecordFile", rec}), false);
	scn_agent_start();

	ok = scn_wait_state("ok", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_gt(ok.monitor_pid, 0);
	a = scn_wait_state("a", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	b = scn_wait_state("b", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(a.last_error, -ENOENT);
	ck_assert_int_eq(b.last_error, -ENOENT);
	ck_assert_int_eq(a.monitor_pid, 0);
	ck_assert_int_eq(b.monitor_pid, 0);
	/* The restart of the persistent-online one cannot open it either. */
	scn_sleep_ms(300);
	ck_assert_int_eq(scn_res("a").state, HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(scn_res("a").monitor_pid, 0);
	ck_assert_uint_eq(scn_record_count("a", ""), 0);
	ck_assert_uint_eq(scn_record_count("b", ""), 0);
	ck_assert_uint_eq(scn_record_count("ok", "open"), 1);
}
END_TEST

/*
 * 2. Open returns a RESID: Offline, one sequence step from Initializing, no
 * Online; for a resource loaded at start and for one added at run time.
 */
START_TEST(s02_open_ok_offline)
{
	struct hagent_event added[2], ev[4];
	struct hagent_resource r;
	struct scn_reply rep;

	scn_seed_resource("r", "g", NULL, SCN_PROPS({"RecordFile", scn_record_path()}), false);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_sleep_ms(300); /* time for a wrong Online to show */
	ck_assert_uint_eq(scn_events(r.id, 1, 0x400 /* RESOURCE_ADDED */, 0, added, 2), 1);
	ck_assert_int_eq(added[0].state, HAGENT_RESOURCE_INITIALIZING);
	ck_assert_uint_eq(scn_state_events("r", 0, ev, 4), 1);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(ev[0].state_seq, added[0].state_seq + 1);
	r = scn_res("r");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(r.state_seq, added[0].state_seq + 1);
	ck_assert_uint_eq(scn_record_count("r", "open"), 1);
	ck_assert_uint_eq(scn_record_count("r", "online"), 0);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);

	/* The same for a resource created at run time (AddResource). */
	ck_assert_int_eq(scn_add_resource("n", "g", NULL,
					  SCN_PROPS({"RecordFile", scn_record_path()}), &rep),
			 0);
	ck_assert_uint_eq(strlen(rep.id), CONFIG_ID_LEN);
	r = scn_wait_state("n", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_sleep_ms(300);
	ck_assert_uint_eq(scn_events(r.id, 1, 0x400 /* RESOURCE_ADDED */, 0, added, 2), 1);
	ck_assert_int_eq(added[0].state, HAGENT_RESOURCE_INITIALIZING);
	ck_assert_uint_eq(scn_state_events("n", 0, ev, 4), 1);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(ev[0].state_seq, added[0].state_seq + 1);
	r = scn_res("n");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(r.state_seq, added[0].state_seq + 1);
	ck_assert_uint_eq(scn_record_count("n", "open"), 1);
	ck_assert_uint_eq(scn_record_count("n", "online"), 0);
}
END_TEST

/*
 * 3. Open fails: Failed, and Close is never called for the instance that
 * does not exist, not even when the monitor shuts down with the agent.
 */
START_TEST(s03_open_fails_no_close)
{
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OpenError", "5"}, {"RecordFile", scn_record_path()}), false);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(r.last_error, -EIO);
	scn_stays_state("r", HAGENT_RESOURCE_FAILED, 300);
	scn_agent_stop(); /* the monitor closes what it opened, and exits */
	ck_assert_uint_eq(scn_record_count("r", "open"), 1);
	ck_assert_uint_eq(scn_record_count("r", "close"), 0);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
	ck_assert_uint_eq(scn_record_count("r", "online"), 0);
}
END_TEST

/* 4. Online returns success in the call: Online, one RESOURCE_STATE event. */
START_TEST(s04_online_sync_one_event)
{
	struct hagent_event ev[4];
	struct scn_reply rep;
	struct hagent_resource r;
	uint64_t head;
	size_t n;

	scn_seed_resource("r", "g", NULL, SCN_PROPS({"RecordFile", scn_record_path()}), false);
	scn_agent_start();
	r = scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);

	head = scn_event_head();
	ck_assert_int_eq(scn_online("r", &rep), 0);
	r = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("r", "online"), 1);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
	n = scn_state_events("r", head, ev, 4);
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(ev[n - 1].state, HAGENT_RESOURCE_ONLINE);
	ck_assert_uint_eq(ev[n - 1].state_seq, r.state_seq);
	/* The scenario's count (hagentd shows every Online as OnlinePending first). */
	ck_assert_msg(n == 1, "%zu RESOURCE_STATE events for one synchronous Online", n);
}
END_TEST

/* 5. Online pending: the segment shows OnlinePending when the call returns. */
START_TEST(s05_online_pending_before_reply)
{
	struct scn_reply rep;
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineDelay", "1000"}, {"RecordFile", scn_record_path()}),
			  false);
	scn_agent_start();
	r = scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);

	ck_assert_int_eq(scn_online("r", &rep), 0);
	r = scn_res("r"); /* at once: no wait */
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_uint_eq(r.state_seq, rep.state_seq);
	ck_assert_int_ne(r.pending_deadline_ns, 0);
	scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
}
END_TEST

/*
 * 6. Progress reports closer together than PendingTimeout keep the resource
 * pending well past 3 x PendingTimeout, without a Terminate.
 */
START_TEST(s06_progress_keeps_pending)
{
	struct scn_record rec[8];
	struct hagent_resource r;
	uint32_t max_cp = 0;
	uint64_t end;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "500"}, {"OnlineDelay", "2600"},
				    {"ProgressInterval", "100"}, {"RestartAction", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);

	/* 1700 ms > 3 x 500 ms of pending, the checkpoint rising meanwhile. */
	end = now_ms() + 1700;
	while (now_ms() < end) {
		r = scn_res("r");
		ck_assert_msg(r.state == HAGENT_RESOURCE_ONLINE_PENDING, "state %s",
			      scn_state_name(r.state));
		ck_assert_uint_ge(r.checkpoint, max_cp);
		max_cp = r.checkpoint;
		scn_sleep_ms(5);
	}
	ck_assert_uint_ge(max_cp, 3);
	scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
	ck_assert_uint_eq(scn_record_find("r", "status online-pending 1", 0, rec, 8), 1);
	ck_assert(record_answer_is(&rec[0], "continue"));
	ck_assert_uint_eq(scn_record_find("r", "status online-pending 2", 0, rec, 8), 1);
	ck_assert_uint_eq(scn_record_find("r", "status online-pending 3", 0, rec, 8), 1);
	ck_assert_uint_eq(scn_record_wait("r", "status online 0 continue", 1, SCN_WAIT_MS), 1);
	ck_assert_uint_eq(scn_res("r").restart_count, 0);
}
END_TEST

/*
 * Waits until name shows checkpoint cp in the segment; then, once its record
 * has n_more further reports with checkpoint repeat (each answered
 * continue), checks the deadline did not move.  Returns the deadline.
 */
static uint64_t check_deadline_not_extended(const char *name, uint32_t cp, const char *repeat,
					    size_t n_more)
{
	struct scn_record rec[64];
	struct hagent_resource r;
	uint64_t end = now_ms() + SCN_WAIT_MS, deadline;
	size_t first, n;

	scn_wait_state(name, HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	for (;;) {
		r = scn_res(name);
		ck_assert_msg(r.state == HAGENT_RESOURCE_ONLINE_PENDING, "%s: %s", name,
			      scn_state_name(r.state));
		if (r.checkpoint == cp)
			break;
		ck_assert_msg(now_ms() < end, "%s: checkpoint %u", name, r.checkpoint);
		usleep(1000);
	}
	deadline = r.pending_deadline_ns;
	ck_assert_uint_ne(deadline, 0);
	first = scn_record_count(name, repeat);
	scn_record_wait(name, repeat, first + n_more, SCN_WAIT_MS);

	r = scn_res(name);
	ck_assert_msg(r.state == HAGENT_RESOURCE_ONLINE_PENDING, "%s: %s", name,
		      scn_state_name(r.state));
	ck_assert_uint_eq(r.checkpoint, cp);
	ck_assert_uint_eq(r.pending_deadline_ns, deadline);
	n = scn_record_find(name, repeat, 0, rec, ELEMENTSOF(rec));
	for (size_t i = 0; i < n && i < ELEMENTSOF(rec); i++)
		ck_assert_msg(record_answer_is(&rec[i], "continue"), "%s: %s", name, rec[i].what);
	return deadline;
}

/*
 * 7. A report whose checkpoint is not above the last (5 after 5, or a
 * decreasing one) is ignored: the answer is Continue and the deadline stays
 * where the last accepted report put it, so the resource fails on time.
 */
START_TEST(s07_stale_checkpoint_ignored)
{
	scn_seed_resource("r5", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "2000"}, {"OnlineDelay", "60000"},
				    {"ProgressInterval", "100"}, {"ProgressCheckpoint", "stall:5"},
				    {"RestartAction", "0"}, {"RecordFile", scn_record_path()}),
			  true);
	scn_seed_resource("r4", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "2000"}, {"OnlineDelay", "60000"},
				    {"ProgressInterval", "100"},
				    {"ProgressCheckpoint", "decreasing"}, {"RestartAction", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	/* stall:5 reports 1, 2, 3, 4, 5, 5, 5, ...: the record shows each 5. */
	check_deadline_not_extended("r5", 5, "status online-pending 5", 3);
	/* decreasing: 1000000 is accepted, 999999, 999998, ... are not. */
	check_deadline_not_extended("r4", 1000000, "status online-pending", 3);

	ck_assert_int_eq(scn_wait_state("r5", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS).last_error,
			 -ETIMEDOUT);
	ck_assert_int_eq(scn_wait_state("r4", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS).last_error,
			 -ETIMEDOUT);
	ck_assert_uint_eq(scn_record_wait("r5", "terminate", 1, SCN_WAIT_MS), 1);
	ck_assert_uint_eq(scn_record_wait("r4", "terminate", 1, SCN_WAIT_MS), 1);
}
END_TEST

/*
 * 8. A silent pending Online: at PendingTimeout Terminate is called once,
 * the resource is Failed, and the worker's next report is answered
 * Terminate (IgnoreTerminate keeps the worker going so that it reports).
 */
START_TEST(s08_pending_timeout_terminates_once)
{
	struct scn_record term[4], late[4];
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "300"}, {"OnlineDelay", "1500"},
				    {"IgnoreTerminate", "1"}, {"RestartAction", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(r.last_error, -ETIMEDOUT);
	scn_record_wait("r", "status online", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "status online", 0, late, 4), 1);
	ck_assert_str_eq(late[0].what, "status online 0 terminate");
	ck_assert_uint_eq(scn_record_find("r", "terminate", 0, term, 4), 1);
	ck_assert_uint_lt(term[0].ns, late[0].ns);
	r = scn_stays_state("r", HAGENT_RESOURCE_FAILED, 300);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 1);
	ck_assert_uint_eq(scn_record_count("r", "online"), 1);
}
END_TEST

/*
 * 9. PendingTimeout 60000 with DeadlockTimeout at its minimum (1000: the
 * scenario's 30 s scaled down): the smaller wins, the pending deadline is at
 * most 1 s out and the resource is terminated long before 60 s.
 */
START_TEST(s09_deadlock_timeout_caps_pending)
{
	struct hagent_resource r;
	uint64_t read_ns;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "60000"}, {"DeadlockTimeout", "1000"},
				    {"OnlineResult", "hang"}, {"RestartAction", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	read_ns = scn_now_ns();
	ck_assert_uint_ne(r.pending_deadline_ns, 0);
	ck_assert_uint_le(r.pending_deadline_ns, read_ns + 1000 * NS_PER_MS);
	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, 10000);
	ck_assert_int_eq(r.last_error, -ETIMEDOUT);
	ck_assert_uint_eq(scn_record_wait("r", "terminate", 1, SCN_WAIT_MS), 1);
}
END_TEST

/*
 * 10. Online reported by a resource that signals failures on its eventfd
 * (FailAfter: hamon-test uses hamon_failure_fd()): no LooksAlive, IsAlive
 * every IsAlivePollInterval.
 */
START_TEST(s10_event_fd_no_looks_alive)
{
	struct scn_record rec[1];
	size_t n;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineDelay", "100"}, {"FailAfter", "600000"},
				    {"LooksAlivePollInterval", "100"},
				    {"IsAlivePollInterval", "250"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	/* The line is written when the report returns: maybe after hagentd published it. */
	ck_assert_uint_eq(scn_record_wait("r", "status online", 1, SCN_WAIT_MS), 1);
	ck_assert_uint_eq(scn_record_find("r", "status online", 0, rec, 1), 1);
	scn_stays_state("r", HAGENT_RESOURCE_ONLINE, 1500);
	/* 1.5 s at 250 ms: about 6 probes; 3 is a bound a loaded machine keeps. */
	n = scn_record_find("r", "is_alive", rec[0].ns, NULL, 0);
	ck_assert_msg(n >= 3, "%zu is_alive in 1.5 s", n);
	ck_assert_uint_eq(scn_record_count("r", "looks_alive"), 0);
}
END_TEST

/*
 * 11. A pending Online reporting Offline: libhamon refuses the report
 * (-EINVAL, nothing posted), the resource stays OnlinePending and its
 * deadline does not move; it fails at the original deadline.
 */
START_TEST(s11_wrong_report_rejected)
{
	struct hagent_resource r, after;
	struct scn_record on[1];
	uint64_t settle_ns;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "4000"}, {"OnlineDelay", "1000"},
				    {"OnlineResult", "wrong"}, {"RestartAction", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	/*
	 * The deadline to compare with: read half-way to the report, once the
	 * entry point's return (libhamon marks it to hagentd, which starts
	 * the pending timer from there) is long processed.
	 */
	scn_record_wait("r", "online", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "online", 0, on, 1), 1);
	settle_ns = on[0].ns + 500 * NS_PER_MS;
	while (scn_now_ns() < settle_ns)
		scn_sleep_ms(5);
	r = scn_res("r");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_uint_eq(scn_record_count("r", "status"), 0);

	scn_record_wait("r", "status offline", 1, SCN_WAIT_MS);
	after = scn_res("r");
	ck_assert_int_eq(after.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_uint_eq(after.state_seq, r.state_seq);
	ck_assert_uint_eq(after.pending_deadline_ns, r.pending_deadline_ns);
	ck_assert_uint_eq(scn_record_count("r", "status offline 0 -22"), 1);
	after = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(after.last_error, -ETIMEDOUT);
}
END_TEST

/* 12. A pending Online reporting Failed: Failed, Terminate called, the report answered Terminate.
 */
START_TEST(s12_report_failed_terminates)
{
	struct scn_record st[2], term[2], on[2];
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineDelay", "200"}, {"OnlineResult", "fail"},
				    {"RestartAction", "0"}, {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_lt(r.last_error, 0);
	scn_record_wait("r", "status failed", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "status failed", 0, st, 2), 1);
	ck_assert_str_eq(st[0].what, "status failed 0 terminate");
	scn_record_wait("r", "terminate", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "terminate", 0, term, 2), 1);
	/*
	 * Terminate follows the online it cleans up.  It may be recorded before
	 * the "status" line: that line is written once the report has returned,
	 * and the agent's TERMINATE can run in between.
	 */
	ck_assert_uint_eq(scn_record_find("r", "online", 0, on, 2), 1);
	ck_assert_uint_gt(term[0].ns, on[0].ns);
	scn_stays_state("r", HAGENT_RESOURCE_FAILED, 200);
}
END_TEST

/*
 * 13. A stray report while Online with no pending operation.  hamon-test
 * cannot script a bare stray call; the nearest real one: a first Online
 * times out with IgnoreTerminate, so its work goes on; the restart's Online
 * takes that work's late report as its own (README: IgnoreTerminate) and
 * reaches Online; then the restart's own work reports Online once more,
 * outside any pending operation.  Then: the resource stays Online and the
 * call is answered Terminate.
 */
START_TEST(s13_stray_report_while_online)
{
	struct scn_record rec[8];
	struct hagent_event ev[16];
	struct hagent_resource r;
	size_t n, n_ev, failed = 0;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "1000"}, {"OnlineDelay", "1500"},
				    {"IgnoreTerminate", "1"}, {"RestartDelay", "0"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	/* Failed at the timeout (for an instant: RestartDelay 0), then Online. */
	n_ev = scn_state_events("r", 0, ev, ELEMENTSOF(ev));
	for (size_t i = 0; i < n_ev && i < ELEMENTSOF(ev); i++)
		failed += ev[i].state == HAGENT_RESOURCE_FAILED;
	ck_assert_uint_eq(failed, 1);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 1);
	scn_record_wait("r", "status online", 2, SCN_WAIT_MS);
	n = scn_record_find("r", "status online", 0, rec, ELEMENTSOF(rec));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(rec[0].what, "status online 0 continue");
	r = scn_stays_state("r", HAGENT_RESOURCE_ONLINE, 300);
	ck_assert_uint_eq(scn_res("r").state_seq, r.state_seq);
	ck_assert_msg(record_answer_is(&rec[1], "terminate"), "stray report answered: %s",
		      rec[1].what);
}
END_TEST

/*
 * 14. A report through a closed RESOURCE_HANDLE: libhamon answers it
 * Terminate and posts nothing (hamon.h), but hamon-test stops all its work
 * in close, so no such report can be scripted.  Nearest real behaviour: a
 * resource removed (force) while its Online is pending and reporting; its
 * monitor closes it and nothing from it reaches the segment again: a new
 * resource of the same name starts fresh (Initializing -> Offline) and
 * stays Offline with no Online called.
 */
START_TEST(s14_closed_resource_reports_nothing)
{
	struct scn_reply rep;
	struct hagent_resource r;
	struct hagent_event ev[8];
	uint64_t head;

	scn_seed_group("g", false);
	scn_agent_start();
	ck_assert_int_eq(
		scn_add_resource("r", "g", NULL,
				 SCN_PROPS({"OnlineDelay", "1500"}, {"ProgressInterval", "50"},
					   {"RecordFile", scn_record_path()}),
				 &rep),
		0);
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_online("r", &rep), 0);
	scn_record_wait("r", "status online-pending", 2, SCN_WAIT_MS);
	ck_assert_int_eq(scn_remove_resource("r", CONTROL_FLAG_FORCE, &rep), 0);
	scn_wait_gone("r", SCN_WAIT_MS);
	scn_record_wait("r", "close", 1, SCN_WAIT_MS);

	head = scn_event_head();
	ck_assert_int_eq(scn_add_resource("r", "g", NULL,
					  SCN_PROPS({"RecordFile", scn_record_path()}), &rep),
			 0);
	r = scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_sleep_ms(1800); /* past the old Online's delay */
	r = scn_res("r");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(scn_state_events("r", head, ev, 8), 1);
	ck_assert_uint_eq(scn_record_count("r", "online"), 1); /* the old one's only */
	ck_assert_uint_eq(scn_record_count("r", "status online"), 0);
}
END_TEST

/*
 * 15. Forced offline of a pending Online whose worker is in a long step:
 * Terminate runs while the worker runs, returns without waiting for it,
 * the resource ends Offline (not Failed), and the worker's next report is
 * answered Terminate.
 */
START_TEST(s15_force_offline_pending)
{
	struct scn_record term[2], prog[64], on[4];
	struct scn_reply rep;
	struct hagent_resource r;
	size_t n, i;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"PendingTimeout", "5000"}, {"OnlineDelay", "2500"},
				    {"ProgressInterval", "100"}, {"IgnoreTerminate", "1"},
				    {"RecordFile", scn_record_path()}),
			  false);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_online("r", &rep), 0);
	scn_record_wait("r", "status online-pending", 2, SCN_WAIT_MS);

	ck_assert_int_eq(scn_offline("r", CONTROL_FLAG_FORCE, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_SUCCESS);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_OFFLINE);
	r = scn_stays_state("r", HAGENT_RESOURCE_OFFLINE, 400);
	ck_assert_int_eq(r.last_error, 0);
	scn_record_wait("r", "terminate", 1, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "terminate", 0, term, 2), 1);

	/* The worker went on after Terminate; its first report after it: Terminate. */
	n = scn_record_find("r", "status online-pending", term[0].ns, prog, ELEMENTSOF(prog));
	ck_assert_uint_ge(n, 1);
	ck_assert_msg(record_answer_is(&prog[0], "terminate"), "%s", prog[0].what);

	/*
	 * Terminate returned while the step still ran: a new Online, which
	 * hagentd posts only once Terminate is done, is called before the
	 * old worker finishes (its last progress report comes after it).
	 */
	ck_assert_int_eq(scn_online("r", &rep), 0);
	scn_record_wait("r", "online", 2, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_find("r", "online", 0, on, 4), 2);
	scn_record_wait("r", "status online", 1, SCN_WAIT_MS);
	n = scn_record_find("r", "status online-pending", on[1].ns, prog, ELEMENTSOF(prog));
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(scn_record_find("r", "status online", 0, on + 2, 1), 1);
	for (i = 0; i < n && i < ELEMENTSOF(prog); i++)
		if (prog[i].ns < on[2].ns)
			break;
	ck_assert_msg(i < n, "no report of the old worker after the new Online");
}
END_TEST

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	int *pending = userdata;

	(void) ret_error;
	ck_assert_msg(!sd_bus_message_is_method_error(m, NULL), "%s",
		      sd_bus_message_get_error(m)->name);
	(*pending)--;
	return 0;
}

/* Sends two calls (method, "su", name, CONTROL_FLAG_FORCE) back to back, then waits for both. */
static void two_forced_calls(const char *method1, const char *method2, const char *name)
{
	const char *methods[] = {method1, method2};
	int pending = 2;
	uint64_t end;

	for (int i = 0; i < 2; i++) {
		sd_bus_message *m = scn_method_new(methods[i]);

		ck_assert_int_ge(sd_bus_message_append(m, "su", name, CONTROL_FLAG_FORCE), 0);
		ck_assert_int_ge(sd_bus_call_async(scn_bus(), NULL, m, on_reply, &pending, 0), 0);
		sd_bus_message_unref(m);
	}
	end = now_ms() + SCN_WAIT_MS;
	while (pending > 0) {
		ck_assert_int_ge(sd_bus_process(scn_bus(), NULL), 0);
		ck_assert_int_ge(sd_bus_wait(scn_bus(), 100 * 1000), 0);
		ck_assert_msg(now_ms() < end, "no replies");
	}
}

/*
 * 16. Terminate twice at once: two terminating requests sent back to back,
 * without waiting for the first reply (two forced offlines; then a forced
 * offline and a forced remove).  hagentd serialises them (the state machine
 * never has two TERMINATEs out), so this is the nearest double terminate:
 * no crash, the monitor survives, the state changes once.
 */
START_TEST(s16_double_terminate)
{
	struct hagent_event ev[4];
	struct hagent_resource r, after;
	struct scn_reply rep;
	uint64_t head;
	size_t terms;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineResult", "hang"}, {"PendingTimeout", "10000"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();
	r = scn_wait_state("r", HAGENT_RESOURCE_ONLINE_PENDING, SCN_WAIT_MS);
	scn_record_wait("r", "online", 1, SCN_WAIT_MS);

	head = scn_event_head();
	two_forced_calls("OfflineResource", "OfflineResource", "r");
	after = scn_stays_state("r", HAGENT_RESOURCE_OFFLINE, 500);
	ck_assert_uint_eq(scn_state_events("r", head, ev, 4), 1);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(after.monitor_pid, r.monitor_pid);
	ck_assert_int_eq(kill(r.monitor_pid, 0), 0);
	terms = scn_record_count("r", "terminate");
	ck_assert_uint_ge(terms, 1);
	ck_assert_uint_eq(scn_record_count("r", "crash"), 0);

	/* The monitor still serves the resource: pending again (OnlineResult=hang). */
	ck_assert_int_eq(scn_online("r", &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_uint_eq(scn_record_wait("r", "online", 2, SCN_WAIT_MS), 2);

	/* A forced offline and a forced remove: terminated, closed once, gone. */
	two_forced_calls("OfflineResource", "RemoveResource", "r");
	scn_wait_gone("r", SCN_WAIT_MS);
	ck_assert_uint_eq(scn_record_wait("r", "close", 1, SCN_WAIT_MS), 1);
	ck_assert_uint_gt(scn_record_count("r", "terminate"), terms);
	ck_assert_uint_eq(scn_record_count("r", "crash"), 0);
	ck_assert(scn_agent_alive());
	scn_sleep_ms(200);
	ck_assert_uint_eq(scn_record_count("r", "close"), 1);
}
END_TEST

/*
 * 17. Online fails with EACCES (ERROR_ACCESS_DENIED): logged, Terminate
 * called, Failed with that code, and the restart policy applied (one
 * restart with RestartThreshold 1, then RestartAction 1 keeps it Failed).
 */
START_TEST(s17_online_access_denied)
{
	struct scn_record on[4], term[4];
	struct hagent_event ev[16];
	struct hagent_resource r;
	size_t n, failed = 0;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineResult", "fail"}, {"OnlineError", "13"},
				    {"RestartThreshold", "1"}, {"RestartDelay", "200"},
				    {"RestartAction", "1"}, {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	scn_record_wait("r", "online", 2, SCN_WAIT_MS);
	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	scn_record_wait("r", "terminate", 2, SCN_WAIT_MS);
	r = scn_stays_state("r", HAGENT_RESOURCE_FAILED, 600); /* 3 x RestartDelay: no third */
	ck_assert_int_eq(r.last_error, -EACCES);
	ck_assert_uint_eq(r.restart_count, 2);
	ck_assert_uint_eq(scn_record_find("r", "online", 0, on, 4), 2);
	ck_assert_uint_eq(scn_record_find("r", "terminate", 0, term, 4), 2);
	ck_assert_uint_gt(term[0].ns, on[0].ns);
	ck_assert_uint_gt(on[1].ns, term[0].ns);
	ck_assert_uint_gt(term[1].ns, on[1].ns);
	n = scn_state_events("r", 0, ev, ELEMENTSOF(ev));
	for (size_t i = 0; i < n && i < ELEMENTSOF(ev); i++)
		failed += ev[i].state == HAGENT_RESOURCE_FAILED;
	ck_assert_uint_eq(failed, 2);
	ck_assert(scn_log_contains("Resource r: online-pending -> failed: Permission denied."));
	ck_assert(scn_log_contains("r: failure 1 in the restart window: restart"));
	ck_assert(scn_log_contains("r: failure 2 in the restart window: stay-failed"));
}
END_TEST

/*
 * 18. Lost arbitration: hagent has no quorum-type resources and no
 * Arbitrate (hamon.h), so no failure is attributed to it.  Nearest real
 * behaviour: Online failing with EBUSY, the errno semantics.md §9 maps
 * ERROR_RESOURCE_NOT_AVAILABLE to: Failed, with -EBUSY as its last error.
 */
START_TEST(s18_online_not_available)
{
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OnlineResult", "fail"}, {"OnlineError", "16"},
				    {"RestartAction", "0"}, {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();

	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(r.last_error, -EBUSY);
	ck_assert_uint_eq(scn_record_wait("r", "terminate", 1, SCN_WAIT_MS), 1);
}
END_TEST

/* 19. Offline pending, then reported Offline: OfflinePending, Offline, two sequence steps. */
START_TEST(s19_offline_pending_then_offline)
{
	struct hagent_event ev[8];
	struct scn_reply rep;
	struct hagent_resource r;
	uint64_t head;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OfflineDelay", "300"}, {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();
	r = scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);

	head = scn_event_head();
	ck_assert_int_eq(scn_offline("r", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_uint_eq(rep.state_seq, r.state_seq + 1);
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_uint_eq(scn_state_events("r", head, ev, 8), 2);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_OFFLINE_PENDING);
	ck_assert_uint_eq(ev[0].state_seq, r.state_seq + 1);
	ck_assert_int_eq(ev[1].state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_uint_eq(ev[1].state_seq, r.state_seq + 2);
	ck_assert_uint_eq(scn_res("r").state_seq, r.state_seq + 2);
	ck_assert_uint_eq(scn_record_count("r", "offline -"), 1);
	ck_assert_uint_eq(scn_record_wait("r", "status offline 0 continue", 1, SCN_WAIT_MS), 1);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 0);
}
END_TEST

/* 20. A silent pending Offline: at PendingTimeout Terminate is called and it is Failed. */
START_TEST(s20_offline_pending_timeout)
{
	struct scn_reply rep;
	struct hagent_resource r;

	scn_seed_resource("r", "g", NULL,
			  SCN_PROPS({"OfflineResult", "hang"}, {"PendingTimeout", "300"},
				    {"RecordFile", scn_record_path()}),
			  true);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);

	ck_assert_int_eq(scn_offline("r", 0, &rep), 0);
	ck_assert_int_eq(rep.state, HAGENT_RESOURCE_OFFLINE_PENDING);
	r = scn_wait_state("r", HAGENT_RESOURCE_FAILED, SCN_WAIT_MS);
	ck_assert_int_eq(r.last_error, -ETIMEDOUT);
	ck_assert_uint_eq(scn_record_wait("r", "terminate", 1, SCN_WAIT_MS), 1);
	/* The persistent state is offline: no restart. */
	scn_stays_state("r", HAGENT_RESOURCE_FAILED, 500);
	ck_assert_uint_eq(scn_record_count("r", "online"), 1);
	ck_assert_uint_eq(scn_record_count("r", "terminate"), 1);
}
END_TEST

/* ---- the control API refuses bad input and changes nothing ---- */

/* An agent with group g, r Offline and on Online. */
static void bad_input_setup(void)
{
	scn_seed_resource("r", "g", NULL, NULL, 0, false);
	scn_seed_resource("on", "g", NULL, NULL, 0, true);
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_wait_state("on", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	scn_sleep_ms(100);
}

START_TEST(bad_names)
{
	char longname[80];
	struct scn_reply rep;
	struct scn_mark mark;
	struct hagent_shm_table *t = NULL;

	bad_input_setup();
	memset(longname, 'x', 64);
	longname[64] = '\0';
	mark = scn_mark_take();

	const char *const bad[] = {"", "a/b", " lead", "trail ", "tab\there", "nl\n", longname};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		const char *n = bad[i];

		ck_assert_int_eq(scn_add_group(n, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_add_resource(n, "g", NULL, NULL, 0, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_add_resource("x", n, NULL, NULL, 0, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_add_resource("x", "g", n, NULL, 0, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_online(n, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_offline(n, 0, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_remove_resource(n, CONTROL_FLAG_FORCE, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_set_props(n, SCN_PROPS({"OnlineDelay", "1"}), &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_remove_group(n, &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	}
	/* A type name that would leave the monitor directory. */
	ck_assert_int_eq(scn_add_resource("x", "g", "../test", NULL, 0, &rep), -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* Bad property keys. */
	ck_assert_int_lt(scn_set_props("r", SCN_PROPS({"", "1"}), &rep), 0);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_lt(scn_set_props("r", SCN_PROPS({"a/b", "1"}), &rep), 0);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* Taken names, in any case. */
	ck_assert_int_eq(scn_add_group("G", &rep), -EEXIST);
	scn_assert_error(&rep, CONTROL_ERROR_EXISTS, -EEXIST);
	ck_assert_int_eq(scn_add_resource("R", "g", NULL, NULL, 0, &rep), -EEXIST);
	scn_assert_error(&rep, CONTROL_ERROR_EXISTS, -EEXIST);

	scn_mark_assert_unchanged(mark);
	ck_assert_int_eq(hagent_shm_read_table(scn.shm, &t), 0);
	ck_assert_uint_eq(t->n_groups, 1);
	ck_assert_uint_eq(t->n_resources, 2);
	hagent_shm_table_free(t);
}
END_TEST

START_TEST(bad_unknown_objects)
{
	struct scn_reply rep;
	struct scn_mark mark;

	bad_input_setup();
	mark = scn_mark_take();

	ck_assert_int_eq(scn_online("nope", &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_offline("nope", 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_offline("nope", CONTROL_FLAG_FORCE, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_remove_resource("nope", 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_set_props("nope", SCN_PROPS({"OnlineDelay", "1"}), &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_remove_group("nope", &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_add_resource("x", "nogroup", NULL, NULL, 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_add_resource("x", "g", "nosuchtype", NULL, 0, &rep), -ENOENT);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_ptr_nonnull(strstr(rep.message, "nosuchtype"));
	/* A group with resources is not removed. */
	ck_assert_int_eq(scn_remove_group("g", &rep), -ENOTEMPTY);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_EMPTY, -ENOTEMPTY);
	/* A running resource is not removed without FORCE. */
	ck_assert_int_eq(scn_remove_resource("on", 0, &rep), -EBUSY);
	scn_assert_error(&rep, CONTROL_ERROR_RESOURCE_ONLINE, -EBUSY);

	scn_mark_assert_unchanged(mark);
	ck_assert_int_eq(scn_res("on").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(scn_res("r").state, HAGENT_RESOURCE_OFFLINE);
}
END_TEST

START_TEST(bad_flags)
{
	static const uint32_t flags[] = {2, 3, 0x80000000u, 0xffffffffu};
	struct scn_reply rep;
	struct scn_mark mark;
	sd_bus_message *m;

	bad_input_setup();
	mark = scn_mark_take();

	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		ck_assert_int_eq(scn_offline("on", flags[i], &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
		ck_assert_int_eq(scn_remove_resource("r", flags[i], &rep), -EINVAL);
		scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	}
	/* A call with the wrong signature is refused before it reaches the agent. */
	m = scn_method_new("OnlineResource");
	ck_assert_int_ge(sd_bus_message_append(m, "u", 7), 0);
	ck_assert_int_lt(scn_method_send(m, &rep, NULL), 0);
	ck_assert_str_ne(rep.error, "");

	scn_mark_assert_unchanged(mark);
	ck_assert_int_eq(scn_res("on").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(scn_res("r").state, HAGENT_RESOURCE_OFFLINE);
}
END_TEST

START_TEST(bad_duplicate_keys)
{
	struct scn_reply rep;
	struct scn_mark mark;

	bad_input_setup();
	mark = scn_mark_take();

	ck_assert_int_eq(
		scn_set_props("r", SCN_PROPS({"OnlineDelay", "1"}, {"OnlineDelay", "2"}), &rep),
		-EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* Common properties are matched case-insensitively. */
	ck_assert_int_eq(
		scn_set_props("r",
			      SCN_PROPS({"PendingTimeout", "1000"}, {"pendingtimeout", "2000"}),
			      &rep),
		-EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(scn_add_resource("x", "g", NULL,
					  SCN_PROPS({"OnlineDelay", "1"}, {"OnlineDelay", "1"}),
					  &rep),
			 -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	/* An empty value resets a key in a change; in a new resource it is an error. */
	ck_assert_int_eq(scn_add_resource("x", "g", NULL, SCN_PROPS({"OnlineDelay", ""}), &rep),
			 -EINVAL);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);

	scn_mark_assert_unchanged(mark);
	ck_assert(!scn_res_find("x", &(struct hagent_resource){}));
}
END_TEST

START_TEST(bad_out_of_range)
{
	static const struct {
		const char *key, *value;
		const char *error;
		int neg_errno;
	} cases[] = {
		{"PendingTimeout", "9", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"DeadlockTimeout", "999", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"LooksAlivePollInterval", "9", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"IsAlivePollInterval", "9", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"RestartPeriod", "0", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"RestartThreshold", "256", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"PendingTimeout", "4294967296", CONTROL_ERROR_OUT_OF_RANGE, -ERANGE},
		{"LooksAlivePollInterval", "0", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
		{"IsAlivePollInterval", "0", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
		{"RestartAction", "3", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
		{"RetryPeriodOnFailure", "1000", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
		{"PendingTimeout", "abc", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
		{"PendingTimeout", "-1", CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL},
	};
	_cleanup_free_ char *big = malloc(CONFIG_VALUE_MAX + 2);
	struct scn_reply rep;
	struct scn_mark mark;

	ck_assert_ptr_nonnull(big);
	memset(big, 'v', CONFIG_VALUE_MAX + 1);
	big[CONFIG_VALUE_MAX + 1] = '\0';
	bad_input_setup();
	mark = scn_mark_take();

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct config_prop p[] = {{cases[i].key, cases[i].value}};

		ck_assert_int_eq(scn_set_props("on", p, 1, &rep), cases[i].neg_errno);
		scn_assert_error(&rep, cases[i].error, cases[i].neg_errno);
		ck_assert_int_eq(scn_add_resource("x", "g", NULL, p, 1, &rep), cases[i].neg_errno);
		scn_assert_error(&rep, cases[i].error, cases[i].neg_errno);
	}
	ck_assert_int_eq(scn_set_props("r", SCN_PROPS({"Note", big}), &rep), -E2BIG);
	scn_assert_error(&rep, CONTROL_ERROR_TOO_BIG, -E2BIG);

	scn_mark_assert_unchanged(mark);
	ck_assert(!scn_res_find("x", &(struct hagent_resource){}));
	ck_assert_int_eq(scn_res("on").state, HAGENT_RESOURCE_ONLINE);
}
END_TEST

/*
 * A caller without full access (uid and gid 65534, no admin group): every
 * method is refused with AccessDenied and nothing changes.  Root only (the
 * test process must be able to drop to another uid).
 */
START_TEST(bad_access_denied)
{
	static const char *const methods[] = {"AddGroup", "RemoveGroup", "OnlineResource",
					      "OfflineResource", "RemoveResource"};
	struct scn_mark mark;
	char addr[160];
	pid_t pid;
	int status;

	bad_input_setup();
	mark = scn_mark_take();
	ck_assert_int_eq(chmod(base, 0755), 0); /* the socket's directory, for the other uid */
	snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* No Check asserts here: exit codes tell the parent what went wrong. */
		sd_bus *bus = NULL;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 ||
		    sd_bus_start(bus) < 0 || sd_bus_error_add_map(control_error_map) < 0)
			_exit(11);
		for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
			sd_bus_error err = SD_BUS_ERROR_NULL;
			sd_bus_message *reply = NULL;
			bool two = strcmp(methods[i], "OfflineResource") == 0 ||
				   strcmp(methods[i], "RemoveResource") == 0;
			const char *obj = strstr(methods[i], "Group") ? "g2" : "on";
			int r = two ? sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH,
							 CONTROL_INTERFACE, methods[i], &err,
							 &reply, "su", obj, CONTROL_FLAG_FORCE)
				    : sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH,
							 CONTROL_INTERFACE, methods[i], &err,
							 &reply, "s", obj);

			if (r != -EACCES ||
			    !sd_bus_error_has_name(&err, CONTROL_ERROR_ACCESS_DENIED))
				_exit(20 + (int) i);
			sd_bus_error_free(&err);
		}
		_exit(0);
	}
	status = pid_wait(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status 0x%x", status);
	scn_mark_assert_unchanged(mark);
	ck_assert_int_eq(scn_res("on").state, HAGENT_RESOURCE_ONLINE);
}
END_TEST

/* ---- the suite ---- */

struct scn_case {
	const char *name;
	const TTest *fn;
};

static Suite *suite(void)
{
	/* Cases that pass. */
	const struct scn_case cases[] = {
		{"s01_startup_mismatch_opens_nothing", s01_startup_mismatch_opens_nothing},
		{"s02_open_ok_offline", s02_open_ok_offline},
		{"s03_open_fails_no_close", s03_open_fails_no_close},
		{"s05_online_pending_before_reply", s05_online_pending_before_reply},
		{"s06_progress_keeps_pending", s06_progress_keeps_pending},
		{"s07_stale_checkpoint_ignored", s07_stale_checkpoint_ignored},
		{"s08_pending_timeout_terminates_once", s08_pending_timeout_terminates_once},
		{"s09_deadlock_timeout_caps_pending", s09_deadlock_timeout_caps_pending},
		{"s10_event_fd_no_looks_alive", s10_event_fd_no_looks_alive},
		{"s11_wrong_report_rejected", s11_wrong_report_rejected},
		{"s12_report_failed_terminates", s12_report_failed_terminates},
		{"s13_stray_report_while_online", s13_stray_report_while_online},
		{"s14_closed_resource_reports_nothing", s14_closed_resource_reports_nothing},
		{"s15_force_offline_pending", s15_force_offline_pending},
		{"s16_double_terminate", s16_double_terminate},
		{"s17_online_access_denied", s17_online_access_denied},
		{"s18_online_not_available", s18_online_not_available},
		{"s19_offline_pending_then_offline", s19_offline_pending_then_offline},
		{"s20_offline_pending_timeout", s20_offline_pending_timeout},
		{"bad_names", bad_names},
		{"bad_unknown_objects", bad_unknown_objects},
		{"bad_flags", bad_flags},
		{"bad_duplicate_keys", bad_duplicate_keys},
		{"bad_out_of_range", bad_out_of_range},
		{"s04_online_sync_one_event", s04_online_sync_one_event},
	};
	Suite *s = suite_create("scenarios-pending");

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		scn_tcase_add(s, cases[i].name, cases[i].fn, 30);
	if (geteuid() == 0)
		scn_tcase_add(s, "bad_access_denied", bad_access_denied, 30);
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR"))
		return 77;
	return test_run_suite(suite());
}
