/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor.sock: monitors asking a new agent to adopt them (agent-reattach.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-reattach.h"
#include "channel-link.h"
#include "log.h"

#define HELLO_TIMEOUT_USEC (5 * 1000 * 1000) /* a peer that says nothing is dropped */

struct peer {
	struct agent_reattach *a;
	sd_event_source *io, *timer;
	int fd;
	struct ucred cred;
	struct peer *next;
};

struct agent_reattach {
	sd_event *event;
	sd_event_source *io;
	int fd;
	char *path;
	agent_adopt_fn fn;
	void *userdata;
	struct peer *peers;
};

int agent_link_send(int fd, uint16_t type)
{
	struct link_msg m = {.magic = LINK_MAGIC, .version = LINK_VERSION, .type = type};

	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) sizeof(m))
		return -errno;
	return 0;
}

int agent_link_send_adopt(int fd, const int fds[4])
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl = {};
	struct link_msg m = {.magic = LINK_MAGIC, .version = LINK_VERSION, .type = LINK_ADOPT};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(4 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 4 * sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) sizeof(m))
		return -errno;
	return 0;
}

static void peer_free(struct peer *p)
{
	for (struct peer **q = &p->a->peers; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	p->io = sd_event_source_disable_unref(p->io);
	p->timer = sd_event_source_disable_unref(p->timer);
	safe_close(p->fd);
	free(p);
}

static int on_peer(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct peer *p = userdata;
	struct agent_reattach *a = p->a;
	struct link_msg m;
	ssize_t n;
	int k;

	(void) s, (void) revents;
	n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (!link_msg_valid(&m, n) || m.type != LINK_HELLO) {
		log_warning("Process %d sent an invalid message to %s; dropped.", (int) p->cred.pid,
			    a->path);
		peer_free(p);
		return 0;
	}
	k = a->fn(a->userdata, m.channel_id, p->cred.pid, p->fd);
	if (k > 0) {
		p->fd = -EBADF; /* the callback keeps it */
	} else {
		log_info_errno(k, "Monitor %d (channel %" PRIu64 ") is not one of ours: refused: %m",
			       (int) p->cred.pid, m.channel_id);
		(void) agent_link_send(p->fd, LINK_REFUSE);
	}
	peer_free(p);
	return 0;
}

static int on_peer_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;

	(void) s, (void) usec;
	log_debug("Process %d connected to %s and said nothing; dropped.", (int) p->cred.pid,
		  p->a->path);
	peer_free(p);
	return 0;
}

static int on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct agent_reattach *a = userdata;

	(void) s, (void) revents;
	for (;;) {
		socklen_t len = sizeof(struct ucred);
		struct peer *p;
		uint64_t now;
		int c, k;

		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			return 0; /* EAGAIN, or a peer that went away meanwhile */
		p = calloc(1, sizeof(*p));
		if (!p) {
			safe_close(c);
			return 0;
		}
		*p = (struct peer){.a = a, .fd = c};
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) < 0 ||
		    p->cred.uid != geteuid()) {
			log_warning("A process of uid %u connected to %s; only uid %u may.",
				    (unsigned) p->cred.uid, a->path, (unsigned) geteuid());
			safe_close(c);
			free(p);
			continue;
		}
		p->next = a->peers;
		a->peers = p;
		k = sd_event_add_io(a->event, &p->io, c, EPOLLIN, on_peer, p);
		if (k >= 0)
			k = sd_event_now(a->event, CLOCK_MONOTONIC, &now);
		if (k >= 0)
			k = sd_event_add_time(a->event, &p->timer, CLOCK_MONOTONIC,
					      now + HELLO_TIMEOUT_USEC, 0, on_peer_timeout, p);
		if (k < 0) {
			log_warning_errno(k, "Failed to watch a monitor's connection: %m");
			peer_free(p);
		}
	}
}

int agent_reattach_new(sd_event *e, const char *runtime_dir, agent_adopt_fn fn, void *userdata,
		       struct agent_reattach **ret)
{
	_cleanup_(agent_reattach_freep) struct agent_reattach *a = calloc(1, sizeof(*a));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int k;

	if (!a)
		return -ENOMEM;
	a->fd = -EBADF;
	a->event = sd_event_ref(e);
	a->fn = fn;
	a->userdata = userdata;
	if (asprintf(&a->path, "%s/%s", runtime_dir, LINK_SOCKET_NAME) < 0) {
		a->path = NULL;
		return -ENOMEM;
	}
	if (strlen(a->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, a->path);
	a->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->fd < 0)
		return -errno;
	(void) unlink(a->path); /* a predecessor's; we hold state.sock, so none is alive */
	old = umask(0077);
	k = bind(a->fd, (struct sockaddr *) &sa, sizeof(sa));
	umask(old);
	if (k < 0 || listen(a->fd, SOMAXCONN) < 0)
		return -errno;
	k = sd_event_add_io(e, &a->io, a->fd, EPOLLIN, on_connect, a);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(a);
	return 0;
}

struct agent_reattach *agent_reattach_free(struct agent_reattach *a)
{
	if (!a)
		return NULL;
	while (a->peers)
		peer_free(a->peers);
	a->io = sd_event_source_disable_unref(a->io);
	if (a->fd >= 0 && a->path)
		(void) unlink(a->path);
	a->fd = safe_close(a->fd);
	free(a->path);
	sd_event_unref(a->event);
	free(a);
	return NULL;
}
