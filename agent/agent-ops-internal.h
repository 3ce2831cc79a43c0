/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the control API's mutations share (agent-ops.c for
 * groups and resources, agent-ops-group.c for group operations and
 * dependencies): the error helpers and the prologue of a method.
 */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "agent-ops.h"

/* Sets err to the error name with a printf-style message; returns its errno, negative. */
int ops_fail(sd_bus_error *err, const char *name, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
/* An error of the configuration store that is not about the request (busy, disk full...). */
int ops_store_fail(sd_bus_error *err, int r, const char *kind, const char *name);
/* NotReady while hagentd stops. */
int ops_check_ready(const struct agent_ops *o, sd_bus_error *err);
/* InvalidArgument unless name is a valid name of this kind ("group", "resource"). */
int ops_check_name(const char *kind, const char *name, sd_bus_error *err);
/* The live object with this name, or NotFound. */
int ops_find_group(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err);
int ops_find_resource(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err);
/* The prologue of every method on an existing object: not stopping, and found. */
int ops_ready_group(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err);
int ops_ready_resource(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err);
/* "online-pending"..., for messages. */
const char *ops_state_name(int32_t state);
