/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Worker threads: one per class of entry point per resource, started
 * lazily, each with a one-slot queue per command class it serves.  The
 * dispatcher only ever takes a worker's mutex for a copy, so a busy worker
 * never delays it; a command arriving while an older one of its class is
 * still queued replaces it (the agent has replaced it in its mailbox too).
 */
#include <assert.h>

#include "hamon-internal.h"

void worker_init(struct worker *w, struct hamon_resource *r, worker_fn fn)
{
	*w = (struct worker){.r = r, .fn = fn};
	(void) pthread_mutex_init(&w->lock, NULL); /* cannot fail for default attributes */
	(void) pthread_cond_init(&w->cond, NULL);
}

void worker_done(struct worker *w)
{
	(void) pthread_mutex_destroy(&w->lock);
	(void) pthread_cond_destroy(&w->cond);
}

/* The oldest queued job's slot, or -1.  w->lock held. */
static int next_slot(const struct worker *w)
{
	int best = -1;

	for (int i = 0; i < WORKER_SLOTS; i++)
		if (w->full[i] && (best < 0 || w->slot[i].seq < w->slot[best].seq))
			best = i;
	return best;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct hamon_job job;
	int i;

	(void) pthread_mutex_lock(&w->lock);
	for (;;) {
		i = next_slot(w);
		if (i < 0) {
			if (w->stopping)
				break;
			(void) pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		job = w->slot[i];
		w->full[i] = false;
		(void) pthread_mutex_unlock(&w->lock);
		w->fn(w->r, &job); /* no lock held across an entry point */
		(void) pthread_mutex_lock(&w->lock);
	}
	(void) pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* A slot for a job of class cls: the queued one of that class, else a free one.  w->lock held. */
static int slot_for(const struct worker *w, uint8_t cls)
{
	int free_slot = -1;

	for (int i = 0; i < WORKER_SLOTS; i++) {
		if (w->full[i] && w->slot[i].cls == cls)
			return i;
		if (!w->full[i] && free_slot < 0)
			free_slot = i;
	}
	return free_slot;
}

int worker_submit(struct worker *w, const struct hamon_job *job)
{
	int i, r = 0;

	(void) pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		r = -ESHUTDOWN;
		goto unlock;
	}
	if (!w->started) {
		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			goto unlock;
		w->started = true;
	}
	i = slot_for(w, job->cls);
	assert(i >= 0); /* a worker serves at most WORKER_SLOTS classes */
	/* An internal job never replaces a command doing the same: that one is answered. */
	if (job->cmd.cmd_id == 0 && w->full[i] && w->slot[i].cmd.op == job->cmd.op)
		goto unlock;
	w->slot[i] = *job;
	w->slot[i].seq = w->next_seq++;
	w->full[i] = true;
	(void) pthread_cond_signal(&w->cond);
unlock:
	(void) pthread_mutex_unlock(&w->lock);
	return r;
}

void worker_stop(struct worker *w)
{
	bool started;

	(void) pthread_mutex_lock(&w->lock);
	started = w->started;
	if (started) {
		w->stopping = true;
		(void) pthread_cond_signal(&w->cond);
	}
	(void) pthread_mutex_unlock(&w->lock);
	if (!started)
		return;

	(void) pthread_join(w->thread, NULL);
	(void) pthread_mutex_lock(&w->lock);
	w->started = false;
	w->stopping = false;
	(void) pthread_mutex_unlock(&w->lock);
}
