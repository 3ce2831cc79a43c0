/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The waker thread (shm-waker.h).  Handshake with the committing writer,
 * the monitor channel's bell turned around (docs/shm-layout.md):
 *
 *   waker, before sleeping:  armed = 1; full fence; look at event_head once
 *                            more; sleep on armed (private futex) only if
 *                            it has not moved.
 *   writer, after a commit:  event_head = new (release); full fence; if
 *                            armed: armed = 0 and FUTEX_WAKE the waker.
 *
 * Each side stores, fences, then loads what the other stores (Dekker): at
 * least one of them sees the other's store, so a commit is never left
 * without a wake-up, and a waker that is awake (busy waking watchers) costs
 * the writer no system call at all.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm-waker.h"

struct shm_waker {
	const struct shm_header *h;
	pthread_t thread;
	pid_t pid;	     /* the process the thread lives in */
	uint64_t start_head; /* event_head at the start: wake-ups are owed for any later one */
	_Atomic bool stop;
	_Atomic uint64_t wakeups;
	alignas(SHM_CACHELINE) _Atomic uint32_t armed; /* 1: the thread sleeps or is about to */
};

static long futex(const void *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

void shm_wake_watchers(const struct shm_header *h)
{
	/* Shared (not private): the watchers are other processes mapping the same memfd. */
	(void) futex(shm_event_head_word(h), FUTEX_WAKE, INT_MAX, NULL);
}

static void *waker_main(void *userdata)
{
	struct shm_waker *k = userdata;
	/*
	 * Not the head when the thread first runs: that may be long after the
	 * start, and commits made meanwhile would never be woken for.
	 */
	uint64_t done = k->start_head;

	for (;;) {
		uint64_t head = atomic_load_explicit(&k->h->event_head, memory_order_acquire);

		if (head != done) {
			/* Everyone queued on the old value now; later sleepers see the new one. */
			shm_wake_watchers(k->h);
			atomic_fetch_add_explicit(&k->wakeups, 1, memory_order_relaxed);
			done = head;
			continue;
		}
		if (atomic_load_explicit(&k->stop, memory_order_acquire))
			return NULL;
		atomic_store_explicit(&k->armed, 1, memory_order_relaxed);
		/* Pairs with the fence in shm_waker_kick(): armed before the re-check. */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&k->h->event_head, memory_order_acquire) != done ||
		    atomic_load_explicit(&k->stop, memory_order_acquire)) {
			atomic_store_explicit(&k->armed, 0, memory_order_relaxed);
			continue;
		}
		/* Returns at once if a kick cleared armed already; EINTR just loops. */
		(void) futex(&k->armed, FUTEX_WAIT_PRIVATE, 1, NULL);
	}
}

int shm_waker_start(const struct shm_header *h, struct shm_waker **ret)
{
	struct shm_waker *k;
	sigset_t all, old;
	int r;

	k = aligned_alloc(SHM_CACHELINE, ALIGN_TO(sizeof(*k), (size_t) SHM_CACHELINE));
	if (!k)
		return -ENOMEM;
	*k = (struct shm_waker){
		.h = h,
		.pid = getpid(),
		/* The writer's own store (it is the caller): relaxed is enough. */
		.start_head = atomic_load_explicit(&h->event_head, memory_order_relaxed),
	};
	/* The thread takes no signals: they belong to the writer's main loop. */
	sigfillset(&all);
	(void) pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&k->thread, NULL, waker_main, k);
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		free(k);
		return r;
	}
	(void) pthread_setname_np(k->thread, "shm-waker");
	*ret = k;
	return 0;
}

void shm_waker_kick(struct shm_waker *k)
{
	/* Pairs with the fence in waker_main(): the new event_head before reading armed. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&k->armed, memory_order_relaxed) &&
	    atomic_exchange_explicit(&k->armed, 0, memory_order_relaxed))
		(void) futex(&k->armed, FUTEX_WAKE_PRIVATE, 1, NULL);
}

struct shm_waker *shm_waker_stop(struct shm_waker *k)
{
	if (!k)
		return NULL;
	/* A forked child has a copy of the struct but not the thread. */
	if (k->pid == getpid()) {
		atomic_store_explicit(&k->stop, true, memory_order_seq_cst);
		atomic_store_explicit(&k->armed, 0, memory_order_seq_cst);
		(void) futex(&k->armed, FUTEX_WAKE_PRIVATE, 1, NULL);
		(void) pthread_join(k->thread, NULL);
	}
	free(k);
	return NULL;
}

uint64_t shm_waker_wakeups(const struct shm_waker *k)
{
	return atomic_load_explicit(&k->wakeups, memory_order_relaxed);
}
