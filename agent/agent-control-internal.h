/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the control API server share: the connection, the
 * argument and reply helpers, and the method handlers that live outside
 * agent-control.c (agent-control-group.c: groups and dependencies).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "agent-ops.h"
#include "config-store.h"

#define CONTROL_PROPS_MAX 256 /* properties in one call */
#define CONTROL_DEPS_MAX  100 /* providers in one AddResource */

struct agent_control;

struct control_conn {
	struct agent_control *ctl;
	sd_bus *bus;
	uid_t uid;
	pid_t pid;
	bool full;
	struct control_conn *next;
};

/* The connection's agent_ops. */
struct agent_ops *control_ops(const struct control_conn *c);
/* AccessDenied unless the peer has full access. */
int control_check_access(const struct control_conn *c, sd_bus_error *err);
/* Reads an a(ss) into a new array of n entries pointing into the message. */
int control_read_props(sd_bus_message *m, struct config_prop **ret, size_t *ret_n,
		       sd_bus_error *err);
/* The (u result, i state, u state_seq) reply of an online or offline. */
int control_reply_state(sd_bus_message *m, const struct agent_ops_result *res);

int control_method_add_dependency(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_remove_dependency(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_online_group(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_offline_group(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_set_group_properties(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_set_group_deps(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_rename_group(sd_bus_message *m, void *userdata, sd_bus_error *err);
int control_method_rename_resource(sd_bus_message *m, void *userdata, sd_bus_error *err);
