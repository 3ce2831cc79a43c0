/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon_run(): attaches to the channel and runs the dispatcher loop on the
 * calling thread.  The loop sleeps in poll() on the agent's bell, every
 * resource's failure fd, a signalfd (SIGTERM, SIGINT) and the workers' wake
 * fd, wakes at least every HAMON_HEARTBEAT_MS to beat the heartbeat, and
 * hands every command to hamon-dispatch.c.  It never runs resource code and
 * never waits for a worker.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <sys/signalfd.h>

#include "hamon-internal.h"
#include "time-util.h"

#define ENV_FDS "HAGENT_CHANNEL_FDS"

static struct hamon_ctx *ctx_free(struct hamon_ctx *ctx);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hamon_ctx *, ctx_free);

void ctx_wake(struct hamon_ctx *ctx)
{
	uint64_t one = 1;

	(void) !write(ctx->wake_fd, &one, sizeof(one)); /* EAGAIN: already readable */
}

static int ctx_new(const struct hamon_ops *ops, void *userdata, const int fds[4],
		   struct hamon_ctx **ret)
{
	_cleanup_(ctx_freep) struct hamon_ctx *ctx = NULL;
	const struct chan_fds cfds = {
		.producer = fds[0],
		.agent = fds[1],
		.mon_bell = fds[2],
		.agent_bell = fds[3],
	};
	int k;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	memcpy(&ctx->ops, ops, ops->size < sizeof(ctx->ops) ? ops->size : sizeof(ctx->ops));
	ctx->ops.size = sizeof(ctx->ops);
	ctx->userdata = userdata;
	(void) pthread_mutex_init(&ctx->lock, NULL); /* cannot fail for default attributes */
	ctx->wake_fd = -EBADF;
	ctx->link_fd = -EBADF;
	for (uint32_t i = 0; i < CHAN_MAX_RESOURCES; i++)
		resource_init(&ctx->res[i], ctx, i);

	k = chan_monitor_attach(&cfds, &ctx->chan);
	if (k < 0)
		return k;
	ctx->n_res = chan_monitor_n_resources(ctx->chan);
	ctx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->wake_fd < 0)
		return -errno;
	*ret = TAKE_PTR(ctx);
	return 0;
}

/* Joins every worker (they are idle or finishing an answer), then frees. */
static struct hamon_ctx *ctx_free(struct hamon_ctx *ctx)
{
	if (!ctx)
		return NULL;
	for (uint32_t i = 0; i < CHAN_MAX_RESOURCES; i++) {
		for (int w = 0; w < _WORKER_MAX; w++) {
			worker_stop(&ctx->res[i].workers[w]);
			worker_done(&ctx->res[i].workers[w]);
		}
		resource_release(&ctx->res[i]);
	}
	chan_monitor_free(ctx->chan);
	safe_close(ctx->wake_fd);
	safe_close(ctx->link_fd);
	(void) pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return NULL;
}

static void drain_fd(int fd)
{
	uint8_t buf[sizeof(struct signalfd_siginfo)];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Reads every mailbox once.  true: one was being written, read again soon. */
static bool scan_commands(struct hamon_ctx *ctx)
{
	bool again = false;

	for (uint32_t i = 0; i < ctx->n_res; i++)
		for (int cls = 0; cls < _CHAN_CLASS_MAX; cls++) {
			int k = chan_monitor_read_command(ctx->chan, i, cls, &ctx->job.cmd);

			if (k == -EAGAIN) {
				again = true;
			} else if (k > 0) {
				ctx->job.cls = (uint8_t) cls;
				dispatch_command(ctx, &ctx->res[i]);
			}
		}
	return again;
}

#define N_FIXED 4 /* bell, signals, wake, link */

/* Fills pfd[N_FIXED..] with the failure fds to watch; returns how many fds in all. */
static nfds_t failure_pollfds(struct hamon_ctx *ctx, struct pollfd *pfd, uint32_t *idx)
{
	nfds_t n = N_FIXED;

	for (uint32_t i = 0; i < ctx->n_res; i++)
		if (ctx->res[i].slot != SLOT_FREE && ctx->res[i].failure_fd >= 0) {
			pfd[n] = (struct pollfd){.fd = ctx->res[i].failure_fd, .events = POLLIN};
			idx[n++] = i;
		}
	return n;
}

static void handle_failures(struct hamon_ctx *ctx, const struct pollfd *pfd, const uint32_t *idx,
			    nfds_t n)
{
	uint64_t v;

	for (nfds_t j = N_FIXED; j < n; j++) {
		struct hamon_resource *r = &ctx->res[idx[j]];

		/* Each eventfd read resets it: one FAILURE per signal (or burst of them). */
		if ((pfd[j].revents & POLLIN) && read(r->failure_fd, &v, sizeof(v)) == sizeof(v))
			status_failure(r);
	}
}

static int poll_timeout(bool again, uint64_t next_beat, uint64_t next_link)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC), next = MIN(next_beat, next_link);

	if (again || now >= next)
		return 0;
	return (int) DIV_ROUND_UP(next - now, NSEC_PER_MSEC);
}

static int dispatch_loop(struct hamon_ctx *ctx, int sig_fd)
{
	struct pollfd pfd[N_FIXED + CHAN_MAX_RESOURCES];
	uint32_t idx[N_FIXED + CHAN_MAX_RESOURCES];
	uint64_t next_beat = 0;
	bool again = true; /* commands may have been posted before we attached */
	bool adopted;
	nfds_t n;

	while (!ctx->done) {
		if (now_ns(CLOCK_MONOTONIC) >= next_beat) {
			(void) pthread_mutex_lock(&ctx->lock);
			chan_monitor_heartbeat(ctx->chan);
			(void) pthread_mutex_unlock(&ctx->lock);
			next_beat = now_ns(CLOCK_MONOTONIC) + HAMON_HEARTBEAT_MS * NSEC_PER_MSEC;
		}
		pfd[0] = (struct pollfd){.fd = chan_monitor_bell_fd(ctx->chan), .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = ctx->wake_fd, .events = POLLIN};
		/* A negative fd is ignored by poll(): no link, or orphaned. */
		pfd[3] = (struct pollfd){.fd = ctx->link_fd, .events = POLLIN};
		n = failure_pollfds(ctx, pfd, idx);
		if (poll(pfd, n, poll_timeout(again, next_beat, link_next_wakeup(ctx))) < 0) {
			/* Transient; anything else (EFAULT, EINVAL) is a bug here. */
			if (errno == EINTR || errno == ENOMEM)
				continue;
			return -errno;
		}
		/* Failure fds first: reaping and reopening below may close them. */
		handle_failures(ctx, pfd, idx, n);
		if (pfd[2].revents & POLLIN) {
			drain_fd(ctx->wake_fd);
			dispatch_reap(ctx);
		}
		/* Clear the bell before reading, so that a command posted meanwhile rings again. */
		if (pfd[0].revents & POLLIN)
			chan_monitor_woken(ctx->chan);
		if (ctx->link_fd >= 0 && pfd[3].revents)
			link_handle(ctx, pfd[3].revents);
		/* Adopted: the new channel may hold a command the old agent posted unread. */
		adopted = link_tick(ctx);
		again = scan_commands(ctx) || adopted;
		if (pfd[1].revents & POLLIN) {
			drain_fd(sig_fd);
			dispatch_shutdown(ctx);
		}
	}
	return 0;
}

static bool ops_valid(const struct hamon_ops *ops)
{
	return ops && ops->size >= offsetof(struct hamon_ops, offline) + sizeof(ops->offline) &&
	       ops->online && ops->offline;
}

_public_ int hamon_run_fds(const struct hamon_ops *ops, void *userdata, const int fds[4])
{
	_cleanup_(ctx_freep) struct hamon_ctx *ctx = NULL;
	_cleanup_close_ int sig_fd = -EBADF;
	sigset_t mask, old;
	int k;

	assert_return(ops_valid(ops), -EINVAL);
	assert_return(fds, -EINVAL);

	k = ctx_new(ops, userdata, fds, &ctx);
	if (k < 0)
		return k;

	/* Before any worker exists: workers inherit the mask, only the signalfd sees them. */
	(void) sigemptyset(&mask);
	(void) sigaddset(&mask, SIGTERM);
	(void) sigaddset(&mask, SIGINT);
	k = -pthread_sigmask(SIG_BLOCK, &mask, &old);
	if (k < 0)
		return k;
	sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0)
		k = -errno;
	else
		k = link_setup_from_env(ctx);
	if (k >= 0)
		k = link_wait_go(ctx, sig_fd);
	if (k >= 0)
		k = dispatch_loop(ctx, sig_fd);
	else if (k == -ECANCELED)
		k = 0; /* stopped before it began: nothing to close */

	ctx = ctx_free(ctx); /* joins the workers, which run with the blocked mask */
	if (sig_fd >= 0)
		drain_fd(sig_fd); /* a second SIGTERM during shutdown must not kill the caller */
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	return k;
}

/* "3,4,5,6" into fds[4]. */
static int parse_fds(const char *s, int fds[4])
{
	for (int i = 0; i < 4; i++) {
		char *end;
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (errno != 0 || end == s || v < 0 || v > INT_MAX || *end != (i < 3 ? ',' : '\0'))
			return -EINVAL;
		fds[i] = (int) v;
		s = end + 1;
	}
	return 0;
}

_public_ int hamon_run(const struct hamon_ops *ops, void *userdata)
{
	const char *e = secure_getenv(ENV_FDS);
	int fds[4], k;

	assert_return(ops_valid(ops), -EINVAL);
	if (!e)
		return -ENXIO;
	k = parse_fds(e, fds);
	if (k < 0)
		return k;
	/* Ours only: a command the implementation starts must not inherit the channel. */
	for (int i = 0; i < 4; i++)
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
	return hamon_run_fds(ops, userdata, fds);
}
