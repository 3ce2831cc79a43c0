/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Serves state.sock from the event loop: every wake-up answers all pending
 * connections.  A reader that misbehaves or went away costs it its own
 * connection and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent-socket.h"
#include "hagent/shm.h"
#include "log.h"
#include "macro.h"
#include "shm-publish.h"

struct agent_socket {
	sd_event_source *io;
	int fd;
	int seg_fd;
	char *path;
};

static int on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct agent_socket *a = userdata;

	(void) s;
	(void) revents;
	for (;;) {
		/* Anyone on the machine may read the state (design.md "access"): no check. */
		int r = shm_socket_serve_one(fd, a->seg_fd, NULL, NULL);

		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			log_debug_errno(r, "Failed to serve a reader of %s, ignoring: %m", a->path);
	}
}

int agent_socket_new(sd_event *e, const char *runtime_dir, int seg_fd, struct agent_socket **ret)
{
	_cleanup_(agent_socket_freep) struct agent_socket *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->fd = -EBADF;
	a->seg_fd = seg_fd;
	if (asprintf(&a->path, "%s/%s", runtime_dir, HAGENT_SHM_SOCKET) < 0) {
		a->path = NULL;
		return -ENOMEM;
	}
	r = shm_socket_listen(a->path, 0666);
	if (r < 0)
		return r; /* a->fd stays invalid: the file is not ours to remove */
	a->fd = r;
	r = sd_event_add_io(e, &a->io, a->fd, EPOLLIN, on_connect, a);
	if (r >= 0) /* readers wait in the backlog until the state is complete */
		r = sd_event_source_set_enabled(a->io, SD_EVENT_OFF);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(a);
	return 0;
}

int agent_socket_serve(struct agent_socket *a)
{
	return sd_event_source_set_enabled(a->io, SD_EVENT_ON);
}

struct agent_socket *agent_socket_free(struct agent_socket *a)
{
	if (!a)
		return NULL;
	a->io = sd_event_source_disable_unref(a->io);
	if (a->fd >= 0 && a->path)
		(void) unlink(a->path); /* best effort: a stale socket is replaced at next start */
	a->fd = safe_close(a->fd);
	free(a->path);
	free(a);
	return NULL;
}
