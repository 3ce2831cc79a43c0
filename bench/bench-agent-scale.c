/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Items 3 to 6: N instant `test` resources, seeded with the configuration
 * store (persistent target online) before hagentd starts, so that hagentd
 * brings them all online at start.  Measured from the fork of hagentd:
 * until hagentd has N monitor children (the spawn part; not from the
 * segment, which hagentd serves only once every monitor is started) and
 * until every resource is Online (the record's state_change_ns,
 * CLOCK_REALTIME, of the last one to change).  Then `monitorctl status --json` and the
 * memory: hagentd's VmRSS, the monitors' summed PSS (smaps_rollup).
 *
 * Floors, in the same run: N posix_spawn() of /bin/true (the spawn loop
 * alone, and until all have exited); `monitorctl --version` (a start of
 * the same program that reads nothing); hagentd with no resources and the
 * same segment; the PSS of an idle `sleep` (a minimal dynamic program).
 *
 * Item 6, the larger counts, is bench-agent-steps.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-agent-scale.h"
#include "macro.h"

#define POLL_NS		      (2 * NSEC_PER_MSEC)
#define STALL_NS	      (20 * NSEC_PER_SEC) /* no progress this long: stuck */
#define CTL_SAMPLES	      20u
#define SPAWN_STALL_NS	      (3 * NSEC_PER_SEC)
#define START_LIMIT_NS	      (60 * NSEC_PER_SEC)  /* bound on one agent run: this, */
#define PER_RESOURCE_LIMIT_NS (60 * NSEC_PER_MSEC) /* plus this per resource */

extern char **environ;

/* ---- floors ---- */

int floor_spawn(uint32_t n, double *spawn_ms, double *run_ms)
{
	char *argv[] = {(char *) "/bin/true", NULL};
	uint64_t t0 = now(), t1;
	uint32_t started = 0;
	int r = 0;

	for (; started < n; started++) {
		pid_t pid;

		r = -posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
		if (r < 0)
			break;
	}
	t1 = now();
	for (uint32_t i = 0; i < started; i++)
		while (waitpid(-1, NULL, 0) < 0 && errno == EINTR)
			;
	*spawn_ms = (double) (t1 - t0) / 1e6;
	*run_ms = (double) (now() - t0) / 1e6;
	return r;
}

/* The PSS of an idle `sleep`, in KiB. */
static int floor_pss(double *ret)
{
	char *argv[] = {(char *) "sleep", (char *) "600", NULL};
	uint64_t kib = 0;
	pid_t pid;
	int r;

	r = -posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (r < 0)
		return r;
	/* Until it has exec'd and settled (its PSS stops changing). */
	for (unsigned i = 0; i < 50; i++) {
		uint64_t prev = kib;

		sleep_ns(10 * NSEC_PER_MSEC);
		r = proc_pss_kib(pid, &kib);
		if (r < 0 || (i > 5 && kib == prev))
			break;
	}
	(void) kill(pid, SIGKILL);
	(void) waitpid(pid, NULL, 0);
	*ret = (double) kib;
	return r;
}

int floor_agent_rss(const struct bench_env *env, uint32_t max_res, double *ret)
{
	char statedir[BENCH_PATH_MAX];
	struct agent a;
	uint64_t kib;
	int r;

	r = bench_mkdir(env->fastbase, "empty-state", statedir);
	if (r < 0)
		return r;
	r = agent_start(env, statedir, max_res, env->max_groups, &a);
	if (r >= 0)
		r = agent_attach(&a, 10 * NSEC_PER_SEC);
	if (r >= 0)
		r = bench_sleep(50 * NSEC_PER_MSEC);
	if (r >= 0)
		r = proc_vmrss_kib(a.pid, &kib);
	if (r >= 0)
		*ret = (double) kib;
	agent_stop(&a);
	return r;
}

/* ---- one agent at n resources ---- */

static void explain_error(struct scale_result *res, const struct seg_count *c,
			  const struct agent *a)
{
	double after_s = (double) (c->last_change_real_ns - a->start_real_ns) / 1e9;
	int e = -c->first_error;

	(void) proc_count_fds(a->pid, &res->agent_fds);
	(void) proc_nofile_limit(a->pid, &res->agent_nofile);
	if (e == EMFILE || e == ENFILE)
		(void) snprintf(res->why, sizeof(res->why),
				"settled after %.1f s with %zu Online and %zu Failed with \"%s\": "
				"hagentd ran out of file descriptors (it holds %u, its "
				"RLIMIT_NOFILE is %" PRIu64 ")",
				after_s, c->online, c->failed, strerror(e), res->agent_fds,
				res->agent_nofile);
	else if (e == EAGAIN)
		(void) snprintf(res->why, sizeof(res->why),
				"settled after %.1f s with %zu Online and %zu Failed with \"%s\": "
				"no more processes or threads (pid_max, threads-max or "
				"RLIMIT_NPROC)",
				after_s, c->online, c->failed, strerror(e));
	else
		(void) snprintf(
			res->why, sizeof(res->why),
			"settled after %.1f s with %zu Online and %zu Failed, last error %d "
			"(%s); see %s",
			after_s, c->online, c->failed, c->first_error, e > 0 ? strerror(e) : "-",
			a->log);
}

static bool agent_exited(struct agent *a, struct scale_result *res, size_t online)
{
	int status;

	if (waitpid(a->pid, &status, WNOHANG) != a->pid)
		return false;
	a->pid = 0;
	(void) snprintf(res->why, sizeof(res->why),
			"hagentd exited (wait status 0x%x) with %zu of %u Online; see its log",
			(unsigned) status, online, res->n);
	return true;
}

/*
 * Until hagentd has n monitors (its children), or stops adding them.  Not
 * from the segment: hagentd spawns every monitor before its event loop
 * runs, so state.sock answers nobody until the last one is started.
 */
static int wait_spawned(struct agent *a, struct scale_result *res, uint64_t deadline)
{
	uint64_t last_change = now();
	unsigned n = 0, last = 0;
	int r;

	for (;;) {
		if (agent_exited(a, res, 0))
			return -ECHILD;
		r = proc_children(a->pid, &n);
		if (r == -ENOENT)
			return 0; /* no CONFIG_PROC_CHILDREN: no spawn part, the rest still works */
		if (r < 0)
			return r;
		if (n >= res->n) {
			res->spawn_ms = (double) (now() - a->start_ns) / 1e6;
			return 0;
		}
		if (n != last) {
			last = n;
			last_change = now();
		}
		if (n > 0 && now() - last_change > SPAWN_STALL_NS)
			return 0; /* it stopped short; the segment will say why */
		if (now() >= deadline) {
			(void) snprintf(res->why, sizeof(res->why),
					"hagentd started %u of %u monitors in %.0f s", n, res->n,
					(double) (now() - a->start_ns) / 1e9);
			return -ETIMEDOUT;
		}
		r = bench_sleep(POLL_NS);
		if (r < 0)
			return r;
	}
}

/* Polls the segment until every resource is Online, or it cannot get there. */
static int wait_all_online(struct agent *a, struct scale_result *res, uint64_t deadline)
{
	uint64_t last_progress = now();
	size_t last_online = 0;
	struct seg_count c;
	int r;

	for (;;) {
		r = seg_count(a->shm, &c);
		if (r < 0)
			return r;
		if (c.n == res->n && c.online == res->n) {
			res->online_ms = (double) (c.last_change_real_ns - a->start_real_ns) / 1e6;
			return 0;
		}
		(void) proc_count_fds(a->pid, &res->agent_fds);
		if (c.failed > 0 && c.online + c.failed == res->n) {
			explain_error(res, &c, a);
			return -EIO;
		}
		if (agent_exited(a, res, c.online))
			return -ECHILD;
		if (c.online != last_online) {
			last_online = c.online;
			last_progress = now();
		}
		if (now() - last_progress > STALL_NS || now() >= deadline) {
			(void) snprintf(res->why, sizeof(res->why),
					"no progress: %zu of %u Online, %zu with a monitor, %zu "
					"Failed after %.1f s",
					c.online, res->n, c.with_monitor, c.failed,
					(double) (now() - a->start_ns) / 1e9);
			return -ETIMEDOUT;
		}
		r = bench_sleep(POLL_NS);
		if (r < 0)
			return r;
	}
}

/* Item 5: hagentd's VmRSS, the monitors' PSS; and what item 6 predicts from. */
static int measure_memory(struct agent *a, struct scale_result *res)
{
	struct hagent_shm_table *t = NULL;
	uint64_t kib, sum = 0;
	size_t n = 0;
	int r;

	r = proc_vmrss_kib(a->pid, &kib);
	if (r < 0)
		return r;
	res->rss_kib = (double) kib;
	(void) proc_count_fds(a->pid, &res->agent_fds);
	(void) proc_nofile_limit(a->pid, &res->agent_nofile);
	r = hagent_shm_read_table(a->shm, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_resources; i++) {
		pid_t pid = t->resources[i].monitor_pid;

		if (pid <= 0 || proc_pss_kib(pid, &kib) < 0)
			continue;
		if (n == 0)
			(void) proc_threads(pid, &res->threads_per_monitor);
		sum += kib;
		n++;
	}
	hagent_shm_table_free(t);
	if (n == 0)
		return -ESRCH;
	res->pss_sum_kib = (double) sum;
	res->pss_per_kib = (double) sum / (double) n;
	return 0;
}

/* Item 4: CTL_SAMPLES of each, interleaved; medians. */
static int measure_monitorctl(const struct bench_env *env, const struct agent *a,
			      struct scale_result *res)
{
	char *status[] = {(char *) env->monitorctl, (char *) "--runtime-dir", (char *) a->rundir,
			  (char *) "--json",	    (char *) "status",	      NULL};
	char *version[] = {(char *) env->monitorctl, (char *) "--version", NULL};
	double v[CTL_SAMPLES], f[CTL_SAMPLES];
	int r;

	for (unsigned i = 0; i < CTL_SAMPLES; i++) {
		uint64_t ns;

		r = run_quiet(status, &ns);
		if (r < 0) {
			fprintf(stderr, "hagent-bench-agent: %s status --json failed: %s\n",
				env->monitorctl, strerror(-r));
			return r;
		}
		v[i] = (double) ns / 1000.0;
		r = run_quiet(version, &ns);
		if (r < 0)
			return r;
		f[i] = (double) ns / 1000.0;
	}
	res->ctl_us = percentile(v, CTL_SAMPLES, 50);
	res->ctl_floor_us = percentile(f, CTL_SAMPLES, 50);
	return 0;
}

int scale_seed(const struct bench_env *env, uint32_t n, char statedir[BENCH_PATH_MAX])
{
	char name[32];
	int r;

	(void) snprintf(name, sizeof(name), "scale%" PRIu32, n);
	r = bench_mkdir(env->fastbase, name, statedir);
	if (r < 0)
		return r;
	return bench_seed(statedir,
			  &(const struct seed){.type = "test",
					       .prefix = "r",
					       .n = n,
					       .group_size = GROUP_SIZE,
					       .online = true},
			  1);
}

int scale_run(const struct bench_env *env, const char *statedir, bool with_ctl,
	      struct scale_result *res)
{
	uint64_t deadline;
	struct agent a;
	int r;

	r = agent_start(env, statedir, max_resources_for(env, res->n), env->max_groups, &a);
	deadline = a.start_ns + START_LIMIT_NS + res->n * PER_RESOURCE_LIMIT_NS;
	if (r >= 0)
		r = wait_spawned(&a, res, deadline);
	if (r >= 0) {
		r = agent_attach(&a, deadline > now() ? deadline - now() : 0);
		if (r < 0 && r != -EINTR && !res->why[0])
			(void) snprintf(res->why, sizeof(res->why),
					"hagentd did not publish its segment: %s",
					hagent_shm_strerror(r));
	}
	if (r >= 0)
		r = wait_all_online(&a, res, deadline);
	if (r >= 0)
		r = measure_memory(&a, res);
	else if (r == -EIO)
		(void) measure_memory(&a, res); /* where it stopped */
	if (r >= 0 && with_ctl)
		r = measure_monitorctl(env, &a, res);
	if (r < 0 && !res->why[0] && r != -EINTR)
		(void) snprintf(res->why, sizeof(res->why), "%s", hagent_shm_strerror(r));
	if (r < 0 && r != -EINTR && r != -EIO)
		agent_log_tail(&a, 10);
	agent_stop(&a);
	return r;
}

/* ---- items 3 to 5 ---- */

int bench_scale(const struct bench_env *env, struct report *rep)
{
	struct series online = {}, spawn = {}, f_run = {}, f_spawn = {}, ctl = {}, f_ctl = {},
		      rss = {}, f_rss = {}, pss_sum = {}, pss_per = {}, f_pss = {};
	char statedir[BENCH_PATH_MAX], m[72];
	struct scale_result res, base = {};
	uint32_t n = env->scale_n;
	int r;

	r = scale_seed(env, n, statedir);
	if (r < 0)
		return r;
	for (unsigned run = 0; run < env->runs; run++) {
		double fs, fr, frss, fpss;

		r = floor_spawn(n, &fs, &fr);
		if (r >= 0)
			r = floor_agent_rss(env, max_resources_for(env, n), &frss);
		if (r >= 0)
			r = floor_pss(&fpss);
		if (r < 0)
			return r;
		result_init(&res, n);
		r = scale_run(env, statedir, true, &res);
		if (r < 0) {
			if (r != -EINTR)
				fprintf(stderr, "hagent-bench-agent: %u resources: %s\n", n,
					res.why);
			return r;
		}
		series_add(&online, res.online_ms);
		series_add(&spawn, res.spawn_ms);
		series_add(&f_run, fr);
		series_add(&f_spawn, fs);
		series_add(&ctl, res.ctl_us / 1000);
		series_add(&f_ctl, res.ctl_floor_us / 1000);
		series_add(&rss, res.rss_kib / 1024);
		series_add(&f_rss, frss / 1024);
		series_add(&pss_sum, res.pss_sum_kib / 1024);
		series_add(&pss_per, res.pss_per_kib);
		series_add(&f_pss, fpss);
		base = res;
	}
	(void) snprintf(m, sizeof(m), "%u resources: hagentd start → all Online", n);
	report_row(rep, m, UNIT_MS, series_median(&online), series_median(&f_run), NULL);
	(void) snprintf(m, sizeof(m), "%u resources: spawn part (all have a monitor)", n);
	report_row(rep, m, UNIT_MS, series_median(&spawn), series_median(&f_spawn), NULL);
	(void) snprintf(m, sizeof(m), "%u resources: monitorctl status --json", n);
	report_row(rep, m, UNIT_MS, series_median(&ctl), series_median(&f_ctl), NULL);
	(void) snprintf(m, sizeof(m), "%u resources: hagentd VmRSS", n);
	report_row(rep, m, UNIT_MIB, series_median(&rss), series_median(&f_rss), NULL);
	(void) snprintf(m, sizeof(m), "%u resources: monitors' PSS, sum", n);
	report_row(rep, m, UNIT_MIB, series_median(&pss_sum), NAN, NULL);
	(void) snprintf(m, sizeof(m), "%u resources: PSS per monitor", n);
	report_row(rep, m, UNIT_KIB, series_median(&pss_per), series_median(&f_pss), NULL);
	report_note(
		rep,
		"%u resources (type test, instant, groups of %u), seeded before hagentd starts. "
		"Floors: %u × posix_spawn of /bin/true (the loop; until all exited); monitorctl "
		"--version; hagentd with no resources and the same segment; the PSS of an idle "
		"sleep. Each monitor has %u threads; hagentd holds %u fds.",
		n, GROUP_SIZE, n, base.threads_per_monitor, base.agent_fds);
	return scale_steps(env, &base, rep);
}
