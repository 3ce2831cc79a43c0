/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify-harness: systemd's side of a Type=notify service with WatchdogSec=
 * and NotifyAccess=main, without systemd (testing.md §A(iii)).
 *
 *   notify-harness [-w WATCHDOG_USEC] [-t WINDOW_S] [-r READY_S] [-k STOP_S]
 *                  [-a COMMAND] -- PROGRAM [ARG...]
 *
 * Binds an AF_UNIX datagram socket with SO_PASSCRED, runs PROGRAM with
 * NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (its own pid, set in the
 * child after fork, as sd_watchdog_enabled() checks it) and checks:
 *  - READY=1 arrives within READY_S (default 30);
 *  - from READY on (when systemd arms the watchdog) until SIGTERM, no gap
 *    between WATCHDOG=1 pings exceeds WATCHDOG_USEC, the last ping to the
 *    SIGTERM included; a gap is reported as it passes the limit;
 *  - every message comes from PROGRAM's pid;
 *  - at least one STATUS= line arrives;
 *  - COMMAND (if any) runs under /bin/sh -c as soon as READY=1 arrives,
 *    with MAINPID set (as in ExecReload=), while the harness goes on
 *    receiving, and exits 0;
 *  - WINDOW_S (default 3) after READY, once COMMAND is done, PROGRAM gets
 *    SIGTERM; STOPPING=1 follows (not before) and PROGRAM exits 0 within
 *    STOP_S (default 30).
 * Prints every message and a summary on stdout; exit 0 if all held, 1 on a
 * violation, 2 on a usage or setup error.  PROGRAM's output is its own.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

#define HOOK_TIMEOUT_MS 60000 /* for COMMAND */
#define POLL_MS		10    /* how late a missed ping may be seen */

static uint64_t arg_watchdog_usec = 0;
static uint64_t arg_window_ms = 3000;
static uint64_t arg_ready_ms = 30000;
static uint64_t arg_stop_ms = 30000;
static const char *arg_command = NULL;

/* What has been seen; times are CLOCK_MONOTONIC ms. */
struct harness {
	int sock;
	pid_t child, hook;
	int child_fd, hook_fd; /* pidfds, -EBADF once reaped */
	uint64_t start, ready_at, term_at, last_ping, max_gap;
	bool ready, ready_seen, stopping, gap_reported, hook_done;
	unsigned pings, statuses, violations;
	int child_status;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void violation(struct harness *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void violation(struct harness *h, const char *fmt, ...)
{
	va_list ap;

	printf("notify-harness: VIOLATION: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	h->violations++;
}

static void note(struct harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct harness *h, const char *fmt, ...)
{
	va_list ap;

	printf("notify-harness: +%llu ms: ", (unsigned long long) (now_ms() - h->start));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Seconds (decimal) to ms; false if not a number >= 0. */
static bool parse_seconds(const char *s, uint64_t *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 1e6)
		return false;
	*ret = (uint64_t) (v * 1000);
	return true;
}

static int parse_argv(int argc, char *argv[])
{
	int c;

	while ((c = getopt(argc, argv, "+w:t:r:k:a:")) >= 0) {
		char *end;

		switch (c) {
		case 'w':
			errno = 0;
			arg_watchdog_usec = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end)
				return -EINVAL;
			break;
		case 't':
			if (!parse_seconds(optarg, &arg_window_ms))
				return -EINVAL;
			break;
		case 'r':
			if (!parse_seconds(optarg, &arg_ready_ms))
				return -EINVAL;
			break;
		case 'k':
			if (!parse_seconds(optarg, &arg_stop_ms))
				return -EINVAL;
			break;
		case 'a':
			arg_command = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	return optind < argc ? optind : -EINVAL;
}

/* An abstract socket with SO_PASSCRED; its name into name ("@..." for NOTIFY_SOCKET). */
static int socket_bind(char *name, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	int one = 1;
	socklen_t len;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -errno;
	snprintf(name, size, "@notify-harness/%d/%llu", (int) getpid(),
		 (unsigned long long) now_ms());
	/* sun_path[0] = '\0' makes it abstract: nothing to clean up. */
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s", name + 1);
	len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(name));
	if (bind(fd, (struct sockaddr *) &sa, len) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/*
 * fork + exec; the program gets the notify variables (notify_socket set),
 * the command MAINPID (mainpid > 0).  Returns a pidfd and the pid.
 */
static int spawn(char *const argv[], const char *notify_socket, pid_t mainpid, pid_t *ret_pid)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char buf[32];

		if (mainpid > 0) {
			snprintf(buf, sizeof(buf), "%d", (int) mainpid);
			if (setenv("MAINPID", buf, 1) < 0)
				_exit(127);
		}
		if (notify_socket) {
			snprintf(buf, sizeof(buf), "%d", (int) getpid());
			if (setenv("NOTIFY_SOCKET", notify_socket, 1) < 0 ||
			    setenv("WATCHDOG_PID", buf, 1) < 0)
				_exit(127);
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long) arg_watchdog_usec);
			if (arg_watchdog_usec && setenv("WATCHDOG_USEC", buf, 1) < 0)
				_exit(127);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "notify-harness: cannot run %s: %m\n", argv[0]);
		_exit(127);
	}
	fd = pidfd_open(pid, 0);
	if (fd < 0)
		return -errno;
	*ret_pid = pid;
	return fd;
}

static void on_watchdog(struct harness *h, uint64_t t)
{
	uint64_t gap = t - h->last_ping;

	h->pings++;
	if (!h->ready || h->term_at)
		return; /* systemd watches only between READY and the stop */
	if (gap > h->max_gap)
		h->max_gap = gap;
	if (gap * 1000 > arg_watchdog_usec && !h->gap_reported)
		violation(h, "missed watchdog: %llu ms between two WATCHDOG=1 (limit %llu ms)",
			  (unsigned long long) gap,
			  (unsigned long long) (arg_watchdog_usec / 1000));
	h->last_ping = t;
	h->gap_reported = false;
}

/* One message, line by line. */
static void on_message(struct harness *h, char *msg, uint64_t t)
{
	for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) {
		if (strcmp(line, "WATCHDOG=1") == 0) {
			on_watchdog(h, t);
			continue; /* too many to print */
		}
		note(h, "%s", line);
		if (strcmp(line, "READY=1") == 0 && !h->ready) {
			h->ready = h->ready_seen = true;
			h->ready_at = h->last_ping = t;
		} else if (strncmp(line, "STATUS=", 7) == 0) {
			h->statuses++;
		} else if (strcmp(line, "STOPPING=1") == 0) {
			if (!h->term_at)
				violation(h, "STOPPING=1 before SIGTERM");
			h->stopping = true;
		}
	}
}

/* Reads every queued message; checks each one's sender. */
static int receive(struct harness *h)
{
	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} control = {};
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &control,
				    .msg_controllen = sizeof(control)};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(h->sock, &mh, MSG_CMSG_CLOEXEC);
		pid_t sender = 0;

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		buf[n] = '\0';
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				sender = ((struct ucred *) CMSG_DATA(cm))->pid;
		if (sender != h->child) {
			violation(h, "a message from pid %d, not the main pid %d: '%s'",
				  (int) sender, (int) h->child, buf);
			continue;
		}
		on_message(h, buf, now_ms());
	}
}

/* A missed ping is reported as soon as its deadline passes, as systemd would act. */
static void check_deadline(struct harness *h, uint64_t t)
{
	if (!arg_watchdog_usec || !h->ready || h->term_at || h->gap_reported)
		return;
	if ((t - h->last_ping) * 1000 > arg_watchdog_usec) {
		violation(h, "missed watchdog: no WATCHDOG=1 for %llu ms (limit %llu ms)",
			  (unsigned long long) (t - h->last_ping),
			  (unsigned long long) (arg_watchdog_usec / 1000));
		h->gap_reported = true;
	}
}

static void hook_start(struct harness *h)
{
	char *argv[] = {"/bin/sh", "-c", (char *) arg_command, NULL};
	int fd;

	note(h, "running: %s", arg_command);
	fd = spawn(argv, NULL, h->child, &h->hook);
	if (fd < 0) {
		violation(h, "cannot run the command: %s", strerror(-fd));
		h->hook_done = true;
		return;
	}
	h->hook_fd = fd;
}

/* Reaps pid (its pidfd is readable); returns the wait status. */
static int reap(int *fd, pid_t pid)
{
	int status = 0;

	(void) waitpid(pid, &status, 0);
	*fd = safe_close(*fd);
	return status;
}

static void on_hook_exit(struct harness *h)
{
	int status = reap(&h->hook_fd, h->hook);

	h->hook_done = true;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		note(h, "the command exited 0");
	else
		violation(h, "the command after READY failed (wait status 0x%x)", status);
}

static void on_child_exit(struct harness *h)
{
	h->child_status = reap(&h->child_fd, h->child);
	(void) receive(h); /* what it sent just before exiting */
	note(h, "the program exited (wait status 0x%x)", h->child_status);
}

/* One step of the timeline: what is due at t. */
static void timeline(struct harness *h, uint64_t t)
{
	check_deadline(h, t);
	if (!h->ready && t - h->start > arg_ready_ms) {
		violation(h, "no READY=1 within %llu ms", (unsigned long long) arg_ready_ms);
		h->ready = true; /* go on to the stop */
		h->ready_at = h->last_ping = t;
		h->hook_done = true;
	}
	if (h->ready && arg_command && !h->hook_done && h->hook_fd < 0)
		hook_start(h);
	if (h->hook_fd >= 0 && t - h->ready_at > HOOK_TIMEOUT_MS) {
		violation(h, "the command did not end within %d ms", HOOK_TIMEOUT_MS);
		(void) kill(h->hook, SIGKILL);
	}
	if (h->ready && !h->term_at && (h->hook_done || !arg_command) &&
	    t - h->ready_at >= arg_window_ms) {
		check_deadline(h, t); /* the last ping to the SIGTERM counts too */
		note(h, "SIGTERM");
		h->term_at = t;
		(void) kill(h->child, SIGTERM);
	}
	if (h->term_at && t - h->term_at > arg_stop_ms) {
		violation(h, "no exit within %llu ms of SIGTERM; SIGKILL",
			  (unsigned long long) arg_stop_ms);
		(void) kill(h->child, SIGKILL);
		h->term_at = t; /* once more at most */
	}
}

static int run(struct harness *h)
{
	while (h->child_fd >= 0) {
		struct pollfd pf[3] = {
			{.fd = h->sock, .events = POLLIN},
			{.fd = h->child_fd, .events = POLLIN},
			{.fd = h->hook_fd, .events = POLLIN},
		};
		int r;

		if (poll(pf, 3, POLL_MS) < 0 && errno != EINTR)
			return -errno;
		r = receive(h);
		if (r < 0)
			return r;
		if (h->hook_fd >= 0 && pf[2].revents)
			on_hook_exit(h);
		if (pf[1].revents) {
			if (!h->term_at)
				violation(h, "the program exited before SIGTERM");
			on_child_exit(h);
			break;
		}
		timeline(h, now_ms());
	}
	while (h->hook_fd >= 0) { /* the program died under the command: let it end */
		struct pollfd pf = {.fd = h->hook_fd, .events = POLLIN};

		if (poll(&pf, 1, HOOK_TIMEOUT_MS) == 0)
			(void) kill(h->hook, SIGKILL);
		on_hook_exit(h);
	}
	return 0;
}

static void summarize(struct harness *h)
{
	char ready[32] = "never";

	if (h->ready_seen)
		snprintf(ready, sizeof(ready), "after %llu ms",
			 (unsigned long long) (h->ready_at - h->start));
	else if (!h->ready)
		violation(h, "no READY=1"); /* the timeline did not get to say so */
	if (!h->statuses)
		violation(h, "no STATUS= line");
	if (h->term_at && !h->stopping)
		violation(h, "no STOPPING=1 after SIGTERM");
	if (!WIFEXITED(h->child_status) || WEXITSTATUS(h->child_status) != 0)
		violation(h, "the program did not exit 0 (wait status 0x%x)", h->child_status);
	printf("notify-harness: READY=1 %s; %u WATCHDOG=1, max gap %llu ms "
	       "(limit %llu ms); %u STATUS=; STOPPING=1 %s; wait status 0x%x\n",
	       ready, h->pings, (unsigned long long) h->max_gap,
	       (unsigned long long) (arg_watchdog_usec / 1000), h->statuses,
	       h->stopping ? "seen" : "missing", h->child_status);
	if (h->violations)
		printf("notify-harness: FAILED: %u violation(s)\n", h->violations);
	else
		printf("notify-harness: ok\n");
}

int main(int argc, char *argv[])
{
	struct harness h = {.sock = -EBADF, .child_fd = -EBADF, .hook_fd = -EBADF};
	char name[108];
	int first, r;

	first = parse_argv(argc, argv);
	if (first < 0) {
		fprintf(stderr,
			"usage: notify-harness [-w WATCHDOG_USEC] [-t WINDOW_S] [-r READY_S] "
			"[-k STOP_S] [-a COMMAND] -- PROGRAM [ARG...]\n");
		return 2;
	}
	h.sock = socket_bind(name, sizeof(name));
	if (h.sock < 0) {
		fprintf(stderr, "notify-harness: cannot bind the socket: %s\n", strerror(-h.sock));
		return 2;
	}
	h.start = now_ms();
	h.child_fd = spawn(argv + first, name, 0, &h.child);
	if (h.child_fd < 0) {
		fprintf(stderr, "notify-harness: cannot start %s: %s\n", argv[first],
			strerror(-h.child_fd));
		return 2;
	}
	note(&h, "started %s as pid %d, NOTIFY_SOCKET=%s WATCHDOG_USEC=%llu", argv[first],
	     (int) h.child, name, (unsigned long long) arg_watchdog_usec);
	r = run(&h);
	if (r < 0) {
		fprintf(stderr, "notify-harness: %s\n", strerror(-r));
		(void) kill(h.child, SIGKILL);
		return 2;
	}
	summarize(&h);
	safe_close(h.sock);
	return h.violations ? 1 : 0;
}
