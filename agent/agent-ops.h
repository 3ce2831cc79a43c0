/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The mutations of the control API (docs/control-api.md), one function per
 * method: validate against the configuration and the live state, commit to
 * the configuration store (durable), apply to the model and the state
 * machines, publish.  A refused call changes nothing.  Errors are negative
 * errnos with *err set to the control API's error name and a message that
 * names the object and the reason.  Main-loop thread only.
 */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "agent-group.h"
#include "agent-model.h"
#include "agent-resource.h"
#include "config-store.h"
#include "shm-writer.h"

struct agent_ops {
	struct config_store *store;
	struct shm_writer *writer;
	struct agent_model *model;
	struct agent_resources *resources;
	struct agent_groups *groups;
	const char *monitor_dir;
	bool stopping; /* refuse everything with NotReady */
};

/* The reply of OnlineResource and OfflineResource. */
struct agent_ops_result {
	uint32_t result; /* CONTROL_RESULT_* */
	int32_t state;
	uint32_t state_seq;
	size_t index; /* the resource, when the reply is deferred */
};

int agent_ops_group_add(struct agent_ops *o, const char *name, char ret_id[CONFIG_ID_LEN + 1],
			sd_bus_error *err);
int agent_ops_group_remove(struct agent_ops *o, const char *name, sd_bus_error *err);

/* depends_on: providers in the same group, added in the same transaction. */
int agent_ops_resource_add(struct agent_ops *o, const char *name, const char *group,
			   const char *type, const struct config_prop *props, size_t n_props,
			   const char *const *depends_on, size_t n_deps,
			   char ret_id[CONFIG_ID_LEN + 1], sd_bus_error *err);
int agent_ops_resource_remove(struct agent_ops *o, const char *name, uint32_t flags,
			      sd_bus_error *err);
/* An empty value resets the key to its default. */
int agent_ops_resource_set(struct agent_ops *o, const char *name, const struct config_prop *props,
			   size_t n_props, sd_bus_error *err);
/*
 * 0 with *ret, or 1: the entry point may still answer synchronously, and
 * the reply (agent_ops_deferred_reply()) is due when the resource's state
 * machine gives it (the reply handler of agent-resource.h).
 */
int agent_ops_resource_online(struct agent_ops *o, const char *name, struct agent_ops_result *ret,
			      sd_bus_error *err);
int agent_ops_resource_offline(struct agent_ops *o, const char *name, uint32_t flags,
			       struct agent_ops_result *ret, sd_bus_error *err);
/*
 * ResourceControl: posts code with its input to the resource's monitor and
 * returns 1 with *ret_index; agent_ops_control_reply() makes the answer.
 */
int agent_ops_resource_control(struct agent_ops *o, const char *name, uint32_t code, const void *in,
			       size_t len, size_t *ret_index, sd_bus_error *err);
/* 0: code >= 0 bytes of answer are valid; else the error, for resource i and its code. */
int agent_ops_control_reply(struct agent_ops *o, size_t i, uint32_t code, int result,
			    sd_bus_error *err);

/* The deferred reply of resource i's online (or offline) request, from the state machine's. */
int agent_ops_deferred_reply(struct agent_ops *o, size_t i, bool online, int error,
			     struct agent_ops_result *ret, sd_bus_error *err);

/*
 * Group online and offline (OnlineGroup, OfflineGroup): the persistent
 * state of the group and of every member, then the first steps in
 * dependency order (agent-group.h) before the reply, so that the group shows
 * Pending when it is not in the target state already (then *ret's result is
 * CONTROL_RESULT_SUCCESS).  Offline: flags CONTROL_FLAG_IGNORE_LOCKED; params
 * a property list (common/proplist.h) for the members Online now.
 */
int agent_ops_group_online(struct agent_ops *o, const char *name, uint32_t flags,
			   struct agent_ops_result *ret, sd_bus_error *err);
int agent_ops_group_offline(struct agent_ops *o, const char *name, uint32_t flags,
			    const void *params, size_t params_len, struct agent_ops_result *ret,
			    sd_bus_error *err);
/* SetGroupProperties: FailoverThreshold, FailoverPeriod; an empty value resets. */
int agent_ops_group_set(struct agent_ops *o, const char *name, const struct config_prop *props,
			size_t n_props, sd_bus_error *err);

/* AddResourceDependency, RemoveResourceDependency. */
int agent_ops_dep_add(struct agent_ops *o, const char *dependent, const char *provider,
		      sd_bus_error *err);
int agent_ops_dep_remove(struct agent_ops *o, const char *dependent, const char *provider,
			 sd_bus_error *err);

/*
 * SetGroupDependencyExpression (agent-ops-group-deps.c): *ret_stored
 * (malloc'd) is the stored form, "[id] and [id]", "" when cleared.
 */
int agent_ops_group_set_deps(struct agent_ops *o, const char *name, const char *expr,
			     char **ret_stored, sd_bus_error *err);
/* RenameGroup, RenameResource: the id stays, and with it what refers to the object. */
int agent_ops_group_rename(struct agent_ops *o, const char *name, const char *new_name,
			   sd_bus_error *err);
int agent_ops_resource_rename(struct agent_ops *o, const char *name, const char *new_name,
			      sd_bus_error *err);
