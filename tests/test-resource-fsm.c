/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource state machine (agent/resource-fsm*.c).  One table row per
 * transition T1-T28 of semantics.md §2.3 and per row of the §3.3 acceptance
 * table: from a prepared state, one event; the new state, the state_seq
 * change, the verdict, the exit state and the exact action list (with the
 * admin reply) are checked.  Then the rules that need several steps
 * (timeouts, probe cadence, restarts, deletion, monitor loss), property
 * validation, and a seeded random walk that checks the invariants.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "fsm-harness.h"
#include "test-util.h"

/* ---- prepared states (each from a fresh state machine with default properties) ---- */

static void setup_none(struct harness *h)
{
	(void) h;
}

static void setup_opening(struct harness *h)
{
	h_request(h, RES_EV_START);
}

static void setup_open_failed(struct harness *h)
{
	setup_opening(h);
	h_done(h, TR, S_FAIL, -ENOENT);
}

static void setup_offline(struct harness *h)
{
	setup_opening(h);
	h_done(h, TR, S_OFF, 0);
}

static void setup_op(struct harness *h)
{
	setup_offline(h);
	h_request(h, RES_EV_REQ_ONLINE);
	h_step(h, ev_answer(h, RES_EV_ACCEPTED, TR, 0, 0));
}

static void setup_op_progress(struct harness *h)
{
	setup_op(h);
	h_advance(h, 1000);
	h_progress(h, S_OP, 5);
}

static void setup_online(struct harness *h)
{
	setup_op(h);
	h_done(h, TR, S_ON, 0);
}

static void setup_online_fd(struct harness *h)
{
	struct res_event ev;

	setup_op(h);
	ev = ev_answer(h, RES_EV_DONE, TR, S_ON, 0);
	ev.failure_fd = true;
	h_step(h, ev);
}

static void setup_fp(struct harness *h)
{
	setup_online(h);
	h_request(h, RES_EV_REQ_OFFLINE);
}

static void setup_fp_progress(struct harness *h)
{
	setup_fp(h);
	h_advance(h, 1000);
	h_progress(h, S_FP, 3);
}

static void setup_failed(struct harness *h)
{
	setup_op(h);
	h_done(h, TR, S_FAIL, -EIO); /* T6: TERMINATE outstanding, restart armed */
}

static void setup_failed_clean(struct harness *h)
{
	setup_failed(h);
	h_done(h, TERM, 0, 0);
}

static void setup_la(struct harness *h)
{
	setup_online(h);
	h_timer(h, RES_TIMER_LOOKS_ALIVE);
}

static void setup_ia_after_la(struct harness *h)
{
	setup_la(h);
	h_done(h, LAC, 0, 0);
}

static void setup_ia(struct harness *h)
{
	setup_online(h);
	h_timer(h, RES_TIMER_IS_ALIVE);
}

static void setup_signalled(struct harness *h)
{
	setup_online_fd(h);
	h_request(h, RES_EV_FAILURE);
}

static void setup_timed_out(struct harness *h)
{
	setup_op(h);
	h_timer(h, RES_TIMER_PENDING);
}

static void setup_admin_terminated(struct harness *h)
{
	setup_op_progress(h);
	h_request(h, RES_EV_REQ_TERMINATE);
}

static void setup_la_terminated(struct harness *h)
{
	setup_la(h);
	h_request(h, RES_EV_REQ_TERMINATE);
}

static void setup_closing(struct harness *h)
{
	setup_offline(h);
	h_request(h, RES_EV_REQ_DELETE);
}

static void setup_removed(struct harness *h)
{
	setup_closing(h);
	h_done(h, TR, S_OFF, 0);
}

/* ---- the table ---- */

struct row {
	const char *name;
	void (*setup)(struct harness *h);
	struct res_event ev; /* answers get the outstanding cmd_id of their class */
	bool stale_id;	     /* ... or one that was never bound */
	int32_t state;
	uint32_t seq_delta;
	enum res_verdict verdict;
	enum res_exit exit;
	const char *actions;
};

/* Events for the table (clang-format breaks brace-initializer macros into four lines). */
/* clang-format off */
#define EV(k)		 { .kind = RES_EV_##k }
#define ANS(k, c, s, rc) { .kind = RES_EV_##k, .cls = (c), .state = (s), .code = (rc) }
#define PROG(s, cp)	 { .kind = RES_EV_PROGRESS, .cls = TR, .state = (s), .checkpoint = (cp) }
#define TIMER(t)	 { .kind = RES_EV_TIMER, .timer = RES_TIMER_##t }
#define GONE(k, gen)	 { .kind = RES_EV_MONITOR_##k, .monitor_gen = (gen) }
#define ON_FD		 { .kind = RES_EV_DONE, .cls = TR, .state = S_ON, .failure_fd = true }
/* clang-format on */
#define APPLIED RES_V_APPLIED
#define CONT	RES_EXIT_CONTINUE
#define TERMX	RES_EXIT_TERMINATE
#define A_FAIL_OP_TERMINATE                                                                        \
	"publish(online-pending->failed,+1) post(terminate,terminate,+300000) "                    \
	"policy(restart,+500,1) cancel(pending) set(terminate,+300000) "                           \
	"set(restart,+500)"
#define A_FAIL_FP_TERMINATE                                                                        \
	"publish(offline-pending->failed,+1) "                                                     \
	"post(terminate,terminate,+300000) cancel(pending) set(terminate,+300000)"
#define A_FAIL_PROBE                                                                               \
	"publish(online->failed,+1) post(terminate,terminate,+300000) "                            \
	"policy(restart,+500,1) set(terminate,+300000) cancel(looks-alive) "                       \
	"cancel(is-alive) cancel(probe) set(restart,+500)"
#define A_OP_ONLINE                                                                                \
	"publish(online-pending->online,+1) cancel(pending) "                                      \
	"set(looks-alive,+5000) set(is-alive,+60000)"
#define A_PROGRESS "refresh set(pending,+180000)"
#define A_BUSY	   "reply(-16,5023)"
#define A_PENDING  "reply(-115,997)"

static const struct row rows[] = {
	/* ---- §2.3 ---- */
	{"T1 start: Initializing, monitor started, OPEN posted", setup_none, EV(START), false,
	 S_INIT, 0, APPLIED, CONT,
	 "start-monitor(1) post(transition,open,+300000) set(pending,+300000)"},
	{"T2 open ok: Offline", setup_opening, ANS(DONE, TR, S_OFF, 0), false, S_OFF, 1, APPLIED,
	 CONT, "publish(initializing->offline,+1) cancel(pending)"},
	{"T3 open failed: Failed", setup_opening, ANS(DONE, TR, S_FAIL, -ENOENT), false, S_FAIL, 1,
	 APPLIED, CONT, "publish(initializing->failed,+1) cancel(pending)"},
	{"T4 online done without progress: Online", setup_op, ANS(DONE, TR, S_ON, 0), false, S_ON,
	 1, APPLIED, CONT, A_OP_ONLINE},
	{"T4 online request from Failed", setup_failed_clean, EV(REQ_ONLINE), false, S_OP, 1,
	 APPLIED, CONT,
	 "publish(failed->online-pending,+1) post(transition,online,+180000) "
	 "set(pending,+180000) cancel(restart) " A_PENDING},
	{"T4 online request while Initializing waits for OPEN", setup_opening, EV(REQ_ONLINE),
	 false, S_INIT, 0, APPLIED, CONT, A_PENDING},
	{"T5 online request: OnlinePending, ONLINE posted", setup_offline, EV(REQ_ONLINE), false,
	 S_OP, 1, APPLIED, CONT,
	 "publish(offline->online-pending,+1) post(transition,online,+180000) "
	 "set(pending,+180000) " A_PENDING},
	{"T5 ACCEPTED changes nothing", setup_op, ANS(ACCEPTED, TR, 0, 0), false, S_OP, 0, APPLIED,
	 CONT, ""},
	{"T6 online failed without progress: Failed, terminate", setup_op,
	 ANS(DONE, TR, S_FAIL, -EACCES), false, S_FAIL, 1, APPLIED, TERMX, A_FAIL_OP_TERMINATE},
	{"T7 progress: deadline reset, no sequence", setup_op_progress, PROG(S_OP, 6), false, S_OP,
	 0, APPLIED, CONT, A_PROGRESS},
	{"T8 online report with failure fd: no looks_alive", setup_op_progress, ON_FD, false, S_ON,
	 1, APPLIED, CONT,
	 "publish(online-pending->online,+1) cancel(pending) set(is-alive,+60000)"},
	{"T9 failed report: Failed, terminate", setup_op_progress, ANS(DONE, TR, S_FAIL, 0), false,
	 S_FAIL, 1, APPLIED, TERMX, A_FAIL_OP_TERMINATE},
	{"T10 pending timeout: Failed, terminate", setup_op, TIMER(PENDING), false, S_FAIL, 1,
	 APPLIED, CONT,
	 "publish(online-pending->failed,+1) post(terminate,terminate,+300000) "
	 "policy(restart,+500,1) set(terminate,+300000) set(restart,+500)"},
	{"T11 admin terminate of OnlinePending: Offline", setup_op_progress, EV(REQ_TERMINATE),
	 false, S_OFF, 1, APPLIED, CONT,
	 "publish(online-pending->offline,+1) post(terminate,terminate,+300000) "
	 "cancel(pending) set(terminate,+300000) reply(0,0)"},
	{"T11 admin terminate of Online: Offline", setup_online, EV(REQ_TERMINATE), false, S_OFF, 1,
	 APPLIED, CONT,
	 "publish(online->offline,+1) post(terminate,terminate,+300000) set(terminate,+300000) "
	 "cancel(looks-alive) cancel(is-alive) reply(0,0)"},
	{"T12 offline done without progress: Offline", setup_fp, ANS(DONE, TR, S_OFF, 0), false,
	 S_OFF, 1, APPLIED, CONT, "publish(offline-pending->offline,+1) cancel(pending)"},
	{"T13 offline request: OfflinePending, polls stop", setup_online, EV(REQ_OFFLINE), false,
	 S_FP, 1, APPLIED, CONT,
	 "publish(online->offline-pending,+1) post(transition,offline,+180000) "
	 "set(pending,+180000) cancel(looks-alive) cancel(is-alive) " A_PENDING},
	{"T14 offline failed: Failed, terminate, no restart", setup_fp, ANS(DONE, TR, S_FAIL, -EIO),
	 false, S_FAIL, 1, APPLIED, TERMX, A_FAIL_FP_TERMINATE},
	{"T15 offline progress", setup_fp_progress, PROG(S_FP, 4), false, S_FP, 0, APPLIED, CONT,
	 A_PROGRESS},
	{"T16 offline report: Offline", setup_fp_progress, ANS(DONE, TR, S_OFF, 0), false, S_OFF, 1,
	 APPLIED, CONT, "publish(offline-pending->offline,+1) cancel(pending)"},
	{"T17 offline failed report: Failed", setup_fp_progress, ANS(DONE, TR, S_FAIL, -EIO), false,
	 S_FAIL, 1, APPLIED, TERMX, A_FAIL_FP_TERMINATE},
	{"T17 offline pending timeout: Failed", setup_fp, TIMER(PENDING), false, S_FAIL, 1, APPLIED,
	 CONT,
	 "publish(offline-pending->failed,+1) post(terminate,terminate,+300000) "
	 "set(terminate,+300000)"},
	{"T18 looks_alive false: is_alive at once", setup_la, ANS(DONE, LAC, 0, 0), false, S_ON, 0,
	 APPLIED, CONT, "post(is-alive,is-alive,+300000) set(probe,+300000)"},
	{"T18 then is_alive false: Failed", setup_ia_after_la, ANS(DONE, IAC, 0, 0), false, S_FAIL,
	 1, APPLIED, CONT, A_FAIL_PROBE},
	{"T19 is_alive poll", setup_online, TIMER(IS_ALIVE), false, S_ON, 0, APPLIED, CONT,
	 "post(is-alive,is-alive,+300000) set(is-alive,+60000) set(probe,+300000)"},
	{"T19 is_alive false: Failed", setup_ia, ANS(DONE, IAC, 0, 0), false, S_FAIL, 1, APPLIED,
	 CONT, A_FAIL_PROBE},
	{"T20 failure signal: is_alive at once", setup_online_fd, EV(FAILURE), false, S_ON, 0,
	 APPLIED, CONT, "post(is-alive,is-alive,+300000) set(probe,+300000)"},
	{"T20 confirmed: Failed", setup_signalled, ANS(DONE, IAC, 0, 0), false, S_FAIL, 1, APPLIED,
	 CONT,
	 "publish(online->failed,+1) post(terminate,terminate,+300000) "
	 "policy(restart,+500,1) set(terminate,+300000) cancel(is-alive) cancel(probe) "
	 "set(restart,+500)"},
	{"T20 spurious: stays Online", setup_signalled, ANS(DONE, IAC, 0, 1), false, S_ON, 0,
	 APPLIED, CONT, "cancel(probe)"},
	{"T21 looks_alive true", setup_la, ANS(DONE, LAC, 0, 1), false, S_ON, 0, APPLIED, CONT,
	 "cancel(probe)"},
	{"T21 is_alive true", setup_ia, ANS(DONE, IAC, 0, 1), false, S_ON, 0, APPLIED, CONT,
	 "cancel(probe)"},
	{"T22 restart after RestartDelay", setup_failed_clean, TIMER(RESTART), false, S_OP, 1,
	 APPLIED, CONT,
	 "publish(failed->online-pending,+1) post(transition,online,+180000) "
	 "set(pending,+180000)"},
	{"T22 restart waits for TERMINATE", setup_failed, TIMER(RESTART), false, S_OP, 1, APPLIED,
	 CONT, "publish(failed->online-pending,+1) set(pending,+180000)"},
	{"T23 offline request on Failed: stays Failed, no restart", setup_failed_clean,
	 EV(REQ_OFFLINE), false, S_FAIL, 0, APPLIED, CONT, "cancel(restart) reply(-5,5038)"},
	{"T24 offline request on Offline", setup_offline, EV(REQ_OFFLINE), false, S_OFF, 0, APPLIED,
	 CONT, "reply(0,0)"},
	{"T25 online request on Online", setup_online, EV(REQ_ONLINE), false, S_ON, 0, APPLIED,
	 CONT, "reply(0,0)"},
	{"T26 online request on OnlinePending", setup_op, EV(REQ_ONLINE), false, S_OP, 0, APPLIED,
	 CONT, A_BUSY},
	{"T26 offline request on OnlinePending", setup_op, EV(REQ_OFFLINE), false, S_OP, 0, APPLIED,
	 CONT, A_BUSY},
	{"T26 online request on OfflinePending", setup_fp, EV(REQ_ONLINE), false, S_FP, 0, APPLIED,
	 CONT, A_BUSY},
	{"T26 offline request on OfflinePending", setup_fp, EV(REQ_OFFLINE), false, S_FP, 0,
	 APPLIED, CONT, A_BUSY},
	{"T27 delete Offline: CLOSE", setup_offline, EV(REQ_DELETE), false, S_OFF, 0, APPLIED, CONT,
	 "post(transition,close,+300000) set(pending,+300000) " A_PENDING},
	{"T27 delete Online: terminate first, Offline", setup_online, EV(REQ_DELETE), false, S_OFF,
	 1, APPLIED, CONT,
	 "publish(online->offline,+1) post(terminate,terminate,+300000) set(pending,+300000) "
	 "set(terminate,+300000) cancel(looks-alive) cancel(is-alive) " A_PENDING},
	{"T27 CLOSE done: removed", setup_closing, ANS(DONE, TR, S_OFF, 0), false, S_OFF, 0,
	 APPLIED, CONT, "removed cancel(pending)"},
	{"T28 monitor died while OnlinePending", setup_op, GONE(DIED, 1), false, S_FAIL, 1, APPLIED,
	 CONT,
	 "publish(online-pending->failed,+1) policy(restart,+500,1) cancel(pending) "
	 "set(restart,+500)"},
	{"T28 monitor hung while Online: killed", setup_online, GONE(HUNG, 1), false, S_FAIL, 1,
	 APPLIED, CONT,
	 "kill-monitor(1) publish(online->failed,+1) policy(restart,+500,1) "
	 "cancel(looks-alive) cancel(is-alive) set(restart,+500)"},

	/* ---- §3.3, in the order of its table ---- */
	{"3.3 OP/OP cp > last: accept", setup_op_progress, PROG(S_OP, 6), false, S_OP, 0, APPLIED,
	 CONT, A_PROGRESS},
	{"3.3 first report of an operation: any cp is new", setup_op, PROG(S_OP, 0), false, S_OP, 0,
	 APPLIED, CONT, A_PROGRESS},
	{"3.3 OP/OP cp = last: ignored", setup_op_progress, PROG(S_OP, 5), false, S_OP, 0,
	 RES_V_IGNORED, CONT, ""},
	{"3.3 OP/OP cp < last: ignored", setup_op_progress, PROG(S_OP, 4), false, S_OP, 0,
	 RES_V_IGNORED, CONT, ""},
	{"3.3 OP/Online: accept", setup_op_progress, ANS(DONE, TR, S_ON, 0), false, S_ON, 1,
	 APPLIED, CONT, A_OP_ONLINE},
	{"3.3 OP/Failed: terminate", setup_op_progress, ANS(DONE, TR, S_FAIL, 0), false, S_FAIL, 1,
	 APPLIED, TERMX, A_FAIL_OP_TERMINATE},
	{"3.3 OP/Offline: reject", setup_op_progress, ANS(DONE, TR, S_OFF, 0), false, S_OP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 OP/OfflinePending: reject", setup_op_progress, PROG(S_FP, 9), false, S_OP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 OP/Initializing: reject", setup_op_progress, ANS(DONE, TR, S_INIT, 0), false, S_OP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 OP/Unknown: reject", setup_op_progress, PROG(-1, 9), false, S_OP, 0, RES_V_REJECTED,
	 CONT, ""},
	{"3.3 OP/garbage: reject", setup_op_progress, ANS(DONE, TR, 12345, 0), false, S_OP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 OP/pending state as DONE: reject", setup_op_progress, ANS(DONE, TR, S_OP, 0), false,
	 S_OP, 0, RES_V_REJECTED, CONT, ""},
	{"3.3 FP/FP cp > last: accept", setup_fp_progress, PROG(S_FP, 4), false, S_FP, 0, APPLIED,
	 CONT, A_PROGRESS},
	{"3.3 FP/FP cp <= last: ignored", setup_fp_progress, PROG(S_FP, 3), false, S_FP, 0,
	 RES_V_IGNORED, CONT, ""},
	{"3.3 FP/Offline: accept", setup_fp_progress, ANS(DONE, TR, S_OFF, 0), false, S_OFF, 1,
	 APPLIED, CONT, "publish(offline-pending->offline,+1) cancel(pending)"},
	{"3.3 FP/Failed: terminate", setup_fp_progress, ANS(DONE, TR, S_FAIL, 0), false, S_FAIL, 1,
	 APPLIED, TERMX, A_FAIL_FP_TERMINATE},
	{"3.3 FP/Online: reject", setup_fp_progress, ANS(DONE, TR, S_ON, 0), false, S_FP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 FP/OnlinePending: reject", setup_fp_progress, PROG(S_OP, 9), false, S_FP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 FP/Unknown: reject", setup_fp_progress, ANS(DONE, TR, -1, 0), false, S_FP, 0,
	 RES_V_REJECTED, CONT, ""},
	{"3.3 Online, no pending op: reject, terminate", setup_online, PROG(S_OP, 9), false, S_ON,
	 0, RES_V_REJECTED, TERMX, ""},
	{"3.3 Online, a second DONE: reject, terminate", setup_online, ANS(DONE, TR, S_ON, 0),
	 false, S_ON, 0, RES_V_REJECTED, TERMX, ""},
	{"3.3 Offline, no pending op: reject, terminate", setup_offline, PROG(S_FP, 1), false,
	 S_OFF, 0, RES_V_REJECTED, TERMX, ""},
	{"3.3 Failed, no pending op: reject, terminate", setup_open_failed, PROG(S_OP, 1), false,
	 S_FAIL, 0, RES_V_REJECTED, TERMX, ""},
	{"3.3 Initializing, no pending op: reject, terminate", setup_opening, PROG(S_INIT, 1),
	 false, S_INIT, 0, RES_V_REJECTED, TERMX, ""},
	{"3.3 after a timeout terminate: ignored, terminate", setup_timed_out, PROG(S_OP, 9), false,
	 S_FAIL, 0, RES_V_DISCARDED, TERMX, ""},
	{"3.3 after a timeout terminate, Online: ignored", setup_timed_out, ANS(DONE, TR, S_ON, 0),
	 false, S_FAIL, 0, RES_V_DISCARDED, TERMX, ""},
	{"3.3 after an admin terminate: ignored, terminate", setup_admin_terminated, PROG(S_OP, 9),
	 false, S_OFF, 0, RES_V_DISCARDED, TERMX, ""},
	{"3.3 probe after terminate: discarded", setup_la_terminated, ANS(DONE, LAC, 0, 0), false,
	 S_OFF, 0, RES_V_DISCARDED, CONT, ""},
	{"3.3 unknown command id: ignored, terminate", setup_op_progress, PROG(S_OP, 9), true, S_OP,
	 0, RES_V_STALE, TERMX, ""},
	{"3.3 closed resource: ignored, terminate", setup_removed, PROG(S_OP, 9), true, S_OFF, 0,
	 RES_V_STALE, TERMX, ""},
};

START_TEST(test_row)
{
	const struct row *row = &rows[_i];
	struct res_event ev = row->ev;
	struct harness h;
	char got[1024];

	h_init(&h);
	row->setup(&h);
	if (ev.kind == RES_EV_ACCEPTED || ev.kind == RES_EV_PROGRESS || ev.kind == RES_EV_DONE)
		ev.cmd_id = row->stale_id ? 7 : h.f.cmd_id[ev.cls];
	if (ev.kind == RES_EV_TIMER)
		h_timer(&h, ev.timer);
	else {
		h_advance(&h, 1000);
		h_step(&h, ev);
	}

	h_actions(&h, got, sizeof(got));
	ck_assert_msg(strcmp(got, row->actions) == 0, "%s: actions\n  got:  %s\n  want: %s",
		      row->name, got, row->actions);
	ck_assert_msg(h.f.state == row->state, "%s: state %s, want %s", row->name,
		      res_state_to_string(h.f.state), res_state_to_string(row->state));
	ck_assert_msg(h.f.state_seq - h.seq_before == row->seq_delta, "%s: state_seq +%u, want +%u",
		      row->name, h.f.state_seq - h.seq_before, row->seq_delta);
	ck_assert_msg(h.out.verdict == row->verdict, "%s: verdict %s, want %s", row->name,
		      res_verdict_to_string(h.out.verdict), res_verdict_to_string(row->verdict));
	ck_assert_msg(h.out.exit == row->exit, "%s: exit %d, want %d", row->name, h.out.exit,
		      row->exit);
}
END_TEST

/* ---- properties ---- */

static const struct {
	const char *key;
	uint32_t value;
	int error;
} bad_props[] = {
	{"PendingTimeout", 9, -ERANGE},
	{"PendingTimeout", 0, -ERANGE},
	{"DeadlockTimeout", 999, -ERANGE},
	{"LooksAlivePollInterval", 0, -EINVAL},
	{"LooksAlivePollInterval", 9, -ERANGE},
	{"IsAlivePollInterval", 0, -EINVAL},
	{"IsAlivePollInterval", 5, -ERANGE},
	{"RestartAction", 3, -EINVAL},
	{"RestartThreshold", RES_RESTART_THRESHOLD_MAX + 1, -ERANGE},
	{"RestartPeriod", 0, -ERANGE},
	{"RetryPeriodOnFailure", 899999, -EINVAL}, /* below RestartPeriod */
	{"RetryPeriodOnFailure", 0, -EINVAL},
};

START_TEST(test_props_bad)
{
	struct res_props p;
	struct res_fsm f;
	const char *key = NULL;

	res_props_init(&p);
	ck_assert_int_eq(res_props_set(&p, bad_props[_i].key, bad_props[_i].value), 0);
	ck_assert_int_eq(res_props_validate(&p, &key), bad_props[_i].error);
	ck_assert_ptr_nonnull(key);
	ck_assert_str_eq(key, bad_props[_i].key);

	key = NULL;
	ck_assert_int_eq(res_fsm_init(&f, &p, &key), bad_props[_i].error);
	ck_assert_str_eq(key, bad_props[_i].key);
	ck_assert_int_eq(res_props_validate(&p, NULL), bad_props[_i].error);
}
END_TEST

START_TEST(test_props_good)
{
	struct res_props p, q;
	const char *key = "untouched";

	res_props_init(&p);
	ck_assert_uint_eq(p.pending_timeout_ms, 180000);
	ck_assert_uint_eq(p.deadlock_timeout_ms, 300000);
	ck_assert_uint_eq(p.looks_alive_ms, 5000);
	ck_assert_uint_eq(p.is_alive_ms, 60000);
	ck_assert_uint_eq(p.restart_action, 2);
	ck_assert_uint_eq(p.restart_threshold, 3);
	ck_assert_uint_eq(p.restart_period_ms, 900000);
	ck_assert_uint_eq(p.restart_delay_ms, 500);
	ck_assert_uint_eq(p.retry_period_ms, 3600000);
	ck_assert_int_eq(res_props_validate(&p, &key), 0);
	ck_assert_str_eq(key, "untouched");

	/* Minimums, maximums, "never", PendingTimeout above DeadlockTimeout. */
	ck_assert_int_eq(res_props_set(&p, "pendingtimeout", 10), 0); /* case-insensitive */
	ck_assert_int_eq(res_props_set(&p, "DeadlockTimeout", 1000), 0);
	ck_assert_int_eq(res_props_set(&p, "LooksAlivePollInterval", 10), 0);
	ck_assert_int_eq(res_props_set(&p, "IsAlivePollInterval", 10), 0);
	ck_assert_int_eq(res_props_set(&p, "RestartThreshold", RES_RESTART_THRESHOLD_MAX), 0);
	ck_assert_int_eq(res_props_set(&p, "RestartDelay", 0), 0);
	ck_assert_int_eq(res_props_set(&p, "RetryPeriodOnFailure", RES_RETRY_NEVER), 0);
	ck_assert_int_eq(res_props_validate(&p, NULL), 0);
	ck_assert_int_eq(res_props_set(&p, "PendingTimeout", 60000), 0);
	ck_assert_int_eq(res_props_set(&p, "DeadlockTimeout", 30000), 0);
	ck_assert_int_eq(res_props_validate(&p, NULL), 0);
	ck_assert_uint_eq(res_props_pending_timeout_ns(&p), MS(30000));

	q = p;
	ck_assert_int_eq(res_props_set(&p, "Bogus", 1), -ENOENT);
	ck_assert_int_eq(memcmp(&p, &q, sizeof(p)), 0);
	ck_assert_uint_eq(res_after_ms(UINT64_MAX - 5, 1), UINT64_MAX);
}
END_TEST

/* ---- timeouts ---- */

/* Scenario 9: PendingTimeout 60000 and DeadlockTimeout 30000: 30 s of silence is the limit. */
START_TEST(test_effective_timeout)
{
	struct res_props p;
	struct harness h;

	res_props_init(&p);
	p.pending_timeout_ms = 60000;
	p.deadlock_timeout_ms = 30000;
	h_init_props(&h, &p);
	setup_offline(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_actions(&h, "publish(offline->online-pending,+1) post(transition,online,+30000) "
		       "set(pending,+30000) reply(-115,997)");
	h_advance(&h, 29999);
	h_step(&h, (struct res_event){.kind = RES_EV_TIMER, .timer = RES_TIMER_PENDING});
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED); /* not due yet */
	ck_assert_int_eq(h.f.state, S_OP);
	h_timer(&h, RES_TIMER_PENDING);
	ck_assert_uint_eq(h.now, T0 + MS(30000));
	ck_assert_int_eq(h.f.state, S_FAIL);
	ck_assert_int_eq(h.f.fail_cause, RES_FAIL_TIMEOUT);
	ck_assert_int_eq(h.f.last_error, -ETIMEDOUT);

	/* The smaller one wins the other way round too. */
	p.pending_timeout_ms = 20000;
	h_init_props(&h, &p);
	setup_offline(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_PENDING], T0 + MS(20000));
}
END_TEST

/* Scenario 7: a checkpoint that does not increase neither counts nor moves the deadline. */
START_TEST(test_checkpoint_keeps_deadline)
{
	struct harness h;
	uint64_t deadline;

	h_init(&h);
	setup_op(&h);
	h_advance(&h, 1000);
	h_progress(&h, S_OP, 5);
	deadline = h.f.timer_at[RES_TIMER_PENDING];
	ck_assert_uint_eq(deadline, T0 + MS(1000 + P_MS));
	ck_assert_uint_eq(h.f.checkpoint, 5);
	ck_assert_uint_eq(h.f.wait_hint_ms, 50);

	h_advance(&h, 100000);
	h_progress(&h, S_OP, 5);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	h_advance(&h, 1000);
	h_progress(&h, S_OP, 4);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_PENDING], deadline);
	ck_assert_uint_eq(h.f.checkpoint, 5);

	h_timer(&h, RES_TIMER_PENDING);
	ck_assert_uint_eq(h.now, deadline);
	ck_assert_int_eq(h.f.state, S_FAIL);
}
END_TEST

/* Scenario 6: a worker that keeps reporting stays pending far past PendingTimeout. */
START_TEST(test_progress_keeps_pending)
{
	struct harness h;

	h_init(&h);
	setup_op(&h);
	for (uint32_t cp = 1; cp <= 10; cp++) {
		h_advance(&h, P_MS - 1);
		ck_assert_uint_gt(h.f.timer_at[RES_TIMER_PENDING], h.now);
		h_progress(&h, S_OP, cp);
		ck_assert_int_eq(h.out.verdict, RES_V_APPLIED);
		ck_assert_uint_eq(h.f.timer_at[RES_TIMER_PENDING], h.now + MS(P_MS));
	}
	ck_assert_int_eq(h.f.state, S_OP);
	ck_assert_uint_gt(h.now - T0, MS(3 * P_MS));
	h_done(&h, TR, S_ON, 0);
	ck_assert_int_eq(h.f.state, S_ON);

	/* The next operation starts from "none" again. */
	h_request(&h, RES_EV_REQ_OFFLINE);
	ck_assert(!h.f.has_checkpoint);
	h_progress(&h, S_FP, 0);
	ck_assert_int_eq(h.out.verdict, RES_V_APPLIED);
}
END_TEST

/* ---- health checks ---- */

START_TEST(test_probe_cadence)
{
	struct harness h;
	uint64_t online_at;

	h_init(&h);
	setup_online(&h);
	online_at = h.now;

	h_timer(&h, RES_TIMER_LOOKS_ALIVE);
	ck_assert_uint_eq(h.now, online_at + MS(LA_MS));
	ck_actions(&h, "post(looks-alive,looks-alive,+300000) set(looks-alive,+5000) "
		       "set(probe,+300000)");
	h_done(&h, LAC, 0, 1);

	/* The next tick finds the probe still running: skipped, not queued. */
	h_timer(&h, RES_TIMER_LOOKS_ALIVE);
	ck_assert_uint_eq(h.now, online_at + MS(2 * LA_MS));
	h_timer(&h, RES_TIMER_LOOKS_ALIVE);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	ck_actions(&h, "set(looks-alive,+5000)");

	/* An is_alive tick during a looks_alive runs right after it. */
	h_timer(&h, RES_TIMER_IS_ALIVE);
	ck_assert_uint_eq(h.now, online_at + MS(IA_MS));
	ck_actions(&h, "set(is-alive,+60000)");
	ck_assert(h.f.is_alive_due);
	h_done(&h, LAC, 0, 1);
	ck_actions(&h, "post(is-alive,is-alive,+300000) set(probe,+300000)");
	h_done(&h, IAC, 0, 1);
	ck_actions(&h, "cancel(probe)");
	ck_assert_int_eq(h.f.state, S_ON);
	ck_assert_uint_eq(h.f.state_seq,
			  4); /* 1, Offline, OnlinePending, Online: probes add none */
}
END_TEST

START_TEST(test_failure_fd_and_signal)
{
	struct harness h;

	h_init(&h);
	setup_online_fd(&h);
	ck_assert(h.f.failure_fd);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_LOOKS_ALIVE], 0);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_IS_ALIVE], 0); /* cannot be switched off */

	/* A signal while is_alive runs: that answer is too old, check once more. */
	h_timer(&h, RES_TIMER_IS_ALIVE);
	h_request(&h, RES_EV_FAILURE);
	ck_actions(&h, "");
	h_request(&h, RES_EV_FAILURE);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED); /* already being verified */
	h_advance(&h, 20);
	h_done(&h, IAC, 0, 1);
	ck_actions(&h, "post(is-alive,is-alive,+300000) set(probe,+300000)");
	ck_assert_uint_eq(h.f.stats.spurious_failures, 0);
	h_done(&h, IAC, 0, 1);
	ck_assert_uint_eq(h.f.stats.spurious_failures, 1);
	ck_assert_int_eq(h.f.state, S_ON);

	/* An is_alive error counts as "not alive". */
	h_request(&h, RES_EV_FAILURE);
	h_done(&h, IAC, 0, -EIO);
	ck_assert_int_eq(h.f.state, S_FAIL);
	ck_assert_int_eq(h.f.fail_cause, RES_FAIL_PROBE);
	ck_assert(!h.f.failure_fd);

	/* The failure fd is forgotten on Offline too. */
	h_init(&h);
	setup_online_fd(&h);
	h_request(&h, RES_EV_REQ_OFFLINE);
	h_done(&h, TR, S_OFF, 0);
	ck_assert(!h.f.failure_fd);
}
END_TEST

/* §4.1: no probes while pending; an answer arriving after Online was left is discarded. */
START_TEST(test_no_probes_while_pending)
{
	struct harness h;

	h_init(&h);
	setup_la(&h);
	h_request(&h, RES_EV_REQ_OFFLINE);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_LOOKS_ALIVE], 0);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_IS_ALIVE], 0);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_PROBE], 0);
	h_done(&h, LAC, 0, 0);
	ck_assert_int_eq(h.out.verdict, RES_V_DISCARDED);
	ck_actions(&h, "");
	h_request(&h, RES_EV_FAILURE);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	ck_actions(&h, "");
	ck_assert_int_eq(h.f.state, S_FP);

	/* Nor during OnlinePending. */
	h_init(&h);
	setup_op(&h);
	h_request(&h, RES_EV_FAILURE);
	ck_actions(&h, "");
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_LOOKS_ALIVE], 0);
}
END_TEST

/* ---- sequences ---- */

/* An Online request on Initializing goes through Offline first (two changes, two events). */
START_TEST(test_online_from_initializing)
{
	struct harness h;

	h_init(&h);
	h_request(&h, RES_EV_REQ_ONLINE); /* before the monitor exists */
	ck_actions(&h, "reply(-115,997)");
	h_request(&h, RES_EV_START);
	h_advance(&h, 10);
	h_done(&h, TR, S_OFF, 0);
	ck_actions(&h, "publish(initializing->offline,+1) publish(offline->online-pending,+2) "
		       "post(transition,online,+180000) set(pending,+180000)");
	ck_assert_uint_eq(h.f.state_seq, 3);
	ck_assert(h.f.target_online);
}
END_TEST

/* Terminate and transition commands never overlap: an Online waits for TERMINATE to be done. */
START_TEST(test_online_waits_for_terminate)
{
	struct harness h;

	h_init(&h);
	setup_online(&h);
	h_request(&h, RES_EV_REQ_TERMINATE);
	ck_assert(!h.f.target_online);
	h_advance(&h, 10);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_actions(&h, "publish(offline->online-pending,+1) set(pending,+180000) reply(-115,997)");
	h_step(&h, ev_answer(&h, RES_EV_ACCEPTED, TERM, 0, 0));
	ck_actions(&h, "");
	h_advance(&h, 1000);
	h_done(&h, TERM, 0, 0);
	ck_actions(&h, "post(transition,online,+179000) cancel(terminate)");
	ck_assert(!h.f.term_decided);
	h_done(&h, TR, S_ON, 0);
	ck_assert_int_eq(h.f.state, S_ON);

	/* The deadline of the waiting operation runs from the request. */
	h_init(&h);
	setup_online(&h);
	h_request(&h, RES_EV_REQ_TERMINATE);
	h_request(&h, RES_EV_REQ_ONLINE);
	h_timer(&h, RES_TIMER_PENDING);
	ck_actions(&h, "publish(online-pending->failed,+1) policy(restart,+500,1) "
		       "set(restart,+500)");
	h_done(&h, TERM, 0, 0); /* nothing waits any more */
	ck_actions(&h, "cancel(terminate)");
}
END_TEST

/* T28 and its restart in a new monitor: a new OPEN first, old monitor events are stale. */
START_TEST(test_monitor_restart)
{
	struct harness h;

	h_init(&h);
	setup_online(&h);
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_assert_int_eq(h.f.state, S_FAIL);
	ck_assert_int_eq(h.f.fail_cause, RES_FAIL_MONITOR);
	ck_assert(!h.f.monitor_up);
	h_timer(&h, RES_TIMER_RESTART);
	ck_actions(&h, "publish(failed->initializing,+1) start-monitor(2) "
		       "post(transition,open,+300000) set(pending,+300000)");
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_assert_int_eq(h.out.verdict, RES_V_STALE);
	ck_actions(&h, "");
	h_done(&h, TR, S_OFF, 0);
	ck_actions(&h, "publish(initializing->offline,+1) publish(offline->online-pending,+2) "
		       "post(transition,online,+180000) set(pending,+180000)");
	h_done(&h, TR, S_ON, 0);
	ck_assert_int_eq(h.f.state, S_ON);

	/* A clean Offline survives its monitor; the next Online opens in a new one. */
	h_init(&h);
	setup_offline(&h);
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_actions(&h, "");
	ck_assert_int_eq(h.f.state, S_OFF);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_actions(&h, "publish(offline->initializing,+1) start-monitor(2) "
		       "post(transition,open,+300000) set(pending,+300000) reply(-115,997)");

	/* An Online on a resource whose OPEN failed opens again, in the same monitor. */
	h_init(&h);
	setup_open_failed(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_actions(&h, "publish(failed->initializing,+1) post(transition,open,+300000) "
		       "set(pending,+300000) reply(-115,997)");
}
END_TEST

/* Deadlines of OPEN, TERMINATE and the probes: the monitor is killed, the resource Failed. */
START_TEST(test_hung_monitor_killed)
{
	struct harness h;

	h_init(&h);
	setup_online(&h);
	h_request(&h, RES_EV_REQ_TERMINATE);
	h_timer(&h, RES_TIMER_TERMINATE);
	ck_actions(&h, "kill-monitor(1) publish(offline->failed,+1)"); /* not confirmed: Failed */
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_assert_int_eq(h.out.verdict, RES_V_STALE); /* the death the kill caused */

	h_init(&h);
	setup_la(&h);
	h_timer(&h, RES_TIMER_PROBE);
	ck_actions(&h, "kill-monitor(1) publish(online->failed,+1) policy(restart,+500,1) "
		       "cancel(looks-alive) cancel(is-alive) set(restart,+500)");

	h_init(&h);
	setup_opening(&h);
	h_timer(&h, RES_TIMER_PENDING);
	ck_actions(&h, "kill-monitor(1) publish(initializing->failed,+1)");

	/* A terminate that never finishes, after a failure: killed, still one failure. */
	h_init(&h);
	setup_failed(&h);
	h_timer(&h, RES_TIMER_TERMINATE);
	ck_actions(&h, "kill-monitor(1)");
	ck_assert_uint_eq(h.f.restart.n_failures, 1);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RESTART], 0);
}
END_TEST

START_TEST(test_delete)
{
	struct harness h;

	/* Before the monitor exists: gone at once. */
	h_init(&h);
	h_request(&h, RES_EV_REQ_DELETE);
	ck_actions(&h, "removed reply(0,0)");
	ck_assert(h.f.removed);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_actions(&h, "reply(-2,5007)");

	/* During OPEN: CLOSE once it is done. */
	h_init(&h);
	setup_opening(&h);
	h_request(&h, RES_EV_REQ_DELETE);
	ck_actions(&h, "reply(-115,997)");
	h_request(&h, RES_EV_REQ_OFFLINE);
	ck_actions(&h, "reply(-2,5007)");
	h_advance(&h, 10);
	h_done(&h, TR, S_OFF, 0);
	ck_actions(&h, "publish(initializing->offline,+1) post(transition,close,+300000) "
		       "set(pending,+300000)");
	h_done(&h, TR, S_OFF, 0);
	ck_actions(&h, "removed cancel(pending)");
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_actions(&h, "");

	/* Online: TERMINATE, then CLOSE; a CLOSE that hangs gets the monitor killed. */
	h_init(&h);
	setup_online(&h);
	h_request(&h, RES_EV_REQ_DELETE);
	h_advance(&h, 10);
	h_done(&h, TERM, 0, 0);
	ck_actions(&h, "post(transition,close,+299990) cancel(terminate)");
	h_timer(&h, RES_TIMER_PENDING);
	ck_actions(&h, "kill-monitor(1) removed");

	/* Failed with a restart armed: no restart, CLOSE after the terminate. */
	h_init(&h);
	setup_failed(&h);
	h_request(&h, RES_EV_REQ_DELETE);
	ck_actions(&h, "set(pending,+300000) cancel(restart) reply(-115,997)");
	h_done(&h, TERM, 0, 0);
	ck_actions(&h, "post(transition,close,+300000) cancel(terminate)");
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = 1});
	ck_actions(&h, "removed cancel(pending)");
}
END_TEST

static void fail_online(struct harness *h)
{
	h_request(h, RES_EV_REQ_ONLINE);
	h_done(h, TR, S_FAIL, -EIO);
	h_done(h, TERM, 0, 0);
}

START_TEST(test_policy_escalate_and_retry)
{
	struct res_props p;
	struct harness h;

	res_props_init(&p);
	p.restart_threshold = 0;
	h_init_props(&h, &p);
	setup_offline(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	h_done(&h, TR, S_FAIL, -EIO);
	ck_actions(&h, "publish(online-pending->failed,+1) post(terminate,terminate,+300000) "
		       "policy(escalate,+3600000,1) cancel(pending) set(terminate,+300000) "
		       "set(retry,+3600000)");
	h_done(&h, TERM, 0, 0);
	h_timer(&h, RES_TIMER_RETRY);
	ck_actions(&h, "publish(failed->online-pending,+1) post(transition,online,+180000) "
		       "set(pending,+180000)");
	h_done(&h, TR, S_FAIL, -EIO);
	ck_actions(&h, "publish(online-pending->failed,+1) post(terminate,terminate,+300000) "
		       "policy(give-up,never,1) cancel(pending) set(terminate,+300000)");
	h_done(&h, TERM, 0, 0);
	/* An operator's Online starts afresh. */
	fail_online(&h);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RETRY], 0);

	/* RestartAction 1: stay Failed here, retry later; 0: nothing. */
	p.restart_action = RES_RESTART_LOCAL;
	h_init_props(&h, &p);
	setup_offline(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	h_done(&h, TR, S_FAIL, -EIO);
	ck_assert_int_eq(h.out.a[2].policy.verdict, RESTART_STAY_FAILED);
	p.restart_action = RES_RESTART_NONE;
	h_init_props(&h, &p);
	setup_offline(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	h_done(&h, TR, S_FAIL, -EIO);
	ck_actions(&h, "publish(online-pending->failed,+1) post(terminate,terminate,+300000) "
		       "policy(not-allowed,never,1) cancel(pending) set(terminate,+300000)");
}
END_TEST

/* A failure of a restart counts: with the defaults the fourth in the window escalates. */
START_TEST(test_policy_counts_restarts)
{
	struct harness h;

	h_init(&h);
	setup_offline(&h);
	fail_online(&h);
	for (int i = 0; i < 3; i++) {
		h_timer(&h, RES_TIMER_RESTART);
		ck_assert_int_eq(h.f.state, S_OP);
		h_done(&h, TR, S_FAIL, -EIO);
		h_done(&h, TERM, 0, 0);
	}
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_RESTART], 0);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RETRY], 0);
	ck_assert_uint_eq(h.f.restart.n_failures, 4);
}
END_TEST

START_TEST(test_locked)
{
	struct harness h;

	h_init(&h);
	setup_offline(&h);
	h_step(&h, (struct res_event){.kind = RES_EV_LOCKED, .code = 1});
	ck_actions(&h, "refresh");
	ck_assert(h.f.locked);
	ck_assert(!res_fsm_is_locked(&h.f)); /* a stopped resource has nothing to protect */
	h_step(&h, (struct res_event){.kind = RES_EV_LOCKED, .code = 1});
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_assert(res_fsm_is_locked(&h.f));
	h_done(&h, TR, S_ON, 0);
	ck_assert(res_fsm_is_locked(&h.f));
	h_step(&h, (struct res_event){.kind = RES_EV_LOCKED, .code = 0});
	ck_actions(&h, "refresh");
	ck_assert(!res_fsm_is_locked(&h.f));
}
END_TEST

/* The group layer's RES_EV_SET_TARGET: the persistent state alone, no reply, no operation. */
START_TEST(test_set_target)
{
	struct harness h;

	h_init(&h);
	setup_offline(&h);
	h_step(&h, (struct res_event){.kind = RES_EV_SET_TARGET, .code = 1});
	ck_assert(h.f.target_online);
	ck_assert_int_eq(h.f.state, S_OFF);
	ck_actions(&h, "");
	h_step(&h, (struct res_event){.kind = RES_EV_SET_TARGET, .code = 1});
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);

	/* Offline cancels a restart that is due: a group offline of a failing member. */
	fail_online(&h);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RESTART], 0);
	h_step(&h, (struct res_event){.kind = RES_EV_SET_TARGET, .code = 0});
	ck_assert(!h.f.target_online);
	ck_actions(&h, "cancel(restart)");
	ck_assert_int_eq(h.f.state, S_FAIL);

	/* ... and an online queued behind OPEN. */
	h_init(&h);
	setup_opening(&h);
	h_request(&h, RES_EV_REQ_ONLINE);
	ck_assert(h.f.online_after_open);
	h_step(&h, (struct res_event){.kind = RES_EV_SET_TARGET, .code = 0});
	ck_assert(!h.f.online_after_open);
	h_done(&h, TR, S_OFF, 0);
	ck_assert_int_eq(h.f.state, S_OFF);
	ck_actions(&h, "publish(initializing->offline,+1) cancel(pending)"); /* no online posted */
}
END_TEST

/* System requests (a provider went away, a group restart) keep the persistent state online. */
START_TEST(test_system_requests)
{
	struct res_event ev = ev_of(RES_EV_REQ_OFFLINE);
	struct harness h;

	h_init(&h);
	setup_online(&h);
	ck_assert(h.f.target_online);
	ev.system = true;
	h_step(&h, ev);
	ck_assert_int_eq(h.f.state, S_FP);
	ck_assert(h.f.target_online);
	h_done(&h, TR, S_OFF, 0);
	ck_assert_int_eq(h.f.state, S_OFF);
	ck_assert(h.f.target_online);

	/* A terminate of a pending online: Offline (administrative), target kept. */
	setup_op(&h);
	ev = ev_of(RES_EV_REQ_TERMINATE);
	ev.system = true;
	h_step(&h, ev);
	ck_assert_int_eq(h.f.state, S_OFF);
	ck_assert(h.f.target_online);

	/* On a Failed resource: nothing changes, its restart stays, the answer is -EIO. */
	h_init(&h);
	setup_offline(&h);
	fail_online(&h);
	h_step(&h, ev);
	ck_assert_int_eq(h.f.state, S_FAIL);
	ck_assert(h.f.target_online);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RESTART], 0);
	ck_actions(&h, "reply(-5,5038)");
}
END_TEST

START_TEST(test_api_errors)
{
	struct harness h;
	struct res_actions out;
	struct res_event ev = {.kind = _RES_EV_MAX};

	h_init(&h);
	ck_assert_int_eq(res_fsm_step(&h.f, &ev, h.now, &out), -EINVAL);
	ck_assert_uint_eq(out.n, 0);
	ev = (struct res_event){.kind = RES_EV_TIMER, .timer = _RES_TIMER_MAX};
	ck_assert_int_eq(res_fsm_step(&h.f, &ev, h.now, &out), -EINVAL);
	ev = (struct res_event){.kind = RES_EV_DONE, .cls = _CHAN_CLASS_MAX};
	ck_assert_int_eq(res_fsm_step(&h.f, &ev, h.now, &out), -EINVAL);
	ck_assert_int_eq(res_fsm_step(NULL, &ev, h.now, &out), -EINVAL);
	ck_assert_int_eq(res_fsm_step(&h.f, NULL, h.now, &out), -EINVAL);
	ck_assert_int_eq(res_fsm_step(&h.f, &ev, h.now, NULL), -EINVAL);
	ck_assert_int_eq(h.f.state_seq, 1);

	ck_assert_int_eq(res_fsm_bind(&h.f, TR, 5), -ESRCH); /* nothing posted */
	h_request(&h, RES_EV_START);
	ck_assert_int_eq(res_fsm_bind(&h.f, TR, 5), -ESRCH); /* bound already */
	ck_assert_int_eq(res_fsm_bind(&h.f, TR, 0), -EINVAL);
	ck_assert_int_eq(res_fsm_bind(&h.f, _CHAN_CLASS_MAX, 5), -EINVAL);

	/* A second START, and a timer that is not armed, change nothing. */
	h_request(&h, RES_EV_START);
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	ck_actions(&h, "");
	h_step(&h, (struct res_event){.kind = RES_EV_TIMER, .timer = RES_TIMER_RESTART});
	ck_assert_int_eq(h.out.verdict, RES_V_IGNORED);
	ck_actions(&h, "");
}
END_TEST

START_TEST(test_event_from_status)
{
	struct chan_status_body b = {
		.type = CHAN_ST_PROGRESS,
		.cls = CHAN_CLASS_TRANSITION,
		.cmd_id = 9,
		.state = S_OP,
		.code = 0,
		.checkpoint = 3,
		.wait_hint_ms = 70,
	};
	struct res_event ev;

	ck_assert_int_eq(res_event_from_status(&b, &ev), 0);
	ck_assert_int_eq(ev.kind, RES_EV_PROGRESS);
	ck_assert_uint_eq(ev.cmd_id, 9);
	ck_assert_int_eq(ev.state, S_OP);
	ck_assert_uint_eq(ev.checkpoint, 3);
	ck_assert_uint_eq(ev.wait_hint_ms, 70);
	b.type = CHAN_ST_ACCEPTED;
	ck_assert_int_eq(res_event_from_status(&b, &ev), 0);
	ck_assert_int_eq(ev.kind, RES_EV_ACCEPTED);
	b.type = CHAN_ST_DONE;
	ck_assert_int_eq(res_event_from_status(&b, &ev), 0);
	ck_assert_int_eq(ev.kind, RES_EV_DONE);
	b.type = CHAN_ST_FAILURE;
	ck_assert_int_eq(res_event_from_status(&b, &ev), 0);
	ck_assert_int_eq(ev.kind, RES_EV_FAILURE);
	b.type = CHAN_ST_LOCKED;
	b.code = 1;
	ck_assert_int_eq(res_event_from_status(&b, &ev), 0);
	ck_assert_int_eq(ev.kind, RES_EV_LOCKED);
	ck_assert_int_eq(ev.code, 1);
	b.type = 0;
	ck_assert_int_eq(res_event_from_status(&b, &ev), -EINVAL);
	b.type = _CHAN_ST_MAX;
	ck_assert_int_eq(res_event_from_status(&b, &ev), -EINVAL);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(res_state_to_string(S_OP), "online-pending");
	ck_assert_str_eq(res_state_to_string(128), "invalid");
	ck_assert_str_eq(res_timer_to_string(RES_TIMER_RETRY), "retry");
	ck_assert_str_eq(res_timer_to_string(_RES_TIMER_MAX), "invalid");
	ck_assert_str_eq(res_event_kind_to_string(RES_EV_MONITOR_HUNG), "monitor-hung");
	ck_assert_str_eq(res_action_kind_to_string(RES_ACT_REMOVED), "removed");
	ck_assert_str_eq(res_verdict_to_string(RES_V_DISCARDED), "discarded");
	ck_assert(res_state_is_pending(S_FP));
	ck_assert(!res_state_is_pending(S_ON));
}
END_TEST

/* ---- random walk ---- */

struct walk {
	struct harness h;
	uint64_t rng;
	uint64_t timers[_RES_TIMER_MAX]; /* as the actions said */
	bool transition_busy;		 /* a transition command runs in the monitor */
	bool awaiting;			 /* a quiet request waits for its deferred reply */
	uint32_t gen;
	uint64_t steps, removed, by_kind[_RES_EV_MAX];
	uint64_t quiet_steps, deferred_replies;
};

static uint32_t rnd(struct walk *w, uint32_t n)
{
	return (uint32_t) (xorshift64(&w->rng) % n);
}

static const int32_t any_states[] = {S_INIT, S_ON, S_OFF, S_FAIL, S_OP, S_FP, -1, 0, 128, 999};

static int32_t pick_state(struct walk *w)
{
	const struct res_fsm *f = &w->h.f;

	/* Mostly what an honest monitor says, sometimes anything. */
	if (rnd(w, 4) == 0)
		return any_states[rnd(w, ELEMENTSOF(any_states))];
	if (f->op == CHAN_OP_OPEN)
		return rnd(w, 5) ? S_OFF : S_FAIL;
	if (f->op == CHAN_OP_OFFLINE)
		return rnd(w, 4) ? S_OFF : S_FAIL;
	return rnd(w, 4) ? S_ON : S_FAIL;
}

/* An answer for a class, mostly with its outstanding command id. */
static struct res_event pick_answer(struct walk *w)
{
	const struct res_fsm *f = &w->h.f;
	uint8_t cls = (uint8_t) rnd(w, 4);
	struct res_event ev = {.cls = cls, .cmd_id = f->cmd_id[cls]};
	uint32_t k = rnd(w, 10);

	if (rnd(w, 10) == 0)
		ev.cmd_id = rnd(w, 3) ? w->h.next_cmd - rnd(w, 4) : 0;
	if (k < 2)
		ev.kind = RES_EV_ACCEPTED;
	else if (k < 5 && cls == TR) {
		ev.kind = RES_EV_PROGRESS;
		ev.state = f->op == CHAN_OP_OFFLINE ? S_FP : S_OP;
		if (rnd(w, 5) == 0)
			ev.state = any_states[rnd(w, ELEMENTSOF(any_states))];
		ev.checkpoint = f->checkpoint + rnd(w, 3) - 1;
		ev.wait_hint_ms = rnd(w, 1000);
		ev.entry_pending = rnd(w, 4) == 0;
	} else {
		ev.kind = RES_EV_DONE;
		ev.state = cls == TR ? pick_state(w) : 0;
		ev.code = cls == TR ? (rnd(w, 3) ? 0 : -EIO) : (int32_t) rnd(w, 3) - (cls != TERM);
		ev.failure_fd = rnd(w, 2);
	}
	return ev;
}

/* The earliest armed timer (time moves there), or a random one that may not be due. */
static struct res_event pick_timer(struct walk *w)
{
	struct res_event ev = {.kind = RES_EV_TIMER, .timer = rnd(w, _RES_TIMER_MAX)};
	uint64_t best = 0;

	if (rnd(w, 8) == 0)
		return ev;
	for (int t = 0; t < _RES_TIMER_MAX; t++)
		if (w->timers[t] && (!best || w->timers[t] < best)) {
			best = w->timers[t];
			ev.timer = t;
		}
	if (best > w->h.now)
		w->h.now = best;
	return ev;
}

static struct res_event pick_event(struct walk *w)
{
	static const enum res_event_kind requests[] = {RES_EV_REQ_ONLINE, RES_EV_REQ_ONLINE,
						       RES_EV_REQ_OFFLINE, RES_EV_REQ_TERMINATE};
	uint32_t k = rnd(w, 1000);

	w->h.now += MS(rnd(w, 2000));
	if (k < 120) {
		struct res_event ev = ev_of(requests[rnd(w, ELEMENTSOF(requests))]);

		ev.quiet = rnd(w, 2);
		/* The group layer's: the persistent state stays (never quiet). */
		if (ev.kind != RES_EV_REQ_ONLINE && !ev.quiet)
			ev.system = rnd(w, 2);
		return ev;
	}
	if (k < 122)
		return ev_of(RES_EV_REQ_DELETE);
	if (k < 520)
		return pick_answer(w);
	if (k < 560)
		return ev_of(RES_EV_FAILURE);
	if (k < 580)
		return (struct res_event){.kind = RES_EV_LOCKED, .code = (int32_t) rnd(w, 2)};
	if (k < 590)
		return (struct res_event){.kind = RES_EV_MONITOR_DIED,
					  .monitor_gen = w->gen - rnd(w, 2)};
	if (k < 595)
		return (struct res_event){.kind = RES_EV_MONITOR_HUNG,
					  .monitor_gen = w->gen - rnd(w, 2)};
	if (k < 597)
		return ev_of(RES_EV_START);
	if (k < 603)
		return (struct res_event){.kind = RES_EV_SET_TARGET, .code = (int32_t) rnd(w, 2)};
	return pick_timer(w);
}

/* What the monitor side lives through, for the "never two transition commands" check. */
static void track_monitor(struct walk *w, const struct res_event *ev, uint64_t bound_before[])
{
	bool answered =
		ev->kind == RES_EV_DONE && ev->cmd_id && ev->cmd_id == bound_before[ev->cls];

	if (answered && (ev->cls == TR || ev->cls == TERM))
		w->transition_busy = false; /* finished, or ended by the terminate */
	if (w->h.out.verdict != RES_V_STALE &&
	    (ev->kind == RES_EV_MONITOR_DIED || ev->kind == RES_EV_MONITOR_HUNG))
		w->transition_busy = false;
}

static void check_step(struct walk *w, int32_t state0, uint32_t seq0, const struct res_event *ev)
{
	const struct res_fsm *f = &w->h.f;
	const struct res_actions *out = &w->h.out;
	int32_t s = state0;
	uint32_t seq = seq0, replies = 0, deferred = 0;
	bool probe_posted = false;

	for (uint32_t i = 0; i < out->n; i++) {
		const struct res_action *a = &out->a[i];

		switch (a->kind) {
		case RES_ACT_PUBLISH:
			fast_assert(a->publish.from == s && a->publish.state != s);
			fast_assert(a->publish.seq == ++seq);
			s = a->publish.state;
			break;
		case RES_ACT_SET_TIMER:
			fast_assert(a->timer.at_ns >= w->h.now);
			w->timers[a->timer.which] = a->timer.at_ns;
			break;
		case RES_ACT_CANCEL_TIMER:
			fast_assert(w->timers[a->timer.which] != 0);
			w->timers[a->timer.which] = 0;
			break;
		case RES_ACT_POST:
			if (a->post.cls == TR) {
				fast_assert_msg(!w->transition_busy, "two transition commands");
				w->transition_busy = true;
			}
			if (a->post.cls == LAC || a->post.cls == IAC)
				probe_posted = true;
			break;
		case RES_ACT_KILL_MONITOR:
			fast_assert(a->monitor_gen == w->gen);
			w->transition_busy = false;
			break;
		case RES_ACT_START_MONITOR:
			fast_assert(a->monitor_gen == ++w->gen);
			w->transition_busy = false;
			break;
		case RES_ACT_REPLY:
			if (a->reply.deferred) {
				fast_assert(deferred == 0 && replies == 0); /* first, once */
				fast_assert(w->awaiting);
				w->awaiting = false;
				w->deferred_replies++;
				deferred++;
			} else
				replies++;
			break;
		default:
			break;
		}
	}
	/* state_seq changes exactly with the shown state, once per PUBLISH. */
	fast_assert(s == res_fsm_visible(f) && seq == f->state_seq);
	fast_assert(f->state_seq != seq0 || res_fsm_visible(f) == state0);
	/* Only a quiet request's operation hides, and only a pending state; never for long. */
	if (f->quiet) {
		fast_assert(res_state_is_pending(f->state) && !res_state_is_pending(f->quiet_from));
		fast_assert(f->timer_at[RES_TIMER_REVEAL] != 0 &&
			    f->timer_at[RES_TIMER_REVEAL] <= w->h.now + MS(RES_QUIET_MS));
	} else
		fast_assert(f->timer_at[RES_TIMER_REVEAL] == 0);
	/* Every request is answered once, now or (quiet and started) later. */
	if (f->reply_deferred && !w->awaiting && ev->kind >= RES_EV_REQ_ONLINE &&
	    ev->kind <= RES_EV_REQ_DELETE && replies == 0) {
		fast_assert(ev->quiet);
		w->awaiting = true; /* this request's reply is deferred */
	} else
		fast_assert(replies ==
			    (ev->kind >= RES_EV_REQ_ONLINE && ev->kind <= RES_EV_REQ_DELETE));
	fast_assert(w->awaiting == f->reply_deferred);
	fast_assert(!f->reply_deferred || f->quiet);
	/* No probe while pending or after terminate was decided; no poll timer either. */
	if (probe_posted)
		fast_assert(f->state == S_ON && !res_state_is_pending(state0) && !f->term_decided);
	if (f->state != S_ON || f->term_decided)
		fast_assert(!f->timer_at[RES_TIMER_LOOKS_ALIVE] &&
			    !f->timer_at[RES_TIMER_IS_ALIVE] && f->probe == CHAN_OP_NONE);
	/* Every pending state has its deadline and its one operation. */
	if (res_state_is_pending(f->state)) {
		fast_assert(f->timer_at[RES_TIMER_PENDING] != 0);
		fast_assert(f->op == (f->state == S_OP ? CHAN_OP_ONLINE : CHAN_OP_OFFLINE));
	}
	if (f->op == CHAN_OP_ONLINE || f->op == CHAN_OP_OFFLINE)
		fast_assert(res_state_is_pending(f->state));
	/* The actions said exactly what the timers are. */
	for (int t = 0; t < _RES_TIMER_MAX; t++)
		fast_assert_msg(w->timers[t] == f->timer_at[t], "timer %s", res_timer_to_string(t));
	fast_assert(!f->term_outstanding || f->timer_at[RES_TIMER_TERMINATE]);
}

static void walk_restart(struct walk *w)
{
	h_init(&w->h);
	memset(w->timers, 0, sizeof(w->timers));
	w->transition_busy = false;
	w->awaiting = false;
	w->gen = 0;
	w->h.next_cmd =
		1000 + w->steps; /* ids keep increasing, as on a new channel they would not */
}

START_TEST(test_random_walk)
{
	const char *env = getenv("HAGENT_TEST_SEED");
	struct walk w = {.rng = env ? strtoull(env, NULL, 0) : UINT64_C(0x9e3779b97f4a7c15)};

	if (w.rng == 0)
		w.rng = 1;
	walk_restart(&w);
	for (w.steps = 0; w.steps < 100000; w.steps++) {
		struct res_event ev = pick_event(&w);
		uint64_t bound[_CHAN_CLASS_MAX];
		int32_t state0 = res_fsm_visible(&w.h.f);
		uint32_t seq0 = w.h.f.state_seq;

		memcpy(bound, w.h.f.cmd_id, sizeof(bound));
		if (ev.kind == RES_EV_TIMER && w.timers[ev.timer] && w.timers[ev.timer] <= w.h.now)
			w.timers[ev.timer] = 0; /* it fires: one-shot */
		w.by_kind[ev.kind]++;
		h_step(&w.h, ev);
		track_monitor(&w, &ev, bound);
		check_step(&w, state0, seq0, &ev);
		w.quiet_steps += w.h.f.quiet;
		if (w.h.f.removed) {
			w.removed++;
			walk_restart(&w);
		}
	}
	ck_assert_uint_gt(w.removed, 10);
	ck_assert_uint_gt(w.quiet_steps, 20);
	ck_assert_uint_gt(w.deferred_replies, 20);
	for (int k = 0; k < _RES_EV_MAX; k++)
		ck_assert_msg(w.by_kind[k] > 100, "event %s seen %" PRIu64 " times",
			      res_event_kind_to_string(k), w.by_kind[k]);
}
END_TEST

/* ---- quiet requests (resource-fsm.h "Quiet requests") ---- */

static void h_quiet(struct harness *h, enum res_event_kind kind)
{
	struct res_event ev = ev_of(kind);

	ev.quiet = true;
	h_step(h, ev);
}

/* The RES_ACT_REPLY of the last step with .deferred == deferred, or NULL. */
static const struct res_action *h_reply(const struct harness *h, bool deferred)
{
	for (uint32_t i = 0; i < h->out.n; i++)
		if (h->out.a[i].kind == RES_ACT_REPLY && h->out.a[i].reply.deferred == deferred)
			return &h->out.a[i];
	return NULL;
}

static uint32_t h_count(const struct harness *h, enum res_action_kind kind)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->out.n; i++)
		n += h->out.a[i].kind == kind;
	return n;
}

/* The only RES_ACT_PUBLISH of the last step. */
static const struct res_action *h_publish(const struct harness *h)
{
	ck_assert_uint_eq(h_count(h, RES_ACT_PUBLISH), 1);
	for (uint32_t i = 0; i < h->out.n; i++)
		if (h->out.a[i].kind == RES_ACT_PUBLISH)
			return &h->out.a[i];
	return NULL;
}

/* Scenario 4: a synchronous Online is one change, Offline -> Online, and then the reply. */
START_TEST(test_quiet_sync_online)
{
	struct harness h;
	const struct res_action *a;
	uint32_t seq;

	h_init(&h);
	setup_offline(&h);
	seq = h.f.state_seq;
	h_quiet(&h, RES_EV_REQ_ONLINE);
	ck_assert_uint_eq(h_count(&h, RES_ACT_PUBLISH), 0);
	ck_assert_ptr_null(h_reply(&h, false));
	ck_assert_ptr_null(h_reply(&h, true));
	ck_assert_uint_eq(h_count(&h, RES_ACT_POST), 1);
	ck_assert_int_eq(res_fsm_visible(&h.f), S_OFF);
	ck_assert_uint_eq(h.f.state_seq, seq);
	ck_assert(h.f.reply_deferred);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_REVEAL], T0 + MS(RES_QUIET_MS));
	/* A second request meanwhile: an operation runs (T26). */
	h_quiet(&h, RES_EV_REQ_ONLINE);
	ck_assert_int_eq(h_reply(&h, false)->reply.error, -EBUSY);
	ck_assert_ptr_null(h_reply(&h, true));

	h_advance(&h, 1);
	h_done(&h, TR, S_ON, 0);
	a = h_publish(&h);
	ck_assert_int_eq(a->publish.from, S_OFF);
	ck_assert_int_eq(a->publish.state, S_ON);
	ck_assert_uint_eq(a->publish.seq, seq + 1);
	a = h_reply(&h, true);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->reply.error, 0);
	ck_assert_uint_eq(a->reply.win32, RES_WIN_SUCCESS);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_REVEAL], 0);
	ck_assert_int_eq(res_fsm_visible(&h.f), S_ON);
	ck_assert(!h.f.reply_deferred);
}
END_TEST

/* Scenario 5: "returned pending" (or any report) shows OnlinePending, then the reply. */
START_TEST(test_quiet_pending_online)
{
	struct harness h;
	const struct res_action *a;
	struct res_event ev;
	uint64_t deadline;

	h_init(&h);
	setup_offline(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE);
	deadline = h.f.timer_at[RES_TIMER_PENDING];
	h_advance(&h, 5);
	ev = ev_answer(&h, RES_EV_PROGRESS, TR, S_OP, 0);
	ev.entry_pending = true;
	h_step(&h, ev);
	a = h_publish(&h);
	ck_assert_int_eq(a->publish.from, S_OFF);
	ck_assert_int_eq(a->publish.state, S_OP);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EINPROGRESS);
	ck_assert_uint_eq(h_reply(&h, true)->reply.win32, RES_WIN_IO_PENDING);
	/* The marker carries no checkpoint: the deadline stays, checkpoints start fresh. */
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_PENDING], deadline);
	ck_assert(!h.f.has_checkpoint);
	h_progress(&h, S_OP, 1);
	ck_assert_uint_eq(h_count(&h, RES_ACT_PUBLISH), 0);
	ck_assert_ptr_null(h_reply(&h, true));
	ck_assert_uint_eq(h.f.checkpoint, 1);
	h_done(&h, TR, S_ON, 0);
	ck_assert_int_eq(h_publish(&h)->publish.from, S_OP);
	ck_assert_ptr_null(h_reply(&h, true));
}
END_TEST

/* No answer within RES_QUIET_MS: the pending state shows, the reply is "pending". */
START_TEST(test_quiet_reveal_timer)
{
	struct harness h;

	h_init(&h);
	setup_online(&h);
	h_quiet(&h, RES_EV_REQ_OFFLINE);
	ck_assert_int_eq(res_fsm_visible(&h.f), S_ON);
	h_timer(&h, RES_TIMER_REVEAL);
	ck_assert_int_eq(h_publish(&h)->publish.state, S_FP);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EINPROGRESS);
	ck_assert_int_eq(res_fsm_visible(&h.f), S_FP);
	/* A late reveal (the timer fired after a DONE) changes nothing. */
	h_done(&h, TR, S_OFF, 0);
	ck_assert_int_eq(h_publish(&h)->publish.state, S_OFF);
	ck_assert_ptr_null(h_reply(&h, true));
}
END_TEST

/* T6 and T14 while hidden: straight to Failed, terminate, the reply says it failed. */
START_TEST(test_quiet_sync_failure)
{
	struct harness h;
	const struct res_action *a;

	h_init(&h);
	setup_offline(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE);
	h_done(&h, TR, S_FAIL, -EACCES);
	a = h_publish(&h);
	ck_assert_int_eq(a->publish.from, S_OFF);
	ck_assert_int_eq(a->publish.state, S_FAIL);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EIO);
	ck_assert_int_eq(h.f.last_error, -EACCES);
	ck_assert(h.f.term_outstanding);

	h_init(&h);
	setup_online(&h);
	h_quiet(&h, RES_EV_REQ_OFFLINE);
	h_done(&h, TR, S_FAIL, -EIO);
	a = h_publish(&h);
	ck_assert_int_eq(a->publish.from, S_ON);
	ck_assert_int_eq(a->publish.state, S_FAIL);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EIO);
}
END_TEST

/* Terminated, deleted or its monitor lost while hidden: the quiet request is answered too. */
START_TEST(test_quiet_interrupted)
{
	struct harness h;

	/* Admin terminate: Offline all along, so no change shows at all. */
	h_init(&h);
	setup_offline(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE);
	h_request(&h, RES_EV_REQ_TERMINATE);
	ck_assert_uint_eq(h_count(&h, RES_ACT_PUBLISH), 0);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -ECANCELED);
	ck_assert_uint_eq(h_reply(&h, true)->reply.win32, RES_WIN_OPERATION_ABORTED);
	ck_assert_int_eq(h_reply(&h, false)->reply.error, 0);
	ck_assert_int_eq(h.f.state, S_OFF);
	/* The deferred reply comes before this request's own. */
	ck_assert(h_reply(&h, true) < h_reply(&h, false));

	/* Delete while an offline is hidden: Online -> Offline shows, the offline is cancelled. */
	h_init(&h);
	setup_online(&h);
	h_quiet(&h, RES_EV_REQ_OFFLINE);
	h_request(&h, RES_EV_REQ_DELETE);
	ck_assert_int_eq(h_publish(&h)->publish.state, S_OFF);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, 0); /* it is offline: the goal */

	/* The monitor dies: Failed, and the request hears that it failed. */
	h_init(&h);
	setup_offline(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE);
	h_step(&h, (struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = h.f.monitor_gen});
	ck_assert_int_eq(h_publish(&h)->publish.from, S_OFF);
	ck_assert_int_eq(h.f.state, S_FAIL);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EIO);
	ck_assert_uint_eq(h.f.timer_at[RES_TIMER_REVEAL], 0);

	/* Pending timeout before any answer (a hung entry point): Failed. */
	h_init(&h);
	setup_offline(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE);
	h.f.timer_at[RES_TIMER_REVEAL] = 0; /* as if revealed later than the deadline: not here */
	h_timer(&h, RES_TIMER_PENDING);
	ck_assert_int_eq(h_publish(&h)->publish.state, S_FAIL);
	ck_assert_int_eq(h_reply(&h, true)->reply.error, -EIO);
}
END_TEST

/* Requests that start nothing answer at once, quiet or not; restarts are never hidden. */
START_TEST(test_quiet_immediate)
{
	struct harness h;

	h_init(&h);
	setup_online(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE); /* T25 */
	ck_assert_int_eq(h_reply(&h, false)->reply.error, 0);
	ck_assert(!h.f.reply_deferred);

	h_init(&h);
	setup_opening(&h);
	h_quiet(&h, RES_EV_REQ_ONLINE); /* Initializing: queued, shows when OPEN is done */
	ck_assert_int_eq(h_reply(&h, false)->reply.error, -EINPROGRESS);
	h_done(&h, TR, S_OFF, 0);
	ck_assert_uint_eq(h_count(&h, RES_ACT_PUBLISH), 2);
	ck_assert_int_eq(h.f.state, S_OP);

	h_init(&h);
	setup_failed(&h);
	ck_assert_uint_ne(h.f.timer_at[RES_TIMER_RESTART], 0);
	h_timer(&h, RES_TIMER_RESTART);
	ck_assert(!h.f.quiet);
	ck_assert_int_eq(res_fsm_visible(&h.f), S_OP);
	ck_assert_int_eq(h_publish(&h)->publish.state, S_OP);
}
END_TEST

static Suite *resource_fsm_suite(void)
{
	Suite *s = suite_create("resource-fsm");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_row, 0, ELEMENTSOF(rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("props");
	tcase_add_loop_test(tc, test_props_bad, 0, ELEMENTSOF(bad_props));
	tcase_add_test(tc, test_props_good);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_test(tc, test_effective_timeout);
	tcase_add_test(tc, test_checkpoint_keeps_deadline);
	tcase_add_test(tc, test_progress_keeps_pending);
	suite_add_tcase(s, tc);

	tc = tcase_create("health");
	tcase_add_test(tc, test_probe_cadence);
	tcase_add_test(tc, test_failure_fd_and_signal);
	tcase_add_test(tc, test_no_probes_while_pending);
	suite_add_tcase(s, tc);

	tc = tcase_create("sequences");
	tcase_add_test(tc, test_online_from_initializing);
	tcase_add_test(tc, test_online_waits_for_terminate);
	tcase_add_test(tc, test_monitor_restart);
	tcase_add_test(tc, test_hung_monitor_killed);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_policy_escalate_and_retry);
	tcase_add_test(tc, test_policy_counts_restarts);
	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_set_target);
	tcase_add_test(tc, test_system_requests);
	suite_add_tcase(s, tc);

	tc = tcase_create("quiet");
	tcase_add_test(tc, test_quiet_sync_online);
	tcase_add_test(tc, test_quiet_pending_online);
	tcase_add_test(tc, test_quiet_reveal_timer);
	tcase_add_test(tc, test_quiet_sync_failure);
	tcase_add_test(tc, test_quiet_interrupted);
	tcase_add_test(tc, test_quiet_immediate);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_api_errors);
	tcase_add_test(tc, test_event_from_status);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_test(tc, test_random_walk);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(resource_fsm_suite());
}
