/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The failover policy of one group (semantics.md §4.3): a sliding window of
 * failover times against FailoverThreshold in FailoverPeriod.  Pure and
 * deterministic: time is an argument; the group layer acts on the verdict.
 *
 * The rule, for a failover at time t (CLOCK_MONOTONIC, ns):
 *   1. drop the times older than t - FailoverPeriod (a time equal to
 *      t - FailoverPeriod is kept: the window is closed at both ends, as the
 *      restart policy's), append t;
 *   2. count <= the effective FailoverThreshold -> ALLOWED (move the group),
 *      else EXCEEDED (leave it failed/offline where it is).
 * Threshold 0 therefore refuses the first failover; the WS2003 example,
 * threshold 5 in 3 hours, moves the group five times and the sixth failover
 * inside any 3 hours leaves it where it is.
 *
 * Memory: the times are kept in an array grown at need to threshold + 1
 * entries (more are never needed: one over the threshold is already over),
 * so at most GROUP_FAILOVER_THRESHOLD_MAX + 1; a group that never fails over
 * allocates nothing.  Failovers are rare (hours apart), so the array is kept
 * oldest first and shifted rather than used as a ring.
 */

#include <stdint.h>

#include "group-props.h"

enum failover_verdict {
	FAILOVER_ALLOWED,  /* within the threshold: fail the group over */
	FAILOVER_EXCEEDED, /* over it: leave the group where it is */
	_FAILOVER_VERDICT_MAX,
};

struct failover_policy {
	uint64_t *times_ns; /* oldest first */
	uint32_t n_times;
	uint32_t capacity;
};

/* A zeroed struct failover_policy is a valid empty one, as after this. */
void failover_policy_init(struct failover_policy *fp);

/* Forgets every failover (keeps the array for later ones). */
void failover_policy_reset(struct failover_policy *fp);

/* Frees the array; fp is empty afterwards and may be used again. */
void failover_policy_done(struct failover_policy *fp);

/*
 * Records a failover of the group at now_ns on a cluster of n_nodes and
 * decides (rule above): FAILOVER_ALLOWED or FAILOVER_EXCEEDED, or -ENOMEM
 * (nothing recorded).  props need not be valid: an out-of-range period is
 * taken as it is.
 */
int failover_policy_record(struct failover_policy *fp, const struct group_props *props,
			   uint32_t n_nodes, uint64_t now_ns);

/* Failovers inside the window that ends at now_ns (the segment's failover_count). */
uint32_t failover_policy_count(const struct failover_policy *fp, const struct group_props *props,
			       uint64_t now_ns);

const char *failover_verdict_to_string(enum failover_verdict v);
