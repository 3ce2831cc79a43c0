/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * monitorctl's client of hagentd's control API (docs/control-api.md): a
 * peer-to-peer sd-bus connection to <runtime dir>/control.sock and one
 * function per method.  Each function returns EXIT_OK, or the exit code
 * after saying on stderr what failed (the agent's own message when it sent
 * one).  The caller owns the connection: sd_bus_flush_close_unref().
 */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* How long one method call may take before monitorctl gives up on the agent. */
#define CONTROL_CALL_TIMEOUT_SEC 30

/* Connects; EXIT_NOT_RUNNING when there is no control.sock or nobody listens on it. */
int control_open(const char *runtime_dir, sd_bus **ret);

/* *ret_id: the new object's id as the agent wrote it; the caller frees it. */
int control_group_add(sd_bus *bus, const char *name, char **ret_id);
int control_group_remove(sd_bus *bus, const char *name);

/*
 * props: n_props "KEY=VALUE" strings, each with a non-empty key (split at the
 * first '='); depends_on: the providers' names (sent as an empty array when
 * there are none).
 */
int control_resource_add(sd_bus *bus, const char *name, const char *group, const char *type,
			 char *const *props, size_t n_props, char *const *depends_on,
			 size_t n_depends_on, char **ret_id);
int control_resource_remove(sd_bus *bus, const char *name, uint32_t flags);
int control_resource_set(sd_bus *bus, const char *name, char *const *props, size_t n_props);
int control_dependency_add(sd_bus *bus, const char *dependent, const char *provider);
int control_dependency_remove(sd_bus *bus, const char *dependent, const char *provider);
int control_group_set(sd_bus *bus, const char *name, char *const *props, size_t n_props);
/* SetGroupDependencyExpression; *ret_stored (malloc'd) the stored form. */
int control_group_set_deps(sd_bus *bus, const char *name, const char *expr, char **ret_stored);
/* RenameGroup (group) or RenameResource. */
int control_rename(sd_bus *bus, bool group, const char *name, const char *new_name);

/* The answer of OnlineResource, OfflineResource, OnlineGroup and OfflineGroup. */
struct control_result {
	uint32_t result;    /* CONTROL_RESULT_SUCCESS or CONTROL_RESULT_IO_PENDING */
	int32_t state;	    /* enum hagent_resource_state or hagent_group_state after it */
	uint32_t state_seq; /* the object's sequence after the request */
};

int control_resource_online(sd_bus *bus, const char *name, struct control_result *ret);
int control_resource_offline(sd_bus *bus, const char *name, uint32_t flags,
			     struct control_result *ret);
int control_group_online(sd_bus *bus, const char *name, struct control_result *ret);
/* params: a property list (common/proplist.h) of params_len bytes, sent as it is. */
int control_group_offline(sd_bus *bus, const char *name, uint32_t flags, const void *params,
			  size_t params_len, struct control_result *ret);
