/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagentd's STATUS= line for systemd (what `systemctl status hagentd` shows):
 * resource counts by state, sent through sd_notify() when they change, at
 * most every AGENT_STATUS_INTERVAL_USEC.  Changes in between are coalesced
 * by a time event, so a burst of state changes costs one datagram.
 * Main-loop thread only.  Outside systemd (no NOTIFY_SOCKET) sd_notify()
 * does nothing and neither does this.
 */

#include <stddef.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define AGENT_STATUS_INTERVAL_USEC (100 * 1000) /* 100 ms between two STATUS= lines */

struct agent_status_counts {
	size_t online, pending, failed, offline, other; /* resources, by state */
	size_t groups;
};

struct agent_status;

/* A status with nothing sent yet; its time event lives on e (which it references). */
int agent_status_new(sd_event *e, struct agent_status **ret);

/*
 * The counts are now *c.  Sends "STATUS=<agent_status_text()>" at once if
 * the last line went out at least AGENT_STATUS_INTERVAL_USEC ago, otherwise
 * when that interval is over (with the counts of then).  Counts equal to
 * those last sent send nothing.  Never waits for the interval; a failing
 * sd_notify() is ignored (the line is informational, the next one repeats it).
 */
void agent_status_update(struct agent_status *st, const struct agent_status_counts *c);

/*
 * The text of the line into buf (always NUL-terminated, truncated to size),
 * e.g. "100 resources: 97 online, 2 pending, 1 failed, 0 offline; 10 groups."
 * Resources in none of the four states add ", N other" after "offline".
 */
void agent_status_text(const struct agent_status_counts *c, char *buf, size_t size);

/* Disables the time event (a line still due is dropped); NULL-safe, returns NULL. */
struct agent_status *agent_status_free(struct agent_status *st);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_status *, agent_status_free);
