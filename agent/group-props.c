/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Common group properties: defaults, validation, setting by name.
 */

#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "group-props.h"
#include "macro.h"
#include "time-util.h"

static const struct {
	const char *name;
	size_t offset;
} props_table[] = {
	{"FailoverThreshold", offsetof(struct group_props, failover_threshold)},
	{"FailoverPeriod", offsetof(struct group_props, failover_period_h)},
};

void group_props_init(struct group_props *p)
{
	*p = (struct group_props){
		.failover_threshold = GROUP_FAILOVER_THRESHOLD_NODES,
		.failover_period_h = 6,
	};
}

int group_props_set(struct group_props *p, const char *key, uint32_t value)
{
	assert_return(p, -EINVAL);
	assert_return(key, -EINVAL);

	for (size_t i = 0; i < ELEMENTSOF(props_table); i++)
		if (strcasecmp(key, props_table[i].name) == 0) {
			*(uint32_t *) ((char *) p + props_table[i].offset) = value;
			return 0;
		}
	return -ENOENT;
}

static int fail_key(int r, const char *key, const char **ret_key)
{
	if (ret_key)
		*ret_key = key;
	return r;
}

int group_props_validate(const struct group_props *p, const char **ret_key)
{
	assert_return(p, -EINVAL);

	if (p->failover_threshold > GROUP_FAILOVER_THRESHOLD_MAX &&
	    p->failover_threshold != GROUP_FAILOVER_THRESHOLD_NODES)
		return fail_key(-ERANGE, "FailoverThreshold", ret_key);
	if (p->failover_period_h < GROUP_FAILOVER_PERIOD_MIN_H ||
	    p->failover_period_h > GROUP_FAILOVER_PERIOD_MAX_H)
		return fail_key(-ERANGE, "FailoverPeriod", ret_key);
	return 0;
}

uint32_t group_props_failover_threshold(const struct group_props *p, uint32_t n_nodes)
{
	uint32_t t = p->failover_threshold;

	if (t == GROUP_FAILOVER_THRESHOLD_NODES)
		t = n_nodes > 0 ? n_nodes - 1 : 0;
	return t < GROUP_FAILOVER_THRESHOLD_MAX ? t : GROUP_FAILOVER_THRESHOLD_MAX;
}

uint64_t group_props_failover_period_ns(const struct group_props *p)
{
	return (uint64_t) p->failover_period_h * 3600 * NSEC_PER_SEC;
}
