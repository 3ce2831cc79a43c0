/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restart policy: sliding failure window, escalation, retry.  The rule
 * is spelled out in restart-policy.h.
 */

#include <string.h>

#include "macro.h"
#include "restart-policy.h"
#include "time-util.h"

void restart_policy_reset(struct restart_policy *rp)
{
	*rp = (struct restart_policy){.n_failures = 0};
}

/* The oldest time still inside the window ending at now_ns. */
static uint64_t window_start(const struct res_props *p, uint64_t now_ns)
{
	uint64_t period = (uint64_t) p->restart_period_ms * NSEC_PER_MSEC;

	return now_ns > period ? now_ns - period : 0;
}

static void drop_first(struct restart_policy *rp, uint32_t k)
{
	memmove(rp->failures_ns, rp->failures_ns + k, (rp->n_failures - k) * sizeof(uint64_t));
	rp->n_failures -= k;
}

static void drop_older(struct restart_policy *rp, uint64_t start_ns)
{
	uint32_t k = 0;

	while (k < rp->n_failures && rp->failures_ns[k] < start_ns)
		k++;
	drop_first(rp, k);
}

enum restart_verdict restart_policy_failure(struct restart_policy *rp, const struct res_props *p,
					    uint64_t now_ns, uint64_t *ret_at_ns)
{
	bool retrying = rp->retrying;

	*ret_at_ns = 0;
	rp->retrying = false;

	drop_older(rp, window_start(p, now_ns));
	if (rp->n_failures == RESTART_WINDOW_MAX)
		drop_first(rp, 1); /* over any valid threshold already: the count cannot drop */
	rp->failures_ns[rp->n_failures++] = now_ns;

	if (p->restart_action == RES_RESTART_NONE)
		return RESTART_NOT_ALLOWED;
	if (retrying)
		return RESTART_GIVE_UP;
	if (rp->n_failures <= p->restart_threshold) {
		*ret_at_ns = res_after_ms(now_ns, p->restart_delay_ms);
		return RESTART_AFTER_DELAY;
	}
	if (p->retry_period_ms != RES_RETRY_NEVER)
		*ret_at_ns = res_after_ms(now_ns, p->retry_period_ms);
	return p->restart_action == RES_RESTART_LOCAL ? RESTART_STAY_FAILED : RESTART_ESCALATE;
}

void restart_policy_retry_begin(struct restart_policy *rp)
{
	rp->retrying = true;
}

void restart_policy_recovered(struct restart_policy *rp)
{
	rp->retrying = false;
}

uint32_t restart_policy_count(const struct restart_policy *rp, const struct res_props *p,
			      uint64_t now_ns)
{
	uint64_t start = window_start(p, now_ns);
	uint32_t n = 0;

	for (uint32_t i = 0; i < rp->n_failures; i++)
		if (rp->failures_ns[i] >= start)
			n++;
	return n;
}

const char *restart_verdict_to_string(enum restart_verdict v)
{
	static const char *const names[_RESTART_VERDICT_MAX] = {
		[RESTART_NOT_ALLOWED] = "not-allowed", [RESTART_AFTER_DELAY] = "restart",
		[RESTART_STAY_FAILED] = "stay-failed", [RESTART_ESCALATE] = "escalate",
		[RESTART_GIVE_UP] = "give-up",
	};

	return (unsigned) v < _RESTART_VERDICT_MAX ? names[v] : "invalid";
}
