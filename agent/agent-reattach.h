/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * monitor.sock in the runtime dir: where monitors whose agent died ask the
 * new agent to adopt them (shm/channel-link.h, docs/agent-restart.md).
 * Only processes of the agent's own uid may connect (SO_PEERCRED; the
 * socket is 0600 as well).  A HELLO goes to the adopt callback with the
 * peer's pid as the kernel saw it at connect(), never as the monitor
 * claims it.  Main-loop thread only.
 */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

/*
 * A monitor that ran channel channel_id as process pid wants to be adopted
 * on connection fd.  Return 1 after taking fd (the callback sent LINK_ADOPT
 * and keeps the connection as the monitor's link), or a negative errno:
 * the monitor gets LINK_REFUSE (it closes its resources and exits).
 */
typedef int (*agent_adopt_fn)(void *userdata, uint64_t channel_id, pid_t pid, int fd);

struct agent_reattach;

/* Listens on <runtime_dir>/monitor.sock (replacing a stale one: the caller holds state.sock). */
int agent_reattach_new(sd_event *e, const char *runtime_dir, agent_adopt_fn fn, void *userdata,
		       struct agent_reattach **ret);
struct agent_reattach *agent_reattach_free(struct agent_reattach *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_reattach *, agent_reattach_free);

/* Sends LINK_ADOPT with the four channel fds (producer, agent, mon_bell, agent_bell). */
int agent_link_send_adopt(int fd, const int fds[4]);
/* Sends LINK_GO (the monitor may start) or LINK_REFUSE. */
int agent_link_send(int fd, uint16_t type);
