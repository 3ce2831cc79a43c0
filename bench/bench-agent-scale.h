/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What bench-agent-scale.c (items 3 to 5) and bench-agent-steps.c (item 6) share. */

#include <math.h>

#include "bench-agent.h"

#define GROUP_SIZE 50u /* resources per group */

/* What one agent run at n resources gave; NAN where it did not get there. */
struct scale_result {
	uint32_t n;
	double spawn_ms, online_ms;
	double rss_kib, pss_sum_kib, pss_per_kib;
	unsigned threads_per_monitor; /* of one monitor */
	unsigned agent_fds;
	uint64_t agent_nofile;
	double ctl_us, ctl_floor_us; /* medians of CTL_SAMPLES, item 4 */
	char why[640];		     /* why it stopped, "" if it did not */
};

static inline void result_init(struct scale_result *res, uint32_t n)
{
	*res = (struct scale_result){
		.n = n,
		.spawn_ms = NAN,
		.online_ms = NAN,
		.rss_kib = NAN,
		.pss_sum_kib = NAN,
		.pss_per_kib = NAN,
		.ctl_us = NAN,
		.ctl_floor_us = NAN,
	};
}

static inline uint32_t max_resources_for(const struct bench_env *env, uint32_t n)
{
	return n > env->max_resources ? n : env->max_resources;
}

/* n posix_spawn of /bin/true: *spawn_ms the loop, *run_ms until all exited. */
int floor_spawn(uint32_t n, double *spawn_ms, double *run_ms);
/* hagentd with no resources and the same segment: its VmRSS. */
int floor_agent_rss(const struct bench_env *env, uint32_t max_res, double *ret);
/* A state directory with n instant test resources, persistent target online. */
int scale_seed(const struct bench_env *env, uint32_t n, char statedir[BENCH_PATH_MAX]);
/* One hagentd at res->n resources; res->why says why it failed. */
int scale_run(const struct bench_env *env, const char *statedir, bool with_ctl,
	      struct scale_result *res);
/* Item 6: the larger counts of env->scale_steps, from base (the item 3 run). */
int scale_steps(const struct bench_env *env, const struct scale_result *base, struct report *rep);
