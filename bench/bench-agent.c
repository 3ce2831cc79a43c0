/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagent-bench-agent: the whole agent measured against floors taken in the
 * same run on the same machine (docs/benchmarks.md).  It starts the built
 * hagentd with the built monitor programs in a private temporary directory
 * and measures failure detection and recovery (bench-agent-fault.c), the
 * start of many resources, monitorctl, memory and the limits of scale
 * (bench-agent-scale.c), the control API's Online (bench-agent-control.c),
 * a group's online and offline beside single-resource requests
 * (bench-agent-group.c), and an agent restart that re-attaches its monitors
 * (bench-agent-restart.c).
 *
 * No strays: the benchmark is a child subreaper, so every process it starts
 * (hagentd, its monitors, each in a session of its own, and their commands)
 * stays its descendant, and monitors whose hagentd is gone, which wait for a
 * new one, become its children; each part kills and reaps them all
 * (agent_stop(), bench_reap_all()), and so does main() on every exit path.
 * hagentd has PR_SET_PDEATHSIG (SIGKILL); its monitors outlive it, so should
 * the benchmark itself be SIGKILLed they give up after --orphan-timeout
 * (BENCH_ORPHAN_TIMEOUT_S).  SIGINT, SIGTERM and SIGHUP make every wait give
 * up, then the same cleanup runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-agent.h"
#include "macro.h"

#ifndef HAGENTD_BIN
#define HAGENTD_BIN "/usr/sbin/hagentd"
#endif
#ifndef MONITORCTL_BIN
#define MONITORCTL_BIN "/usr/bin/monitorctl"
#endif
#ifndef HAMON_MONITOR_DIR
#define HAMON_MONITOR_DIR "/usr/libexec/hagent/monitors"
#endif

static unsigned arg_runs = 0;
static bool arg_quick = false;
static const char *arg_steps = NULL;
static uint32_t arg_resources = 0;
static uint32_t arg_max_resources = 0;
static uint32_t arg_max_groups = 0;

static void on_signal(int sig)
{
	(void) sig;
	bench_interrupted = 1;
}

static int signals_setup(void)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: sleeps end */

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static void path_from(char dst[BENCH_PATH_MAX], const char *envname, const char *fallback)
{
	const char *e = getenv(envname);

	(void) snprintf(dst, BENCH_PATH_MAX, "%s", e && *e ? e : fallback);
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "--%s: expected %" PRIu32 "-%" PRIu32 ", got '%s'\n", opt, min, max,
			s);
		return -EINVAL;
	}
	*ret = (uint32_t) v;
	return 0;
}

static int parse_steps(const char *s, struct bench_env *env)
{
	char buf[128], *save = NULL, *tok;

	env->n_scale_steps = 0;
	if (strcmp(s, "none") == 0)
		return 0;
	(void) snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (env->n_scale_steps >= ELEMENTSOF(env->scale_steps)) {
			fprintf(stderr, "--steps: at most %zu counts\n",
				ELEMENTSOF(env->scale_steps));
			return -EINVAL;
		}
		if (parse_u32("steps", tok, 1, 30000, &env->scale_steps[env->n_scale_steps++]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int env_init(struct bench_env *env)
{
	static const uint32_t full_steps[] = {2000, 5000, 10000};

	*env = (struct bench_env){.quick = arg_quick};
	path_from(env->hagentd, "HAGENTD_BIN", HAGENTD_BIN);
	path_from(env->monitorctl, "MONITORCTL_BIN", MONITORCTL_BIN);
	path_from(env->monitor_dir, "HAMON_MONITOR_DIR", HAMON_MONITOR_DIR);
	env->runs = arg_runs ?: arg_quick ? 3 : 5;
	env->fault_samples = arg_quick ? 10 : 100;
	env->scale_n = arg_resources ?: arg_quick ? 50 : 1000;
	env->max_resources = arg_max_resources ?: 4096;
	env->max_groups = arg_max_groups;
	if (arg_quick) {
		env->scale_steps[0] = 100;
		env->n_scale_steps = 1;
	} else {
		memcpy(env->scale_steps, full_steps, sizeof(full_steps));
		env->n_scale_steps = ELEMENTSOF(full_steps);
	}
	if (arg_steps)
		return parse_steps(arg_steps, env);
	return 0;
}

static void print_header(const struct bench_env *env)
{
	char date[64] = "unknown", load[128] = "unknown";
	struct utsname u = {};
	struct rlimit nofile = {}, nproc = {};
	unsigned pid_max = 0, tasks = 0;
	uint64_t avail = 0;
	time_t t = time(NULL);
	struct tm tm;
	FILE *f;

	if (localtime_r(&t, &tm))
		(void) strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", &tm);
	if (uname(&u) < 0)
		(void) snprintf(u.release, sizeof(u.release), "unknown");
	f = fopen("/proc/loadavg", "re");
	if (f) {
		if (fgets(load, sizeof(load), f))
			load[strcspn(load, "\n")] = '\0';
		(void) fclose(f);
	}
	(void) getrlimit(RLIMIT_NOFILE, &nofile);
	(void) getrlimit(RLIMIT_NPROC, &nproc);
	(void) sys_pid_max(&pid_max);
	(void) sys_tasks(&tasks);
	(void) sys_mem_available_kib(&avail);

	printf("hagent-bench-agent: hagentd and its monitors against floors measured in the "
	       "same run\n");
	printf("date     %s\n", date);
	printf("kernel   %s\n", u.release);
	printf("nproc    %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("loadavg  %s\n", load);
	printf("memory   %" PRIu64 " MiB available\n", avail / 1024);
	printf("limits   pid_max %u (%u tasks now), RLIMIT_NOFILE %llu/%llu, RLIMIT_NPROC "
	       "%llu\n",
	       pid_max, tasks, (unsigned long long) nofile.rlim_cur,
	       (unsigned long long) nofile.rlim_max, (unsigned long long) nproc.rlim_cur);
	printf("hagentd  %s\n", env->hagentd);
	printf("dirs     %s (seeding: %s)\n", env->base, env->fastbase);
	printf("runs     %u (%s); median over runs, ratio = median / floor\n", env->runs,
	       env->quick ? "quick" : "full");
	(void) fflush(stdout);
}

static void help(void)
{
	printf("Usage: hagent-bench-agent [OPTIONS]\n\n"
	       "Runs the built hagentd with real monitors and measures it against floors\n"
	       "taken in the same run.\n\n"
	       "  -h --help             Show this help\n"
	       "  -q --quick            Short run (smoke test, under 30 s)\n"
	       "  -r --runs N           Runs per figure, 1-%u (default 5, quick 3)\n"
	       "     --resources N      Resources of the start/monitorctl/memory rows\n"
	       "                        (default 1000, quick 50)\n"
	       "     --steps LIST       Larger counts to try, e.g. 2000,5000 or none\n"
	       "                        (default 2000,5000,10000, quick 100)\n"
	       "     --max-resources N  hagentd's --max-resources at least N (default 4096)\n"
	       "     --max-groups N     hagentd's --max-groups (default: hagentd's)\n\n"
	       "The programs: $HAGENTD_BIN, $MONITORCTL_BIN, $HAMON_MONITOR_DIR (default:\n"
	       "the build tree's).\n",
	       MAX_RUNS);
}

/* 1: go on; 0: exit successfully (help); negative errno: bad usage. */
static int parse_argv(int argc, char *argv[])
{
	enum { ARG_RESOURCES = 0x100, ARG_STEPS, ARG_MAX_RESOURCES, ARG_MAX_GROUPS };
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"quick", no_argument, NULL, 'q'},
		{"runs", required_argument, NULL, 'r'},
		{"resources", required_argument, NULL, ARG_RESOURCES},
		{"steps", required_argument, NULL, ARG_STEPS},
		{"max-resources", required_argument, NULL, ARG_MAX_RESOURCES},
		{"max-groups", required_argument, NULL, ARG_MAX_GROUPS},
		{},
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "hqr:", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			help();
			return 0;
		case 'q':
			arg_quick = true;
			break;
		case 'r':
			if (parse_u32("runs", optarg, 1, MAX_RUNS, &v) < 0)
				return -EINVAL;
			arg_runs = v;
			break;
		case ARG_RESOURCES:
			if (parse_u32("resources", optarg, 1, 30000, &arg_resources) < 0)
				return -EINVAL;
			break;
		case ARG_STEPS:
			arg_steps = optarg;
			break;
		case ARG_MAX_RESOURCES:
			if (parse_u32("max-resources", optarg, 1, 32768, &arg_max_resources) < 0)
				return -EINVAL;
			break;
		case ARG_MAX_GROUPS:
			if (parse_u32("max-groups", optarg, 1, 32768, &arg_max_groups) < 0)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	if (optind < argc) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

static int check_programs(const struct bench_env *env)
{
	char path[2 * BENCH_PATH_MAX];

	if (access(env->hagentd, X_OK) < 0 || access(env->monitorctl, X_OK) < 0)
		return -errno;
	(void) snprintf(path, sizeof(path), "%s/hamon-test", env->monitor_dir);
	if (access(path, X_OK) < 0)
		return -errno;
	(void) snprintf(path, sizeof(path), "%s/hamon-process", env->monitor_dir);
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*run)(const struct bench_env *env, struct report *rep);
	} parts[] = {
		{"failure detection and recovery", bench_fault},
		{"start, monitorctl, memory, scale", bench_scale},
		{"control API", bench_control},
		{"groups", bench_group},
		{"agent restart", bench_restart},
	};
	_cleanup_free_ struct report *rep = calloc(1, sizeof(*rep));
	struct bench_env env;
	int r;

	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	if (!rep || env_init(&env) < 0)
		return EXIT_FAILURE;
	r = check_programs(&env);
	if (r < 0) {
		fprintf(stderr,
			"hagent-bench-agent: hagentd, monitorctl or the monitors hamon-test and "
			"hamon-process are missing (%s): set HAGENTD_BIN, MONITORCTL_BIN, "
			"HAMON_MONITOR_DIR\n",
			strerror(-r));
		return EXIT_FAILURE;
	}
	if (signals_setup() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		fprintf(stderr, "hagent-bench-agent: setup: %m\n");
		return EXIT_FAILURE;
	}
	r = bench_env_dirs(&env);
	if (r < 0) {
		fprintf(stderr, "hagent-bench-agent: temporary directory: %s\n", strerror(-r));
		bench_env_cleanup(&env);
		return EXIT_FAILURE;
	}
	print_header(&env);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(parts); i++) {
		printf("part: %s\n", parts[i].name);
		(void) fflush(stdout);
		r = parts[i].run(&env, rep);
		if (r < 0)
			fprintf(stderr, "hagent-bench-agent: %s failed: %s\n", parts[i].name,
				r == -EINTR ? "interrupted" : hagent_shm_strerror(r));
	}
	if (bench_reap_all() > 0)
		fprintf(stderr, "hagent-bench-agent: killed stray descendants at exit\n");
	bench_env_cleanup(&env);
	report_print(rep);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
