/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon-process: the monitor program of resource type "process".  The
 * resource is a command: online starts it, is_alive asks whether it still
 * runs, offline stops it.  Properties (see README.md):
 *
 *   Command=CMD             required, non-empty: run as /bin/sh -c CMD, in
 *                           its own process group, stdin /dev/null, stdout
 *                           and stderr inherited, every other fd closed,
 *                           an empty signal mask.
 *   StopTimeout=ms          offline: SIGTERM to the group, then SIGKILL after
 *                           this long (default 10000; 0..86400000).
 *   WorkingDirectory=PATH   absolute; default: the monitor's.
 *   StartCheckDelay=ms      0 (default): online is done once the command is
 *                           started.  >0: online is pending for ms, then
 *                           Online if the command still runs, else Failed.
 *
 * Threads: libhamon's workers run the entry points (terminate concurrently
 * with online/offline); per resource, a watcher thread polls the pidfd while
 * the command runs and signals the failure fd if it exits on its own (or
 * reports the outcome of a pending online); online declares the failure
 * fd (hamon_failure_fd()), so hagentd polls no looks_alive.  `lock` guards the process
 * fields for a few stores; `op_lock` serialises starting and stopping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hagent/hamon.h"
#include "macro.h"
#include "time-util.h"

#define MS_MAX		     86400000u /* every duration: at most one day */
#define STOP_TIMEOUT_DEFAULT 10000u
#define CANCEL_POLL_MS	     50 /* offline checks hamon_terminate_requested() this often */

struct pres {
	hamon_resource *r;
	char name[64];
	const char *command; /* owned by libhamon, valid until close */
	const char *workdir; /* NULL: inherit */
	uint32_t stop_timeout_ms;
	uint32_t start_check_ms;

	pthread_mutex_t op_lock; /* serialises spawn and stop */
	pthread_mutex_t lock;	 /* the fields below, held for a few stores */
	pid_t pid;		 /* 0: no process (or reaped) */
	int pidfd;		 /* -EBADF without a process */
	bool stopping;		 /* we are stopping it: its exit is no failure */
	bool pending;		 /* the watcher reports the outcome of online */
	uint64_t pending_until_ns;

	int stop_fd; /* eventfd: stops the watcher */
	pthread_t watcher;
	bool watcher_started; /* under op_lock */
};

static int parse_ms(const char *s, uint32_t *ret)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > MS_MAX)
		return -EINVAL;
	*ret = (uint32_t) v;
	return 0;
}

static int invalid(struct pres *p, const char *key, const char *value)
{
	fprintf(stderr, "hamon-process: %s: invalid property %s=%s\n", p->name, key,
		value ? value : "(missing)");
	return -EINVAL;
}

static int parse(struct pres *p)
{
	const char *v;

	p->command = hamon_resource_property(p->r, "Command");
	if (!p->command || !*p->command)
		return invalid(p, "Command", p->command);
	p->stop_timeout_ms = STOP_TIMEOUT_DEFAULT;
	v = hamon_resource_property(p->r, "StopTimeout");
	if (v && parse_ms(v, &p->stop_timeout_ms) < 0)
		return invalid(p, "StopTimeout", v);
	v = hamon_resource_property(p->r, "StartCheckDelay");
	if (v && parse_ms(v, &p->start_check_ms) < 0)
		return invalid(p, "StartCheckDelay", v);
	v = hamon_resource_property(p->r, "WorkingDirectory");
	if (v && v[0] != '/')
		return invalid(p, "WorkingDirectory", v);
	p->workdir = v;
	return 0;
}

/* The child, between fork and exec: async-signal-safe calls only; reports errno on err_fd. */
_Noreturn static void child(const struct pres *p, int err_fd)
{
	sigset_t none;
	int e, fd;

	if (setpgid(0, 0) < 0)
		goto fail;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	for (int sig = 1; sig < _NSIG; sig++)
		(void) signal(sig, SIG_DFL); /* ignored ones would survive exec */
	if (p->workdir && chdir(p->workdir) < 0)
		goto fail;
	fd = open("/dev/null", O_RDONLY | O_NOCTTY);
	if (fd < 0)
		goto fail;
	if (fd != STDIN_FILENO && (dup2(fd, STDIN_FILENO) < 0 || close(fd) < 0))
		goto fail;
	/* err_fd is close-on-exec: keep it past the sweep to report a failed exec. */
	if (err_fd > 3 && close_range(3, (unsigned) err_fd - 1, 0) < 0)
		goto fail;
	if (close_range((unsigned) err_fd + 1, ~0u, 0) < 0)
		goto fail;
	execl("/bin/sh", "sh", "-c", p->command, (char *) NULL);
fail:
	e = errno;
	(void) !write(err_fd, &e, sizeof(e));
	_exit(127);
}

/* Starts the command; fills p->pid and p->pidfd (under lock). */
static int spawn(struct pres *p)
{
	int pipefd[2], pidfd, e = 0, r;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0) {
		r = negative_errno();
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return r;
	}
	if (pid == 0)
		child(p, pipefd[1]);
	safe_close(pipefd[1]);
	(void) setpgid(pid, pid); /* either of us may run first */
	pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
	r = pidfd < 0 ? negative_errno() : 0;
	do
		n = read(pipefd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	safe_close(pipefd[0]);
	if (n == (ssize_t) sizeof(e))
		r = e > 0 ? -e : -EIO;
	if (r < 0) {
		(void) kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		safe_close(pidfd);
		return r;
	}
	(void) pthread_mutex_lock(&p->lock);
	p->pid = pid;
	p->pidfd = pidfd;
	p->stopping = false;
	(void) pthread_mutex_unlock(&p->lock);
	return 0;
}

/* 1 if the process has exited (pidfd readable), 0 if it runs, after up to timeout_ms. */
static int exited(int pidfd, int timeout_ms)
{
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&pf, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static void signal_failure(struct pres *p)
{
	uint64_t one = 1;
	int fd = hamon_failure_fd(p->r);

	if (fd >= 0)
		(void) !write(fd, &one, sizeof(one));
}

/* Watches the running command until it exits or stop_fd is written. */
static void *watcher(void *userdata)
{
	struct pres *p = userdata;
	int pidfd;

	(void) pthread_mutex_lock(&p->lock);
	pidfd = p->pidfd;
	(void) pthread_mutex_unlock(&p->lock);

	for (;;) {
		struct pollfd pf[2] = {
			{.fd = p->stop_fd, .events = POLLIN},
			{.fd = pidfd, .events = POLLIN},
		};
		int timeout = -1, r;
		bool pending, stopping;

		(void) pthread_mutex_lock(&p->lock);
		pending = p->pending;
		if (pending) {
			uint64_t now = now_ns(CLOCK_MONOTONIC);

			timeout = now >= p->pending_until_ns
					  ? 0
					  : (int) DIV_ROUND_UP(p->pending_until_ns - now,
							       NSEC_PER_MSEC);
		}
		(void) pthread_mutex_unlock(&p->lock);

		r = poll(pf, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (pf[0].revents & POLLIN))
			return NULL;

		(void) pthread_mutex_lock(&p->lock);
		stopping = p->stopping;
		p->pending = false;
		(void) pthread_mutex_unlock(&p->lock);

		if (pf[1].revents & (POLLIN | POLLHUP)) {
			/* The command ended on its own. */
			if (stopping)
				return NULL;
			if (pending)
				(void) hamon_set_resource_status(p->r, HAMON_STATE_FAILED, 0, 0);
			else
				signal_failure(p);
			return NULL;
		}
		if (pending && !stopping)
			(void) hamon_set_resource_status(p->r, HAMON_STATE_ONLINE, 0, 0);
	}
}

/* Stops and joins the watcher (op_lock held). */
static void watcher_stop(struct pres *p)
{
	uint64_t one = 1;

	if (!p->watcher_started)
		return;
	(void) !write(p->stop_fd, &one, sizeof(one));
	(void) pthread_join(p->watcher, NULL);
	p->watcher_started = false;
	/* Drain the eventfd for the next watcher. */
	(void) !read(p->stop_fd, &one, sizeof(one));
}

/* Marks the process as being stopped and sends sig to its group; false if there is none. */
static bool signal_group(struct pres *p, int sig)
{
	bool any;

	(void) pthread_mutex_lock(&p->lock);
	p->stopping = true;
	any = p->pid > 0;
	if (any)
		(void) kill(-p->pid, sig); /* not reaped yet: the pid is still ours */
	(void) pthread_mutex_unlock(&p->lock);
	return any;
}

/* SIGKILL the group, reap, forget the process (op_lock held).  Idempotent. */
static void kill_and_reap(struct pres *p)
{
	pid_t pid;
	int pidfd;

	if (signal_group(p, SIGKILL))
		watcher_stop(p);
	else {
		watcher_stop(p);
		return;
	}
	(void) pthread_mutex_lock(&p->lock);
	pid = p->pid;
	pidfd = p->pidfd;
	(void) pthread_mutex_unlock(&p->lock);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	(void) pthread_mutex_lock(&p->lock);
	p->pid = 0;
	p->pidfd = -EBADF;
	p->pending = false;
	(void) pthread_mutex_unlock(&p->lock);
	safe_close(pidfd);
}

static struct pres *pres_free(struct pres *p)
{
	if (!p)
		return NULL;
	safe_close(p->stop_fd);
	(void) pthread_mutex_destroy(&p->lock);
	(void) pthread_mutex_destroy(&p->op_lock);
	free(p);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pres *, pres_free);

static int process_open(hamon_resource *r, void **ret_instance)
{
	_cleanup_(pres_freep) struct pres *p = calloc(1, sizeof(*p));
	const char *name = hamon_resource_name(r);
	int k;

	if (!p)
		return -ENOMEM;
	p->r = r;
	p->pidfd = -EBADF;
	p->stop_fd = -EBADF;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	(void) pthread_mutex_init(&p->lock, NULL);
	(void) pthread_mutex_init(&p->op_lock, NULL);
	k = parse(p);
	if (k < 0)
		return k;
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p->stop_fd < 0)
		return negative_errno();
	*ret_instance = TAKE_PTR(p);
	return 0;
}

static int process_online(hamon_resource *r, void *instance)
{
	struct pres *p = instance;
	int k;

	(void) pthread_mutex_lock(&p->op_lock);
	kill_and_reap(p); /* a leftover from a failed run */
	if (hamon_terminate_requested(r)) {
		k = -ECANCELED;
		goto out;
	}
	k = spawn(p);
	if (k < 0) {
		fprintf(stderr, "hamon-process: %s: cannot start: %s\n", p->name, strerror(-k));
		goto out;
	}
	(void) pthread_mutex_lock(&p->lock);
	p->pending = p->start_check_ms > 0;
	p->pending_until_ns = now_ns(CLOCK_MONOTONIC) + p->start_check_ms * NSEC_PER_MSEC;
	(void) pthread_mutex_unlock(&p->lock);
	k = -pthread_create(&p->watcher, NULL, watcher, p);
	if (k < 0) {
		kill_and_reap(p);
		goto out;
	}
	p->watcher_started = true;
	/* The watcher signals an exit on the failure fd: declare it, so looks_alive is not polled.
	 */
	(void) hamon_failure_fd(r);
	k = p->start_check_ms > 0 ? HAMON_PENDING : 0;
out:
	(void) pthread_mutex_unlock(&p->op_lock);
	return k;
}

static int process_offline(hamon_resource *r, void *instance, const void *params _unused_,
			   size_t params_len _unused_)
{
	struct pres *p = instance;
	uint64_t deadline;
	int pidfd;

	(void) pthread_mutex_lock(&p->op_lock);
	if (signal_group(p, SIGTERM)) {
		(void) pthread_mutex_lock(&p->lock);
		pidfd = p->pidfd;
		(void) pthread_mutex_unlock(&p->lock);
		deadline = now_ns(CLOCK_MONOTONIC) + p->stop_timeout_ms * NSEC_PER_MSEC;
		for (;;) {
			uint64_t now = now_ns(CLOCK_MONOTONIC);
			uint64_t left = now >= deadline ? 0 : deadline - now;
			int wait = left > CANCEL_POLL_MS * NSEC_PER_MSEC
					   ? CANCEL_POLL_MS
					   : (int) DIV_ROUND_UP(left, NSEC_PER_MSEC);

			if (exited(pidfd, wait) || left == 0 || hamon_terminate_requested(r))
				break;
		}
	}
	kill_and_reap(p); /* the rest of the group, if the leader left it behind */
	(void) pthread_mutex_unlock(&p->op_lock);
	return 0;
}

static void process_terminate(hamon_resource *r _unused_, void *instance)
{
	struct pres *p = instance;

	/* At once, even while an offline holds op_lock (it then sees the exit). */
	(void) signal_group(p, SIGKILL);
	(void) pthread_mutex_lock(&p->op_lock);
	kill_and_reap(p);
	(void) pthread_mutex_unlock(&p->op_lock);
}

static void process_close(hamon_resource *r, void *instance)
{
	process_terminate(r, instance);
	pres_free(instance);
}

static int process_is_alive(hamon_resource *r _unused_, void *instance)
{
	struct pres *p = instance;
	int alive = 0;

	(void) pthread_mutex_lock(&p->lock);
	if (p->pid > 0)
		alive = !exited(p->pidfd, 0);
	(void) pthread_mutex_unlock(&p->lock);
	return alive;
}

static const struct hamon_ops ops = {
	.size = sizeof(struct hamon_ops),
	.open = process_open,
	.close = process_close,
	.online = process_online,
	.offline = process_offline,
	.terminate = process_terminate,
	.looks_alive = process_is_alive,
	.is_alive = process_is_alive,
};

int main(int argc, char *argv[])
{
	int r;

	if (argc > 1) {
		fprintf(stderr,
			"Usage: %s\n"
			"The monitor of resource type \"process\": hagentd starts it with\n"
			"HAGENT_CHANNEL_FDS set; the resource's Command= runs under /bin/sh -c\n"
			"(see README.md).\n",
			argv[0]);
		return strcmp(argv[1], "--help") == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	r = hamon_run(&ops, NULL);
	if (r < 0) {
		fprintf(stderr, "hamon-process: %s\n",
			r == -ENXIO ? "not started by hagentd (HAGENT_CHANNEL_FDS)" : strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
