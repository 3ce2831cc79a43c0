/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API's methods on groups, resource dependencies, group
 * dependency expressions and renames: unpack the arguments, check the
 * access, call agent-ops.
 */
#include <stdlib.h>

#include "agent-control-internal.h"

/* A method of two names and no answer: dependent and provider, or name and new name. */
static int two_names(sd_bus_message *m, void *userdata, sd_bus_error *err,
		     int (*op)(struct agent_ops *o, const char *a, const char *b, sd_bus_error *err))
{
	struct control_conn *c = userdata;
	const char *a, *b;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "ss", &a, &b);
	if (r >= 0)
		r = op(control_ops(c), a, b, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

int control_method_add_dependency(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	return two_names(m, userdata, err, agent_ops_dep_add);
}

int control_method_remove_dependency(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	return two_names(m, userdata, err, agent_ops_dep_remove);
}

int control_method_online_group(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	struct agent_ops_result res;
	const char *name;
	uint32_t flags;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "su", &name, &flags);
	if (r >= 0)
		r = agent_ops_group_online(control_ops(c), name, flags, &res, err);
	if (r < 0)
		return r;
	return control_reply_state(m, &res);
}

int control_method_offline_group(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	struct agent_ops_result res;
	const void *params = NULL;
	const char *name;
	size_t len = 0;
	uint32_t flags;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "su", &name, &flags);
	if (r >= 0)
		r = sd_bus_message_read_array(m, 'y', &params, &len);
	if (r >= 0)
		r = agent_ops_group_offline(control_ops(c), name, flags, params, len, &res, err);
	if (r < 0)
		return r;
	return control_reply_state(m, &res);
}

int control_method_set_group_properties(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	_cleanup_free_ struct config_prop *props = NULL;
	const char *name;
	size_t n = 0;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = control_read_props(m, &props, &n, err);
	if (r >= 0)
		r = agent_ops_group_set(control_ops(c), name, props, n, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

int control_method_set_group_deps(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	_cleanup_free_ char *stored = NULL;
	const char *name, *expr;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "ss", &name, &expr);
	if (r >= 0)
		r = agent_ops_group_set_deps(control_ops(c), name, expr, &stored, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "s", stored);
}

int control_method_rename_group(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	return two_names(m, userdata, err, agent_ops_group_rename);
}

int control_method_rename_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	return two_names(m, userdata, err, agent_ops_resource_rename);
}
