/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Following the agent across restarts (hagent_shm_follow(), public API in
 * include/hagent/shm.h).  Built on the public reading API only: a segment
 * is dead when it is marked superseded or its heartbeat is old; then
 * "state.sock" says whether somebody serves a segment, and which.  The
 * incarnation (random, new for every segment) tells the new agent's
 * segment from the old one.
 *
 * Why an old heartbeat alone does not make a segment dead: an agent that
 * is slow to beat (a loaded machine, a long operation in its loop) still
 * answers on state.sock with the same incarnation, and only a live writer
 * holds that memfd to send it.  A SIGKILLed agent's socket refuses
 * connections; a hung one accepts (the kernel's backlog) but never
 * answers, and the receive times out.
 */
#include <errno.h>
#include <string.h>

#include "hagent/shm.h"
#include "macro.h"
#include "time-util.h"

/* Errors of the probe that mean "nobody serves a segment now", not a failure. */
static bool nobody_serves(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -ETIMEDOUT;
}

_public_ int hagent_shm_follow(hagent_shm **s, const char *runtime_dir, uint64_t stale_after_ns)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *n = NULL;
	struct hagent_shm_info cur, got;
	uint64_t now;
	int r;

	assert_return(s && *s, -EINVAL);
	if (stale_after_ns == 0)
		stale_after_ns = HAGENT_SHM_STALE_DEFAULT_NS;

	r = hagent_shm_get_info(*s, &cur);
	if (r < 0)
		return r;
	now = now_ns(CLOCK_MONOTONIC);
	/* A beat after our clock read counts as fresh. */
	if (!cur.superseded &&
	    (cur.heartbeat_ns >= now || now - cur.heartbeat_ns <= stale_after_ns))
		return 0;

	r = hagent_shm_open(runtime_dir, &n);
	if (nobody_serves(r))
		return -EAGAIN;
	if (r < 0)
		return r;
	r = hagent_shm_get_info(n, &got);
	if (r < 0)
		return r;
	if (memcmp(got.incarnation, cur.incarnation, sizeof(cur.incarnation)) == 0)
		/* Our own segment: its writer answered, so it lives (unless it says otherwise). */
		return cur.superseded ? -EAGAIN : 0;
	if (got.superseded)
		return -EAGAIN; /* replaced again already: the newest is still to come */

	hagent_shm_unref(*s);
	*s = TAKE_PTR(n);
	return 1;
}
