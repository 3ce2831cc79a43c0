/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagentd's control API server (docs/control-api.md): a peer-to-peer sd-bus
 * server on <runtime_dir>/control.sock.  Each connection's peer credentials
 * are read at accept and decide its access; every method call goes to
 * agent-ops.h.  Main-loop thread only.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "agent-ops.h"
#include "control-api.h"
#include "macro.h"

/* Who has full access: root, the agent's own uid, members of admin_gid. */
struct control_access {
	uid_t agent_uid;
	gid_t admin_gid; /* (gid_t) -1: no admin group */
};

/* The peer's credentials: uid, primary gid and supplementary groups. */
bool control_access_full(const struct control_access *a, uid_t uid, gid_t gid, const gid_t *groups,
			 size_t n_groups);

struct agent_control;

/*
 * Listens on <runtime_dir>/control.sock (replacing a stale socket file: the
 * caller holds state.sock, so no other agent serves this directory).  ops
 * must outlive the server.
 */
int agent_control_new(sd_event *e, const char *runtime_dir, const struct control_access *access,
		      struct agent_ops *ops, struct agent_control **ret);
/* Closes every connection and the socket, and unlinks it. */
struct agent_control *agent_control_free(struct agent_control *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_control *, agent_control_free);
