/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource state machine, monitor side: answers to the commands it
 * posted (the pending protocol of semantics.md §3.3, OPEN and CLOSE,
 * TERMINATE, the probes of §4.1) and the unsolicited FAILURE (§4.2) and
 * LOCKED statuses.  Every answer must carry the command id bound to the
 * outstanding command of its class; anything else is stale.
 */

#include <errno.h>

#include "macro.h"
#include "resource-fsm-internal.h"

/* ---- the pending protocol ---- */

static void on_progress(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;

	if (f->has_checkpoint && ev->checkpoint <= f->checkpoint) {
		fsm_verdict(c, RES_V_IGNORED); /* nothing new: the deadline stays */
		return;
	}
	f->has_checkpoint = true;
	f->checkpoint = ev->checkpoint;
	f->wait_hint_ms = ev->wait_hint_ms; /* diagnostics only: never extends the deadline */
	fsm_arm(c, RES_TIMER_PENDING, fsm_pending_deadline(c));
	fsm_emit(c, RES_ACT_REFRESH);
}

/* DONE with the state the operation aimed at: T4, T8 (Online), T12, T16 (Offline). */
static void on_reached(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;
	bool online = f->op == CHAN_OP_ONLINE;

	f->op = CHAN_OP_NONE;
	f->op_posted = false;
	fsm_disarm(c, RES_TIMER_PENDING);
	if (!online) {
		f->failure_fd = false;
		fsm_set_state(c, HAGENT_RESOURCE_OFFLINE);
		return;
	}
	f->failure_fd = ev->failure_fd;
	fsm_set_state(c, HAGENT_RESOURCE_ONLINE);
	restart_policy_recovered(&f->restart);
	fsm_start_probes(c);
}

/* A report on a running Online (state OnlinePending) or Offline (OfflinePending). */
static void on_report(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;
	bool online = f->op == CHAN_OP_ONLINE;
	int32_t pending = online ? HAGENT_RESOURCE_ONLINE_PENDING : HAGENT_RESOURCE_OFFLINE_PENDING;
	int32_t goal = online ? HAGENT_RESOURCE_ONLINE : HAGENT_RESOURCE_OFFLINE;
	enum res_fail_cause cause;

	c->out->exit = RES_EXIT_CONTINUE;
	if (ev->kind == RES_EV_PROGRESS && ev->state == pending) {
		fsm_reveal(c); /* a quiet request's operation is pending: T5, T13 */
		if (ev->entry_pending)
			return;	    /* "the entry point returned pending": no checkpoint in it */
		on_progress(c, ev); /* T7, T15 */
		return;
	}
	if (ev->kind == RES_EV_DONE && ev->state == goal) {
		on_reached(c, ev);
		return;
	}
	if (ev->kind == RES_EV_DONE && ev->state == HAGENT_RESOURCE_FAILED) {
		if (f->has_checkpoint)
			cause = RES_FAIL_REPORTED; /* T9, T17 */
		else
			cause = online ? RES_FAIL_ONLINE : RES_FAIL_OFFLINE; /* T6, T14 */
		fsm_fail(c, cause, ev->code < 0 ? ev->code : -EIO, true);
		c->out->exit = RES_EXIT_TERMINATE;
		return;
	}
	/* The other state, Initializing, Unknown, garbage, or a kind/state mismatch. */
	fsm_verdict(c, RES_V_REJECTED);
}

/* OPEN answered: T2 (Offline, then a waiting Online or CLOSE goes on) or T3 (Failed). */
static void on_open_done(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;
	bool online_after = f->online_after_open;

	f->op = CHAN_OP_NONE;
	f->op_posted = false;
	f->online_after_open = false;
	fsm_disarm(c, RES_TIMER_PENDING);
	if (ev->code == 0 && ev->state == HAGENT_RESOURCE_OFFLINE) {
		f->opened = true;
		fsm_set_state(c, HAGENT_RESOURCE_OFFLINE);
		if (f->deleting)
			fsm_begin_op(c, CHAN_OP_CLOSE, fsm_deadlock_deadline(c));
		else if (online_after)
			fsm_begin_online(c);
		return;
	}
	if (f->deleting) {
		fsm_removed(c);
		return;
	}
	/* Open must leave the entity offline: "success" in another state is a failure too. */
	fsm_fail(c, RES_FAIL_OPEN, ev->code < 0 ? ev->code : -EPROTO, false);
}

static void on_transition_answer(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;

	if (ev->kind == RES_EV_ACCEPTED) {
		if (f->op_posted && !f->term_decided)
			f->op_accepted = true;
		else
			fsm_verdict(c, RES_V_IGNORED);
		return;
	}
	c->out->exit = RES_EXIT_TERMINATE;
	if (f->term_decided || (f->op != CHAN_OP_NONE && !f->op_posted)) {
		fsm_verdict(c, RES_V_DISCARDED); /* the terminated operation's */
		return;
	}
	if (ev->kind == RES_EV_DONE && (f->op == CHAN_OP_OPEN || f->op == CHAN_OP_CLOSE)) {
		c->out->exit = RES_EXIT_CONTINUE;
		if (f->op == CHAN_OP_OPEN)
			on_open_done(c, ev);
		else
			fsm_removed(c); /* T27 */
		return;
	}
	if (f->op == CHAN_OP_ONLINE || f->op == CHAN_OP_OFFLINE) {
		on_report(c, ev);
		return;
	}
	/* No pending operation (or a progress report on OPEN/CLOSE): not allowed. */
	fsm_verdict(c, RES_V_REJECTED);
}

/* ---- terminate ---- */

static void on_terminate_answer(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;

	if (ev->kind == RES_EV_ACCEPTED)
		return;
	if (ev->kind != RES_EV_DONE) {
		fsm_verdict(c, RES_V_REJECTED);
		return;
	}
	f->cmd_id[CHAN_CLASS_TERMINATE] = 0; /* answered once */
	f->term_outstanding = false;
	fsm_disarm(c, RES_TIMER_TERMINATE);
	fsm_try_post_op(c); /* an Online, restart or CLOSE decided meanwhile */
}

/* ---- health checks ---- */

static void on_probe_answer(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;
	enum chan_op op =
		ev->cls == CHAN_CLASS_LOOKS_ALIVE ? CHAN_OP_LOOKS_ALIVE : CHAN_OP_IS_ALIVE;
	bool alive = ev->code > 0; /* -errno counts as "not alive" */

	if (ev->kind == RES_EV_ACCEPTED)
		return;
	if (ev->kind != RES_EV_DONE) {
		fsm_verdict(c, RES_V_REJECTED);
		return;
	}
	f->cmd_id[ev->cls] = 0;
	if (f->probe != op || f->state != HAGENT_RESOURCE_ONLINE || f->term_decided) {
		fsm_verdict(c, RES_V_DISCARDED); /* Online was left since it was posted */
		return;
	}
	f->probe = CHAN_OP_NONE;
	fsm_disarm(c, RES_TIMER_PROBE);
	if (op == CHAN_OP_LOOKS_ALIVE) {
		if (!alive || f->is_alive_due)
			fsm_post_probe(c, CHAN_OP_IS_ALIVE); /* T18: at once */
		return;
	}
	if (!alive) {
		fsm_fail(c, RES_FAIL_PROBE, ev->code < 0 ? ev->code : -EIO, true); /* T18-T20 */
		return;
	}
	if (f->is_alive_due) { /* a signal came while it ran: check again */
		fsm_post_probe(c, CHAN_OP_IS_ALIVE);
		return;
	}
	if (f->failure_signalled) { /* T20 unconfirmed */
		f->failure_signalled = false;
		f->stats.spurious_failures++;
	}
	/* T21: no transition, no sequence increment. */
}

void fsm_on_answer(struct fsm_ctx *c, const struct res_event *ev)
{
	struct res_fsm *f = c->f;

	if (ev->cmd_id == 0 || ev->cmd_id == RES_CMD_UNBOUND || ev->cmd_id != f->cmd_id[ev->cls]) {
		fsm_verdict(c, RES_V_STALE);
		if (ev->cls == CHAN_CLASS_TRANSITION && ev->kind != RES_EV_ACCEPTED)
			c->out->exit = RES_EXIT_TERMINATE;
		return;
	}
	switch (ev->cls) {
	case CHAN_CLASS_TRANSITION:
		on_transition_answer(c, ev);
		break;
	case CHAN_CLASS_TERMINATE:
		on_terminate_answer(c, ev);
		break;
	case CHAN_CLASS_LOOKS_ALIVE:
	case CHAN_CLASS_IS_ALIVE:
		on_probe_answer(c, ev);
		break;
	default: /* CONTROL: never posted by the state machine */
		fsm_verdict(c, RES_V_REJECTED);
		break;
	}
}

/* ---- unsolicited ---- */

void fsm_on_failure(struct fsm_ctx *c)
{
	struct res_fsm *f = c->f;

	if (f->state != HAGENT_RESOURCE_ONLINE || f->term_decided || f->failure_signalled) {
		fsm_verdict(c, RES_V_IGNORED); /* not Online, or already being verified */
		return;
	}
	f->failure_signalled = true;
	if (f->probe == CHAN_OP_NONE)
		fsm_post_probe(c, CHAN_OP_IS_ALIVE);
	else
		f->is_alive_due = true;
}

void fsm_on_locked(struct fsm_ctx *c, bool locked)
{
	if (c->f->locked == locked) {
		fsm_verdict(c, RES_V_IGNORED);
		return;
	}
	c->f->locked = locked;
	fsm_emit(c, RES_ACT_REFRESH);
}

/* ---- conversion from the channel ---- */

int res_event_from_status(const struct chan_status_body *b, struct res_event *ret)
{
	enum res_event_kind kind;

	assert_return(b, -EINVAL);
	assert_return(ret, -EINVAL);

	switch (b->type) {
	case CHAN_ST_ACCEPTED:
		kind = RES_EV_ACCEPTED;
		break;
	case CHAN_ST_PROGRESS:
		kind = RES_EV_PROGRESS;
		break;
	case CHAN_ST_DONE:
		kind = RES_EV_DONE;
		break;
	case CHAN_ST_FAILURE:
		kind = RES_EV_FAILURE;
		break;
	case CHAN_ST_LOCKED:
		kind = RES_EV_LOCKED;
		break;
	default:
		return -EINVAL;
	}
	if (b->cls >= _CHAN_CLASS_MAX)
		return -EINVAL;
	*ret = (struct res_event){
		.kind = kind,
		.cls = b->cls,
		.cmd_id = b->cmd_id,
		.state = b->state,
		.code = b->code,
		.checkpoint = b->checkpoint,
		.wait_hint_ms = b->wait_hint_ms,
		.failure_fd = kind == RES_EV_DONE && (b->flags & CHAN_F_FAILURE_FD),
		.entry_pending = kind == RES_EV_PROGRESS && (b->flags & CHAN_F_ENTRY_PENDING),
	};
	return 0;
}
