/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Items 1 and 2: failure detection and recovery.  One hagentd per run with
 * two resources, RestartDelay=0 (restart at once): `t0` of type test (an
 * instant hamon-test) and `p0` of type process (hamon-process running a
 * sleep).  Each sample SIGKILLs the test resource's monitor (its pid from the
 * segment) or the process resource's command (its pid from a file the command
 * writes), then reads the segment's event log: the Failed event's timestamp
 * (CLOCK_REALTIME, stamped by the writer in the transaction that publishes
 * it) minus the time just before kill() is the detection; the next Online
 * event's, the recovery.  The log is used because with RestartDelay=0 the
 * Failed state and the restart are one transaction: the record never shows
 * Failed, the log does.
 *
 * Floors, interleaved with the samples: SIGKILL of a plain child blocked in
 * pause() until poll() on its pidfd wakes (the kernel's death notification,
 * which is what hagentd waits on); for the recovery the same, then
 * posix_spawn() of /bin/true and its exit (a replacement process that has run).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-agent.h"
#include "macro.h"

#define FAULT_WAIT_NS (30 * NSEC_PER_SEC)   /* bound on every wait of this part */
#define EVENT_POLL_NS (500 * NSEC_PER_USEC) /* the times are the writer's: no need to spin */
#define SETTLE_NS     (5 * NSEC_PER_MSEC)   /* quiet before a kill, not right after a restart */
#define MAX_SAMPLES   400u

extern char **environ;

enum {
	M_DETECT_TEST,
	M_DETECT_PROC,
	M_RECOVER_TEST,
	M_RECOVER_PROC,
	M_FLOOR_DETECT,
	M_FLOOR_RECOVER,
	_M_MAX,
};

struct fault_run {
	double v[_M_MAX][MAX_SAMPLES];
	unsigned n[_M_MAX];
};

struct fault_ctx {
	const struct bench_env *env;
	struct agent agent;
	uint32_t slot_test, slot_proc;
	char pidfile[BENCH_PATH_MAX];
	pid_t last_cmd;
};

static void sample_add(struct fault_run *fr, unsigned m, uint64_t ns)
{
	if (fr->n[m] < MAX_SAMPLES)
		fr->v[m][fr->n[m]++] = (double) ns / 1000.0;
}

/*
 * Follows the event log from pos until slot shows Failed and then Online;
 * the times of both relative to t0 (CLOCK_REALTIME).
 */
static int follow_events(hagent_shm *s, uint64_t pos, uint32_t slot, uint64_t t0,
			 uint64_t *ret_fail, uint64_t *ret_online)
{
	uint64_t deadline = now() + FAULT_WAIT_NS;
	bool failed = false;
	int r;

	for (;;) {
		struct hagent_event ev;

		r = hagent_shm_read_event(s, pos, &ev);
		if (r == -EAGAIN) {
			if (now() >= deadline)
				return -ETIMEDOUT;
			r = bench_sleep(EVENT_POLL_NS);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r;
		pos++;
		if (ev.kind != 1 || ev.slot != slot)
			continue;
		if (ev.state == HAGENT_RESOURCE_FAILED && !failed) {
			failed = true;
			*ret_fail = ev.time_ns > t0 ? ev.time_ns - t0 : 0;
		} else if (ev.state == HAGENT_RESOURCE_ONLINE && failed) {
			*ret_online = ev.time_ns > t0 ? ev.time_ns - t0 : 0;
			return 0;
		}
	}
}

/* Kills pid, follows the log; adds the two samples. */
static int kill_and_follow(struct fault_ctx *c, pid_t pid, uint32_t slot, struct fault_run *fr,
			   unsigned m_detect, unsigned m_recover)
{
	struct hagent_shm_info info;
	uint64_t t0, fail = 0, online = 0;
	int r;

	r = bench_sleep(SETTLE_NS);
	if (r >= 0)
		r = hagent_shm_get_info(c->agent.shm, &info);
	if (r < 0)
		return r;
	t0 = now_ns(CLOCK_REALTIME);
	if (kill(pid, SIGKILL) < 0)
		return -errno;
	r = follow_events(c->agent.shm, info.event_head, slot, t0, &fail, &online);
	if (r < 0) {
		fprintf(stderr,
			"hagent-bench-agent: after SIGKILL of %d: no Failed then Online "
			"in the event log: %s\n",
			(int) pid, hagent_shm_strerror(r));
		return r;
	}
	sample_add(fr, m_detect, fail);
	sample_add(fr, m_recover, online);
	return 0;
}

static int sample_test(struct fault_ctx *c, struct fault_run *fr)
{
	struct hagent_resource res;
	int r;

	r = seg_wait_state(c->agent.shm, c->slot_test, HAGENT_RESOURCE_ONLINE, FAULT_WAIT_NS, &res);
	if (r < 0)
		return r;
	if (res.monitor_pid <= 0)
		return -ESRCH;
	return kill_and_follow(c, res.monitor_pid, c->slot_test, fr, M_DETECT_TEST, M_RECOVER_TEST);
}

/* The pid the command wrote, once it is a new one. */
static int wait_command_pid(struct fault_ctx *c, pid_t *ret)
{
	uint64_t deadline = now() + FAULT_WAIT_NS;
	int r;

	for (;;) {
		FILE *f = fopen(c->pidfile, "re");
		int pid = 0;

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			(void) fclose(f);
		}
		if (pid > 0 && pid != c->last_cmd && kill(pid, 0) == 0) {
			*ret = pid;
			return 0;
		}
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(200 * NSEC_PER_USEC);
		if (r < 0)
			return r;
	}
}

static int sample_proc(struct fault_ctx *c, struct fault_run *fr)
{
	pid_t pid;
	int r;

	r = seg_wait_state(c->agent.shm, c->slot_proc, HAGENT_RESOURCE_ONLINE, FAULT_WAIT_NS, NULL);
	if (r >= 0)
		r = wait_command_pid(c, &pid);
	if (r < 0)
		return r;
	c->last_cmd = pid;
	return kill_and_follow(c, pid, c->slot_proc, fr, M_DETECT_PROC, M_RECOVER_PROC);
}

/* ---- the floors ---- */

static pid_t pause_child(void)
{
	pid_t parent = getpid();
	int p[2];
	char b = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		pid = -errno;
		goto out;
	}
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		(void) !write(p[1], &b, 1);
		for (;;)
			pause();
	}
	if (read(p[0], &b, 1) != 1) {
		(void) kill(pid, SIGKILL);
		(void) waitpid(pid, NULL, 0);
		pid = -EIO;
	}
out:
	(void) close(p[0]);
	(void) close(p[1]);
	return pid;
}

static int floor_sample(struct fault_run *fr)
{
	char *argv[] = {(char *) "/bin/true", NULL};
	struct pollfd pfd = {.events = POLLIN};
	uint64_t t0, t1, t2;
	pid_t pid, child;
	int r = 0;

	pid = pause_child();
	if (pid < 0)
		return pid;
	pfd.fd = (int) syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0) {
		r = -errno;
		(void) kill(pid, SIGKILL);
		(void) waitpid(pid, NULL, 0);
		return r;
	}
	sleep_ns(NSEC_PER_MSEC); /* the child is asleep in pause() by now */
	t0 = now();
	(void) kill(pid, SIGKILL);
	if (poll(&pfd, 1, (int) (FAULT_WAIT_NS / NSEC_PER_MSEC)) != 1)
		r = -ETIMEDOUT;
	t1 = now();
	(void) waitpid(pid, NULL, 0);
	if (r >= 0)
		r = -posix_spawn(&child, argv[0], NULL, NULL, argv, environ);
	if (r >= 0)
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	t2 = now();
	(void) close(pfd.fd);
	if (r < 0)
		return r;
	sample_add(fr, M_FLOOR_DETECT, t1 - t0);
	sample_add(fr, M_FLOOR_RECOVER, t2 - t0);
	return 0;
}

/* ---- runs ---- */

static int fault_seed(const struct bench_env *env, char statedir[BENCH_PATH_MAX],
		      char pidfile[BENCH_PATH_MAX])
{
	static const char *const restart[] = {"RestartDelay=0", "RestartPeriod=1", NULL};
	char command[4 * BENCH_PATH_MAX];
	const char *proc_props[] = {"RestartDelay=0", "RestartPeriod=1", command, NULL};
	int r;

	r = bench_mkdir(env->fastbase, "fault-state", statedir);
	if (r < 0)
		return r;
	if (snprintf(pidfile, BENCH_PATH_MAX, "%s/command.pid", env->base) >= BENCH_PATH_MAX)
		return -ENAMETOOLONG;
	/* $$ is the shell, which exec turns into the sleep: the pid to kill. */
	if (snprintf(command, sizeof(command),
		     "Command=echo $$ > %s.tmp && mv -f %s.tmp %s && exec sleep 600", pidfile,
		     pidfile, pidfile) >= (int) sizeof(command))
		return -ENAMETOOLONG;
	return bench_seed(statedir,
			  (const struct seed[]){
				  {.type = "test",
				   .prefix = "t",
				   .n = 1,
				   .group_size = 1,
				   .props = restart,
				   .online = true},
				  {.type = "process",
				   .prefix = "p",
				   .n = 1,
				   .group_size = 1,
				   .props = proc_props,
				   .online = true},
			  },
			  2);
}

static int fault_run_once(struct fault_ctx *c, const char *statedir, struct fault_run *fr)
{
	int r;

	c->last_cmd = 0;
	r = agent_start(c->env, statedir, 0, 0, &c->agent);
	if (r >= 0)
		r = agent_attach(&c->agent, FAULT_WAIT_NS);
	if (r >= 0)
		r = hagent_shm_find(c->agent.shm, 1, "t0", &c->slot_test);
	if (r >= 0)
		r = hagent_shm_find(c->agent.shm, 1, "p0", &c->slot_proc);
	for (unsigned i = 0; r >= 0 && i < c->env->fault_samples; i++) {
		r = floor_sample(fr);
		if (r >= 0)
			r = sample_test(c, fr);
		if (r >= 0)
			r = sample_proc(c, fr);
	}
	if (r < 0 && r != -EINTR)
		agent_log_tail(&c->agent, 15);
	agent_stop(&c->agent);
	return r;
}

int bench_fault(const struct bench_env *env, struct report *rep)
{
	static const struct {
		const char *metric;
		unsigned m, floor;
		double pct;
		const char *target;
	} rows[] = {
		{"detect: test monitor killed → Failed, p50", M_DETECT_TEST, M_FLOOR_DETECT, 50,
		 NULL},
		{"detect: test monitor killed → Failed, p99", M_DETECT_TEST, M_FLOOR_DETECT, 99,
		 "p99 < 2 ms"},
		{"detect: process command killed → Failed, p50", M_DETECT_PROC, M_FLOOR_DETECT, 50,
		 NULL},
		{"detect: process command killed → Failed, p99", M_DETECT_PROC, M_FLOOR_DETECT, 99,
		 "p99 < 2 ms"},
		{"recover: test monitor killed → Online, p50", M_RECOVER_TEST, M_FLOOR_RECOVER, 50,
		 NULL},
		{"recover: test monitor killed → Online, p99", M_RECOVER_TEST, M_FLOOR_RECOVER, 99,
		 NULL},
		{"recover: process command killed → Online, p50", M_RECOVER_PROC, M_FLOOR_RECOVER,
		 50, NULL},
		{"recover: process command killed → Online, p99", M_RECOVER_PROC, M_FLOOR_RECOVER,
		 99, NULL},
	};
	_cleanup_free_ struct fault_run *fr = calloc(1, sizeof(*fr));
	struct fault_ctx c = {.env = env};
	struct series s[ELEMENTSOF(rows)][2] = {};
	char statedir[BENCH_PATH_MAX];
	int r;

	if (!fr)
		return -ENOMEM;
	r = fault_seed(env, statedir, c.pidfile);
	if (r < 0)
		return r;
	for (unsigned run = 0; run < env->runs; run++) {
		memset(fr, 0, sizeof(*fr));
		r = fault_run_once(&c, statedir, fr);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
			series_add(&s[i][0],
				   percentile(fr->v[rows[i].m], fr->n[rows[i].m], rows[i].pct));
			series_add(&s[i][1], percentile(fr->v[rows[i].floor], fr->n[rows[i].floor],
							rows[i].pct));
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(rows); i++)
		report_row(rep, rows[i].metric, UNIT_US, series_median(&s[i][0]),
			   series_median(&s[i][1]), rows[i].target);
	report_note(
		rep,
		"detect/recover: %u kills of each kind per run, RestartDelay=0; times from just "
		"before kill() to the writer's timestamp of the Failed / next Online event in the "
		"segment. Floor: SIGKILL of a paused child until its pidfd polls readable; for "
		"recover, then posix_spawn of /bin/true until it exited.",
		env->fault_samples);
	return 0;
}
