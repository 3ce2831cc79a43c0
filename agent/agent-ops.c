/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API's mutations: checks, the durable commit, then the model,
 * the state machines and the segment (docs/control-api.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-ops-internal.h"
#include "agent-ops.h"
#include "agent-publish.h"
#include "channel-layout.h"
#include "control-api.h"
#include "hagent/shm.h"
#include "log.h"
#include "resource-fsm.h"

#define NAME_RULES                                                                                 \
	"1 to 63 bytes of UTF-8, no control character, no '/', no leading or trailing space"

int ops_fail(sd_bus_error *err, const char *name, const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = sd_bus_error_setfv(err, name, format, ap);
	va_end(ap);
	return r;
}

/* An error of the configuration store that is not about the request. */
int ops_store_fail(sd_bus_error *err, int r, const char *kind, const char *name)
{
	switch (r) {
	case -EBUSY:
		return ops_fail(
			err, CONTROL_ERROR_BUSY,
			"%s '%s': the configuration database is busy (another process holds "
			"it); try again.",
			kind, name);
	case -ENOSPC:
		return ops_fail(err, CONTROL_ERROR_FULL,
				"%s '%s': no space left for the configuration database.", kind,
				name);
	case -ENOMEM:
		return ops_fail(err, CONTROL_ERROR_FAILED, "%s '%s': out of memory.", kind, name);
	default:
		log_error_errno(r, "%s '%s': failed to write the configuration database: %m", kind,
				name);
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"%s '%s': failed to write the configuration database: %s.", kind,
				name, strerror(-r));
	}
}

int ops_check_ready(const struct agent_ops *o, sd_bus_error *err)
{
	if (o->stopping)
		return ops_fail(err, CONTROL_ERROR_NOT_READY, "hagentd is stopping.");
	return 0;
}

int ops_check_name(const char *kind, const char *name, sd_bus_error *err)
{
	if (config_name_check(name) < 0)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"'%s' is not a valid %s name: %s.", name, kind, NAME_RULES);
	return 0;
}

int ops_find_group(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err)
{
	ssize_t g;
	int r = ops_check_name("group", name, err);

	if (r < 0)
		return r;
	g = agent_model_group_find(o->model, name);
	if (g < 0)
		return ops_fail(err, CONTROL_ERROR_NOT_FOUND, "Group '%s' does not exist.", name);
	*ret = (size_t) g;
	return 0;
}

int ops_find_resource(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err)
{
	ssize_t i;
	int r = ops_check_name("resource", name, err);

	if (r < 0)
		return r;
	i = agent_model_resource_find(o->model, name);
	if (i < 0)
		return ops_fail(err, CONTROL_ERROR_NOT_FOUND, "Resource '%s' does not exist.",
				name);
	*ret = (size_t) i;
	return 0;
}

/* The prologue of every method on an existing object: not stopping, and found. */
int ops_ready_group(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err)
{
	int r = ops_check_ready(o, err);

	return r < 0 ? r : ops_find_group(o, name, ret, err);
}

int ops_ready_resource(const struct agent_ops *o, const char *name, size_t *ret, sd_bus_error *err)
{
	int r = ops_check_ready(o, err);

	return r < 0 ? r : ops_find_resource(o, name, ret, err);
}

const char *ops_state_name(int32_t state)
{
	return hagent_resource_state_to_string(state) ?: "in an unknown state";
}

static bool model_has_room(const struct agent_model *m, bool resource)
{
	if (resource)
		return m->n_free_resources > 0 || m->n_resources < m->max_resources;
	return m->n_free_groups > 0 || m->n_groups < m->max_groups;
}

/* One transaction of the segment: the record of group g with event change. */
static void publish_group(struct agent_ops *o, size_t g, uint32_t change)
{
	int k = shm_writer_begin(o->writer, NULL), k2;

	if (k < 0) {
		log_error_errno(k, "Group %s: failed to publish it: %m", o->model->groups[g].name);
		return;
	}
	if (change == AGENT_CHANGE_GROUP_DELETED)
		k = agent_publish_group_deleted(o->writer, o->model, g);
	else
		k = agent_publish_group(o->writer, o->model, g, change);
	k2 = shm_writer_commit(o->writer);
	if (k < 0 || k2 < 0)
		log_error_errno(k < 0 ? k : k2, "Group %s: failed to publish it: %m",
				o->model->groups[g].name);
}

/* ---- groups ---- */

int agent_ops_group_add(struct agent_ops *o, const char *name, char ret_id[CONFIG_ID_LEN + 1],
			sd_bus_error *err)
{
	struct config_group cg = {.target = CONFIG_TARGET_OFFLINE};
	size_t g = 0;
	int r;

	group_props_init(&cg.common); /* what the store holds for a new group */
	r = ops_check_ready(o, err);
	if (r >= 0)
		r = ops_check_name("group", name, err);
	if (r < 0)
		return r;
	if (agent_model_group_find(o->model, name) >= 0)
		return ops_fail(err, CONTROL_ERROR_EXISTS, "Group '%s' already exists.", name);
	if (!model_has_room(o->model, false))
		return ops_fail(
			err, CONTROL_ERROR_FULL,
			"Group '%s': the state segment holds no more than %zu groups (hagentd "
			"--max-groups).",
			name, o->model->max_groups);
	r = config_store_group_add(o->store, name, cg.id);
	if (r == -EEXIST)
		return ops_fail(err, CONTROL_ERROR_EXISTS, "Group '%s' already exists.", name);
	if (r < 0)
		return ops_store_fail(err, r, "Group", name);
	snprintf(cg.name, sizeof(cg.name), "%s", name);
	r = agent_model_group_add(o->model, o->writer, &cg, &g);
	if (r < 0) {
		/* Cannot happen after the checks above; undo the commit rather than diverge. */
		(void) config_store_group_remove(o->store, name);
		return ops_fail(err, CONTROL_ERROR_FAILED, "Group '%s': %s.", name, strerror(-r));
	}
	publish_group(o, g, AGENT_CHANGE_GROUP_ADDED);
	log_info("Group %s: added.", name);
	memcpy(ret_id, cg.id, sizeof(cg.id));
	return 0;
}

/* DependentsExist if another group's dependency expression names group g. */
static int check_no_dependents(const struct agent_ops *o, size_t g, sd_bus_error *err)
{
	const struct agent_model *m = o->model;
	char names[512] = "";
	size_t n = 0, len = 0;

	for (size_t i = 0; i < m->n_groups; i++) {
		if (!m->groups[i].used || !agent_model_group_depends_on(m, i, g))
			continue;
		if (len < sizeof(names)) {
			int k = snprintf(names + len, sizeof(names) - len, "%s'%s'", n ? ", " : "",
					 m->groups[i].name);

			len += k > 0 ? (size_t) k : 0;
		}
		n++;
	}
	if (n == 0)
		return 0;
	return ops_fail(err, CONTROL_ERROR_DEPENDENTS_EXIST,
			"Group '%s' cannot be removed: group%s %s depend%s on it; change %s "
			"dependency expression%s first.",
			m->groups[g].name, n == 1 ? "" : "s", names, n == 1 ? "s" : "",
			n == 1 ? "its" : "their", n == 1 ? "" : "s");
}

int agent_ops_group_remove(struct agent_ops *o, const char *name, sd_bus_error *err)
{
	struct agent_group *grp;
	char gname[SHM_NAME_MAX];
	size_t g = 0;
	int r;

	r = ops_ready_group(o, name, &g, err);
	if (r < 0)
		return r;
	grp = &o->model->groups[g];
	r = check_no_dependents(o, g, err);
	if (r < 0)
		return r;
	if (grp->n_members > 0) {
		size_t closing = 0;

		for (size_t i = 0; i < grp->n_members; i++)
			closing += o->model->resources[grp->members[i]].removing;
		if (closing == grp->n_members)
			return ops_fail(err, CONTROL_ERROR_BUSY,
					"Group '%s': its removed resources are still closing; try "
					"again.",
					grp->name);
	}
	if (grp->n_members > 0)
		return ops_fail(err, CONTROL_ERROR_NOT_EMPTY,
				"Group '%s' still has %zu resource%s; remove them first.",
				grp->name, grp->n_members, grp->n_members == 1 ? "" : "s");
	r = config_store_group_remove(o->store, grp->name);
	if (r == -ENOTEMPTY || r == -ENOENT || r == -EADDRINUSE) /* the store and the model disagree */
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Group '%s': the configuration database does not match hagentd's "
				"state (%s).",
				grp->name, strerror(-r));
	if (r < 0)
		return ops_store_fail(err, r, "Group", grp->name);
	snprintf(gname, sizeof(gname), "%s", grp->name);
	publish_group(o, g, AGENT_CHANGE_GROUP_DELETED);
	agent_groups_removed(o->groups, g); /* its failover counters go with it */
	agent_model_group_remove(o->model, g);
	log_info("Group %s: removed.", gname);
	return 0;
}

/* ---- properties ---- */

/* The error of a property the store refused. */
static int prop_fail(sd_bus_error *err, int r, const char *name, const char *key)
{
	key = key ?: "?";
	switch (r) {
	case -EINVAL:
		return ops_fail(
			err, CONTROL_ERROR_INVALID_ARGUMENT,
			"Resource '%s': invalid property '%s' (a bad key, a key given twice, "
			"or a common property that is not a number or breaks a rule of "
			"semantics.md §4.3).",
			name, key);
	case -ERANGE:
		return ops_fail(err, CONTROL_ERROR_OUT_OF_RANGE,
				"Resource '%s': property '%s' is out of range.", name, key);
	case -E2BIG:
		return ops_fail(
			err, CONTROL_ERROR_TOO_BIG,
			"Resource '%s': the value of property '%s' is longer than %d bytes.", name,
			key, CONFIG_VALUE_MAX);
	default:
		return ops_store_fail(err, r, "Resource", name);
	}
}

/*
 * The private properties reach the monitor in the OPEN record (agent-resource.c
 * open_record: ".name=", ".type=", ".id=", then each key=value, NUL-terminated),
 * which must fit one command's arguments.
 */
static int props_fit(const struct config_resource *cr, const char *name, sd_bus_error *err)
{
	size_t len = sizeof(".name=") + strlen(cr->name) + sizeof(".type=") +
		     strlen(cr->type_name) + sizeof(".id=") + CONFIG_ID_LEN;

	for (size_t i = 0; i < cr->n_props; i++)
		if (!config_prop_is_common(cr->props[i].key))
			len += strlen(cr->props[i].key) + 1 + strlen(cr->props[i].value) + 1;
	if (len > CHAN_ARGS_MAX)
		return ops_fail(
			err, CONTROL_ERROR_TOO_BIG,
			"Resource '%s': its private properties take %zu bytes with its name "
			"and type, more than the %u a monitor's OPEN command carries.",
			name, len, CHAN_ARGS_MAX);
	return 0;
}

/* ---- resources ---- */

/* Registers type (a valid type name) if a monitor program hamon-<type> exists; else NotFound. */
static int type_register(struct agent_ops *o, const char *type, sd_bus_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (asprintf(&path, "%s/hamon-%s", o->monitor_dir, type) < 0)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	if (access(path, X_OK) < 0)
		return ops_fail(err, CONTROL_ERROR_NOT_FOUND,
				"Resource type '%s' does not exist: no monitor program %s (%s).",
				type, path, strerror(errno));
	r = config_store_type_add(o->store, type, NULL);
	if (r < 0 && r != -EEXIST)
		return ops_store_fail(err, r, "Resource type", type);
	log_info("Resource type %s: registered (%s).", type, path);
	return 0;
}

/* The providers of a new resource: existing, in group g, not itself, each once. */
static int check_providers(const struct agent_ops *o, const char *name, size_t g,
			   const char *const *deps, size_t n_deps, size_t *idx, sd_bus_error *err)
{
	for (size_t k = 0; k < n_deps; k++) {
		const struct agent_resource *p;
		size_t pi = 0;
		int r;

		if (strcasecmp(deps[k], name) == 0)
			return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
					"Resource '%s' cannot depend on itself.", name);
		r = ops_find_resource(o, deps[k], &pi, err);
		if (r < 0)
			return r;
		p = &o->model->resources[pi];
		if (p->group != g)
			return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
					"Resource '%s' (group '%s') cannot depend on '%s' (group "
					"'%s'): resource dependencies stay inside one group.",
					name, o->model->groups[g].name, p->name,
					o->model->groups[p->group].name);
		for (size_t j = 0; j < k; j++)
			if (idx[j] == pi)
				return ops_fail(err, CONTROL_ERROR_EXISTS,
						"Resource '%s': provider '%s' is named twice.",
						name, p->name);
		idx[k] = pi;
	}
	return 0;
}

int agent_ops_resource_add(struct agent_ops *o, const char *name, const char *group,
			   const char *type, const struct config_prop *props, size_t n_props,
			   const char *const *deps, size_t n_deps, char ret_id[CONFIG_ID_LEN + 1],
			   sd_bus_error *err)
{
	struct config_resource cr = {};
	_cleanup_free_ size_t *providers = calloc(n_deps ?: 1, sizeof(size_t));
	const char *key = NULL;
	char id[CONFIG_ID_LEN + 1];
	size_t g = 0, i = 0;
	int r;

	if (!providers)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");

	r = ops_check_ready(o, err);
	if (r >= 0)
		r = ops_check_name("resource", name, err);
	if (r >= 0)
		r = ops_find_group(o, group, &g, err);
	if (r >= 0 &&
	    (config_name_check(type) < 0 || strcmp(type, ".") == 0 || strcmp(type, "..") == 0))
		r = ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
			     "'%s' is not a valid resource type name: %s.", type, NAME_RULES);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n_props; k++)
		if (!*props[k].value)
			return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
					"Resource '%s': property '%s' has an empty value.", name,
					props[k].key);
	if (agent_model_resource_find(o->model, name) >= 0)
		return ops_fail(err, CONTROL_ERROR_EXISTS, "Resource '%s' already exists.", name);
	r = check_providers(o, name, g, deps, n_deps, providers, err);
	if (r < 0)
		return r;
	if (!model_has_room(o->model, true))
		return ops_fail(err, CONTROL_ERROR_FULL,
				"Resource '%s': the state segment holds no more than %zu resources "
				"(hagentd --max-resources).",
				name, o->model->max_resources);
	r = config_store_resource_add_deps(o->store, name, o->model->groups[g].name, type, props,
					   n_props, deps, n_deps, id, &key);
	if (r == -ENOENT && key && strcmp(key, "type") == 0) {
		r = type_register(o, type, err);
		if (r < 0)
			return r;
		key = NULL;
		r = config_store_resource_add_deps(o->store, name, o->model->groups[g].name, type,
						   props, n_props, deps, n_deps, id, &key);
	}
	if (r == -EMLINK)
		return ops_fail(err, CONTROL_ERROR_TREE_TOO_COMPLEX,
				"Resource '%s': its dependency tree would be deeper than %d.", name,
				CONFIG_DEP_DEPTH_MAX);
	if (r == -EEXIST)
		return ops_fail(err, CONTROL_ERROR_EXISTS, "Resource '%s' already exists.", name);
	if (r == -ENOENT)
		return ops_fail(
			err, CONTROL_ERROR_FAILED,
			"Resource '%s': the configuration database does not match hagentd's "
			"state (no %s).",
			name, key ?: "object");
	if (r < 0)
		return prop_fail(err, r, name, key);

	r = config_store_resource_get(o->store, name, &cr);
	if (r >= 0)
		r = props_fit(&cr, name, err);
	if (r >= 0) {
		r = agent_model_resource_add(o->model, o->writer, &cr, cr.type_name, g, &i);
		for (size_t k = 0; r >= 0 && k < n_deps; k++) {
			r = agent_model_dep_add(o->model, i, providers[k]);
			if (r < 0)
				agent_model_resource_remove(o->model, i);
		}
		if (r < 0)
			r = ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': %s.", name,
				     strerror(-r));
	} else if (!sd_bus_error_is_set(err))
		r = ops_store_fail(err, r, "Resource", name);
	config_resource_done(&cr);
	if (r < 0) {
		/* Undo the commit: nothing half-applied. */
		int k = config_store_resource_remove(o->store, name);

		if (k < 0)
			log_error_errno(k, "Resource %s: failed to undo its addition: %m", name);
		return r;
	}
	r = agent_resources_add(o->resources, i);
	if (r < 0)
		log_error_errno(r, "Resource %s: failed to set it up: %m", name);
	log_info("Resource %s: added to group %s.", name, o->model->groups[g].name);
	memcpy(ret_id, id, sizeof(id));
	return 0;
}

int agent_ops_resource_remove(struct agent_ops *o, const char *name, uint32_t flags,
			      sd_bus_error *err)
{
	struct agent_resource *mr;
	uint32_t win32;
	size_t i = 0;
	int r, error;

	r = ops_ready_resource(o, name, &i, err);
	if (r < 0)
		return r;
	if (flags & ~CONTROL_FLAG_FORCE)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Resource '%s': unknown flags 0x%x for RemoveResource.",
				o->model->resources[i].name, flags & ~CONTROL_FLAG_FORCE);
	mr = &o->model->resources[i];
	if (!(flags & CONTROL_FLAG_FORCE) &&
	    (mr->state == HAGENT_RESOURCE_ONLINE || res_state_is_pending(mr->state)))
		return ops_fail(err, CONTROL_ERROR_RESOURCE_ONLINE,
				"Resource '%s' is %s; take it offline first, or force the removal.",
				mr->name, ops_state_name(mr->state));
	r = config_store_resource_remove(o->store, mr->name);
	if (r == -ENOENT)
		return ops_fail(
			err, CONTROL_ERROR_FAILED,
			"Resource '%s': the configuration database does not match hagentd's "
			"state (not there).",
			mr->name);
	if (r < 0)
		return ops_store_fail(err, r, "Resource", mr->name);
	log_info("Resource %s: removing%s.", mr->name,
		 flags & CONTROL_FLAG_FORCE ? " (forced)" : "");
	mr->removing = true;
	/* From here the resource may be freed: mr is not used again. */
	r = agent_resources_request(o->resources, i, RES_EV_REQ_DELETE, false, &error, &win32);
	if (r < 0)
		log_error_errno(r, "Resource %s: the delete request failed: %m", name);
	return 0;
}

int agent_ops_resource_set(struct agent_ops *o, const char *name, const struct config_prop *props,
			   size_t n_props, sd_bus_error *err)
{
	_cleanup_free_ struct config_prop *req = NULL, *undo = NULL;
	struct config_resource old = {}, cr = {};
	const char *key = NULL;
	size_t i = 0;
	int r;

	r = ops_ready_resource(o, name, &i, err);
	if (r < 0)
		return r;
	name = o->model->resources[i].name;
	if (n_props == 0)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Resource '%s': no property to set.", name);
	req = calloc(n_props, sizeof(*req));
	undo = calloc(n_props, sizeof(*undo));
	if (!req || !undo)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t k = 0; k < n_props; k++)
		req[k] =
			(struct config_prop){props[k].key, *props[k].value ? props[k].value : NULL};

	r = config_store_resource_get(o->store, name, &old);
	if (r < 0)
		return ops_store_fail(err, r, "Resource", name);
	r = config_store_resource_set_props(o->store, name, req, n_props, &key);
	if (r < 0) {
		config_resource_done(&old);
		return prop_fail(err, r, name, key);
	}
	r = config_store_resource_get(o->store, name, &cr);
	if (r >= 0)
		r = props_fit(&cr, name, err);
	if (r >= 0) {
		r = agent_model_resource_set_props(o->model, i, &cr);
		if (r < 0)
			r = ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': %s.", name,
				     strerror(-r));
	} else if (!sd_bus_error_is_set(err))
		r = ops_store_fail(err, r, "Resource", name);
	config_resource_done(&cr);
	if (r < 0) {
		/* Undo: each key back to its old value, or removed if it had none. */
		for (size_t k = 0; k < n_props; k++) {
			undo[k] = (struct config_prop){req[k].key, NULL};
			for (size_t j = 0; j < old.n_props; j++)
				if (strcasecmp(old.props[j].key, req[k].key) == 0)
					undo[k].value = old.props[j].value;
		}
		if (config_store_resource_set_props(o->store, name, undo, n_props, NULL) < 0)
			log_error("Resource %s: failed to undo a property change.", name);
		config_resource_done(&old);
		return r;
	}
	config_resource_done(&old);
	r = agent_resources_props_changed(o->resources, i, &key);
	if (r < 0) /* the store validated the same set: cannot happen */
		log_error_errno(r, "Resource %s: its state machine refused property %s: %m", name,
				key ?: "?");
	log_info("Resource %s: %zu properties set.", name, n_props);
	return 0;
}

/* The reply of the state machine to an online/offline request, as the control API's. */
static int request_reply(struct agent_ops *o, size_t i, bool online, bool deferred, int error,
			 struct agent_ops_result *ret, sd_bus_error *err)
{
	const struct agent_resource *mr = &o->model->resources[i];

	switch (error) {
	case 0:
	case -EINPROGRESS:
		*ret = (struct agent_ops_result){
			.result = error ? CONTROL_RESULT_IO_PENDING : CONTROL_RESULT_SUCCESS,
			.state = mr->state,
			.state_seq = mr->state_seq,
		};
		return 0;
	case -EIO:
		if (deferred)
			return ops_fail(err, CONTROL_ERROR_RESOURCE_FAILED,
					"Resource '%s' failed to %s: %s.", mr->name,
					online ? "come online" : "go offline",
					strerror(mr->last_error < 0 ? -mr->last_error : EIO));
		return ops_fail(
			err, CONTROL_ERROR_RESOURCE_FAILED,
			"Resource '%s' is failed; its persistent state is now offline and it "
			"stays failed (no restart).",
			mr->name);
	case -ECANCELED:
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Resource '%s': the %s was terminated before it finished.",
				mr->name, online ? "online" : "offline");
	case -EBUSY:
		return ops_fail(err, CONTROL_ERROR_INVALID_STATE,
				"Resource '%s' has an operation in progress (%s); try again later.",
				mr->name, ops_state_name(mr->state));
	default:
		return ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': %s.", mr->name,
				strerror(-error));
	}
}

int agent_ops_resource_control(struct agent_ops *o, const char *name, uint32_t code, const void *in,
			       size_t len, size_t *ret_index, sd_bus_error *err)
{
	struct agent_resource *mr;
	size_t i = 0;
	int r;

	r = ops_ready_resource(o, name, &i, err);
	if (r < 0)
		return r;
	mr = &o->model->resources[i];
	r = agent_resources_control(o->resources, i, code, in, len);
	switch (r) {
	case 0:
		*ret_index = i;
		return 1;
	case -E2BIG:
		return ops_fail(err, CONTROL_ERROR_TOO_BIG,
				"Resource '%s': the input of a control code is at most %zu bytes.",
				mr->name, (size_t) CHAN_ARGS_MAX - sizeof(code));
	case -ENOTCONN:
		return ops_fail(err, CONTROL_ERROR_INVALID_STATE,
				"Resource '%s' is %s and has no open monitor to ask.", mr->name,
				ops_state_name(mr->state));
	case -EBUSY:
		return ops_fail(err, CONTROL_ERROR_BUSY,
				"Resource '%s' is answering another control code; try again.",
				mr->name);
	case -ESHUTDOWN:
		return ops_fail(err, CONTROL_ERROR_NOT_READY, "hagentd is stopping.");
	default:
		return ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': %s.", mr->name,
				strerror(-r));
	}
}

int agent_ops_control_reply(struct agent_ops *o, size_t i, uint32_t code, int result,
			    sd_bus_error *err)
{
	const struct agent_resource *mr = &o->model->resources[i];

	switch (result) {
	case -EOPNOTSUPP:
		return ops_fail(err, CONTROL_ERROR_NOT_SUPPORTED,
				"Resource '%s' does not handle control code 0x%x.", mr->name, code);
	case -ETIMEDOUT:
		return ops_fail(
			err, CONTROL_ERROR_FAILED,
			"Resource '%s': no answer to control code 0x%x within DeadlockTimeout.",
			mr->name, code);
	case -ECONNRESET:
		return ops_fail(
			err, CONTROL_ERROR_FAILED,
			"Resource '%s': its monitor went away before it answered control code "
			"0x%x.",
			mr->name, code);
	default:
		if (result >= 0)
			return 0;
		return ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': control code 0x%x: %s.",
				mr->name, code, strerror(-result));
	}
}

int agent_ops_deferred_reply(struct agent_ops *o, size_t i, bool online, int error,
			     struct agent_ops_result *ret, sd_bus_error *err)
{
	return request_reply(o, i, online, true, error, ret, err);
}

static int set_target(struct agent_ops *o, size_t i, enum config_target target, sd_bus_error *err)
{
	struct agent_resource *mr = &o->model->resources[i];
	int r;

	if (mr->persistent_state == (int32_t) target)
		return 0;
	r = config_store_resource_set_target(o->store, mr->name, target);
	if (r < 0)
		return ops_store_fail(err, r, "Resource", mr->name);
	mr->persistent_state = (int32_t) target;
	return 0;
}

/*
 * Resource i and its providers (or its dependents), transitively: their
 * persistent state becomes target, in one store transaction for those it
 * changes.  *ret: the closure, i first.
 */
static int closure_set_target(struct agent_ops *o, size_t i, bool providers,
			      enum config_target target, size_t **ret, size_t *ret_n,
			      sd_bus_error *err)
{
	_cleanup_free_ size_t *idx = NULL;
	_cleanup_free_ const char **names = NULL;
	size_t n = 0, n_names = 0;
	int r;

	r = agent_groups_closure(o->groups, i, providers, &idx, &n);
	names = calloc(n ?: 1, sizeof(*names));
	if (r < 0 || !names)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t k = 0; k < n; k++)
		if (o->model->resources[idx[k]].persistent_state != (int32_t) target)
			names[n_names++] = o->model->resources[idx[k]].name;
	if (n_names > 0) {
		r = config_store_resources_set_target(o->store, names, n_names, target);
		if (r < 0)
			return ops_store_fail(err, r, "Resource", o->model->resources[i].name);
	}
	for (size_t k = 0; k < n; k++)
		o->model->resources[idx[k]].persistent_state = (int32_t) target;
	*ret = TAKE_PTR(idx);
	*ret_n = n;
	return 0;
}

/* Online of a resource whose providers are not all Online: they come first. */
static int online_with_providers(struct agent_ops *o, size_t i, struct agent_ops_result *ret,
				 sd_bus_error *err)
{
	const struct agent_resource *mr = &o->model->resources[i];
	_cleanup_free_ size_t *idx = NULL;
	size_t n = 0;
	int r;

	r = closure_set_target(o, i, true, CONFIG_TARGET_ONLINE, &idx, &n, err);
	if (r < 0)
		return r;
	log_info("Resource %s: online requested; its providers first.", mr->name);
	agent_groups_set_targets(o->groups, mr->group, idx, n, true, NULL, 0);
	*ret = (struct agent_ops_result){CONTROL_RESULT_IO_PENDING, mr->state, mr->state_seq, i};
	return 0;
}

int agent_ops_resource_online(struct agent_ops *o, const char *name, struct agent_ops_result *ret,
			      sd_bus_error *err)
{
	struct agent_resource *mr;
	uint32_t win32;
	size_t i = 0;
	int r, error;

	r = ops_ready_resource(o, name, &i, err);
	if (r < 0)
		return r;
	mr = &o->model->resources[i];
	if (res_state_is_pending(mr->state)) /* T26 */
		return ops_fail(err, CONTROL_ERROR_INVALID_STATE,
				"Resource '%s' is %s; wait for it to finish.", mr->name,
				ops_state_name(mr->state));
	if (!agent_groups_providers_online(o->groups, i))
		return online_with_providers(o, i, ret, err);
	r = set_target(o, i, CONFIG_TARGET_ONLINE, err);
	if (r < 0)
		return r;
	/* A group offline's parameters, kept while dependents held it Online, end here. */
	(void) agent_resources_set_offline_params(o->resources, i, NULL, 0);
	r = agent_resources_request(o->resources, i, RES_EV_REQ_ONLINE, true, &error, &win32);
	if (r < 0)
		return ops_fail(err, CONTROL_ERROR_NOT_READY, "Resource '%s': hagentd is stopping.",
				mr->name);
	if (r > 0) {
		ret->index = i;
		return 1; /* agent_ops_deferred_reply() comes later */
	}
	return request_reply(o, i, true, false, error, ret, err);
}

int agent_ops_resource_offline(struct agent_ops *o, const char *name, uint32_t flags,
			       struct agent_ops_result *ret, sd_bus_error *err)
{
	bool force = flags & CONTROL_FLAG_FORCE, up;
	_cleanup_free_ size_t *idx = NULL;
	struct agent_resource *mr;
	uint32_t win32;
	size_t i = 0, n = 0;
	int r, error;

	r = ops_ready_resource(o, name, &i, err);
	if (r < 0)
		return r;
	mr = &o->model->resources[i];
	if (flags & ~CONTROL_FLAG_FORCE)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Resource '%s': unknown flags 0x%x for OfflineResource.", mr->name,
				flags & ~CONTROL_FLAG_FORCE);
	if (mr->state == HAGENT_RESOURCE_INITIALIZING ||
	    (!force && res_state_is_pending(mr->state))) /* T26 */
		return ops_fail(
			err, CONTROL_ERROR_INVALID_STATE,
			"Resource '%s' is %s; wait for it to finish%s.", mr->name,
			ops_state_name(mr->state),
			mr->state == HAGENT_RESOURCE_INITIALIZING ? "" : ", or force it offline");
	if (!force && mr->locked)
		return ops_fail(err, CONTROL_ERROR_RESOURCE_LOCKED,
				"Resource '%s' is in locked mode; force it offline to terminate it "
				"anyway.",
				mr->name);
	up = agent_groups_dependents_up(o->groups, i);
	r = closure_set_target(o, i, false, CONFIG_TARGET_OFFLINE, &idx, &n, err);
	if (r < 0)
		return r;
	for (size_t k = 1; !force && up && k < n; k++) {
		const struct res_fsm *f = agent_resources_fsm(o->resources, idx[k]);

		if (f && res_fsm_is_locked(f))
			return ops_fail(
				err, CONTROL_ERROR_RESOURCE_LOCKED,
				"Resource '%s': its dependent '%s' is in locked mode; force "
				"the offline to terminate it anyway.",
				mr->name, o->model->resources[idx[k]].name);
	}
	if (!force && up) { /* dependents first: the group layer orders it */
		log_info("Resource %s: offline requested; its dependents first.", mr->name);
		agent_groups_set_targets(o->groups, mr->group, idx, n, false, NULL, 0);
		*ret = (struct agent_ops_result){CONTROL_RESULT_IO_PENDING, mr->state,
						 mr->state_seq, i};
		return 0;
	}
	r = set_target(o, i, CONFIG_TARGET_OFFLINE, err);
	if (r < 0)
		return r;
	r = agent_resources_request(o->resources, i,
				    force ? RES_EV_REQ_TERMINATE : RES_EV_REQ_OFFLINE, !force,
				    &error, &win32);
	/* Dependents that are down stay down.  After the request: the group layer's pass
	 * would otherwise take the resource offline itself, and the request find it pending. */
	if (r >= 0 && n > 1)
		agent_groups_set_targets(o->groups, mr->group, idx + 1, n - 1, false, NULL, 0);
	if (r < 0)
		return ops_fail(err, CONTROL_ERROR_NOT_READY, "Resource '%s': hagentd is stopping.",
				mr->name);
	if (r > 0) {
		ret->index = i;
		return 1;
	}
	return request_reply(o, i, false, false, error, ret, err);
}
