/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* For tests: monitor_spawn() with the clone3 path on or off (off: fork + pidfd_open). */

#include <stdbool.h>

#include "monitor-spawn.h"

int monitor_spawn_full(const char *program, const struct chan_fds *fds,
		       const char *const *extra_env, bool try_clone3, struct monitor_proc *ret);
