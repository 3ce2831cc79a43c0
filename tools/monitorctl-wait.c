/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Waiting for an Online or Offline to end, by reading the resource's record
 * every millisecond.  Only a state newer than the agent's answer (a larger
 * state_seq) counts.  An online of an Initializing resource passes through
 * Offline before OnlinePending (docs/resource-fsm.md, T4), so Offline ends
 * an online only after the online was seen running (a pending state) or
 * when the persistent state is offline again (another request took it
 * back).  States that live shorter than a millisecond may go unseen; the
 * state reached is what counts.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "monitorctl-output.h"
#include "monitorctl-wait.h"
#include "monitorctl.h"
#include "time-util.h"

#define KIND_RESOURCE	  1u /* hagent_shm_find() */
#define PERSISTENT_ONLINE 1  /* the segment's persistent_state, as WSFC's */
#define WAIT_GO_ON	  (-1)

struct waiter {
	const char *name;
	bool online;
	uint32_t seq0; /* the sequence the agent answered */
	bool started;  /* the operation was seen running (a pending state) */
};

int resource_lookup(hagent_shm *s, const char *name, struct hagent_resource *ret)
{
	uint32_t slot;
	int r;

	r = hagent_shm_find(s, KIND_RESOURCE, name, &slot);
	if (r < 0)
		return r;
	return hagent_shm_read_resource(s, slot, ret);
}

static int failed(const struct waiter *w, const struct hagent_resource *r)
{
	if (r->last_error < 0)
		fprintf(stderr, "monitorctl: Resource '%s' failed: %s\n", w->name,
			strerror(-r->last_error));
	else
		fprintf(stderr, "monitorctl: Resource '%s' failed\n", w->name);
	return EXIT_FAIL;
}

/* The resource left the operation's path: another request (or a removal) changed it. */
static int diverted(const struct waiter *w, const struct hagent_resource *r)
{
	fprintf(stderr, "monitorctl: Resource '%s' is %s: the %s ended without reaching %s\n",
		w->name, resource_state_name(r->state), w->online ? "online" : "offline",
		w->online ? "online" : "offline");
	return EXIT_FAIL;
}

/* The exit code once the operation has ended, else WAIT_GO_ON. */
static int judge(struct waiter *w, const struct hagent_resource *r)
{
	if ((int32_t) (r->state_seq - w->seq0) <= 0)
		return WAIT_GO_ON; /* nothing newer than the answer */
	switch (r->state) {
	case HAGENT_RESOURCE_FAILED:
		return failed(w, r);
	case HAGENT_RESOURCE_ONLINE:
		return w->online ? EXIT_OK : diverted(w, r);
	case HAGENT_RESOURCE_OFFLINE:
		if (!w->online)
			return EXIT_OK;
		if (w->started || r->persistent_state != PERSISTENT_ONLINE)
			return diverted(w, r);
		return WAIT_GO_ON; /* Initializing -> Offline -> OnlinePending */
	case HAGENT_RESOURCE_ONLINE_PENDING:
	case HAGENT_RESOURCE_OFFLINE_PENDING:
		if ((r->state == HAGENT_RESOURCE_ONLINE_PENDING) != w->online)
			return diverted(w, r);
		w->started = true;
		return WAIT_GO_ON;
	case HAGENT_RESOURCE_INITIALIZING:
		return w->online ? WAIT_GO_ON : diverted(w, r);
	default:
		return diverted(w, r);
	}
}

bool wait_connection_closed(int fd, bool *closed)
{
	struct pollfd pf = {.fd = fd, .events = POLLRDHUP};

	if (!*closed && fd >= 0 && poll(&pf, 1, 0) > 0 &&
	    (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
		*closed = true;
	return *closed;
}

bool wait_agent_gone(hagent_shm *s, bool closed)
{
	uint64_t stale = closed ? WAIT_HEARTBEAT_STALE_CLOSED_NS : WAIT_HEARTBEAT_STALE_NS;
	struct hagent_shm_info info;
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	if (hagent_shm_get_info(s, &info) < 0)
		return true;
	return info.superseded || (now > info.heartbeat_ns && now - info.heartbeat_ns > stale);
}

void wait_tick_sleep(uint64_t *next)
{
	struct timespec ts;

	uint64_t now = now_ns(CLOCK_MONOTONIC);

	*next += WAIT_POLL_NS;
	if (*next < now)
		*next = now + WAIT_POLL_NS; /* we fell behind: no burst of reads to catch up */
	ts.tv_sec = (time_t) (*next / NSEC_PER_SEC);
	ts.tv_nsec = (long) (*next % NSEC_PER_SEC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One look at the resource; the exit code once done, else WAIT_GO_ON. */
static int poll_once(hagent_shm *s, struct waiter *w, uint32_t slot,
		     const uint8_t id[HAGENT_ID_SIZE], struct hagent_resource *cur)
{
	int r;

	r = hagent_shm_read_resource(s, slot, cur);
	if (r == -EBUSY)
		return WAIT_GO_ON; /* a busy writer outran the read: next tick */
	if (r == -ENOENT || (r == 0 && memcmp(cur->id, id, HAGENT_ID_SIZE) != 0)) {
		fprintf(stderr, "monitorctl: Resource '%s' was removed\n", w->name);
		return EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, "monitorctl: cannot read '%s': %s\n", w->name,
			hagent_shm_strerror(r));
		return EXIT_FAIL;
	}
	return judge(w, cur);
}

static int timed_out(const struct waiter *w, uint64_t timeout_ns, const struct hagent_resource *r)
{
	fprintf(stderr,
		"monitorctl: timed out after %.3f s waiting for resource '%s' to go %s (it is "
		"%s)\n",
		(double) timeout_ns / (double) NSEC_PER_SEC, w->name,
		w->online ? "online" : "offline", resource_state_name(r->state));
	return EXIT_TIMED_OUT;
}

int resource_wait(hagent_shm *s, const char *name, bool online, const struct control_result *from,
		  uint64_t timeout_ns, int control_fd, struct hagent_resource *ret)
{
	struct waiter w = {
		.name = name,
		.online = online,
		.seq0 = from->state_seq,
		.started = from->state == HAGENT_RESOURCE_ONLINE_PENDING ||
			   from->state == HAGENT_RESOURCE_OFFLINE_PENDING,
	};
	uint64_t start = now_ns(CLOCK_MONOTONIC), next = start;
	uint8_t id[HAGENT_ID_SIZE];
	struct hagent_resource cur;
	bool closed = false;
	uint32_t slot;
	int r;

	r = resource_lookup(s, name, &cur);
	if (r == -ENOENT) {
		fprintf(stderr, "monitorctl: Resource '%s' was removed\n", name);
		return EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, "monitorctl: cannot read '%s': %s\n", name, hagent_shm_strerror(r));
		return EXIT_FAIL;
	}
	memcpy(id, cur.id, sizeof(id));
	slot = cur.slot;
	for (;;) {
		r = poll_once(s, &w, slot, id, &cur);
		if (r != WAIT_GO_ON) {
			if (r == EXIT_OK)
				*ret = cur;
			return r;
		}
		if (wait_agent_gone(s, wait_connection_closed(control_fd, &closed))) {
			fprintf(stderr,
				"monitorctl: hagentd stopped while waiting for resource '%s'\n",
				name);
			return EXIT_NOT_RUNNING;
		}
		if (timeout_ns && now_ns(CLOCK_MONOTONIC) - start >= timeout_ns)
			return timed_out(&w, timeout_ns, &cur);
		wait_tick_sleep(&next);
	}
}
