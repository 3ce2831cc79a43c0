/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagent-bench-agent's processes and directories: the private directories,
 * the seeded configuration, starting hagentd, killing and reaping every
 * descendant, and the /proc figures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "bench-agent.h"
#include "config-store.h"
#include "macro.h"

#define REAP_LIMIT_NS (30 * NSEC_PER_SEC) /* every descendant gone within this */

extern char **environ;

volatile sig_atomic_t bench_interrupted = 0;

int bench_sleep(uint64_t ns)
{
	if (bench_interrupted)
		return -EINTR;
	sleep_ns(ns);
	return bench_interrupted ? -EINTR : 0;
}

/* ---- directories ---- */

static int make_temp(const char *parent, char path[BENCH_PATH_MAX])
{
	int k = snprintf(path, BENCH_PATH_MAX, "%s/hagent-bench-agent-XXXXXX", parent);

	if (k < 0 || k >= BENCH_PATH_MAX)
		return -ENAMETOOLONG;
	if (!mkdtemp(path)) {
		path[0] = '\0';
		return -errno;
	}
	return 0;
}

int bench_env_dirs(struct bench_env *env)
{
	const char *tmp = getenv("TMPDIR");
	struct statfs sf;
	int r;

	r = make_temp(tmp && *tmp ? tmp : "/tmp", env->base);
	if (r < 0)
		return r;
	/*
	 * The configuration store makes every mutation durable (an fsync each):
	 * seeding 10,000 resources on a disk takes minutes, on tmpfs a second or
	 * two.  Only the seeding goes there; hagentd reads it once at start.
	 */
	if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
	    make_temp("/dev/shm", env->fastbase) == 0)
		return 0;
	(void) snprintf(env->fastbase, sizeof(env->fastbase), "%s", env->base);
	return 0;
}

static void rm_rf(const char *path)
{
	char *argv[] = {(char *) "rm", (char *) "-rf", (char *) "--", (char *) path, NULL};
	uint64_t ns;

	if (!*path || strcmp(path, "/") == 0)
		return;
	(void) run_quiet(argv, &ns);
}

void bench_env_cleanup(struct bench_env *env)
{
	if (env->fastbase[0] && strcmp(env->fastbase, env->base) != 0)
		rm_rf(env->fastbase);
	if (env->base[0])
		rm_rf(env->base);
	env->base[0] = env->fastbase[0] = '\0';
}

int bench_mkdir(const char *parent, const char *name, char path[BENCH_PATH_MAX])
{
	for (unsigned i = 0; i < 10000; i++) {
		int k = snprintf(path, BENCH_PATH_MAX, "%s/%s-%u", parent, name, i);

		if (k < 0 || k >= BENCH_PATH_MAX)
			return -ENAMETOOLONG;
		if (mkdir(path, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* ---- the configuration ---- */

static int seed_one(struct config_store *st, const struct seed *sd)
{
	struct config_prop props[16];
	char keys[16][CONFIG_NAME_MAX + 1];
	char name[CONFIG_NAME_MAX + 1], group[CONFIG_NAME_MAX + 1];
	const char *errkey = NULL;
	size_t n_props = 0;
	int r;

	for (; sd->props && sd->props[n_props]; n_props++) {
		const char *eq = strchr(sd->props[n_props], '=');
		size_t len = eq ? (size_t) (eq - sd->props[n_props]) : 0;

		if (n_props >= ELEMENTSOF(props) || !eq || len == 0 || len > CONFIG_NAME_MAX)
			return -EINVAL;
		memcpy(keys[n_props], sd->props[n_props], len);
		keys[n_props][len] = '\0';
		props[n_props] = (struct config_prop){.key = keys[n_props], .value = eq + 1};
	}
	r = config_store_type_add(st, sd->type, NULL);
	if (r < 0 && r != -EEXIST)
		return r;
	for (uint32_t i = 0; i < sd->n; i++) {
		if (i % sd->group_size == 0) {
			(void) snprintf(group, sizeof(group), "%sg%u", sd->prefix,
					i / sd->group_size);
			r = config_store_group_add(st, group, NULL);
			if (r < 0)
				return r;
		}
		(void) snprintf(name, sizeof(name), "%s%u", sd->prefix, i);
		r = config_store_resource_add(st, name, group, sd->type, props, n_props, NULL,
					      &errkey);
		if (r < 0) {
			fprintf(stderr, "hagent-bench-agent: adding %s (property %s): %s\n", name,
				errkey ?: "-", strerror(-r));
			return r;
		}
		if (sd->online) {
			r = config_store_resource_set_target(st, name, CONFIG_TARGET_ONLINE);
			if (r < 0)
				return r;
		}
		if (bench_interrupted)
			return -EINTR;
	}
	return 0;
}

int bench_seed(const char *statedir, const struct seed *seeds, size_t n_seeds)
{
	_cleanup_(config_store_freep) struct config_store *st = NULL;
	int r;

	r = config_store_open(statedir, &st);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_seeds; i++) {
		r = seed_one(st, &seeds[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- hagentd ---- */

static _Noreturn void agent_exec(const struct bench_env *env, const struct agent_opts *o,
				 const struct agent *a, pid_t parent)
{
	char maxr[16], maxg[16];
	const char *argv[24];
	struct rlimit nocore = {0, 0};
	sigset_t none;
	unsigned n = 0;
	int fd;

	/*
	 * Dies with the benchmark.  Its monitors outlive it: they come back to
	 * the benchmark (subreaper), and --orphan-timeout ends them should the
	 * benchmark itself be SIGKILLed.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(126);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		_exit(126);
	(void) setrlimit(RLIMIT_CORE, &nocore);
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
	(void) signal(SIGINT, SIG_DFL);
	(void) signal(SIGTERM, SIG_DFL);
	(void) signal(SIGHUP, SIG_DFL);
	(void) unsetenv("WATCHDOG_USEC");
	(void) unsetenv("JOURNAL_STREAM");
	/* Not a systemd service even if the benchmark runs in one: no scopes, no job queries. */
	(void) unsetenv("INVOCATION_ID");
	if (o->notify_socket ? setenv("NOTIFY_SOCKET", o->notify_socket, 1) < 0
			     : unsetenv("NOTIFY_SOCKET") < 0)
		_exit(126);
	argv[n++] = env->hagentd;
	argv[n++] = "--runtime-dir";
	argv[n++] = a->rundir;
	argv[n++] = "--state-dir";
	argv[n++] = a->statedir;
	argv[n++] = "--monitor-dir";
	argv[n++] = env->monitor_dir;
	argv[n++] = "--scopes";
	argv[n++] = "no";
	argv[n++] = "--orphan-timeout";
	argv[n++] = BENCH_ORPHAN_TIMEOUT_S;
	argv[n++] = "--stop-mode";
	argv[n++] = o->stop_leave ? "leave" : "offline";
	if (o->max_resources) {
		(void) snprintf(maxr, sizeof(maxr), "%" PRIu32, o->max_resources);
		argv[n++] = "--max-resources";
		argv[n++] = maxr;
	}
	if (o->max_groups) {
		(void) snprintf(maxg, sizeof(maxg), "%" PRIu32, o->max_groups);
		argv[n++] = "--max-groups";
		argv[n++] = maxg;
	}
	argv[n] = NULL;
	execv(env->hagentd, (char *const *) argv);
	_exit(125);
}

/* <rundir>/hagentd.log, or hagentd-N.log with the first N free when an agent ran there. */
static int log_name(struct agent *a)
{
	for (unsigned i = 0; i < 10000; i++) {
		int k = i == 0 ? snprintf(a->log, sizeof(a->log), "%s/hagentd.log", a->rundir)
			       : snprintf(a->log, sizeof(a->log), "%s/hagentd-%u.log", a->rundir,
					  i);

		if (k < 0 || k >= BENCH_PATH_MAX)
			return -ENAMETOOLONG;
		if (access(a->log, F_OK) < 0)
			return errno == ENOENT ? 0 : -errno;
	}
	return -EEXIST;
}

int agent_start(const struct bench_env *env, const char *statedir, uint32_t max_resources,
		uint32_t max_groups, struct agent *a)
{
	const struct agent_opts o = {.max_resources = max_resources, .max_groups = max_groups};

	return agent_start_opts(env, statedir, &o, a);
}

int agent_start_opts(const struct bench_env *env, const char *statedir, const struct agent_opts *o,
		     struct agent *a)
{
	pid_t parent = getpid();
	int r;

	*a = (struct agent){};
	if (o->rundir) {
		if (snprintf(a->rundir, sizeof(a->rundir), "%s", o->rundir) >= BENCH_PATH_MAX)
			return -ENAMETOOLONG;
	} else {
		r = bench_mkdir(env->base, "run", a->rundir);
		if (r < 0)
			return r;
	}
	r = log_name(a);
	if (r < 0)
		return r;
	if (snprintf(a->statedir, sizeof(a->statedir), "%s", statedir) >= BENCH_PATH_MAX)
		return -ENAMETOOLONG;
	(void) fflush(stdout);
	(void) fflush(stderr);
	a->start_real_ns = now_ns(CLOCK_REALTIME);
	a->start_ns = now();
	a->pid = fork();
	if (a->pid < 0) {
		a->pid = 0;
		return -errno;
	}
	if (a->pid == 0)
		agent_exec(env, o, a, parent);
	return 0;
}

int agent_attach(struct agent *a, uint64_t timeout_ns)
{
	uint64_t deadline = now() + timeout_ns;
	int r, status;

	for (;;) {
		r = hagent_shm_open(a->rundir, &a->shm);
		if (r == 0)
			return 0;
		if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
			a->pid = 0;
			return -ECHILD;
		}
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(NSEC_PER_MSEC);
		if (r < 0)
			return r;
	}
}

void agent_stop(struct agent *a)
{
	a->shm = hagent_shm_unref(a->shm);
	if (a->pid > 0) {
		(void) kill(a->pid, SIGKILL);
		while (waitpid(a->pid, NULL, 0) < 0 && errno == EINTR)
			;
		a->pid = 0;
	}
	(void) bench_reap_all();
}

void agent_log_tail(const struct agent *a, unsigned lines)
{
	char ring[20][320];
	unsigned n = 0;
	FILE *f;

	if (lines > ELEMENTSOF(ring))
		lines = ELEMENTSOF(ring);
	f = fopen(a->log, "re");
	if (!f)
		return;
	while (lines > 0 && fgets(ring[n % lines], sizeof(ring[0]), f))
		n++;
	(void) fclose(f);
	fprintf(stderr, "--- the last lines of %s ---\n", a->log);
	for (unsigned i = n > lines ? n - lines : 0; i < n; i++)
		fputs(ring[i % lines], stderr);
}

/* ---- descendants ---- */

/* The ppid field of /proc/<name>/stat, or -1. */
static pid_t proc_ppid(const char *name)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;
	long ppid;

	(void) snprintf(path, sizeof(path), "/proc/%s/stat", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void) close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command may contain anything but not after its ')' */
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t) ppid;
}

/* SIGKILLs every child; the count. */
static unsigned kill_children(void)
{
	pid_t self = getpid();
	unsigned n = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && proc_ppid(de->d_name) == self &&
		    kill((pid_t) atol(de->d_name), SIGKILL) == 0)
			n++;
	(void) closedir(d);
	return n;
}

unsigned bench_reap_all(void)
{
	uint64_t deadline = now() + REAP_LIMIT_NS;
	unsigned killed = 0;

	for (;;) {
		pid_t p;

		killed += kill_children();
		while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (p < 0 && errno == ECHILD)
			return killed;
		if (now() >= deadline) {
			fprintf(stderr, "hagent-bench-agent: descendants still alive after %u s\n",
				(unsigned) (REAP_LIMIT_NS / NSEC_PER_SEC));
			return killed;
		}
		sleep_ns(NSEC_PER_MSEC);
	}
}

int run_quiet(char *const argv[], uint64_t *ret_ns)
{
	posix_spawn_file_actions_t fa;
	uint64_t start;
	int r, status;
	pid_t pid;

	r = -posix_spawn_file_actions_init(&fa);
	if (r < 0)
		return r;
	r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = -posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	start = now();
	if (r == 0)
		r = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void) posix_spawn_file_actions_destroy(&fa);
	if (r < 0)
		return r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*ret_ns = now() - start;
	if (!WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
}
