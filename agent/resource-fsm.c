/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource state machine: its building blocks, the admin requests
 * (T4-T6, T11-T14, T23-T27), the timers (T10, T17, T22, polls, deadlines)
 * and the monitor's life (T1, T28).  The monitor's answers are handled in
 * resource-fsm-monitor.c.  No I/O: everything leaves as an action.
 */

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "resource-fsm-internal.h"

/* ---- building blocks ---- */

struct res_action *fsm_emit(struct fsm_ctx *c, enum res_action_kind kind)
{
	struct res_action *a;

	assert(c->out->n < RES_ACTIONS_MAX);
	a = &c->out->a[c->out->n++];
	*a = (struct res_action){.kind = kind};
	return a;
}

void fsm_verdict(struct fsm_ctx *c, enum res_verdict v)
{
	struct res_fsm_stats *s = &c->f->stats;

	c->out->verdict = v;
	if (v == RES_V_REJECTED)
		s->rejected++;
	else if (v == RES_V_STALE)
		s->stale++;
	else if (v == RES_V_IGNORED)
		s->ignored++;
	else if (v == RES_V_DISCARDED)
		s->discarded++;
}

static void publish(struct fsm_ctx *c, int32_t from, int32_t state)
{
	struct res_action *a = fsm_emit(c, RES_ACT_PUBLISH);

	a->publish.from = from;
	a->publish.state = state;
	a->publish.seq = ++c->f->state_seq;
}

static void defer_reply(struct fsm_ctx *c, int error)
{
	if (!c->f->reply_deferred)
		return;
	c->f->reply_deferred = false;
	c->has_deferred = true;
	c->deferred_error = error;
}

void fsm_set_state(struct fsm_ctx *c, int32_t state)
{
	struct res_fsm *f = c->f;

	if (f->state == state)
		return;
	if (f->quiet) { /* the hidden operation ends without having shown */
		f->quiet = false;
		fsm_disarm(c, RES_TIMER_REVEAL);
		if (state != f->quiet_from)
			publish(c, f->quiet_from, state);
		f->state = state;
		defer_reply(c, state == f->quiet_goal		 ? 0
			       : state == HAGENT_RESOURCE_FAILED ? -EIO
								 : -ECANCELED);
		return;
	}
	if (c->quiet_request && res_state_is_pending(state)) {
		f->quiet = true;
		f->quiet_from = f->state;
		f->quiet_goal = state == HAGENT_RESOURCE_ONLINE_PENDING ? HAGENT_RESOURCE_ONLINE
									: HAGENT_RESOURCE_OFFLINE;
		f->state = state;
		fsm_arm(c, RES_TIMER_REVEAL, res_after_ms(c->now, RES_QUIET_MS));
		return;
	}
	publish(c, f->state, state);
	f->state = state;
}

void fsm_reveal(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	if (!f->quiet)
		return;
	f->quiet = false;
	fsm_disarm(c, RES_TIMER_REVEAL);
	publish(c, f->quiet_from, f->state);
	defer_reply(c, -EINPROGRESS);
}

int32_t res_fsm_visible(const struct res_fsm *f)
{
	return f->quiet ? f->quiet_from : f->state;
}

void fsm_arm(struct fsm_ctx *c, enum res_timer t, uint64_t at_ns)
{
	c->f->timer_at[t] = at_ns ? at_ns : 1; /* 0 means "not armed" */
}

void fsm_disarm(struct fsm_ctx *c, enum res_timer t)
{
	c->f->timer_at[t] = 0;
}

uint64_t fsm_pending_deadline(const struct fsm_ctx *c)
{
	uint64_t d = res_props_pending_timeout_ns(&c->f->props);

	return c->now > UINT64_MAX - d ? UINT64_MAX : c->now + d;
}

uint64_t fsm_deadlock_deadline(const struct fsm_ctx *c)
{
	return res_after_ms(c->now, c->f->props.deadlock_timeout_ms);
}

void fsm_post(struct fsm_ctx *c, enum chan_cmd_class cls, enum chan_op op, uint64_t deadline_ns)
{
	struct res_action *a = fsm_emit(c, RES_ACT_POST);

	a->post.cls = cls;
	a->post.op = op;
	a->post.deadline_ns = deadline_ns;
	c->f->cmd_id[cls] = RES_CMD_UNBOUND;
}

static void reply(struct fsm_ctx *c, int error)
{
	c->has_reply = true;
	c->reply_error = error;
}

/* A request that started an operation: -EINPROGRESS, or nothing yet if it is hidden (quiet). */
static void reply_started(struct fsm_ctx *c)
{
	if (c->f->quiet && c->quiet_request) {
		c->f->reply_deferred = true;
		return;
	}
	reply(c, -EINPROGRESS);
}

/* ---- transition operations and terminate ---- */

void fsm_try_post_op(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	if (f->op == CHAN_OP_NONE || f->op_posted || f->term_outstanding)
		return;
	/* A new command replaces the terminated one in the mailbox: its reports are stale now. */
	f->op_posted = true;
	f->term_decided = false;
	f->term_cause = RES_TERM_NONE;
	fsm_post(c, CHAN_CLASS_TRANSITION, f->op, f->timer_at[RES_TIMER_PENDING]);
}

void fsm_begin_op(struct fsm_ctx *c, uint32_t op, uint64_t deadline_ns)
{
	struct res_fsm *f = c->f;

	f->op = op;
	f->op_posted = false;
	f->op_accepted = false;
	f->has_checkpoint = false;
	f->checkpoint = 0;
	f->wait_hint_ms = 0;
	fsm_arm(c, RES_TIMER_PENDING, deadline_ns);
	fsm_try_post_op(c);
}

static void abandon_op(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	f->op = CHAN_OP_NONE;
	f->op_posted = false;
	f->online_after_open = false;
	fsm_disarm(c, RES_TIMER_PENDING);
}

/* Initializing, a monitor if there is none, OPEN; online_after: an Online follows. */
static void begin_open(struct fsm_ctx *c, bool online_after)
{
	struct res_fsm *f = c->f;

	fsm_set_state(c, HAGENT_RESOURCE_INITIALIZING);
	if (!f->monitor_up) {
		f->monitor_up = true;
		f->monitor_gen++;
		memset(f->cmd_id, 0, sizeof(f->cmd_id));
		fsm_emit(c, RES_ACT_START_MONITOR)->monitor_gen = f->monitor_gen;
	}
	fsm_begin_op(c, CHAN_OP_OPEN, fsm_deadlock_deadline(c));
	f->online_after_open = online_after;
}

void fsm_begin_online(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	fsm_disarm(c, RES_TIMER_RESTART);
	fsm_disarm(c, RES_TIMER_RETRY);
	if (!f->monitor_up || !f->opened) {
		begin_open(c, true);
		return;
	}
	fsm_set_state(c, HAGENT_RESOURCE_ONLINE_PENDING);
	fsm_begin_op(c, CHAN_OP_ONLINE, fsm_pending_deadline(c));
}

/*
 * From now on the running operation's reports are answered "terminate";
 * TERMINATE is posted unless one is outstanding or there is nothing to
 * terminate (no monitor, or open never succeeded).
 */
static void decide_terminate(struct fsm_ctx *c, enum res_term_cause cause)
{
	struct res_fsm *f = c->f;
	uint64_t deadline;

	f->term_decided = true;
	f->term_cause = cause;
	abandon_op(c);
	fsm_stop_probes(c);
	if (f->term_outstanding || !f->monitor_up || !f->opened)
		return;
	deadline = fsm_deadlock_deadline(c);
	fsm_post(c, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, deadline);
	f->term_outstanding = true;
	fsm_arm(c, RES_TIMER_TERMINATE, deadline);
}

/* ---- health checks ---- */

void fsm_post_probe(struct fsm_ctx *c, enum chan_op op)
{
	struct res_fsm *f = c->f;
	uint64_t deadline = fsm_deadlock_deadline(c);

	fsm_post(c, op == CHAN_OP_LOOKS_ALIVE ? CHAN_CLASS_LOOKS_ALIVE : CHAN_CLASS_IS_ALIVE, op,
		 deadline);
	f->probe = op;
	if (op == CHAN_OP_IS_ALIVE)
		f->is_alive_due = false;
	fsm_arm(c, RES_TIMER_PROBE, deadline);
}

void fsm_start_probes(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	if (!f->failure_fd)
		fsm_arm(c, RES_TIMER_LOOKS_ALIVE, res_after_ms(c->now, f->props.looks_alive_ms));
	fsm_arm(c, RES_TIMER_IS_ALIVE, res_after_ms(c->now, f->props.is_alive_ms));
}

void fsm_stop_probes(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	fsm_disarm(c, RES_TIMER_LOOKS_ALIVE);
	fsm_disarm(c, RES_TIMER_IS_ALIVE);
	fsm_disarm(c, RES_TIMER_PROBE);
	f->probe = CHAN_OP_NONE;
	f->is_alive_due = false;
	f->failure_signalled = false;
}

/* A poll timer fired (it is armed only while Online): next tick, and the probe if none runs. */
static void on_poll(struct fsm_ctx *c, enum chan_op op)
{
	struct res_fsm *f = c->f;
	bool looks = op == CHAN_OP_LOOKS_ALIVE;

	fsm_arm(c, looks ? RES_TIMER_LOOKS_ALIVE : RES_TIMER_IS_ALIVE,
		res_after_ms(c->now, looks ? f->props.looks_alive_ms : f->props.is_alive_ms));
	if (f->probe == CHAN_OP_NONE)
		fsm_post_probe(c, op);
	else if (!looks && f->probe == CHAN_OP_LOOKS_ALIVE)
		f->is_alive_due = true; /* right after the looks_alive */
	else
		fsm_verdict(c, RES_V_IGNORED); /* a probe runs: this tick is skipped */
}

/* ---- failure and restart ---- */

static void apply_policy(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;
	struct res_action *a;
	enum restart_verdict v;
	uint64_t at;

	if (!f->target_online || f->deleting)
		return;
	v = restart_policy_failure(&f->restart, &f->props, c->now, &at);
	a = fsm_emit(c, RES_ACT_POLICY);
	a->policy.verdict = v;
	a->policy.at_ns = at;
	a->policy.count = restart_policy_count(&f->restart, &f->props, c->now);
	if (v == RESTART_AFTER_DELAY)
		fsm_arm(c, RES_TIMER_RESTART, at);
	else if (at != 0)
		fsm_arm(c, RES_TIMER_RETRY, at);
}

void fsm_fail(struct fsm_ctx *c, enum res_fail_cause cause, int32_t code, bool terminate)
{
	struct res_fsm *f = c->f;

	f->fail_cause = cause;
	f->last_error = code;
	f->failure_fd = false; /* the monitor closes it on Failed */
	fsm_set_state(c, HAGENT_RESOURCE_FAILED);
	if (terminate)
		decide_terminate(c, RES_TERM_FAILURE);
	else {
		abandon_op(c);
		fsm_stop_probes(c);
	}
	apply_policy(c);
}

/* RES_TIMER_RESTART or RES_TIMER_RETRY fired (T22). */
static void on_restart_due(struct fsm_ctx *c, bool retry)
{
	struct res_fsm *f = c->f;

	if (f->state != HAGENT_RESOURCE_FAILED || !f->target_online) {
		fsm_verdict(c, RES_V_IGNORED);
		return;
	}
	if (retry)
		restart_policy_retry_begin(&f->restart);
	fsm_begin_online(c);
}

void fsm_removed(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	abandon_op(c);
	fsm_stop_probes(c);
	memset(f->timer_at, 0, sizeof(f->timer_at));
	f->deleting = true;
	f->removed = true;
	fsm_emit(c, RES_ACT_REMOVED);
}

/*
 * The monitor is gone (died, or killed now): nothing it had will answer.
 * Online, pending and Initializing resources fail (T28), as does an Offline
 * one whose terminate was not confirmed; a clean Offline stays Offline.
 */
static void monitor_lost(struct fsm_ctx *c, bool kill, int32_t code)
{
	struct res_fsm *f = c->f;
	bool unconfirmed = f->term_outstanding;

	if (kill)
		fsm_emit(c, RES_ACT_KILL_MONITOR)->monitor_gen = f->monitor_gen;
	f->monitor_up = false;
	f->opened = false;
	f->term_outstanding = false;
	fsm_disarm(c, RES_TIMER_TERMINATE);
	memset(f->cmd_id, 0, sizeof(f->cmd_id));
	abandon_op(c);
	fsm_stop_probes(c);
	if (f->deleting) {
		fsm_removed(c);
		return;
	}
	if (f->state == HAGENT_RESOURCE_FAILED ||
	    (f->state == HAGENT_RESOURCE_OFFLINE && !unconfirmed))
		return;
	fsm_fail(c, RES_FAIL_MONITOR, code, false);
}

/* ---- timers ---- */

static void on_timer(struct fsm_ctx *c, enum res_timer t)
{
	struct res_fsm *f = c->f;

	switch (t) {
	case RES_TIMER_PENDING:
		if (f->op == CHAN_OP_ONLINE || f->op == CHAN_OP_OFFLINE)
			fsm_fail(c, RES_FAIL_TIMEOUT, -ETIMEDOUT, true); /* T10, T17 */
		else
			monitor_lost(c, true, -ETIMEDOUT); /* OPEN or CLOSE hung */
		break;
	case RES_TIMER_TERMINATE:
	case RES_TIMER_PROBE:
		monitor_lost(c, true, -ETIMEDOUT);
		break;
	case RES_TIMER_LOOKS_ALIVE:
		on_poll(c, CHAN_OP_LOOKS_ALIVE);
		break;
	case RES_TIMER_IS_ALIVE:
		on_poll(c, CHAN_OP_IS_ALIVE);
		break;
	case RES_TIMER_RESTART:
	case RES_TIMER_RETRY:
		on_restart_due(c, t == RES_TIMER_RETRY);
		break;
	case RES_TIMER_REVEAL:
		fsm_reveal(c);
		break;
	default:
		assert(false);
	}
}

/* ---- admin requests ---- */

static void req_online(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	switch (f->state) {
	case HAGENT_RESOURCE_ONLINE: /* T25 */
		f->target_online = true;
		reply(c, 0);
		return;
	case HAGENT_RESOURCE_ONLINE_PENDING: /* T26 */
	case HAGENT_RESOURCE_OFFLINE_PENDING:
		reply(c, -EBUSY);
		return;
	case HAGENT_RESOURCE_INITIALIZING: /* Offline first: when OPEN is done */
		f->target_online = true;
		f->online_after_open = true;
		reply(c, -EINPROGRESS);
		return;
	default: /* Offline, Failed: T4, T5, T6 begin */
		f->target_online = true;
		restart_policy_reset(&f->restart); /* the operator acted */
		fsm_begin_online(c);
		reply_started(c);
		return;
	}
}

/* Offline and terminate on a Failed resource: T23. */
static void req_on_failed(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	f->target_online = false;
	fsm_disarm(c, RES_TIMER_RESTART);
	fsm_disarm(c, RES_TIMER_RETRY);
	restart_policy_recovered(&c->f->restart);
	reply(c, -EIO);
}

static void req_offline(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	switch (f->state) {
	case HAGENT_RESOURCE_ONLINE: /* T12, T13, T14 begin */
		f->target_online = false;
		fsm_stop_probes(c);
		fsm_set_state(c, HAGENT_RESOURCE_OFFLINE_PENDING);
		fsm_begin_op(c, CHAN_OP_OFFLINE, fsm_pending_deadline(c));
		reply_started(c);
		return;
	case HAGENT_RESOURCE_OFFLINE: /* T24 */
		f->target_online = false;
		reply(c, 0);
		return;
	case HAGENT_RESOURCE_FAILED:
		req_on_failed(c);
		return;
	default: /* pending (T26), Initializing */
		reply(c, -EBUSY);
		return;
	}
}

static void req_terminate(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	switch (f->state) {
	case HAGENT_RESOURCE_ONLINE: /* T11 and its Online, OfflinePending forms */
	case HAGENT_RESOURCE_ONLINE_PENDING:
	case HAGENT_RESOURCE_OFFLINE_PENDING:
		f->target_online = false;
		fsm_set_state(c, HAGENT_RESOURCE_OFFLINE);
		decide_terminate(c, RES_TERM_ADMIN);
		reply(c, 0);
		return;
	case HAGENT_RESOURCE_OFFLINE:
		f->target_online = false;
		reply(c, 0);
		return;
	case HAGENT_RESOURCE_FAILED:
		req_on_failed(c);
		return;
	default: /* Initializing: nothing runs yet that could be terminated */
		reply(c, -EBUSY);
		return;
	}
}

/* T27: terminate what runs (administrative: Offline), then CLOSE, then RES_ACT_REMOVED. */
static void req_delete(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	f->deleting = true;
	f->target_online = false;
	fsm_disarm(c, RES_TIMER_RESTART);
	fsm_disarm(c, RES_TIMER_RETRY);
	switch (f->state) {
	case HAGENT_RESOURCE_ONLINE:
	case HAGENT_RESOURCE_ONLINE_PENDING:
	case HAGENT_RESOURCE_OFFLINE_PENDING:
		fsm_set_state(c, HAGENT_RESOURCE_OFFLINE);
		decide_terminate(c, RES_TERM_ADMIN);
		break;
	case HAGENT_RESOURCE_INITIALIZING:
		if (f->op == CHAN_OP_OPEN) { /* CLOSE when OPEN is done */
			f->online_after_open = false;
			reply(c, -EINPROGRESS);
			return;
		}
		break;
	default:
		break;
	}
	if (!f->monitor_up || !f->opened) {
		fsm_removed(c);
		reply(c, 0);
		return;
	}
	fsm_begin_op(c, CHAN_OP_CLOSE, fsm_deadlock_deadline(c));
	reply(c, -EINPROGRESS);
}

/* RES_EV_SET_TARGET: the persistent state alone (the group layer requests the operation later). */
static void set_target(struct fsm_ctx *c, bool online)
{
	struct res_fsm *f = c->f;

	if (f->target_online == online) {
		fsm_verdict(c, RES_V_IGNORED);
		return;
	}
	f->target_online = online;
	if (online)
		return;
	f->online_after_open = false;
	fsm_disarm(c, RES_TIMER_RESTART);
	fsm_disarm(c, RES_TIMER_RETRY);
	restart_policy_recovered(&f->restart);
}

/* A system request (the group layer's): the persistent state stays as it is. */
static void req_system(struct fsm_ctx *c, enum res_event_kind kind)
{
	struct res_fsm *f = c->f;
	bool target = f->target_online;

	if (f->state == HAGENT_RESOURCE_FAILED) { /* down already; its restart stays */
		reply(c, -EIO);
		return;
	}
	if (kind == RES_EV_REQ_OFFLINE)
		req_offline(c);
	else
		req_terminate(c);
	f->target_online = target;
}

/* ---- entry points ---- */

static void on_start(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	if (f->state != HAGENT_RESOURCE_INITIALIZING || f->monitor_up || f->op != CHAN_OP_NONE) {
		fsm_verdict(c, RES_V_IGNORED);
		return;
	}
	begin_open(c, f->online_after_open);
}

static void on_monitor_gone(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;
	bool hung = ev->kind == RES_EV_MONITOR_HUNG;

	if (!f->monitor_up || ev->monitor_gen != f->monitor_gen) {
		fsm_verdict(c, RES_V_STALE);
		return;
	}
	monitor_lost(c, hung, hung ? -ETIMEDOUT : -ESRCH);
}

static bool is_request(enum res_event_kind k)
{
	return k == RES_EV_REQ_ONLINE || k == RES_EV_REQ_OFFLINE || k == RES_EV_REQ_TERMINATE ||
	       k == RES_EV_REQ_DELETE;
}

static bool is_answer(enum res_event_kind k)
{
	return k == RES_EV_ACCEPTED || k == RES_EV_PROGRESS || k == RES_EV_DONE;
}

/* After RES_ACT_REMOVED: requests get -ENOENT, reports "terminate", the rest is stale. */
static void on_removed(struct fsm_ctx *c, const struct res_event *ev)
{
	if (is_request(ev->kind)) {
		reply(c, -ENOENT);
		return;
	}
	fsm_verdict(c, RES_V_STALE);
	if (is_answer(ev->kind) && ev->kind != RES_EV_ACCEPTED && ev->cls == CHAN_CLASS_TRANSITION)
		c->out->exit = RES_EXIT_TERMINATE;
}

static void dispatch(struct fsm_ctx *c, const struct res_event *ev)
{
	if (c->f->removed || (c->f->deleting && is_request(ev->kind))) {
		on_removed(c, ev);
		return;
	}
	switch (ev->kind) {
	case RES_EV_START:
		on_start(c);
		break;
	case RES_EV_REQ_ONLINE:
		c->quiet_request = ev->quiet;
		req_online(c);
		c->quiet_request = false;
		break;
	case RES_EV_REQ_OFFLINE:
		if (ev->system) {
			req_system(c, ev->kind);
			break;
		}
		c->quiet_request = ev->quiet;
		req_offline(c);
		c->quiet_request = false;
		break;
	case RES_EV_REQ_TERMINATE:
		if (ev->system)
			req_system(c, ev->kind);
		else
			req_terminate(c);
		break;
	case RES_EV_REQ_DELETE:
		req_delete(c);
		break;
	case RES_EV_ACCEPTED:
	case RES_EV_PROGRESS:
	case RES_EV_DONE:
		fsm_on_answer(c, ev);
		break;
	case RES_EV_FAILURE:
		fsm_on_failure(c);
		break;
	case RES_EV_LOCKED:
		fsm_on_locked(c, ev->code != 0);
		break;
	case RES_EV_TIMER:
		on_timer(c, ev->timer);
		break;
	case RES_EV_MONITOR_DIED:
	case RES_EV_MONITOR_HUNG:
		on_monitor_gone(c, ev);
		break;
	case RES_EV_SET_TARGET:
		if (c->f->deleting)
			fsm_verdict(c, RES_V_IGNORED);
		else
			set_target(c, ev->code != 0);
		break;
	default:
		assert(false);
	}
}

static uint32_t reply_win32(int error)
{
	switch (error) {
	case 0:
		return RES_WIN_SUCCESS;
	case -EINPROGRESS:
		return RES_WIN_IO_PENDING;
	case -EBUSY:
		return RES_WIN_INVALID_STATE;
	case -EIO:
		return RES_WIN_RESOURCE_FAILED;
	case -ENOENT:
		return RES_WIN_RESOURCE_NOT_FOUND;
	case -ECANCELED:
		return RES_WIN_OPERATION_ABORTED;
	default:
		assert(false);
		return RES_WIN_INVALID_STATE;
	}
}

/* Timers leave as the difference between before and after, in enum order; the reply is last. */
static void finish(struct fsm_ctx *c, const uint64_t *before)
{
	struct res_action *a;

	for (int t = 0; t < _RES_TIMER_MAX; t++) {
		uint64_t at = c->f->timer_at[t];

		if (at == before[t])
			continue;
		a = fsm_emit(c, at ? RES_ACT_SET_TIMER : RES_ACT_CANCEL_TIMER);
		a->timer.which = t;
		a->timer.at_ns = at;
	}
	if (c->has_deferred) {
		a = fsm_emit(c, RES_ACT_REPLY);
		a->reply.error = c->deferred_error;
		a->reply.win32 = reply_win32(c->deferred_error);
		a->reply.deferred = true;
	}
	if (c->has_reply) {
		a = fsm_emit(c, RES_ACT_REPLY);
		a->reply.error = c->reply_error;
		a->reply.win32 = reply_win32(c->reply_error);
	}
}

static bool event_valid(const struct res_event *ev)
{
	if ((unsigned) ev->kind >= _RES_EV_MAX)
		return false;
	if (ev->kind == RES_EV_TIMER && (unsigned) ev->timer >= _RES_TIMER_MAX)
		return false;
	if (is_answer(ev->kind) && ev->cls >= _CHAN_CLASS_MAX)
		return false;
	return true;
}

int res_fsm_step(struct res_fsm *f, const struct res_event *ev, uint64_t now_ns,
		 struct res_actions *out)
{
	struct fsm_ctx c = {.f = f, .now = now_ns, .out = out};
	uint64_t before[_RES_TIMER_MAX];

	assert_return(out, -EINVAL);
	*out = (struct res_actions){.verdict = RES_V_APPLIED, .exit = RES_EXIT_CONTINUE};
	assert_return(f, -EINVAL);
	assert_return(ev, -EINVAL);
	assert_return(event_valid(ev), -EINVAL);

	memcpy(before, f->timer_at, sizeof(before));
	if (ev->kind == RES_EV_TIMER) {
		uint64_t at = f->timer_at[ev->timer];

		if (at == 0 || now_ns < at) { /* cancelled or moved since: not due */
			fsm_verdict(&c, RES_V_IGNORED);
			return 0;
		}
		f->timer_at[ev->timer] = before[ev->timer] = 0; /* fired: nothing to cancel */
	}
	dispatch(&c, ev);
	finish(&c, before);
	return 0;
}

int res_fsm_bind(struct res_fsm *f, enum chan_cmd_class cls, uint64_t cmd_id)
{
	assert_return(f, -EINVAL);
	assert_return((unsigned) cls < _CHAN_CLASS_MAX, -EINVAL);
	assert_return(cmd_id != 0 && cmd_id != RES_CMD_UNBOUND, -EINVAL);

	if (f->cmd_id[cls] != RES_CMD_UNBOUND)
		return -ESRCH;
	f->cmd_id[cls] = cmd_id;
	return 0;
}

int res_fsm_set_props(struct res_fsm *f, const struct res_props *props, const char **ret_key)
{
	int r;

	assert_return(f, -EINVAL);
	assert_return(props, -EINVAL);

	r = res_props_validate(props, ret_key);
	if (r < 0)
		return r;
	f->props = *props;
	return 0;
}

int res_fsm_init(struct res_fsm *f, const struct res_props *props, const char **ret_key)
{
	int r;

	assert_return(f, -EINVAL);
	assert_return(props, -EINVAL);

	r = res_props_validate(props, ret_key);
	if (r < 0)
		return r;
	*f = (struct res_fsm){
		.props = *props,
		.state = HAGENT_RESOURCE_INITIALIZING,
		.state_seq = 1,
		.op = CHAN_OP_NONE,
		.probe = CHAN_OP_NONE,
	};
	restart_policy_reset(&f->restart);
	return 0;
}
