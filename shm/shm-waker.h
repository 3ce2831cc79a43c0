/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The writer's wake-up of event watchers (docs/notifications.md, "Wake-up
 * protocol").  Watchers sleep on the futex word inside event_head; someone
 * must FUTEX_WAKE it after each commit that appended events.  A waker is one
 * thread of the writer's process that does it, so a commit costs the writer
 * at most one cheap private FUTEX_WAKE of that thread (none while it is
 * awake) whatever the number of watchers.
 */

#include <stdint.h>

#include "macro.h"
#include "shm-layout.h"

struct shm_waker;

/* Starts the thread for the segment whose (writable) header is h. */
int shm_waker_start(const struct shm_header *h, struct shm_waker **ret);

/*
 * Called by the writer after it stored a new event_head: wakes the waker
 * thread if it sleeps.  Implies a full fence after that store (the Dekker
 * half of the writer).  Never blocks; at most one FUTEX_WAKE.
 */
void shm_waker_kick(struct shm_waker *k);

/* Stops and joins the thread (only in the process that started it); takes NULL, returns NULL. */
struct shm_waker *shm_waker_stop(struct shm_waker *k);

/* Wakes every watcher of h's event head now (FUTEX_WAKE, INT_MAX, shared). */
void shm_wake_watchers(const struct shm_header *h);

/* Diagnostics: how many times the thread woke the watchers. */
uint64_t shm_waker_wakeups(const struct shm_waker *k);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct shm_waker *, shm_waker_stop);
