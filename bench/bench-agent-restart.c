/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Item 10: an agent restart that disturbs no resource (issue 6,
 * docs/agent-restart.md).  Each hagentd gets NOTIFY_SOCKET: an abstract
 * AF_UNIX datagram socket bound here, as systemd binds one for a
 * Type=notify service, with SO_PASSCRED (only the agent's own READY=1
 * counts) and SO_TIMESTAMPNS (the kernel's time of the datagram, so that a
 * poll of the segment in between does not delay it).  hagentd sends READY=1
 * once the configuration is published and every live monitor a previous
 * agent left has re-attached.  Per repetition, with N resources of type
 * `test` (instant; 1,000, quick 100), interleaved so that the machine's
 * noise hits the figures and their floors alike:
 *
 *   empty    start → READY with no resources: the floor of the starts;
 *   offline  start → READY with N resources configured offline;
 *   online   start → READY with N resources whose persistent state is online
 *            and no monitor to adopt (READY comes before they start): the
 *            floor of the restarts;
 *   kill     agent A brings the N online; just before kill(SIGKILL) of A,
 *            t0; A reaped, agent B started at once on the same runtime and
 *            state directories: t0 → B's READY=1, and t0 → the moment B's
 *            segment, opened with the public reader API (hagent_shm_open),
 *            shows all N Online with the monitor pids A had;
 *   leave    SIGTERM of B (--stop-mode leave), B reaped, agent C started at
 *            once: the same two times from just before kill(SIGTERM).
 *
 * Each restart is checked: every resource Online with the monitor pid and
 * restart count it had under A, and each of those monitors still running
 * (they are the benchmark's children once A is gone: it is their subreaper).
 * The part fails if a resource was restarted.  Every process is killed and
 * reaped after each repetition (agent_stop()).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-agent-scale.h"
#include "macro.h"

#define N_FULL		      1000u
#define N_QUICK		      100u
#define REPS_QUICK	      2u
#define POLL_NS		      (2 * NSEC_PER_MSEC)   /* the segment's poll during a restart */
#define SETTLE_NS	      (5 * NSEC_PER_SEC)    /* after READY, for the segment to agree */
#define QUIET_NS	      (100 * NSEC_PER_MSEC) /* after A's start, before the kill */
#define LIMIT_NS	      (60 * NSEC_PER_SEC)   /* bound on each wait, plus: */
#define PER_RESOURCE_LIMIT_NS (60 * NSEC_PER_MSEC)

enum {
	M_EMPTY,       /* start → READY, no resources */
	M_OFFLINE,     /* start → READY, N offline */
	M_ONLINE,      /* start → READY, N online configured, nothing to adopt */
	M_KILL_EXIT,   /* SIGKILL → the old agent reaped */
	M_KILL_READY,  /* SIGKILL → new READY */
	M_KILL_SEG,    /* SIGKILL → segment all Online, same pids */
	M_LEAVE_EXIT,  /* SIGTERM (leave) → the old agent reaped */
	M_LEAVE_READY, /* SIGTERM (leave) → new READY */
	M_LEAVE_SEG,   /* SIGTERM (leave) → segment all Online, same pids */
	_M_MAX
};

static const char *const measure_name[_M_MAX] = {
	[M_EMPTY] = "start → READY, 0 resources",
	[M_OFFLINE] = "start → READY, N offline",
	[M_ONLINE] = "start → READY, N online, none to adopt",
	[M_KILL_EXIT] = "SIGKILL → old hagentd reaped",
	[M_KILL_READY] = "SIGKILL → new READY",
	[M_KILL_SEG] = "SIGKILL → segment all Online, same pids",
	[M_LEAVE_EXIT] = "leave SIGTERM → old hagentd exited",
	[M_LEAVE_READY] = "leave SIGTERM → new READY",
	[M_LEAVE_SEG] = "leave SIGTERM → segment all Online",
};

struct restart_run {
	uint32_t n;
	char empty_dir[BENCH_PATH_MAX], offline_dir[BENCH_PATH_MAX], online_dir[BENCH_PATH_MAX];
	pid_t *pid;		    /* by resource index (name r<i>): A's monitors */
	uint32_t *restarts;	    /* A's restart counts */
	double v[_M_MAX][MAX_RUNS]; /* ms */
	unsigned n_v;
	unsigned socket_seq;
};

static void run_free(struct restart_run *g)
{
	free(g->pid);
	free(g->restarts);
}

static uint64_t limit_ns(uint32_t n)
{
	return LIMIT_NS + (uint64_t) n * PER_RESOURCE_LIMIT_NS;
}

/* ---- NOTIFY_SOCKET ---- */

/*
 * One socket per agent, drained by a thread of its own: hagentd's
 * sd_notify() blocks once net.unix.max_dgram_qlen datagrams (10 by default)
 * wait, and the main thread may itself wait for hagentd (hagent_shm_open()
 * of a segment it serves only once every monitor re-attached).
 */
struct notify {
	int fd;
	char name[80]; /* "@..." as NOTIFY_SOCKET names an abstract socket */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	_Atomic int32_t ready_pid;	/* the sender of the first READY=1 */
	_Atomic uint64_t ready_real_ns; /* its kernel timestamp, CLOCK_REALTIME; 0: none yet */
};

/* Reads every queued datagram; notes the first READY=1. */
static void notify_read(struct notify *nt)
{
	for (;;) {
		char buf[1024];
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred)) +
				 CMSG_SPACE(sizeof(struct timespec))];
		} control = {};
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &control,
				    .msg_controllen = sizeof(control)};
		uint64_t stamp = 0;
		pid_t sender = 0;
		ssize_t k = recvmsg(nt->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

		if (k < 0)
			return;
		buf[k] = '\0';
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SCM_CREDENTIALS) {
				struct ucred uc;

				memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
				sender = uc.pid;
			} else if (cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				stamp = (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
			}
		}
		if (atomic_load(&nt->ready_real_ns))
			continue;
		for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (strcmp(line, "READY=1") == 0) {
				atomic_store(&nt->ready_pid, (int32_t) sender);
				atomic_store(&nt->ready_real_ns, stamp ?: now_ns(CLOCK_REALTIME));
				break;
			}
	}
}

static void *notify_drain(void *arg)
{
	struct notify *nt = arg;

	while (!atomic_load(&nt->stop)) {
		struct pollfd p = {.fd = nt->fd, .events = POLLIN};

		(void) poll(&p, 1, 10);
		notify_read(nt);
	}
	return NULL;
}

static void notify_close(struct notify *nt)
{
	if (nt->running) {
		atomic_store(&nt->stop, true);
		(void) pthread_join(nt->thread, NULL);
		nt->running = false;
	}
	nt->fd = safe_close(nt->fd);
}

static int notify_open(struct restart_run *g, struct notify *nt)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	sigset_t all, old;
	int one = 1, r;
	socklen_t len;

	*nt = (struct notify){.fd = -EBADF};
	nt->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nt->fd < 0)
		return -errno;
	(void) snprintf(nt->name, sizeof(nt->name), "@hagent-bench-agent/%d/%u", (int) getpid(),
			g->socket_seq++);
	/* A leading NUL makes it abstract: nothing to remove afterwards. */
	(void) snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s", nt->name + 1);
	len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(nt->name));
	if (setsockopt(nt->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    setsockopt(nt->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    bind(nt->fd, (struct sockaddr *) &sa, len) < 0) {
		r = -errno;
		notify_close(nt);
		return r;
	}
	/* The benchmark's signals stay with the main thread: they end its waits. */
	(void) sigfillset(&all);
	(void) pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&nt->thread, NULL, notify_drain, nt);
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		notify_close(nt);
		return r;
	}
	nt->running = true;
	return 0;
}

/* The kernel's time of a's READY=1, 0 if none yet; -EPROTO if it came from another pid. */
static int64_t notify_ready(struct notify *nt, const struct agent *a)
{
	uint64_t t = atomic_load(&nt->ready_real_ns);

	if (!t)
		return 0;
	if (atomic_load(&nt->ready_pid) != (int32_t) a->pid) {
		fprintf(stderr,
			"hagent-bench-agent: restart: READY=1 from pid %d, not hagentd %d\n",
			(int) atomic_load(&nt->ready_pid), (int) a->pid);
		return -EPROTO;
	}
	return (int64_t) t;
}

static bool agent_gone(struct agent *a)
{
	if (a->pid <= 0 || waitpid(a->pid, NULL, WNOHANG) != a->pid)
		return a->pid <= 0;
	a->pid = 0;
	return true;
}

static int wait_ready(struct agent *a, struct notify *nt, uint64_t deadline, uint64_t *ret)
{
	int64_t t;
	int r;

	for (;;) {
		t = notify_ready(nt, a);
		if (t < 0)
			return (int) t;
		if (t > 0) {
			*ret = (uint64_t) t;
			return 0;
		}
		if (agent_gone(a))
			return -ECHILD;
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(NSEC_PER_MSEC);
		if (r < 0)
			return r;
	}
}

/* ---- start → READY ---- */

static void explain(const struct agent *a, const char *what, int r)
{
	if (r == -EINTR)
		return;
	fprintf(stderr, "hagent-bench-agent: restart: %s: %s\n", what, hagent_shm_strerror(r));
	agent_log_tail(a, 12);
}

static int start_ready(const struct bench_env *env, struct restart_run *g, const char *statedir,
		       double *ret_ms)
{
	struct notify nt;
	struct agent a = {};
	uint64_t ready = 0;
	int r;

	r = notify_open(g, &nt);
	if (r < 0)
		return r;
	r = agent_start_opts(
		env, statedir,
		&(const struct agent_opts){.max_resources = max_resources_for(env, g->n),
					   .max_groups = env->max_groups,
					   .notify_socket = nt.name},
		&a);
	if (r >= 0)
		r = wait_ready(&a, &nt, now() + limit_ns(g->n), &ready);
	if (r >= 0)
		*ret_ms = (double) (ready - a.start_real_ns) / 1e6;
	else
		explain(&a, "start → READY", r);
	agent_stop(&a);
	notify_close(&nt);
	return r;
}

/* ---- the restarts ---- */

/* The index i of a resource named r<i>, or -1. */
static long res_index(const struct hagent_resource *res, uint32_t n)
{
	char *end;
	long i;

	if (res->name[0] != 'r' || res->name[1] < '0' || res->name[1] > '9')
		return -1;
	i = strtol(res->name + 1, &end, 10);
	return *end || i < 0 || (unsigned long) i >= n ? -1 : i;
}

/* A's monitors, once all N are Online with one: the reference of both restarts. */
static int snapshot(struct agent *a, struct restart_run *g)
{
	uint64_t deadline = now() + limit_ns(g->n);
	struct hagent_shm_table *t = NULL;
	struct seg_count c;
	int r;

	for (;;) {
		r = seg_count(a->shm, &c);
		if (r < 0)
			return r;
		if (c.n == g->n && c.online == g->n && c.with_monitor == g->n)
			break;
		if (c.failed > 0) {
			fprintf(stderr, "hagent-bench-agent: restart: %zu resources Failed (%s)\n",
				c.failed, strerror(-c.first_error));
			return -EIO;
		}
		if (agent_gone(a))
			return -ECHILD;
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(5 * NSEC_PER_MSEC);
		if (r < 0)
			return r;
	}
	r = hagent_shm_read_table(a->shm, &t);
	if (r < 0)
		return r;
	memset(g->pid, 0, g->n * sizeof(*g->pid));
	for (size_t i = 0; i < t->n_resources; i++) {
		long k = res_index(&t->resources[i], g->n);

		if (k >= 0) {
			g->pid[k] = t->resources[i].monitor_pid;
			g->restarts[k] = t->resources[i].restart_count;
		}
	}
	hagent_shm_table_free(t);
	for (uint32_t i = 0; i < g->n; i++)
		if (g->pid[i] <= 0)
			return -ESRCH;
	return 0;
}

/* What the new agent's segment shows against A's snapshot. */
struct seen {
	size_t n, online, same_pid, same_restarts;
	char first[200]; /* the first resource that differs */
};

static bool seen_all(const struct seen *s, uint32_t n)
{
	return s->n == n && s->online == n && s->same_pid == n && s->same_restarts == n;
}

/* Opens a's segment once a serves it (and it is a's), then compares it with the snapshot. */
static int segment_check(struct agent *a, const struct restart_run *g, struct seen *s)
{
	struct hagent_shm_table *t = NULL;
	struct hagent_shm_info info;
	int r;

	*s = (struct seen){};
	if (!a->shm) {
		r = hagent_shm_open(a->rundir, &a->shm);
		if (r < 0)
			return 0; /* not listening yet, or the dead agent's socket */
		r = hagent_shm_get_info(a->shm, &info);
		if (r < 0 || info.writer_pid != a->pid || info.superseded) {
			a->shm = hagent_shm_unref(a->shm);
			return 0;
		}
	}
	r = hagent_shm_read_table(a->shm, &t);
	if (r < 0)
		return r;
	s->n = t->n_resources;
	for (size_t i = 0; i < t->n_resources; i++) {
		const struct hagent_resource *res = &t->resources[i];
		long k = res_index(res, g->n);
		bool online = res->state == HAGENT_RESOURCE_ONLINE;
		bool pid = k >= 0 && res->monitor_pid == g->pid[k];
		bool restarts = k >= 0 && res->restart_count == g->restarts[k];

		s->online += online;
		s->same_pid += pid;
		s->same_restarts += restarts;
		if ((!online || !pid || !restarts) && !s->first[0])
			(void) snprintf(s->first, sizeof(s->first),
					"%s is %s, monitor %d (was %d), restarts %" PRIu32
					" (was %" PRIu32 ")",
					res->name,
					hagent_resource_state_to_string(res->state) ?: "?",
					(int) res->monitor_pid, k >= 0 ? (int) g->pid[k] : -1,
					res->restart_count, k >= 0 ? g->restarts[k] : 0);
	}
	hagent_shm_table_free(t);
	return 0;
}

/* Every monitor A had still runs (it is our child now; WNOWAIT leaves it to agent_stop()). */
static int monitors_alive(const struct restart_run *g)
{
	for (uint32_t i = 0; i < g->n; i++) {
		siginfo_t si = {};

		if (waitid(P_PID, (id_t) g->pid[i], &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == g->pid[i]) {
			fprintf(stderr,
				"hagent-bench-agent: restart: monitor %d of r%" PRIu32
				" has exited\n",
				(int) g->pid[i], i);
			return -EIO;
		}
	}
	return 0;
}

/*
 * From t0 (CLOCK_REALTIME/CLOCK_MONOTONIC just before the signal) until the
 * new agent a sent READY=1 and its segment shows every resource as A left it.
 */
static int watch_restart(struct agent *a, struct notify *nt, const struct restart_run *g,
			 const char *what, uint64_t t0_real, uint64_t t0, double *ready_ms,
			 double *seg_ms)
{
	uint64_t deadline = now() + limit_ns(g->n), ready = 0, seg = 0;
	struct seen s = {};
	int64_t t;
	int r = 0;

	for (;;) {
		t = ready ? (int64_t) ready : notify_ready(nt, a);
		if (t < 0) {
			r = (int) t;
			break;
		}
		ready = (uint64_t) t;
		if (!seg) {
			r = segment_check(a, g, &s);
			if (r >= 0 && seen_all(&s, g->n))
				seg = now();
		}
		if (r < 0)
			break;
		if (ready && seg) {
			/* Still so after READY: the state it published stays. */
			r = segment_check(a, g, &s);
			if (r >= 0 && !seen_all(&s, g->n))
				r = -EIO;
			if (r < 0)
				break;
			*ready_ms = (double) (ready - t0_real) / 1e6;
			*seg_ms = (double) (seg - t0) / 1e6;
			return monitors_alive(g);
		}
		/* READY means the state is complete: still a difference later is a restart. */
		if (ready && now_ns(CLOCK_REALTIME) > ready + SETTLE_NS) {
			r = -EIO;
			break;
		}
		if (agent_gone(a)) {
			r = -ECHILD;
			break;
		}
		if (now() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		r = bench_sleep(POLL_NS);
		if (r < 0)
			return r;
	}
	if (r != -EINTR)
		fprintf(stderr,
			"hagent-bench-agent: restart: %s: %s; READY %s; segment: %zu resources, "
			"%zu Online, %zu with the same monitor, %zu with the same restart "
			"count%s%s\n",
			what, hagent_shm_strerror(r), ready ? "came" : "did not come", s.n,
			s.online, s.same_pid, s.same_restarts, s.first[0] ? "; first: " : "",
			s.first);
	return r;
}

/* The next agent on a's runtime and state directories, with NOTIFY_SOCKET nt. */
static int start_next(const struct bench_env *env, const struct restart_run *g,
		      const struct agent *prev, const struct notify *nt, struct agent *next)
{
	return agent_start_opts(env, prev->statedir,
				&(const struct agent_opts){
					.max_resources = max_resources_for(env, g->n),
					.max_groups = env->max_groups,
					.rundir = prev->rundir,
					.notify_socket = nt ? nt->name : NULL,
					.stop_leave = true,
				},
				next);
}

/* Reaps a after a signal; -ETIMEDOUT if it does not exit within limit. */
static int reap_agent(struct agent *a, uint64_t limit)
{
	uint64_t deadline = now() + limit;
	int r;

	a->shm = hagent_shm_unref(a->shm);
	while (!agent_gone(a)) {
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = bench_sleep(200 * NSEC_PER_USEC);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A with N online, then SIGKILL → B, then B's leave SIGTERM → C; one sample of each. */
static int restart_cycle(const struct bench_env *env, struct restart_run *g, double v[_M_MAX])
{
	struct notify nb = {.fd = -EBADF},
		      nc = {.fd = -EBADF}; /* closed: notify_close() is a no-op */
	struct agent a = {}, b = {}, c = {};
	uint64_t t0, t0_real;
	int r;

	r = agent_start_opts(
		env, g->online_dir,
		&(const struct agent_opts){.max_resources = max_resources_for(env, g->n),
					   .max_groups = env->max_groups,
					   .stop_leave = true},
		&a);
	if (r >= 0)
		r = agent_attach(&a, limit_ns(g->n));
	if (r >= 0)
		r = snapshot(&a, g);
	if (r >= 0)
		r = bench_sleep(QUIET_NS);
	if (r < 0) {
		explain(&a, "the first agent with every resource Online", r);
		goto out;
	}

	/* SIGKILL: the new agent starts as soon as the old one is reaped, as systemd does. */
	r = notify_open(g, &nb);
	if (r < 0)
		goto out;
	a.shm = hagent_shm_unref(a.shm);
	t0_real = now_ns(CLOCK_REALTIME);
	t0 = now();
	if (kill(a.pid, SIGKILL) < 0) {
		r = -errno;
		goto out;
	}
	while (waitpid(a.pid, NULL, 0) < 0 && errno == EINTR)
		;
	a.pid = 0;
	v[M_KILL_EXIT] = (double) (now() - t0) / 1e6;
	r = start_next(env, g, &a, &nb, &b);
	if (r >= 0)
		r = watch_restart(&b, &nb, g, "SIGKILL → new agent", t0_real, t0, &v[M_KILL_READY],
				  &v[M_KILL_SEG]);
	notify_close(&nb); /* from here on its sd_notify() finds nobody, harmlessly */
	if (r < 0) {
		explain(&b, "after SIGKILL", r);
		goto out;
	}

	/* SIGTERM with --stop-mode leave: the next agent once the old one has exited. */
	r = notify_open(g, &nc);
	if (r < 0)
		goto out;
	b.shm = hagent_shm_unref(b.shm);
	t0_real = now_ns(CLOCK_REALTIME);
	t0 = now();
	if (kill(b.pid, SIGTERM) < 0) {
		r = -errno;
		goto out;
	}
	r = reap_agent(&b, limit_ns(g->n));
	if (r < 0) {
		explain(&b, "hagentd --stop-mode leave after SIGTERM", r);
		goto out;
	}
	v[M_LEAVE_EXIT] = (double) (now() - t0) / 1e6;
	r = start_next(env, g, &b, &nc, &c);
	if (r >= 0)
		r = watch_restart(&c, &nc, g, "leave SIGTERM → new agent", t0_real, t0,
				  &v[M_LEAVE_READY], &v[M_LEAVE_SEG]);
	if (r < 0)
		explain(&c, "after the leave SIGTERM", r);
out:
	notify_close(&nb);
	notify_close(&nc);
	/* Kills the agents and every monitor, the orphans (our children) included. */
	agent_stop(&c);
	agent_stop(&b);
	agent_stop(&a);
	return r;
}

/* ---- the repetitions and the figures ---- */

static int seed_dirs(const struct bench_env *env, struct restart_run *g)
{
	int r;

	r = bench_mkdir(env->fastbase, "restart-empty", g->empty_dir);
	if (r >= 0)
		r = bench_mkdir(env->fastbase, "restart-offline", g->offline_dir);
	if (r >= 0)
		r = bench_seed(
			g->offline_dir,
			&(const struct seed){
				.type = "test", .prefix = "r", .n = g->n, .group_size = GROUP_SIZE},
			1);
	if (r >= 0)
		r = scale_seed(env, g->n, g->online_dir); /* the same names, target online */
	return r;
}

static int repetition(const struct bench_env *env, struct restart_run *g)
{
	double v[_M_MAX];
	int r;

	for (unsigned m = 0; m < _M_MAX; m++)
		v[m] = NAN;
	r = start_ready(env, g, g->empty_dir, &v[M_EMPTY]);
	if (r >= 0)
		r = start_ready(env, g, g->offline_dir, &v[M_OFFLINE]);
	if (r >= 0)
		r = start_ready(env, g, g->online_dir, &v[M_ONLINE]);
	if (r >= 0)
		r = restart_cycle(env, g, v);
	if (r < 0)
		return r;
	printf("restart %" PRIu32 ": repetition %u, ms:", g->n, g->n_v + 1);
	for (unsigned m = 0; m < _M_MAX; m++) {
		g->v[m][g->n_v] = v[m];
		printf(" %.1f", v[m]);
	}
	printf("\n");
	(void) fflush(stdout);
	g->n_v++;
	return 0;
}

static double pct(const struct restart_run *g, unsigned m, double p)
{
	double v[MAX_RUNS];

	memcpy(v, g->v[m], g->n_v * sizeof(double)); /* percentile() sorts */
	return percentile(v, g->n_v, p);
}

static void restart_report(const struct restart_run *g, struct report *rep)
{
	static const struct {
		unsigned m, floor;
		bool p90;
	} rows[] = {
		{M_OFFLINE, M_EMPTY, false},	 {M_ONLINE, M_EMPTY, false},
		{M_KILL_READY, M_ONLINE, false}, {M_KILL_READY, M_ONLINE, true},
		{M_KILL_SEG, M_ONLINE, false},	 {M_LEAVE_READY, M_ONLINE, false},
		{M_LEAVE_SEG, M_ONLINE, false},
	};
	char metric[72], name[64], *np;
	double per_res_us = (pct(g, M_KILL_READY, 50) - pct(g, M_ONLINE, 50)) * 1000 / g->n;

	printf("restart %" PRIu32 ": %u repetitions, ms (p50 / p90):\n", g->n, g->n_v);
	for (unsigned m = 0; m < _M_MAX; m++)
		printf("  %-42s %9.1f / %9.1f\n", measure_name[m], pct(g, m, 50), pct(g, m, 90));
	printf("  SIGKILL → READY ×%.3g, leave SIGTERM → READY ×%.3g of start → READY "
	       "(%" PRIu32 " online, none to adopt); above it: %.0f µs per resource\n",
	       pct(g, M_KILL_READY, 50) / pct(g, M_ONLINE, 50),
	       pct(g, M_LEAVE_READY, 50) / pct(g, M_ONLINE, 50), g->n, per_res_us);
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		double p = rows[i].p90 ? 90 : 50;

		/* "N" in the names stands for the count. */
		(void) snprintf(name, sizeof(name), "%s", measure_name[rows[i].m]);
		np = strstr(name, "N ");
		if (np)
			memmove(np, np + 2, strlen(np + 2) + 1);
		(void) snprintf(metric, sizeof(metric), "restart %" PRIu32 ": %.48s%s", g->n, name,
				rows[i].p90 ? ", p90" : "");
		report_row(rep, metric, UNIT_MS, pct(g, rows[i].m, p), pct(g, rows[i].floor, p),
			   NULL);
	}
	(void) snprintf(metric, sizeof(metric),
			"restart %" PRIu32 ": SIGKILL → READY above its floor, per resource", g->n);
	report_row(rep, metric, UNIT_US, per_res_us, NAN, NULL);
	report_note(
		rep,
		"restart %" PRIu32 ": %u repetitions of %" PRIu32
		" test resources; READY=1 by NOTIFY_SOCKET (kernel timestamp). "
		"Floors: start → READY with 0 resources (for the starts), with the same %" PRIu32
		" configured online and no monitor to adopt (for the restarts). SIGKILL/leave "
		"SIGTERM → the next hagentd started once the old one is reaped (in %.1f ms, "
		"p90 %.1f; leave: %.1f, p90 %.1f); segment polled every %u ms. No resource was "
		"restarted (monitor pids, restart counts). p90 ms: 0 resources %.1f, offline "
		"%.1f, online %.1f, SIGKILL → segment %.1f, leave → READY %.1f, leave → "
		"segment %.1f.",
		g->n, g->n_v, g->n, g->n, pct(g, M_KILL_EXIT, 50), pct(g, M_KILL_EXIT, 90),
		pct(g, M_LEAVE_EXIT, 50), pct(g, M_LEAVE_EXIT, 90),
		(unsigned) (POLL_NS / NSEC_PER_MSEC), pct(g, M_EMPTY, 90), pct(g, M_OFFLINE, 90),
		pct(g, M_ONLINE, 90), pct(g, M_KILL_SEG, 90), pct(g, M_LEAVE_READY, 90),
		pct(g, M_LEAVE_SEG, 90));
	(void) fflush(stdout);
}

int bench_restart(const struct bench_env *env, struct report *rep)
{
	_cleanup_free_ struct restart_run *g = calloc(1, sizeof(*g));
	unsigned reps = env->quick ? REPS_QUICK : 2 * env->runs;
	int r;

	if (!g)
		return -ENOMEM;
	if (reps > MAX_RUNS)
		reps = MAX_RUNS;
	g->n = env->quick ? N_QUICK : N_FULL;
	g->pid = calloc(g->n, sizeof(*g->pid));
	g->restarts = calloc(g->n, sizeof(*g->restarts));
	r = g->pid && g->restarts ? seed_dirs(env, g) : -ENOMEM;
	for (unsigned i = 0; r >= 0 && i < reps; i++)
		r = repetition(env, g);
	if (r >= 0)
		restart_report(g, rep);
	run_free(g);
	return r;
}
