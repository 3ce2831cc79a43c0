/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * monitorctl resource/group online/offline --wait: after hagentd answered
 * that the operation runs, follow the resource or group in the state
 * segment (never through the control API) until the operation ends, the
 * time is up or the agent is gone.  The caller owns the segment handle.
 */

#include <stdbool.h>
#include <stdint.h>

#include "hagent/shm.h"
#include "monitorctl-control.h"

/* How often the segment is read while waiting. */
#define WAIT_POLL_NS UINT64_C(1000000) /* 1 ms */
/* A heartbeat older than this means hagentd is gone (it beats every 100 ms). */
#define WAIT_HEARTBEAT_STALE_NS (UINT64_C(5) * 1000000000)
/* ... or older than this once hagentd has closed our control connection (it exits). */
#define WAIT_HEARTBEAT_STALE_CLOSED_NS (UINT64_C(500) * 1000000)

/*
 * A group's wait ends at a state other than its target (partial-online, or
 * the opposite state) only once that state has held this long with no
 * member pending or initializing: between two members of a dependency
 * chain the group may pass through such a state for a moment.
 */
#define WAIT_SETTLE_NS (UINT64_C(500) * 1000000)

/* The live record of the resource called name; -ENOENT if there is none. */
int resource_lookup(hagent_shm *s, const char *name, struct hagent_resource *ret);

/*
 * Waits until the resource name, answered as from, reaches the operation's
 * end: for online, Online (EXIT_OK); Failed, or Offline once the online has
 * ended, or another request's state (EXIT_FAIL).  For offline, Offline
 * (EXIT_OK); Failed or another request's state (EXIT_FAIL).  timeout_ns 0
 * waits without limit; else EXIT_TIMED_OUT when it passes.  EXIT_NOT_RUNNING
 * when the agent stops meanwhile; control_fd (-1: none) is the control
 * connection the request went over, kept open meanwhile: its closing makes a
 * shorter silence of the heartbeat enough.  Says on stderr why it failed;
 * *ret gets the final record on EXIT_OK.
 */
int resource_wait(hagent_shm *s, const char *name, bool online, const struct control_result *from,
		  uint64_t timeout_ns, int control_fd, struct hagent_resource *ret);

/*
 * The same for the group name (monitorctl-group-wait.c): online ends at
 * Online (EXIT_OK); Failed (EXIT_FAIL, naming the failed members and their
 * errors); another settled state (EXIT_FAIL, see WAIT_SETTLE_NS).  offline
 * ends at Offline (EXIT_OK), Failed or another settled state (EXIT_FAIL).
 * On a terminal, a progress line on stderr while waiting ("g: pending, 3 of
 * 5 online"), cleared before returning.  *ret gets the final group record
 * on EXIT_OK.
 */
int group_wait(hagent_shm *s, const char *name, bool online, const struct control_result *from,
	       uint64_t timeout_ns, int control_fd, struct hagent_group *ret);

/* The loop's pieces both waits share. */

/* True once the agent has closed the connection fd (sticky in *closed). */
bool wait_connection_closed(int fd, bool *closed);
/*
 * True when the segment's writer has stopped: a newer segment, or no
 * heartbeat for a while (a shorter while once it closed our connection: an
 * agent that exits closes it, a live one keeps beating anyway).
 */
bool wait_agent_gone(hagent_shm *s, bool closed);
/* Sleeps until *next + WAIT_POLL_NS (monotonic), which becomes the new *next. */
void wait_tick_sleep(uint64_t *next);
