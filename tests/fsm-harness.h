/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A driver for one struct res_fsm in the tests: it keeps the clock, binds
 * a fresh command id to every POST as hagentd will, builds events, and
 * prints action lists so that a whole list compares as one string (times
 * relative to the step's clock, state_seq relative to the value before
 * it).  Header-only: test-resource-fsm.c includes it once.
 */
#pragma once

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "resource-fsm.h"
#include "time-util.h"

#define T0    (UINT64_C(1000) * NSEC_PER_SEC)
#define MS(x) ((uint64_t) (x) *NSEC_PER_MSEC)

/* Default property values, for expected times. */
#define P_MS  180000u /* min(PendingTimeout, DeadlockTimeout) */
#define D_MS  300000u
#define LA_MS 5000u
#define IA_MS 60000u
#define RD_MS 500u

#define TR   CHAN_CLASS_TRANSITION
#define TERM CHAN_CLASS_TERMINATE
#define LAC  CHAN_CLASS_LOOKS_ALIVE
#define IAC  CHAN_CLASS_IS_ALIVE

#define S_INIT HAGENT_RESOURCE_INITIALIZING
#define S_ON   HAGENT_RESOURCE_ONLINE
#define S_OFF  HAGENT_RESOURCE_OFFLINE
#define S_FAIL HAGENT_RESOURCE_FAILED
#define S_OP   HAGENT_RESOURCE_ONLINE_PENDING
#define S_FP   HAGENT_RESOURCE_OFFLINE_PENDING

struct harness {
	struct res_fsm f;
	struct res_actions out;
	uint64_t now;
	uint64_t next_cmd;
	uint32_t seq_before; /* state_seq before the last step */
	uint64_t now_before; /* the clock of the last step */
};

static inline void h_init_props(struct harness *h, const struct res_props *p)
{
	memset(h, 0, sizeof(*h));
	h->now = T0;
	h->next_cmd = 100;
	ck_assert_int_eq(res_fsm_init(&h->f, p, NULL), 0);
}

static inline void h_init(struct harness *h)
{
	struct res_props p;

	res_props_init(&p);
	h_init_props(h, &p);
}

static inline void h_step(struct harness *h, struct res_event ev)
{
	h->seq_before = h->f.state_seq;
	h->now_before = h->now;
	ck_assert_int_eq(res_fsm_step(&h->f, &ev, h->now, &h->out), 0);
	for (uint32_t i = 0; i < h->out.n; i++)
		if (h->out.a[i].kind == RES_ACT_POST)
			ck_assert_int_eq(res_fsm_bind(&h->f, h->out.a[i].post.cls, ++h->next_cmd),
					 0);
}

static inline void h_advance(struct harness *h, uint64_t ms)
{
	h->now += MS(ms);
}

static inline struct res_event ev_of(enum res_event_kind kind)
{
	return (struct res_event){.kind = kind};
}

/* An answer to the command outstanding in class cls. */
static inline struct res_event ev_answer(const struct harness *h, enum res_event_kind kind,
					 uint8_t cls, int32_t state, int32_t code)
{
	return (struct res_event){
		.kind = kind, .cls = cls, .cmd_id = h->f.cmd_id[cls], .state = state, .code = code};
}

static inline void h_request(struct harness *h, enum res_event_kind kind)
{
	h_step(h, ev_of(kind));
}

static inline void h_done(struct harness *h, uint8_t cls, int32_t state, int32_t code)
{
	h_step(h, ev_answer(h, RES_EV_DONE, cls, state, code));
}

static inline void h_progress(struct harness *h, int32_t state, uint32_t checkpoint)
{
	struct res_event ev = ev_answer(h, RES_EV_PROGRESS, TR, state, 0);

	ev.checkpoint = checkpoint;
	ev.wait_hint_ms = checkpoint * 10;
	h_step(h, ev);
}

/* Fires timer t at its time (the clock moves there). */
static inline void h_timer(struct harness *h, enum res_timer t)
{
	struct res_event ev = {.kind = RES_EV_TIMER, .timer = t};

	ck_assert_msg(h->f.timer_at[t] != 0, "timer %s not armed", res_timer_to_string(t));
	if (h->f.timer_at[t] > h->now)
		h->now = h->f.timer_at[t];
	h_step(h, ev);
}

/* ---- printing ---- */

static inline const char *class_name(uint8_t cls)
{
	static const char *const n[] = {"transition", "terminate", "looks-alive", "is-alive",
					"control"};

	return cls < 5 ? n[cls] : "?";
}

static inline const char *op_name(uint32_t op)
{
	static const char *const n[] = {"none",	     "online",	    "offline",
					"terminate", "looks-alive", "is-alive",
					"control",   "open",	    "close"};

	return op < 9 ? n[op] : "?";
}

/* A time as "+<ms>" from base (or the raw value if it is not a whole ms after it). */
static inline void fmt_time(char *buf, size_t size, uint64_t at, uint64_t base)
{
	if (at >= base && (at - base) % NSEC_PER_MSEC == 0)
		snprintf(buf, size, "+%" PRIu64, (at - base) / NSEC_PER_MSEC);
	else
		snprintf(buf, size, "@%" PRIu64, at);
}

/*
 * One action; times relative to base and state_seq relative to seq_base.
 * Expected lists are written with base = seq_base = 0 and relative values.
 */
static inline void fmt_action(char *buf, size_t size, const struct res_action *a, uint64_t base,
			      uint32_t seq_base)
{
	char t[32];

	switch (a->kind) {
	case RES_ACT_POST:
		fmt_time(t, sizeof(t), a->post.deadline_ns, base);
		snprintf(buf, size, "post(%s,%s,%s)", class_name(a->post.cls), op_name(a->post.op),
			 t);
		break;
	case RES_ACT_SET_TIMER:
		fmt_time(t, sizeof(t), a->timer.at_ns, base);
		snprintf(buf, size, "set(%s,%s)", res_timer_to_string(a->timer.which), t);
		break;
	case RES_ACT_CANCEL_TIMER:
		snprintf(buf, size, "cancel(%s)", res_timer_to_string(a->timer.which));
		break;
	case RES_ACT_START_MONITOR:
	case RES_ACT_KILL_MONITOR:
		snprintf(buf, size, "%s(%u)", res_action_kind_to_string(a->kind), a->monitor_gen);
		break;
	case RES_ACT_PUBLISH:
		snprintf(buf, size, "publish(%s->%s,+%u)", res_state_to_string(a->publish.from),
			 res_state_to_string(a->publish.state), a->publish.seq - seq_base);
		break;
	case RES_ACT_POLICY:
		if (a->policy.at_ns)
			fmt_time(t, sizeof(t), a->policy.at_ns, base);
		else
			snprintf(t, sizeof(t), "never");
		snprintf(buf, size, "policy(%s,%s,%u)",
			 restart_verdict_to_string(a->policy.verdict), t, a->policy.count);
		break;
	case RES_ACT_REPLY:
		snprintf(buf, size, "reply(%d,%u)", a->reply.error, a->reply.win32);
		break;
	default:
		snprintf(buf, size, "%s", res_action_kind_to_string(a->kind));
		break;
	}
}

static inline void fmt_actions(char *buf, size_t size, const struct res_action *a, uint32_t n,
			       uint64_t base, uint32_t seq_base)
{
	size_t len = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < n && len < size; i++) {
		char one[96];

		fmt_action(one, sizeof(one), &a[i], base, seq_base);
		len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? " " : "", one);
	}
}

/* The last step's actions, as relative text. */
static inline const char *h_actions(const struct harness *h, char *buf, size_t size)
{
	fmt_actions(buf, size, h->out.a, h->out.n, h->now_before, h->seq_before);
	return buf;
}

#define ck_actions(h, want)                                                                        \
	do {                                                                                       \
		char _got[1024];                                                                   \
		h_actions(h, _got, sizeof(_got));                                                  \
		ck_assert_msg(strcmp(_got, want) == 0, "actions\n  got:  %s\n  want: %s", _got,    \
			      want);                                                               \
	} while (false)
