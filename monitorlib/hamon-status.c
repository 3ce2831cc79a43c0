/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Everything libhamon tells the agent goes through here: answers to
 * commands, the pending protocol (hamon_set_resource_status, semantics.md
 * 3.3) and the unsolicited FAILURE and LOCKED statuses.  The channel's
 * monitor end is not thread-safe, so every post holds ctx->lock; a post
 * never blocks (a full ring falls back to the resource's register).
 */
#include <assert.h>
#include <string.h>

#include "hamon-internal.h"

void status_post_locked(struct hamon_ctx *ctx, const struct chan_status_body *b)
{
	/* 1 (register fallback) is success; an error means a bug here (index, length). */
	int r = chan_monitor_post(ctx->chan, b);

	assert(r >= 0);
	(void) r;
}

void status_answer_locked(struct hamon_resource *r, uint8_t cls, uint64_t cmd_id, uint16_t type,
			  int32_t code, int32_t state)
{
	struct chan_status_body b = {
		.type = type,
		.cls = cls,
		.res = r->index,
		.cmd_id = cmd_id,
		.code = code,
		.state = state,
	};

	if (cmd_id != 0)
		status_post_locked(r->ctx, &b);
}

void status_answer(struct hamon_resource *r, uint8_t cls, uint64_t cmd_id, uint16_t type,
		   int32_t code, int32_t state)
{
	(void) pthread_mutex_lock(&r->ctx->lock);
	status_answer_locked(r, cls, cmd_id, type, code, state);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}

void status_transition_done_locked(struct hamon_resource *r, uint64_t cmd_id, int32_t code,
				   int32_t state)
{
	struct chan_status_body b = {
		.type = CHAN_ST_DONE,
		.cls = CHAN_CLASS_TRANSITION,
		.res = r->index,
		.cmd_id = cmd_id,
		.code = code,
		.state = state,
	};

	/*
	 * The implementation called hamon_failure_fd() before this report or
	 * before online() returned: that call happens before this load,
	 * through the implementation's own report or the worker's return.
	 */
	if (code == 0 && state == HAMON_STATE_ONLINE &&
	    atomic_load_explicit(&r->failure_fd_used, memory_order_relaxed))
		b.flags = CHAN_F_FAILURE_FD;
	if (cmd_id != 0)
		status_post_locked(r->ctx, &b);
}

void status_entry_pending_locked(struct hamon_resource *r, uint64_t cmd_id, int32_t state)
{
	struct chan_status_body b = {
		.type = CHAN_ST_PROGRESS,
		.cls = CHAN_CLASS_TRANSITION,
		.flags = CHAN_F_ENTRY_PENDING,
		.res = r->index,
		.cmd_id = cmd_id,
		.state = state,
	};

	status_post_locked(r->ctx, &b);
}

void status_failure(struct hamon_resource *r)
{
	struct chan_status_body b = {.type = CHAN_ST_FAILURE, .res = r->index};

	(void) pthread_mutex_lock(&r->ctx->lock);
	status_post_locked(r->ctx, &b);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}

static bool state_is_known(enum hamon_state s)
{
	switch (s) {
	case HAMON_STATE_ONLINE:
	case HAMON_STATE_OFFLINE:
	case HAMON_STATE_FAILED:
	case HAMON_STATE_ONLINE_PENDING:
	case HAMON_STATE_OFFLINE_PENDING:
		return true;
	}
	return false;
}

/* Whether s may be reported during pending operation op (the acceptance table). */
static bool state_fits(uint32_t op, enum hamon_state s)
{
	if (s == HAMON_STATE_FAILED)
		return true;
	if (op == CHAN_OP_ONLINE)
		return s == HAMON_STATE_ONLINE || s == HAMON_STATE_ONLINE_PENDING;
	return s == HAMON_STATE_OFFLINE || s == HAMON_STATE_OFFLINE_PENDING;
}

/* A progress report: posted if its checkpoint is new.  ctx->lock held. */
static int report_progress(struct hamon_resource *r, enum hamon_state state, uint32_t checkpoint,
			   uint32_t wait_hint_ms)
{
	struct chan_status_body b = {
		.type = CHAN_ST_PROGRESS,
		.cls = CHAN_CLASS_TRANSITION,
		.res = r->index,
		.cmd_id = r->pending_cmd_id,
		.state = state,
		.checkpoint = checkpoint,
		.wait_hint_ms = wait_hint_ms,
	};

	if (r->has_checkpoint && checkpoint <= r->last_checkpoint)
		return HAMON_CONTINUE; /* not a new report */
	r->has_checkpoint = true;
	r->last_checkpoint = checkpoint;
	status_post_locked(r->ctx, &b);
	return HAMON_CONTINUE;
}

/* The outcome: answers the pending command.  ctx->lock held. */
static int report_outcome(struct hamon_resource *r, enum hamon_state state)
{
	bool failed = state == HAMON_STATE_FAILED;

	/* A reported failure carries no errno of its own. */
	status_transition_done_locked(r, r->pending_cmd_id, failed ? -EIO : 0, state);
	r->pending_op = 0;
	r->state = state;
	return failed ? HAMON_TERMINATE : HAMON_CONTINUE;
}

_public_ int hamon_set_resource_status(hamon_resource *r, enum hamon_state state,
				       uint32_t checkpoint, uint32_t wait_hint_ms)
{
	int ret;

	assert_return(r, -EINVAL);

	(void) pthread_mutex_lock(&r->ctx->lock);
	/*
	 * Pairs with the release store in set_terminate(); the dispatcher posts
	 * the terminate's ACCEPTED under this lock afterwards: once the
	 * agent has seen that, nothing more is posted here.  Outside a
	 * pending operation (none began, it was answered, or the resource
	 * was closed) the caller is a stray worker: it is told to stop too
	 * (semantics.md 3.3), and nothing is posted.
	 */
	if (atomic_load_explicit(&r->terminate_requested, memory_order_acquire))
		ret = HAMON_TERMINATE;
	else if (!state_is_known(state))
		ret = -EINVAL;
	else if (r->pending_op == 0)
		ret = HAMON_TERMINATE;
	else if (!state_fits(r->pending_op, state))
		ret = -EINVAL;
	else if (state == HAMON_STATE_ONLINE_PENDING || state == HAMON_STATE_OFFLINE_PENDING)
		ret = report_progress(r, state, checkpoint, wait_hint_ms);
	else
		ret = report_outcome(r, state);
	(void) pthread_mutex_unlock(&r->ctx->lock);
	return ret;
}

_public_ int hamon_set_locked_mode(hamon_resource *r, bool locked, uint32_t reason)
{
	struct chan_status_body b = {
		.type = CHAN_ST_LOCKED,
		.res = 0,
		.code = locked ? 1 : 0,
		.detail_len = sizeof(reason),
	};

	assert_return(r, -EINVAL);
	b.res = r->index;
	memcpy(b.detail, &reason, sizeof(reason));

	(void) pthread_mutex_lock(&r->ctx->lock);
	status_post_locked(r->ctx, &b);
	(void) pthread_mutex_unlock(&r->ctx->lock);
	return 0;
}
