/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * For tests: monitor_spawn() with CLONE_PIDFD on or off (off: the fallback,
 * the same vfork-style clone without it, then pidfd_open()), and, if
 * ret_stack_used is not NULL, how many bytes of its private stack the child
 * wrote before it exec'd or exited (a high-water mark: the first non-zero
 * byte from the bottom).
 */

#include <stdbool.h>
#include <stddef.h>

#include "monitor-spawn.h"

int monitor_spawn_full(const char *program, const struct chan_fds *fds,
		       const char *const *extra_env, bool clone_pidfd, size_t *ret_stack_used,
		       struct monitor_proc *ret);
