/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The STATUS= line (agent-status.h).  The counts wanted are kept in the
 * object; a line goes out at once when the previous one is old enough,
 * otherwise a oneshot time event sends the counts of its expiry, so that
 * any number of changes within AGENT_STATUS_INTERVAL_USEC costs one line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "agent-status.h"

/* How late the time event may fire: a status line is not urgent. */
#define AGENT_STATUS_ACCURACY_USEC (10 * 1000)

struct agent_status {
	sd_event *event;
	sd_event_source *timer;		   /* enabled while a line is due */
	struct agent_status_counts wanted; /* the latest counts */
	struct agent_status_counts sent;   /* valid if have_sent */
	bool have_sent;
	uint64_t last_usec; /* CLOCK_MONOTONIC of the last attempt; 0: none yet */
};

static bool counts_equal(const struct agent_status_counts *a, const struct agent_status_counts *b)
{
	return a->online == b->online && a->pending == b->pending && a->failed == b->failed &&
	       a->offline == b->offline && a->other == b->other && a->groups == b->groups;
}

static bool status_current(const struct agent_status *st)
{
	return st->have_sent && counts_equal(&st->wanted, &st->sent);
}

void agent_status_text(const struct agent_status_counts *c, char *buf, size_t size)
{
	size_t total = c->online + c->pending + c->failed + c->offline + c->other;
	char other[40] = "";

	if (size == 0)
		return;
	if (c->other)
		(void) snprintf(other, sizeof(other), ", %zu other", c->other);
	/* Truncation is fine: the caller's buffer bounds the line. */
	(void) snprintf(
		buf, size,
		"%zu resource%s: %zu online, %zu pending, %zu failed, %zu offline%s; %zu group%s.",
		total, total == 1 ? "" : "s", c->online, c->pending, c->failed, c->offline, other,
		c->groups, c->groups == 1 ? "" : "s");
}

static void status_send(struct agent_status *st, uint64_t now)
{
	char text[256];

	agent_status_text(&st->wanted, text, sizeof(text));
	st->last_usec = now;
	/* 0 outside systemd: nothing to send, which counts as sent. On failure the next update
	 * retries. */
	if (sd_notifyf(false, "STATUS=%s", text) >= 0) {
		st->sent = st->wanted;
		st->have_sent = true;
	}
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent_status *st = userdata;
	uint64_t now = usec;

	/* The interval counts from when the line went out, which may be later than planned. */
	(void) sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
	if (!status_current(st))
		status_send(st, now);
	return 0; /* oneshot: disabled again until the next change */
}

int agent_status_new(sd_event *e, struct agent_status **ret)
{
	struct agent_status *st;
	int r;

	assert_return(e && ret, -EINVAL);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->event = sd_event_ref(e);
	r = sd_event_add_time(e, &st->timer, CLOCK_MONOTONIC, UINT64_MAX,
			      AGENT_STATUS_ACCURACY_USEC, on_timer, st);
	if (r >= 0)
		r = sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);
	if (r >= 0)
		(void) sd_event_source_set_description(st->timer, "agent-status");
	if (r < 0) {
		agent_status_free(st);
		return r;
	}
	*ret = st;
	return 0;
}

/* Arms the time event for the end of the interval; failing that, sends now. */
static void status_defer(struct agent_status *st, uint64_t now)
{
	int r;

	r = sd_event_source_set_time(st->timer, st->last_usec + AGENT_STATUS_INTERVAL_USEC);
	if (r >= 0)
		r = sd_event_source_set_enabled(st->timer, SD_EVENT_ONESHOT);
	if (r < 0)
		status_send(st, now); /* a line early is better than a line lost */
}

void agent_status_update(struct agent_status *st, const struct agent_status_counts *c)
{
	uint64_t now;
	int enabled = SD_EVENT_OFF;

	if (!st || !c)
		return;
	st->wanted = *c;
	(void) sd_event_source_get_enabled(st->timer, &enabled);
	if (enabled != SD_EVENT_OFF || status_current(st))
		return; /* the armed timer sends the latest counts */
	/* The time of this loop iteration (or the current time before the first). */
	if (sd_event_now(st->event, CLOCK_MONOTONIC, &now) < 0)
		return; /* cannot happen for CLOCK_MONOTONIC */
	if (st->last_usec == 0 || now >= st->last_usec + AGENT_STATUS_INTERVAL_USEC)
		status_send(st, now);
	else
		status_defer(st, now);
}

struct agent_status *agent_status_free(struct agent_status *st)
{
	if (!st)
		return NULL;
	sd_event_source_disable_unref(st->timer);
	sd_event_unref(st->event);
	free(st);
	return NULL;
}
