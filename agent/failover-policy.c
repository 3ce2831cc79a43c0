/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The failover policy: a sliding window of failover times per group.  The
 * rule is spelled out in failover-policy.h.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "failover-policy.h"
#include "macro.h"

void failover_policy_init(struct failover_policy *fp)
{
	*fp = (struct failover_policy){.times_ns = NULL};
}

void failover_policy_reset(struct failover_policy *fp)
{
	fp->n_times = 0;
}

void failover_policy_done(struct failover_policy *fp)
{
	free(fp->times_ns);
	failover_policy_init(fp);
}

/* The oldest time still inside the window ending at now_ns. */
static uint64_t window_start(const struct group_props *p, uint64_t now_ns)
{
	uint64_t period = group_props_failover_period_ns(p);

	return now_ns > period ? now_ns - period : 0;
}

static void drop_first(struct failover_policy *fp, uint32_t k)
{
	memmove(fp->times_ns, fp->times_ns + k, (fp->n_times - k) * sizeof(uint64_t));
	fp->n_times -= k;
}

int failover_policy_record(struct failover_policy *fp, const struct group_props *props,
			   uint32_t n_nodes, uint64_t now_ns)
{
	uint32_t threshold = group_props_failover_threshold(props, n_nodes);
	uint32_t need = threshold + 1, k = 0;

	assert_return(fp, -EINVAL);
	assert_return(props, -EINVAL);

	if (fp->capacity < need) {
		uint64_t *a = reallocarray(fp->times_ns, need, sizeof(uint64_t));

		if (!a)
			return -ENOMEM;
		fp->times_ns = a;
		fp->capacity = need;
	}

	while (k < fp->n_times && fp->times_ns[k] < window_start(props, now_ns))
		k++;
	/* Already over the threshold (it may have been lowered): the count cannot drop. */
	if (fp->n_times - k >= need)
		k = fp->n_times - need + 1;
	drop_first(fp, k);
	fp->times_ns[fp->n_times++] = now_ns;

	return fp->n_times <= threshold ? FAILOVER_ALLOWED : FAILOVER_EXCEEDED;
}

uint32_t failover_policy_count(const struct failover_policy *fp, const struct group_props *props,
			       uint64_t now_ns)
{
	uint64_t start = window_start(props, now_ns);
	uint32_t n = 0;

	for (uint32_t i = 0; i < fp->n_times; i++)
		if (fp->times_ns[i] >= start)
			n++;
	return n;
}

const char *failover_verdict_to_string(enum failover_verdict v)
{
	static const char *const names[_FAILOVER_VERDICT_MAX] = {
		[FAILOVER_ALLOWED] = "allowed",
		[FAILOVER_EXCEEDED] = "exceeded",
	};

	return (unsigned) v < _FAILOVER_VERDICT_MAX ? names[v] : "invalid";
}
