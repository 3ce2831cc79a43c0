/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The restart policy of one resource (semantics.md §4.3): a sliding window
 * of failure times, escalation by RestartAction, and the one retry after
 * RetryPeriodOnFailure.  Pure and deterministic: time is an argument, the
 * verdict says what to do and when; resource-fsm.c arms the timers.
 *
 * The rule, for a failure at time t (CLOCK_MONOTONIC, ns):
 *   1. drop the failure times older than t - RestartPeriod (a time equal to
 *      t - RestartPeriod is kept: the window is closed at both ends), append t;
 *   2. RestartAction 0 -> NOT_ALLOWED (stay Failed, no retry either);
 *   3. the failure ended the retry attempt -> GIVE_UP (Failed until an
 *      operator acts: an Online request resets the policy);
 *   4. count <= RestartThreshold -> AFTER_DELAY, at t + RestartDelay;
 *   5. else RestartAction 1 -> STAY_FAILED, 2 -> ESCALATE (the group layer
 *      tries a failover); either way, unless RetryPeriodOnFailure is
 *      RES_RETRY_NEVER, one more online attempt at t + RetryPeriodOnFailure.
 * RestartThreshold 0 therefore escalates on the first failure.  The window
 * slides (any RestartPeriod-long interval), it is not reset at fixed times.
 */

#include <stdbool.h>
#include <stdint.h>

#include "resource-props.h"

#define RESTART_WINDOW_MAX (RES_RESTART_THRESHOLD_MAX + 1)

enum restart_verdict {
	RESTART_NOT_ALLOWED, /* RestartAction 0: stay Failed */
	RESTART_AFTER_DELAY, /* restart locally at *ret_at_ns */
	RESTART_STAY_FAILED, /* RestartAction 1, over: stay; retry at *ret_at_ns (0: never) */
	RESTART_ESCALATE,    /* RestartAction 2, over: fail the group over; retry as 1 */
	RESTART_GIVE_UP,     /* the retry attempt failed too */
	_RESTART_VERDICT_MAX,
};

struct restart_policy {
	uint64_t failures_ns[RESTART_WINDOW_MAX]; /* oldest first */
	uint32_t n_failures;
	bool retrying; /* the attempt after RetryPeriodOnFailure is under way */
};

/* Forgets every failure and the retry (also the initial state). */
void restart_policy_reset(struct restart_policy *rp);

/*
 * Records a failure of a resource whose persistent state is online, at
 * now_ns, and decides what follows (rule above).  *ret_at_ns gets the time of
 * the restart or of the retry, 0 if there is none.
 */
enum restart_verdict restart_policy_failure(struct restart_policy *rp, const struct res_props *p,
					    uint64_t now_ns, uint64_t *ret_at_ns);

/* The retry timer fired: the attempt that starts now is the last one. */
void restart_policy_retry_begin(struct restart_policy *rp);

/* The resource came online: a running retry attempt succeeded. */
void restart_policy_recovered(struct restart_policy *rp);

/* Failures inside the window that ends at now_ns (what the segment shows as restart count). */
uint32_t restart_policy_count(const struct restart_policy *rp, const struct res_props *p,
			      uint64_t now_ns);

const char *restart_verdict_to_string(enum restart_verdict v);
