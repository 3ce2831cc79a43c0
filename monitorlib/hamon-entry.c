/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker functions: each runs one command's entry point and answers it
 * (DONE; the dispatcher already sent ACCEPTED).  ctx->lock is taken before
 * and after an entry point, never across it.
 *
 * Terminate and transitions: terminate_requested is set by the dispatcher
 * before the TERMINATE (or CLOSE) is acknowledged.  An online or offline
 * that returns while it is set has been cancelled: its command is answered
 * failed (unless a report already answered it), and the state is failed,
 * so that close terminates again (terminate is idempotent) rather than
 * trusting a resource whose terminate may have run before it came up.
 *
 * Pending: an online or offline that returns HAMON_PENDING with its command
 * unanswered is marked to the agent at once (a PROGRESS with
 * CHAN_F_ENTRY_PENDING), in the critical section that records the return
 * (in_entry), so every report that takes ctx->lock after it follows it on
 * the ring.  A report that races the return counts as one made during the
 * entry point: it may precede the marker (the agent accepts that order).
 */
#include <assert.h>
#include <string.h>

#include "hamon-internal.h"

/* The instance, if open() succeeded and close() has not run. */
static bool get_instance(struct hamon_resource *r, void **ret)
{
	bool opened;

	(void) pthread_mutex_lock(&r->ctx->lock);
	opened = r->opened;
	*ret = r->instance;
	(void) pthread_mutex_unlock(&r->ctx->lock);
	return opened;
}

static bool terminating(struct hamon_resource *r)
{
	/* Pairs with the release stores in set_terminate() (hamon-dispatch.c). */
	return atomic_load_explicit(&r->terminate_requested, memory_order_acquire);
}

static void run_open(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	void *instance = NULL;
	int k = ops->open ? ops->open(r, &instance) : 0;

	(void) pthread_mutex_lock(&r->ctx->lock);
	if (k >= 0) {
		r->opened = true;
		r->instance = instance;
		r->state = HAMON_STATE_OFFLINE;
	} else {
		r->state = HAMON_STATE_FAILED;
	}
	status_answer_locked(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, k < 0 ? k : 0, r->state);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}

/* Answers an online/offline that returned k, unless a report answered it.  ctx->lock held. */
static void finish_transition(struct hamon_resource *r, const struct hamon_job *job, int k)
{
	bool online = job->cmd.op == CHAN_OP_ONLINE;
	bool unanswered = r->pending_op != 0 && r->pending_cmd_id == job->cmd.cmd_id;
	int code;

	if (terminating(r)) {
		code = k < 0 ? k : -ECANCELED;
		r->state = HAMON_STATE_FAILED;
	} else if (!unanswered) {
		return; /* hamon_set_resource_status() reported the outcome */
	} else if (k == HAMON_PENDING) {
		/* It will: tell the agent now, before any report made from here on. */
		status_entry_pending_locked(r, job->cmd.cmd_id,
					    online ? HAMON_STATE_ONLINE_PENDING
						   : HAMON_STATE_OFFLINE_PENDING);
		return;
	} else if (k == 0) {
		code = 0;
		r->state = online ? HAMON_STATE_ONLINE : HAMON_STATE_OFFLINE;
	} else {
		code = k < 0 ? k : -EINVAL; /* any other positive value breaks the contract */
		r->state = HAMON_STATE_FAILED;
	}
	if (unanswered)
		status_transition_done_locked(r, job->cmd.cmd_id, code, r->state);
	r->pending_op = 0;
}

static void run_online_offline(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	bool online = job->cmd.op == CHAN_OP_ONLINE;
	void *instance;
	int k;

	(void) pthread_mutex_lock(&r->ctx->lock);
	if (!r->opened) {
		status_answer_locked(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, -ENODEV,
				     HAMON_STATE_FAILED);
		(void) pthread_mutex_unlock(&r->ctx->lock);
		return;
	}
	/* Pending before the call: the implementation may report before it returns. */
	instance = r->instance;
	r->in_entry = true;
	r->pending_op = job->cmd.op;
	r->pending_cmd_id = job->cmd.cmd_id;
	r->has_checkpoint = false;
	r->state = online ? HAMON_STATE_ONLINE_PENDING : HAMON_STATE_OFFLINE_PENDING;
	if (online) /* each online declares its failure fd anew (hamon_failure_fd()) */
		atomic_store_explicit(&r->failure_fd_used, false, memory_order_relaxed);
	(void) pthread_mutex_unlock(&r->ctx->lock);

	if (online)
		k = ops->online(r, instance);
	else
		k = ops->offline(r, instance, job->cmd.args, job->cmd.args_len);

	(void) pthread_mutex_lock(&r->ctx->lock);
	r->in_entry = false;
	finish_transition(r, job, k);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}

/* The three other workers first, so that nothing else uses the instance. */
static void run_close(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	bool opened, need_terminate;
	void *instance;

	worker_stop(&r->workers[WORKER_TERMINATE]);
	worker_stop(&r->workers[WORKER_PROBE]);
	worker_stop(&r->workers[WORKER_CONTROL]);

	(void) pthread_mutex_lock(&r->ctx->lock);
	opened = r->opened;
	instance = r->instance;
	need_terminate = opened && r->state != HAMON_STATE_OFFLINE;
	(void) pthread_mutex_unlock(&r->ctx->lock);

	if (need_terminate && ops->terminate)
		ops->terminate(r, instance);
	if (opened && ops->close)
		ops->close(r, instance);

	(void) pthread_mutex_lock(&r->ctx->lock);
	r->opened = false;
	r->instance = NULL;
	r->pending_op = 0;
	r->state = HAMON_STATE_OFFLINE;
	(void) pthread_mutex_unlock(&r->ctx->lock);

	/*
	 * Before the answer: once the agent has it, it may open the slot
	 * again, and the dispatcher must then see the slot closed.  Pairs
	 * with the acquire exchange in the dispatcher.
	 */
	atomic_store_explicit(&r->close_done, true, memory_order_release);
	ctx_wake(r->ctx);
	status_answer(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, 0, HAMON_STATE_OFFLINE);
}

void entry_transition(struct hamon_resource *r, const struct hamon_job *job)
{
	switch (job->cmd.op) {
	case CHAN_OP_OPEN:
		run_open(r, job);
		break;
	case CHAN_OP_ONLINE:
	case CHAN_OP_OFFLINE:
		run_online_offline(r, job);
		break;
	case CHAN_OP_CLOSE:
		run_close(r, job);
		break;
	default:
		assert(false); /* the dispatcher checked the op */
	}
}

void entry_terminate(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	void *instance;
	bool opened = get_instance(r, &instance);

	if (opened && ops->terminate)
		ops->terminate(r, instance);

	(void) pthread_mutex_lock(&r->ctx->lock);
	/* A running online/offline answers for itself when it returns (finish_transition). */
	if (!r->in_entry) {
		if (r->pending_op != 0)
			status_answer_locked(r, CHAN_CLASS_TRANSITION, r->pending_cmd_id,
					     CHAN_ST_DONE, -ECANCELED, HAMON_STATE_FAILED);
		r->pending_op = 0;
		if (r->opened)
			r->state = HAMON_STATE_OFFLINE;
	}
	status_answer_locked(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, 0, HAMON_STATE_OFFLINE);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}

void entry_probe(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	int (*probe)(hamon_resource *, void *) =
		job->cmd.op == CHAN_OP_LOOKS_ALIVE ? ops->looks_alive : ops->is_alive;
	void *instance;
	int k;

	if (!get_instance(r, &instance))
		k = 0;
	else if (!probe)
		k = 1; /* nothing to check with: the agent relies on the failure fd */
	else
		k = probe(r, instance);
	status_answer(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, k > 0 ? 1 : 0, 0);
}

/* The library's answer to a control code the implementation left to it (-EOPNOTSUPP). */
static int control_default(struct hamon_resource *r, uint32_t code, uint8_t *out, size_t out_size)
{
	uint32_t v;

	if (out_size < sizeof(v))
		return -EOPNOTSUPP;
	(void) pthread_mutex_lock(&r->ctx->lock);
	switch (code) {
	case HAMON_CONTROL_GET_STATE:
		v = (uint32_t) r->state;
		break;
	case HAMON_CONTROL_GET_FLAGS:
		v = (atomic_load(&r->failure_fd_used) ? HAMON_CONTROL_F_FAILURE_FD : 0) |
		    (r->opened ? HAMON_CONTROL_F_OPENED : 0);
		break;
	default:
		(void) pthread_mutex_unlock(&r->ctx->lock);
		return -EOPNOTSUPP;
	}
	(void) pthread_mutex_unlock(&r->ctx->lock);
	memcpy(out, &v, sizeof(v));
	return (int) sizeof(v);
}

void entry_control(struct hamon_resource *r, const struct hamon_job *job)
{
	const struct hamon_ops *ops = &r->ctx->ops;
	struct chan_status_body b = {
		.type = CHAN_ST_DONE,
		.cls = job->cls,
		.res = r->index,
		.cmd_id = job->cmd.cmd_id,
	};
	uint32_t code;
	void *instance;
	int k;

	if (job->cmd.args_len < HAMON_CONTROL_HDR) {
		k = -EINVAL;
	} else if (!get_instance(r, &instance)) {
		k = -ENODEV;
	} else {
		memcpy(&code, job->cmd.args, sizeof(code));
		k = ops->control
			    ? ops->control(r, instance, code, job->cmd.args + HAMON_CONTROL_HDR,
					   job->cmd.args_len - HAMON_CONTROL_HDR, b.detail,
					   sizeof(b.detail))
			    : -EOPNOTSUPP;
		if (k == -EOPNOTSUPP) /* "do the default" */
			k = control_default(r, code, b.detail, sizeof(b.detail));
	}
	b.code = k;
	if (k > 0)
		b.detail_len = (uint16_t) (k < (int) sizeof(b.detail) ? k : (int) sizeof(b.detail));

	(void) pthread_mutex_lock(&r->ctx->lock);
	status_post_locked(r->ctx, &b);
	(void) pthread_mutex_unlock(&r->ctx->lock);
}
