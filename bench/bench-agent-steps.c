/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Item 6: one agent run at each larger count, saying where and why it stops.
 * Before a step it predicts the tasks (threads), file descriptors, memory and
 * start time from the figures measured at the smaller counts.  A step that
 * would exhaust pid_max, RLIMIT_NPROC or memory, which would hurt everyone on
 * the machine, or that would start for longer than the step's budget, is
 * skipped with the reason; one that may fail inside hagentd (out of
 * descriptors) is run, and the segment's errors say why it stopped.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-agent-scale.h"

#define STEP_BUDGET_S	240u /* a count predicted to start slower than this is skipped */
#define TASKS_HEADROOM	0.85 /* of pid_max: never take the machine's last pids */
#define MEMORY_HEADROOM 0.6  /* of MemAvailable */

/* Why a step of n resources must not run, from the figures at a smaller count; "" if none. */
static void predict(const struct scale_result *base, const struct scale_result *last, uint32_t n,
		    char *why, size_t size, char *risk, size_t risk_size)
{
	double scale = last->n ? (double) n / last->n : 0;
	double need_s = last->online_ms / 1000 * scale * scale;
	unsigned pid_max = 0, tasks = 0;
	uint64_t avail = 0;
	double need_tasks = (double) n * (base->threads_per_monitor ?: 1);
	double need_kib = (double) n * base->pss_per_kib;
	double need_fds = base->n ? (double) base->agent_fds / base->n * n : 0;
	struct rlimit nproc = {RLIM_INFINITY, RLIM_INFINITY};

	why[0] = risk[0] = '\0';
	(void) getrlimit(RLIMIT_NPROC, &nproc);
	if (sys_pid_max(&pid_max) >= 0 && sys_tasks(&tasks) >= 0 &&
	    need_tasks + tasks > TASKS_HEADROOM * pid_max)
		(void) snprintf(
			why, size,
			"skipped: %u monitors of %u threads need about %.0f tasks; "
			"kernel.pid_max is %u and %u tasks run now (every thread takes a pid)",
			n, base->threads_per_monitor, need_tasks, pid_max, tasks);
	else if (geteuid() != 0 && nproc.rlim_cur != RLIM_INFINITY &&
		 need_tasks + tasks > (double) nproc.rlim_cur)
		(void) snprintf(why, size,
				"skipped: %u monitors of %u threads need about %.0f tasks of this "
				"user; RLIMIT_NPROC is %llu",
				n, base->threads_per_monitor, need_tasks,
				(unsigned long long) nproc.rlim_cur);
	else if (sys_mem_available_kib(&avail) >= 0 && need_kib > MEMORY_HEADROOM * avail)
		(void) snprintf(why, size,
				"skipped: %u monitors of %.0f KiB PSS need %.0f MiB; %.0f MiB are "
				"available",
				n, base->pss_per_kib, need_kib / 1024, (double) avail / 1024);
	else if (!isnan(need_s) && need_s > STEP_BUDGET_S)
		(void) snprintf(
			why, size,
			"skipped: the start would take about %.0f s (%u resources took %.1f s, "
			"and it grows with the square of the count), over the %u s budget "
			"of a step",
			need_s, last->n, last->online_ms / 1000, STEP_BUDGET_S);
	if (base->agent_nofile && need_fds > (double) base->agent_nofile)
		(void) snprintf(risk, risk_size,
				"hagentd will need about %.0f fds (%.1f per resource) and its "
				"RLIMIT_NOFILE is %" PRIu64,
				need_fds, (double) base->agent_fds / base->n, base->agent_nofile);
}

static void step_rows(struct report *rep, const struct scale_result *res, double floor_spawn_ms,
		      double floor_run_ms, double floor_rss_kib)
{
	char m[72];

	(void) snprintf(m, sizeof(m), "%u resources: hagentd start → all Online", res->n);
	report_row(rep, m, UNIT_MS, res->online_ms, floor_run_ms, NULL);
	(void) snprintf(m, sizeof(m), "%u resources: spawn part (all have a monitor)", res->n);
	report_row(rep, m, UNIT_MS, res->spawn_ms, floor_spawn_ms, NULL);
	(void) snprintf(m, sizeof(m), "%u resources: hagentd VmRSS", res->n);
	report_row(rep, m, UNIT_MIB, res->rss_kib / 1024, floor_rss_kib / 1024, NULL);
	(void) snprintf(m, sizeof(m), "%u resources: monitors' PSS, sum", res->n);
	report_row(rep, m, UNIT_MIB, res->pss_sum_kib / 1024, NAN, NULL);
}

int scale_steps(const struct bench_env *env, const struct scale_result *base, struct report *rep)
{
	struct scale_result last = *base; /* the largest count that came all Online */

	for (unsigned i = 0; i < env->n_scale_steps; i++) {
		uint32_t n = env->scale_steps[i];
		char statedir[BENCH_PATH_MAX], risk[320];
		double fspawn = NAN, frun = NAN, frss = NAN;
		struct scale_result res;
		int r;

		result_init(&res, n);
		predict(base, &last, n, res.why, sizeof(res.why), risk, sizeof(risk));
		if (risk[0])
			report_note(rep, "%u resources: expected to fail: %s.", n, risk);
		if (res.why[0]) {
			printf("scale %u: %s\n", n, res.why);
			report_note(rep, "%u resources: %s.", n, res.why);
			step_rows(rep, &res, NAN, NAN, NAN);
			continue;
		}
		printf("scale %u: seeding...\n", n);
		(void) fflush(stdout);
		r = scale_seed(env, n, statedir);
		if (r < 0)
			return r;
		r = floor_spawn(n, &fspawn, &frun);
		if (r >= 0)
			r = floor_agent_rss(env, max_resources_for(env, n), &frss);
		if (r < 0)
			return r;
		r = scale_run(env, statedir, false, &res);
		if (r == -EINTR)
			return r;
		if (r < 0) {
			printf("scale %u: stopped: %s\n", n, res.why);
			report_note(rep, "%u resources: stopped: %s.", n, res.why);
			if (!isnan(res.pss_sum_kib))
				report_note(
					rep,
					"%u resources, where it stopped: hagentd VmRSS %.0f MiB, "
					"monitors' PSS %.0f MiB (%.0f KiB each).",
					n, res.rss_kib / 1024, res.pss_sum_kib / 1024,
					res.pss_per_kib);
		} else {
			printf("scale %u: all Online in %.0f ms\n", n, res.online_ms);
			report_note(
				rep,
				"%u resources: %.0f KiB PSS per monitor, %u threads per monitor, "
				"hagentd %u fds (limit %" PRIu64 ").",
				n, res.pss_per_kib, res.threads_per_monitor, res.agent_fds,
				res.agent_nofile);
			last = res;
		}
		(void) fflush(stdout);
		step_rows(rep, &res, fspawn, frun, frss);
	}
	return 0;
}
