/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The common properties of a group that its failover policy reads
 * (semantics.md §4.3): FailoverThreshold and FailoverPeriod, as stored.
 * FailoverThreshold keeps its "number of nodes − 1" marker here; the
 * effective value depends on the cluster and is asked for with
 * group_props_failover_threshold().  Pure data, no I/O.
 */

#include <stdint.h>

#define GROUP_FAILOVER_THRESHOLD_NODES UINT32_MAX /* default: number of nodes − 1 */
#define GROUP_FAILOVER_THRESHOLD_MAX   1000u	  /* the window keeps threshold + 1 times */
#define GROUP_FAILOVER_PERIOD_MIN_H    1u
#define GROUP_FAILOVER_PERIOD_MAX_H    1193u /* WSFC's limit: 2^32 ms is 1193 hours */

struct group_props {
	uint32_t failover_threshold; /* FailoverThreshold, or GROUP_FAILOVER_THRESHOLD_NODES */
	uint32_t failover_period_h;  /* FailoverPeriod, in hours */
};

/* The defaults: GROUP_FAILOVER_THRESHOLD_NODES, 6 hours. */
void group_props_init(struct group_props *p);

/*
 * Sets the property named key ("FailoverThreshold", "FailoverPeriod"; ASCII
 * case-insensitive).  No validation: validate the whole set afterwards.
 * -ENOENT: not a group property (groups have no private ones).
 */
int group_props_set(struct group_props *p, const char *key, uint32_t value);

/*
 * 0, or -ERANGE with *ret_key (if not NULL) the property's name: a
 * FailoverThreshold above GROUP_FAILOVER_THRESHOLD_MAX other than the
 * GROUP_FAILOVER_THRESHOLD_NODES marker, a FailoverPeriod outside
 * GROUP_FAILOVER_PERIOD_MIN_H..GROUP_FAILOVER_PERIOD_MAX_H.
 */
int group_props_validate(const struct group_props *p, const char **ret_key);

/*
 * The failovers allowed inside the period on a cluster of n_nodes: the
 * stored value, or for the marker n_nodes − 1 (0 for a single node or none),
 * capped at GROUP_FAILOVER_THRESHOLD_MAX so that the window stays bounded
 * whatever the cluster's size.
 */
uint32_t group_props_failover_threshold(const struct group_props *p, uint32_t n_nodes);

/* FailoverPeriod in nanoseconds. */
uint64_t group_props_failover_period_ns(const struct group_props *p);
