/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * state.sock in the runtime dir: hands the segment's read-only fd to every
 * reader that connects (shm-publish.h), from an sd-event IO source.
 * Main-loop thread only.
 */

#include <systemd/sd-event.h>

#include "macro.h"

struct agent_socket;

/*
 * Listens on <runtime_dir>/state.sock (mode 0666) for serving seg_fd (not
 * owned) from e, once agent_socket_serve() says so: a reader that connects
 * before waits in the backlog.  -EADDRINUSE: another live agent listens there.
 */
int agent_socket_new(sd_event *e, const char *runtime_dir, int seg_fd, struct agent_socket **ret);
/* The segment holds the whole state now (restored included): serve it. */
int agent_socket_serve(struct agent_socket *s);
/* Stops serving, closes the socket and removes its file; takes NULL, returns NULL. */
struct agent_socket *agent_socket_free(struct agent_socket *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_socket *, agent_socket_free);
