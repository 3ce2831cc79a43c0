/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How readers find the state segment: the writer listens on an AF_UNIX
 * SOCK_SEQPACKET socket in the runtime dir ("state.sock") and answers every
 * connection with one message carrying the segment's sealed, read-only fd
 * (SCM_RIGHTS), after checking the peer's credentials (SO_PEERCRED).  A memfd
 * has no path, so nobody can open it read-write behind the writer's back,
 * and a new segment (agent restart) is found by simply connecting again.
 */

#include <stdbool.h>
#include <sys/socket.h>

/* Decides whether a peer may read the segment; 0 allows, a negative errno refuses. */
typedef int (*shm_peer_check_t)(const struct ucred *peer, void *userdata);

/*
 * Binds and listens on path (non-blocking, close-on-exec), replacing a stale
 * socket left by a dead writer.  mode is applied to the socket file.
 * -EADDRINUSE: a live writer listens there; -EEXIST: path is not a socket.
 */
int shm_socket_listen(const char *path, unsigned mode);

/*
 * Accepts one pending connection and sends it seg_fd.  Never blocks:
 * -EAGAIN when nothing is pending.  A refused peer gets no fd and the
 * connection is closed; the check's error is returned.
 */
int shm_socket_serve_one(int listen_fd, int seg_fd, shm_peer_check_t check, void *userdata);

/* Reader side: connects to path and receives the fd (close-on-exec). */
int shm_socket_receive_fd(const char *path, int *ret_fd);
