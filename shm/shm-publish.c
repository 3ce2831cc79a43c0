/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "macro.h"
#include "shm-publish.h"

#define HELLO		   "hagent-state-v1"
#define RECEIVE_TIMEOUT_MS 5000

static int sockaddr_un_set(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* 1 if somebody accepts connections on sa, 0 if nobody does. */
static int socket_is_live(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0 || errno == EAGAIN)
		return 1;
	return errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
}

int shm_socket_listen(const char *path, unsigned mode)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa;
	struct stat st;
	int r;

	r = sockaddr_un_set(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	/*
	 * A socket file left by a dead writer is replaced; one a live writer
	 * still listens on is not (-EADDRINUSE), nor is anything else (-EEXIST).
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		r = socket_is_live(&sa);
		if (r < 0)
			return r;
		if (r > 0)
			return -EADDRINUSE;
		if (unlink(path) < 0)
			return -errno;
	}
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	if (listen(fd, 128) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static int send_fd(int sock, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = {.iov_base = (void *) HELLO, .iov_len = sizeof(HELLO)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = buf,
		.msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	/* A fresh connection's buffer holds one small message: this cannot block. */
	if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int shm_socket_serve_one(int listen_fd, int seg_fd, shm_peer_check_t check, void *userdata)
{
	_cleanup_close_ int conn = -EBADF;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	conn = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (conn < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (check) {
		r = check(&cred, userdata);
		if (r < 0)
			return r;
	}
	return send_fd(conn, seg_fd);
}

static int receive_one_fd(int sock, int *ret_fd)
{
	char buf[CMSG_SPACE(sizeof(int) * 4)] = {};
	char data[64];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = buf,
		.msg_controllen = sizeof(buf),
	};
	int fd = -EBADF, r = -EPROTO;
	ssize_t n;

	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET; /* refused by the writer's access check */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		/* Close every fd we got; keep exactly one. */
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				safe_close(got);
		}
	}
	if (fd >= 0 && (size_t) n == sizeof(HELLO) && memcmp(data, HELLO, sizeof(HELLO)) == 0 &&
	    !(mh.msg_flags & MSG_CTRUNC)) {
		*ret_fd = fd;
		return 0;
	}
	safe_close(fd);
	return r;
}

int shm_socket_receive_fd(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa;
	struct pollfd p;
	int r;

	r = sockaddr_un_set(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		return -errno;
	/* A hung agent must not hang its readers forever. */
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	r = poll(&p, 1, RECEIVE_TIMEOUT_MS);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return receive_one_fd(fd, ret_fd);
}
