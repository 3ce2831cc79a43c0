/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hagent-bench-agent: what the parts read from the state segment, and how they wait on it. */
#include <errno.h>

#include "bench-agent.h"

int seg_count(hagent_shm *s, struct seg_count *ret)
{
	struct hagent_shm_table *t = NULL;
	int r;

	r = hagent_shm_read_table(s, &t);
	if (r < 0)
		return r;
	*ret = (struct seg_count){.n = t->n_resources};
	for (size_t i = 0; i < t->n_resources; i++) {
		const struct hagent_resource *res = &t->resources[i];

		if (res->state == HAGENT_RESOURCE_ONLINE)
			ret->online++;
		if (res->state == HAGENT_RESOURCE_FAILED) {
			ret->failed++;
			if (!ret->first_error)
				ret->first_error = res->last_error;
		}
		if (res->monitor_pid > 0)
			ret->with_monitor++;
		if (res->state_change_ns > ret->last_change_real_ns)
			ret->last_change_real_ns = res->state_change_ns;
	}
	hagent_shm_table_free(t);
	return 0;
}

int seg_wait_state(hagent_shm *s, uint32_t slot, int32_t want, uint64_t timeout_ns,
		   struct hagent_resource *ret)
{
	uint64_t deadline = now() + timeout_ns;
	struct hagent_resource res;
	int r;

	for (;;) {
		r = hagent_shm_read_resource(s, slot, &res);
		if (r < 0)
			return r;
		if (res.state == want) {
			if (ret)
				*ret = res;
			return 0;
		}
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(200 * NSEC_PER_USEC);
		if (r < 0)
			return r;
	}
}
