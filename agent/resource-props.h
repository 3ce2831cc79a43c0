/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The common properties of a resource that its state machine and restart
 * policy read (semantics.md §2.4, §4.1, §4.3), in milliseconds as in WSFC.
 * These are effective values: "0xFFFFFFFF = use the type's value" is
 * resolved by the caller before they get here.  Pure data, no I/O.
 */

#include <stdint.h>

#define RES_RETRY_NEVER		  UINT32_MAX /* RetryPeriodOnFailure: never retry */
#define RES_PROP_INHERIT	  UINT32_MAX /* a stored value: "use the type's value" */
#define RES_RESTART_THRESHOLD_MAX 255u	     /* the restart window keeps threshold + 1 times */

/* RestartAction (CLUSTER_RESOURCE_RESTART_ACTION). */
enum res_restart_action {
	RES_RESTART_NONE = 0,	/* DontRestart */
	RES_RESTART_LOCAL = 1,	/* RestartNoNotify: restart; over the threshold stay Failed here */
	RES_RESTART_NOTIFY = 2, /* RestartNotify: restart; over the threshold fail the group over */
};

struct res_props {
	uint32_t pending_timeout_ms;  /* PendingTimeout: silence allowed between progress reports */
	uint32_t deadlock_timeout_ms; /* DeadlockTimeout: an entry point that never returns */
	uint32_t looks_alive_ms;      /* LooksAlivePollInterval */
	uint32_t is_alive_ms;	      /* IsAlivePollInterval */
	uint32_t restart_action;      /* enum res_restart_action */
	uint32_t restart_threshold;   /* RestartThreshold: failures tolerated in the window */
	uint32_t restart_period_ms;   /* RestartPeriod: the window */
	uint32_t restart_delay_ms;    /* RestartDelay */
	uint32_t retry_period_ms;     /* RetryPeriodOnFailure, RES_RETRY_NEVER: never */
};

/* The defaults of semantics.md: 180000, 300000, 5000, 60000, 2, 3, 900000, 500, 3600000. */
void res_props_init(struct res_props *p);

/*
 * Checks every property and their relations.  0, or the first error found,
 * with *ret_key (if not NULL) set to the property's name:
 *   -EINVAL  a value that means nothing: a poll interval of 0, a RestartAction
 *            other than 0..2, a RetryPeriodOnFailure below RestartPeriod
 *   -ERANGE  below the minimum or above the maximum: PendingTimeout < 10,
 *            DeadlockTimeout < 1000, a poll interval < 10, RestartPeriod 0,
 *            RestartThreshold > RES_RESTART_THRESHOLD_MAX
 * PendingTimeout above DeadlockTimeout is valid: the smaller one is used.
 */
int res_props_validate(const struct res_props *p, const char **ret_key);

/*
 * Sets the property named key (WSFC spelling, e.g. "PendingTimeout"; ASCII
 * case-insensitive).  No validation: validate the whole set afterwards.
 * -ENOENT: not a common property (a private one, for the monitor).
 */
int res_props_set(struct res_props *p, const char *key, uint32_t value);

/*
 * As res_props_set() for a value from the configuration: RES_PROP_INHERIT
 * ("use the type's value", scenario 37) becomes the type's value, which is
 * the built-in default while resource types carry no properties.  For
 * RetryPeriodOnFailure 0xFFFFFFFF is a value of its own: never.
 */
int res_props_set_stored(struct res_props *p, const char *key, uint32_t value);

/* min(PendingTimeout, DeadlockTimeout) in nanoseconds (semantics.md §2.4). */
uint64_t res_props_pending_timeout_ns(const struct res_props *p);

/* now + ms, saturating at UINT64_MAX. */
uint64_t res_after_ms(uint64_t now_ns, uint32_t ms);
