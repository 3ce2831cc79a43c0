/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Notification ports, inside the library: the process-wide handle table
 * (shm-notify-handle.c) and the port itself (shm-notify.c), plus a hook for
 * tests.  docs/notifications.md has the model.
 */

#include <stdbool.h>
#include <stdint.h>

#include "hagent/shm.h"

struct notify_port;

/* Takes a reference on p (any thread). */
void notify_port_ref(struct notify_port *p);
/* Drops one; the last frees the port.  Takes NULL, returns NULL. */
struct notify_port *notify_port_unref(struct notify_port *p);
/* Marks p closed and releases its waiting gets; called once, by hagent_notify_close(). */
void notify_port_close(struct notify_port *p);

/*
 * The handle table.  A handle is (generation << 32) | (index + 1); a slot
 * that is used again gets the next generation, so a stale or made-up handle
 * finds nothing (never another port).  The table holds one reference on
 * each port in it.
 */

/* Puts p into the table (taking a reference) and returns its handle. */
int notify_handle_new(struct notify_port *p, hagent_notify_t *ret);
/* The port of h with a new reference, or NULL (not a port, or closed). */
struct notify_port *notify_handle_get(hagent_notify_t h);
/* Takes h out of the table and returns the table's reference, or NULL. */
struct notify_port *notify_handle_remove(hagent_notify_t h);

enum {
	/* Behave as if futex_waitv(2) were missing (ENOSYS): the fallback. */
	SHM_NOTIFY_DEBUG_NO_WAITV = 1u << 0,
};

/* Process-wide, for tests: set before creating ports. */
void shm_notify_set_debug(unsigned flags);
