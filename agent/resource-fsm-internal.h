/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What resource-fsm.c (building blocks, admin requests, timers, the
 * monitor's life) and resource-fsm-monitor.c (the monitor's answers) share.
 * One struct fsm_ctx lives for one res_fsm_step() call.
 */

#include <stdbool.h>

#include "resource-fsm.h"

struct fsm_ctx {
	struct res_fsm *f;
	uint64_t now;
	struct res_actions *out;
	bool has_reply;
	int reply_error;
	bool quiet_request; /* the request being handled is quiet: hide its pending state */
	bool has_deferred;
	int deferred_error;
};

/* Appends an action (zeroed but for its kind). */
struct res_action *fsm_emit(struct fsm_ctx *c, enum res_action_kind kind);

/* Sets the event's verdict and counts it. */
void fsm_verdict(struct fsm_ctx *c, enum res_verdict v);

/*
 * Changes the state value: state_seq + 1 and one RES_ACT_PUBLISH; no-op if
 * equal.  A pending state set for a quiet request is hidden; leaving a
 * hidden pending state publishes the change from the state that showed and
 * answers the quiet request.
 */
void fsm_set_state(struct fsm_ctx *c, int32_t state);

/* A hidden pending state shows now (RES_ACT_PUBLISH), and the quiet request gets -EINPROGRESS. */
void fsm_reveal(struct fsm_ctx *c);

/* Timers change in f->timer_at only; the step emits SET/CANCEL for what differs at its end. */
void fsm_arm(struct fsm_ctx *c, enum res_timer t, uint64_t at_ns);
void fsm_disarm(struct fsm_ctx *c, enum res_timer t);

/* now + min(PendingTimeout, DeadlockTimeout), and now + DeadlockTimeout. */
uint64_t fsm_pending_deadline(const struct fsm_ctx *c);
uint64_t fsm_deadlock_deadline(const struct fsm_ctx *c);

/* Posts a command: a RES_ACT_POST, and cmd_id[cls] waits for res_fsm_bind(). */
void fsm_post(struct fsm_ctx *c, enum chan_cmd_class cls, enum chan_op op, uint64_t deadline_ns);

/* A new transition operation with its deadline; posted now or when TERMINATE is done. */
void fsm_begin_op(struct fsm_ctx *c, uint32_t op, uint64_t deadline_ns);

/* Posts the waiting transition operation if nothing stands in the way. */
void fsm_try_post_op(struct fsm_ctx *c);

/* An Online attempt (request, restart, retry): OnlinePending, or a new monitor and OPEN first. */
void fsm_begin_online(struct fsm_ctx *c);

/* Is_alive or looks_alive now, with its deadline; and the end of all health checking. */
void fsm_post_probe(struct fsm_ctx *c, enum chan_op op);
void fsm_start_probes(struct fsm_ctx *c);
void fsm_stop_probes(struct fsm_ctx *c);

/*
 * The resource failed: Failed, terminate (failure cause) if asked and
 * possible, then the restart policy if the persistent state is online.
 */
void fsm_fail(struct fsm_ctx *c, enum res_fail_cause cause, int32_t code, bool terminate);

/* T27 done: RES_ACT_REMOVED, every timer cancelled, nothing is handled any more. */
void fsm_removed(struct fsm_ctx *c);

/* ---- resource-fsm-monitor.c ---- */

/* ACCEPTED, PROGRESS, DONE. */
void fsm_on_answer(struct fsm_ctx *c, const struct res_event *ev);

/* The unsolicited statuses. */
void fsm_on_failure(struct fsm_ctx *c);
void fsm_on_locked(struct fsm_ctx *c, bool locked);
