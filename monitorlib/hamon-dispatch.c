/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the dispatcher does with a command: acknowledge it at once
 * (ACCEPTED), then hand it to the resource's worker for its class, or
 * answer it itself when no resource code needs to run (no such resource,
 * nothing to terminate).  It owns the slot lifecycle, FREE -> OPEN ->
 * CLOSING -> FREE, and never waits for a worker.
 *
 * ACCEPTED always goes out before the command reaches a worker, so the
 * worker's DONE cannot overtake it.
 */
#include <assert.h>
#include <sys/eventfd.h>

#include "hamon-internal.h"

static const struct hamon_job internal_terminate = {
	.cls = CHAN_CLASS_TERMINATE,
	.cmd.op = CHAN_OP_TERMINATE,
};

static const struct hamon_job internal_close = {
	.cls = CHAN_CLASS_TRANSITION,
	.cmd.op = CHAN_OP_CLOSE,
};

static void accept_job(struct hamon_resource *r, const struct hamon_job *job)
{
	status_answer(r, job->cls, job->cmd.cmd_id, CHAN_ST_ACCEPTED, 0, 0);
}

static void done_job(struct hamon_resource *r, const struct hamon_job *job, int code, int state)
{
	status_answer(r, job->cls, job->cmd.cmd_id, CHAN_ST_DONE, code, state);
}

static void set_terminate(struct hamon_resource *r, bool on)
{
	/* Pairs with the acquire loads in hamon_terminate_requested() and the workers. */
	atomic_store_explicit(&r->terminate_requested, on, memory_order_release);
}

static bool op_fits_class(uint32_t op, uint8_t cls)
{
	switch (cls) {
	case CHAN_CLASS_TRANSITION:
		return op == CHAN_OP_OPEN || op == CHAN_OP_ONLINE || op == CHAN_OP_OFFLINE ||
		       op == CHAN_OP_CLOSE;
	case CHAN_CLASS_TERMINATE:
		return op == CHAN_OP_TERMINATE;
	case CHAN_CLASS_LOOKS_ALIVE:
		return op == CHAN_OP_LOOKS_ALIVE;
	case CHAN_CLASS_IS_ALIVE:
		return op == CHAN_OP_IS_ALIVE;
	case CHAN_CLASS_CONTROL:
		return op == CHAN_OP_CONTROL;
	}
	return false;
}

/* Frees r's slot if its close finished. */
static void reap_slot(struct hamon_ctx *ctx, struct hamon_resource *r)
{
	/* Pairs with the release store in run_close(). */
	if (r->slot != SLOT_CLOSING ||
	    !atomic_exchange_explicit(&r->close_done, false, memory_order_acquire))
		return;
	resource_release(r);
	r->slot = SLOT_FREE;
	assert(ctx->n_in_use > 0);
	if (--ctx->n_in_use == 0)
		ctx->done = true;
}

void dispatch_reap(struct hamon_ctx *ctx)
{
	for (uint32_t i = 0; i < ctx->n_res; i++)
		reap_slot(ctx, &ctx->res[i]);
}

static void on_open(struct hamon_ctx *ctx, struct hamon_resource *r, const struct hamon_job *job)
{
	int k;

	accept_job(r, job);
	reap_slot(ctx, r); /* the agent may reopen as soon as it has the close's answer */
	if (r->slot != SLOT_FREE || ctx->stopping) {
		done_job(r, job, r->slot != SLOT_FREE ? -EBUSY : -ESHUTDOWN, HAMON_STATE_FAILED);
		return;
	}
	k = resource_parse_record(r, job->cmd.args, job->cmd.args_len);
	if (k >= 0) {
		r->failure_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->failure_fd < 0)
			k = -errno;
	}
	if (k >= 0) {
		set_terminate(r, false);
		atomic_store_explicit(&r->close_done, false, memory_order_relaxed);
		k = worker_submit(&r->workers[WORKER_TRANSITION], job);
	}
	if (k < 0) {
		resource_release(r);
		done_job(r, job, k, HAMON_STATE_FAILED);
		return;
	}
	r->slot = SLOT_OPEN;
	ctx->n_in_use++;
	ctx->done = false;
}

/*
 * CLOSE (job = the command) or shutdown (job = internal_close): from now on
 * the resource is terminating; a running online/offline is terminated
 * concurrently, then the transition worker closes it (run_close()).
 */
static void begin_close(struct hamon_resource *r, const struct hamon_job *job)
{
	bool need_terminate;
	int k;

	r->slot = SLOT_CLOSING;
	set_terminate(r, true);
	accept_job(r, job);

	(void) pthread_mutex_lock(&r->ctx->lock);
	need_terminate = r->opened && r->state != HAMON_STATE_OFFLINE;
	(void) pthread_mutex_unlock(&r->ctx->lock);
	/* Best effort: if no thread can be started, run_close() terminates after the online. */
	if (need_terminate)
		(void) worker_submit(&r->workers[WORKER_TERMINATE], &internal_terminate);

	/* Its transition worker runs since OPEN, until the end: no thread to start, no error. */
	k = worker_submit(&r->workers[WORKER_TRANSITION], job);
	assert(k == 0);
	(void) k;
}

static void on_transition(struct hamon_ctx *ctx, struct hamon_resource *r,
			  const struct hamon_job *job)
{
	int k;

	switch (job->cmd.op) {
	case CHAN_OP_OPEN:
		on_open(ctx, r, job);
		return;
	case CHAN_OP_CLOSE:
		if (r->slot == SLOT_OPEN) {
			begin_close(r, job);
			return;
		}
		accept_job(r, job);
		/* Nothing open (or already closing): nothing to do. */
		done_job(r, job, 0, HAMON_STATE_OFFLINE);
		if (ctx->n_in_use == 0)
			ctx->done = true;
		return;
	}
	accept_job(r, job);
	if (r->slot != SLOT_OPEN) {
		done_job(r, job, -ENODEV, HAMON_STATE_FAILED);
		return;
	}
	set_terminate(r, false); /* a new online/offline after a terminate */
	k = worker_submit(&r->workers[WORKER_TRANSITION], job);
	if (k < 0)
		done_job(r, job, k, HAMON_STATE_FAILED);
}

static void on_terminate(struct hamon_resource *r, const struct hamon_job *job)
{
	int k;

	if (r->slot != SLOT_OPEN) {
		/* Nothing open, or closing (close terminates): nothing to do. */
		accept_job(r, job);
		done_job(r, job, 0, HAMON_STATE_OFFLINE);
		return;
	}
	/* Before the ACCEPTED: once the agent has it, no report gets through. */
	set_terminate(r, true);
	accept_job(r, job);
	k = worker_submit(&r->workers[WORKER_TERMINATE], job);
	if (k < 0)
		done_job(r, job, k, HAMON_STATE_FAILED);
}

/* Probes and control: a worker of their own, nothing to answer without a resource. */
static void on_other(struct hamon_resource *r, const struct hamon_job *job)
{
	bool probe = job->cls != CHAN_CLASS_CONTROL;
	int k = -ENODEV;

	accept_job(r, job);
	if (r->slot == SLOT_OPEN) {
		k = worker_submit(&r->workers[probe ? WORKER_PROBE : WORKER_CONTROL], job);
		if (k >= 0)
			return;
	}
	done_job(r, job, probe ? 0 : k, 0);
}

void dispatch_command(struct hamon_ctx *ctx, struct hamon_resource *r)
{
	const struct hamon_job *job = &ctx->job;

	if (!op_fits_class(job->cmd.op, job->cls)) {
		accept_job(r, job);
		done_job(r, job, -EINVAL, 0);
		return;
	}
	switch (job->cls) {
	case CHAN_CLASS_TRANSITION:
		on_transition(ctx, r, job);
		break;
	case CHAN_CLASS_TERMINATE:
		on_terminate(r, job);
		break;
	default:
		on_other(r, job);
		break;
	}
}

void dispatch_shutdown(struct hamon_ctx *ctx)
{
	if (ctx->stopping)
		return;
	ctx->stopping = true;
	for (uint32_t i = 0; i < ctx->n_res; i++)
		if (ctx->res[i].slot == SLOT_OPEN)
			begin_close(&ctx->res[i], &internal_close);
	if (ctx->n_in_use == 0)
		ctx->done = true;
}
