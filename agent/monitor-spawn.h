/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Starting a monitor process, signalling it and reaping it, by pidfd
 * (docs/monitor-protocol.md, "Start").  The child gets the channel's four
 * fds as its fds 3 (producer page), 4 (agent page), 5 (monitor bell) and
 * 6 (agent bell), keeps 0-2, has every other fd closed, an empty signal
 * mask, every signal at its default action, a session of its own (a
 * signal to the agent's process group does not reach it), no parent-death
 * signal (it outlives the agent: docs/agent-restart.md), and
 * HAGENT_CHANNEL_FDS=3,4,5,6; with a link (channel-link.h), that as fd 7
 * and HAGENT_LINK_FD=7.
 *
 * Watching the pidfd: hagentd uses sd_event_add_io(pidfd, EPOLLIN) and calls
 * monitor_reap() from the callback.  Not sd_event_add_child_pidfd(): that
 * one requires SIGCHLD blocked and reaps the child itself (the exit status
 * would then come from sd-event, and monitor_reap() would find nothing), and
 * it only works for children, whereas the same io source also serves a
 * monitor re-adopted after an agent restart (pidfd_open() of a process that
 * is no longer our child: monitor_reap() then says -ECHILD, the pidfd still
 * says when it died).  Either way SIGCHLD must not be SIG_IGN in the agent
 * (the kernel would reap the monitors and lose their status).
 *
 * Never blocks on the monitor: monitor_spawn() waits only until the child's
 * execve() succeeded or failed, not for the program to do anything.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "channel.h"

struct monitor_proc {
	pid_t pid;
	int pidfd; /* O_CLOEXEC; -EBADF when not spawned */
	bool reaped;
};

#define MONITOR_PROC_NULL ((struct monitor_proc){.pid = 0, .pidfd = -EBADF, .reaped = false})

/*
 * Starts program (an absolute path; no PATH search) with argv[0] = program
 * and the channel fds of fds (and link_fd as its fd 7 unless negative), in the agent's environment minus any
 * HAGENT_CHANNEL_FDS, plus HAGENT_CHANNEL_FDS=3,4,5,6, plus extra_env (NULL
 * or a NULL-terminated list of "KEY=VALUE" that replace inherited entries of
 * the same key).  Thread-safe; the calling thread's signal mask is kept.
 *
 * 0 and *ret filled: the program is executing.  Errors of the execve()
 * come back as they are (-ENOENT, -EACCES, -ENOEXEC, ...), the child
 * already reaped; -ECHILD if a signal killed the child before its execve();
 * -EINVAL for a relative program or a bad extra_env entry (no "=", or the
 * key HAGENT_CHANNEL_FDS), -EBADF for a negative fd.  The child shares the
 * agent's memory until its execve() (clone() with CLONE_VM | CLONE_VFORK,
 * as posix_spawn() does), so the cost does not grow with the agent's
 * mappings or fds; CLONE_PIDFD gives the pidfd, or where the kernel or a
 * seccomp filter refuses it, pidfd_open() of the still unreaped child.  The
 * channel's fds may be any numbers, 3-6 included, in any order; fds 0-2 are
 * passed as they are.
 */
int monitor_spawn(const char *program, const struct chan_fds *fds, int link_fd,
		  const char *const *extra_env, struct monitor_proc *ret);

/* pidfd_send_signal(): no pid-reuse race.  -ESRCH if the process is gone. */
int monitor_signal(const struct monitor_proc *p, int sig);

/*
 * Never blocks.  0: the process ended, *ret_status (may be NULL) gets its
 * wait status (WIFEXITED() etc. apply), and the zombie is gone; -EAGAIN: it
 * still runs; -ECHILD: not our child (re-adopted) or reaped already.
 */
int monitor_reap(struct monitor_proc *p, int *ret_status);

/* Closes the pidfd.  Neither signals nor reaps: a monitor outlives its handle. */
void monitor_proc_done(struct monitor_proc *p);
