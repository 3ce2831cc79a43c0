/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of the state machine's states, events, actions, timers and
 * verdicts (for logs and test messages), and two small queries.
 */

#include "resource-fsm.h"

#define NAME_OF(table, i)                                                                          \
	((unsigned) (i) < sizeof(table) / sizeof((table)[0]) && (table)[i] ? (table)[i] : "invalid")

bool res_state_is_pending(int32_t state)
{
	return state == HAGENT_RESOURCE_ONLINE_PENDING || state == HAGENT_RESOURCE_OFFLINE_PENDING;
}

bool res_fsm_is_locked(const struct res_fsm *f)
{
	return f->locked && (f->state == HAGENT_RESOURCE_ONLINE || res_state_is_pending(f->state));
}

const char *res_state_to_string(int32_t state)
{
	const char *s = hagent_resource_state_to_string(state);

	return s ? s : "invalid";
}

const char *res_timer_to_string(enum res_timer t)
{
	static const char *const names[_RES_TIMER_MAX] = {
		[RES_TIMER_PENDING] = "pending",
		[RES_TIMER_TERMINATE] = "terminate",
		[RES_TIMER_LOOKS_ALIVE] = "looks-alive",
		[RES_TIMER_IS_ALIVE] = "is-alive",
		[RES_TIMER_PROBE] = "probe",
		[RES_TIMER_RESTART] = "restart",
		[RES_TIMER_RETRY] = "retry",
		[RES_TIMER_REVEAL] = "reveal",
	};

	return NAME_OF(names, t);
}

const char *res_event_kind_to_string(enum res_event_kind k)
{
	static const char *const names[_RES_EV_MAX] = {
		[RES_EV_START] = "start",
		[RES_EV_REQ_ONLINE] = "request-online",
		[RES_EV_REQ_OFFLINE] = "request-offline",
		[RES_EV_REQ_TERMINATE] = "request-terminate",
		[RES_EV_REQ_DELETE] = "request-delete",
		[RES_EV_ACCEPTED] = "accepted",
		[RES_EV_PROGRESS] = "progress",
		[RES_EV_DONE] = "done",
		[RES_EV_FAILURE] = "failure",
		[RES_EV_LOCKED] = "locked",
		[RES_EV_TIMER] = "timer",
		[RES_EV_MONITOR_DIED] = "monitor-died",
		[RES_EV_MONITOR_HUNG] = "monitor-hung",
		[RES_EV_SET_TARGET] = "set-target",
	};

	return NAME_OF(names, k);
}

const char *res_action_kind_to_string(enum res_action_kind k)
{
	static const char *const names[_RES_ACT_MAX] = {
		[RES_ACT_POST] = "post",
		[RES_ACT_SET_TIMER] = "set-timer",
		[RES_ACT_CANCEL_TIMER] = "cancel-timer",
		[RES_ACT_START_MONITOR] = "start-monitor",
		[RES_ACT_KILL_MONITOR] = "kill-monitor",
		[RES_ACT_PUBLISH] = "publish",
		[RES_ACT_REFRESH] = "refresh",
		[RES_ACT_POLICY] = "policy",
		[RES_ACT_REPLY] = "reply",
		[RES_ACT_REMOVED] = "removed",
	};

	return NAME_OF(names, k);
}

const char *res_verdict_to_string(enum res_verdict v)
{
	static const char *const names[_RES_V_MAX] = {
		[RES_V_APPLIED] = "applied",	 [RES_V_IGNORED] = "ignored",
		[RES_V_REJECTED] = "rejected",	 [RES_V_STALE] = "stale",
		[RES_V_DISCARDED] = "discarded",
	};

	return NAME_OF(names, v);
}
