/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The monitor's end of the link to hagentd (shm/channel-link.h,
 * docs/agent-restart.md): the start gate, noticing that the agent is gone,
 * and moving to the channel a new agent offers.  Dispatcher thread only;
 * the channel is swapped under ctx->lock, so workers post into the old one
 * or the new one, never into a freed one.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "channel-link.h"
#include "hamon-internal.h"
#include "parse-util.h"
#include "time-util.h"

#define RETRY_MIN_MS	 50
#define RETRY_MAX_MS	 1000
#define ANSWER_TIMEOUT_S 10 /* the new agent answers once it has loaded its state */

int link_setup_from_env(struct hamon_ctx *ctx)
{
	const char *fd_s = secure_getenv(LINK_ENV_FD), *path = secure_getenv(LINK_ENV_SOCKET);
	const char *orphan = secure_getenv(LINK_ENV_ORPHAN_TIMEOUT);
	unsigned long long v;
	int k;

	if (!fd_s)
		return 0; /* no agent link: run until SIGTERM, as before */
	k = parse_range(fd_s, 0, INT_MAX, &v);
	if (k < 0)
		return k;
	if (fcntl((int) v, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	ctx->link_fd = (int) v;
	if (path && *path) {
		if (strlen(path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
			return -ENAMETOOLONG;
		ctx->reattach_path = path;
	}
	if (orphan && *orphan) {
		k = parse_range(orphan, 0, UINT64_MAX / NSEC_PER_MSEC, &v);
		if (k < 0)
			return k;
		ctx->orphan_timeout_ns = v * NSEC_PER_MSEC;
	}
	return 0;
}

int link_wait_go(struct hamon_ctx *ctx, int sig_fd)
{
	struct pollfd pfd[2] = {
		{.fd = ctx->link_fd, .events = POLLIN},
		{.fd = sig_fd, .events = POLLIN},
	};
	struct link_msg m;
	ssize_t n;

	if (ctx->link_fd < 0)
		return 0;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents & POLLIN)
			return -ECANCELED; /* SIGTERM before anything started */
		n = recv(ctx->link_fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -ECONNRESET; /* the agent died before it let us start */
		if (link_msg_valid(&m, n) && m.type == LINK_GO)
			return 0;
		if (link_msg_valid(&m, n) && m.type == LINK_REFUSE)
			return -ECONNREFUSED;
		/* Anything else before GO: ignored. */
	}
}

static void become_orphan(struct hamon_ctx *ctx)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	ctx->link_fd = safe_close(ctx->link_fd);
	ctx->orphan = true;
	ctx->orphan_since = now;
	ctx->retry_ms = RETRY_MIN_MS;
	ctx->next_retry = now; /* try at once: a restarting agent may be up already */
}

void link_handle(struct hamon_ctx *ctx, short revents)
{
	struct link_msg m;
	ssize_t n;

	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(ctx->link_fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		become_orphan(ctx);
		return;
	}
	if (link_msg_valid(&m, n) && m.type == LINK_REFUSE)
		dispatch_shutdown(ctx);
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		safe_close(fds[i]);
}

/* The answer to HELLO: 1 adopted (*fds filled), -ECONNREFUSED refused, 0 try again later. */
static int read_answer(int fd, int fds[4])
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct link_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
	};
	int got[4], n_got = 0;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int v;

				memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (n_got < 4)
					got[n_got++] = v;
				else
					safe_close(v);
			}
		}
	if (!link_msg_valid(&m, n) || (mh.msg_flags & MSG_CTRUNC)) {
		close_fds(got, (size_t) n_got);
		return 0;
	}
	if (m.type == LINK_REFUSE) {
		close_fds(got, (size_t) n_got);
		return -ECONNREFUSED;
	}
	if (m.type != LINK_ADOPT || n_got != 4) {
		close_fds(got, (size_t) n_got);
		return 0;
	}
	memcpy(fds, got, sizeof(got));
	return 1;
}

static int switch_channel(struct hamon_ctx *ctx, const int fds[4])
{
	const struct chan_fds cfds = {
		.producer = fds[0], .agent = fds[1], .mon_bell = fds[2], .agent_bell = fds[3]};
	struct chan_monitor *new = NULL, *old;
	int k;

	k = chan_monitor_attach(&cfds, &new);
	if (k < 0)
		return k;
	if (chan_monitor_n_resources(new) != ctx->n_res) {
		chan_monitor_free(new);
		return -EBADMSG;
	}
	(void) pthread_mutex_lock(&ctx->lock);
	k = chan_monitor_carry_over(new, ctx->chan);
	old = ctx->chan;
	ctx->chan = new;
	chan_monitor_heartbeat(new);
	(void) pthread_mutex_unlock(&ctx->lock);
	chan_monitor_free(old);
	return k < 0 ? k : 0;
}

/* One attempt: 1 adopted, 0 not yet, -ECONNREFUSED refused. */
static int try_reattach(struct hamon_ctx *ctx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_S};
	struct link_msg hello = {
		.magic = LINK_MAGIC,
		.version = LINK_VERSION,
		.type = LINK_HELLO,
		.pid = (int32_t) getpid(),
	};
	_cleanup_close_ int fd = -EBADF;
	int fds[4], k;

	if (!ctx->reattach_path)
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	strcpy(sa.sun_path, ctx->reattach_path); /* length checked at setup */
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		return 0; /* no agent (yet) */
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	hello.channel_id = chan_monitor_channel_id(ctx->chan);
	if (send(fd, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t) sizeof(hello))
		return 0;
	k = read_answer(fd, fds);
	if (k <= 0)
		return k;
	k = switch_channel(ctx, fds);
	close_fds(fds, 4); /* the channel mapped the pages and duplicated the bells */
	if (k < 0)
		return 0;
	ctx->link_fd = TAKE_FD(fd);
	ctx->orphan = false;
	return 1;
}

bool link_tick(struct hamon_ctx *ctx)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int k;

	if (!ctx->orphan || ctx->stopping)
		return false;
	if (ctx->orphan_timeout_ns && now - ctx->orphan_since >= ctx->orphan_timeout_ns) {
		dispatch_shutdown(ctx); /* nobody adopted us: do not run unsupervised for ever */
		return false;
	}
	if (now < ctx->next_retry)
		return false;
	k = try_reattach(ctx);
	if (k > 0)
		return true;
	if (k == -ECONNREFUSED) {
		dispatch_shutdown(ctx);
		return false;
	}
	ctx->next_retry = now_ns(CLOCK_MONOTONIC) + (uint64_t) ctx->retry_ms * NSEC_PER_MSEC;
	ctx->retry_ms = ctx->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ctx->retry_ms * 2;
	return false;
}

uint64_t link_next_wakeup(const struct hamon_ctx *ctx)
{
	uint64_t t;

	if (!ctx->orphan || ctx->stopping)
		return UINT64_MAX;
	t = ctx->next_retry;
	if (ctx->orphan_timeout_ns && ctx->orphan_since + ctx->orphan_timeout_ns < t)
		t = ctx->orphan_since + ctx->orphan_timeout_ns;
	return t;
}
