/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The link between hagentd and one monitor process (docs/agent-restart.md):
 * an AF_UNIX SOCK_SEQPACKET connection, one fixed-size message per packet.
 *
 *   - At spawn the monitor gets one end of a socketpair as HAGENT_LINK_FD.
 *     It waits for LINK_GO before it touches its channel: the agent first
 *     moves it into a scope of its own (agent-scope.h), so that nothing the
 *     resource starts stays in the agent's cgroup.
 *   - The link hanging up means the agent is gone.  The monitor keeps its
 *     resources as they are and connects to HAGENT_REATTACH_SOCKET (the
 *     runtime dir's monitor.sock) until an agent answers its LINK_HELLO: with
 *     LINK_ADOPT and the four fds of a new channel (SCM_RIGHTS, in chan_fds
 *     order), after which that connection is the link; or with LINK_REFUSE,
 *     and the monitor closes its resources and exits.
 *   - HAGENT_ORPHAN_TIMEOUT_MS (0 or unset: never): an orphan that no agent
 *     adopted within that time closes its resources and exits.
 *
 * Both sides copy each message out and check magic, version, type and size
 * before they act on it.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LINK_MAGIC   UINT32_C(0x4b4e4c48) /* "HLNK" */
#define LINK_VERSION 1u

#define LINK_ENV_FD		"HAGENT_LINK_FD"
#define LINK_ENV_SOCKET		"HAGENT_REATTACH_SOCKET"
#define LINK_ENV_ORPHAN_TIMEOUT "HAGENT_ORPHAN_TIMEOUT_MS"
#define LINK_SOCKET_NAME	"monitor.sock"
#define LINK_FD			7 /* after the channel's 3-6 */

enum link_type {
	LINK_GO = 1,	 /* agent -> monitor: start */
	LINK_HELLO = 2,	 /* monitor -> agent: channel_id, pid */
	LINK_ADOPT = 3,	 /* agent -> monitor, with 4 fds: the new channel */
	LINK_REFUSE = 4, /* agent -> monitor: not ours (any more); close and exit */
};

struct link_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;	     /* enum link_type */
	uint64_t channel_id; /* HELLO: of the channel the monitor runs on */
	int32_t pid;	     /* HELLO: the monitor's */
	uint32_t reserved;
};
_Static_assert(sizeof(struct link_msg) == 24, "ABI");

/* A received packet of n bytes is a whole message of this version (its type is the caller's). */
static inline bool link_msg_valid(const struct link_msg *m, ssize_t n)
{
	return n == (ssize_t) sizeof(*m) && m->magic == LINK_MAGIC && m->version == LINK_VERSION;
}
