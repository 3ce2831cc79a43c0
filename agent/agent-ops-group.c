/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API's group operations (OnlineGroup, OfflineGroup,
 * SetGroupProperties) and resource dependencies (AddResourceDependency,
 * RemoveResourceDependency): checks, the durable commit, then the model and
 * the group layer (agent-group.h), which takes the first steps before the
 * reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent-ops-internal.h"
#include "agent-publish.h"
#include "control-api.h"
#include "hagent/shm.h"
#include "log.h"
#include "proplist.h"
#include "resource-fsm.h"

static const char *group_state_name(int32_t state)
{
	return hagent_group_state_to_string(state) ?: "in an unknown state";
}

/* The members that count (not being removed): *ret (malloc'd) and *ret_n. */
static int live_members(const struct agent_ops *o, size_t gi, size_t **ret, size_t *ret_n)
{
	const struct agent_group *g = &o->model->groups[gi];
	size_t *idx = calloc(g->n_members ?: 1, sizeof(*idx)), n = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t j = 0; j < g->n_members; j++)
		if (!o->model->resources[g->members[j]].removing)
			idx[n++] = g->members[j];
	*ret = idx;
	*ret_n = n;
	return 0;
}

/*
 * The persistent state of group gi and of its members becomes target (one
 * store transaction, skipped if nothing changes), then the group layer acts.
 */
static int group_set_targets(struct agent_ops *o, size_t gi, enum config_target target,
			     const void *params, size_t params_len, sd_bus_error *err)
{
	struct agent_group *g = &o->model->groups[gi];
	_cleanup_free_ size_t *idx = NULL;
	bool changed = g->persistent_state != (int32_t) target;
	size_t n = 0;
	int r;

	r = live_members(o, gi, &idx, &n);
	if (r < 0)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t j = 0; j < n; j++)
		changed =
			changed || o->model->resources[idx[j]].persistent_state != (int32_t) target;
	if (changed) {
		r = config_store_group_set_target_all(o->store, g->name, target);
		if (r == -ENOENT)
			return ops_fail(err, CONTROL_ERROR_FAILED,
					"Group '%s': the configuration database does not match "
					"hagentd's state (not there).",
					g->name);
		if (r < 0)
			return ops_store_fail(err, r, "Group", g->name);
	}
	g->persistent_state = (int32_t) target;
	for (size_t j = 0; j < n; j++)
		o->model->resources[idx[j]].persistent_state = (int32_t) target;
	agent_groups_set_targets(o->groups, gi, idx, n, target == CONFIG_TARGET_ONLINE, params,
				 params_len);
	return 0;
}

static void group_result(const struct agent_ops *o, size_t gi, bool done,
			 struct agent_ops_result *ret)
{
	const struct agent_group *g = &o->model->groups[gi];

	*ret = (struct agent_ops_result){
		.result = done ? CONTROL_RESULT_SUCCESS : CONTROL_RESULT_IO_PENDING,
		.state = g->state,
		.state_seq = g->state_seq,
		.index = gi,
	};
}

int agent_ops_group_online(struct agent_ops *o, const char *name, uint32_t flags,
			   struct agent_ops_result *ret, sd_bus_error *err)
{
	struct agent_group *g;
	size_t gi = 0;
	int r;

	r = ops_ready_group(o, name, &gi, err);
	if (r < 0)
		return r;
	g = &o->model->groups[gi];
	if (flags != 0)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Group '%s': unknown flags 0x%x for OnlineGroup.", g->name, flags);
	r = group_set_targets(o, gi, CONFIG_TARGET_ONLINE, NULL, 0, err);
	if (r < 0)
		return r;
	log_info("Group %s: online requested (%s).", g->name, group_state_name(g->state));
	/* An empty group has nothing to bring online: done, though it reads Offline (§5.1). */
	group_result(o, gi, g->state == HAGENT_GROUP_ONLINE || g->n_members == 0, ret);
	return 0;
}

/* Locked members (semantics.md §5.4: locked mode while Online or pending) refuse the offline. */
static int check_locked(const struct agent_ops *o, size_t gi, sd_bus_error *err)
{
	const struct agent_group *g = &o->model->groups[gi];

	for (size_t j = 0; j < g->n_members; j++) {
		const struct res_fsm *f = agent_resources_fsm(o->resources, g->members[j]);

		if (f && res_fsm_is_locked(f))
			return ops_fail(err, CONTROL_ERROR_RESOURCE_LOCKED,
					"Group '%s': resource '%s' is in locked mode; nothing was "
					"changed (ignore the locked status to take the group "
					"offline anyway).",
					g->name, o->model->resources[g->members[j]].name);
	}
	return 0;
}

/* After a group offline: a Failed member that nothing else waits for is the answer. */
static int offline_failed(const struct agent_ops *o, size_t gi, sd_bus_error *err)
{
	const struct agent_group *g = &o->model->groups[gi];
	const char *failed = NULL;

	for (size_t j = 0; j < g->n_members; j++) {
		const struct agent_resource *r = &o->model->resources[g->members[j]];

		if (r->state == HAGENT_RESOURCE_ONLINE || res_state_is_pending(r->state))
			return 0; /* still going: pending */
		if (r->state == HAGENT_RESOURCE_FAILED && !failed)
			failed = r->name;
	}
	if (!failed)
		return 0;
	return ops_fail(err, CONTROL_ERROR_RESOURCE_FAILED,
			"Group '%s': resource '%s' is failed; the group's persistent state is now "
			"offline and failed resources stay failed (no restart).",
			g->name, failed);
}

/*
 * The groups that depend on group gi, directly or not, go offline too, and
 * first (the group layer holds gi's members while one of theirs is up): the
 * reverse of the order they started in (semantics.md §6.6, issue 5).
 */
static int dependent_groups_offline(struct agent_ops *o, size_t gi, sd_bus_error *err)
{
	_cleanup_free_ size_t *deps = NULL;
	size_t n = 0;
	int r;

	r = agent_groups_dependents_closure(o->groups, gi, &deps, &n);
	if (r < 0)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t k = 1; k < n; k++) { /* deps[0] is gi itself */
		bool was_online = o->model->groups[deps[k]].persistent_state == CONFIG_TARGET_ONLINE;

		r = group_set_targets(o, deps[k], CONFIG_TARGET_OFFLINE, NULL, 0, err);
		if (r < 0)
			return r;
		if (was_online)
			log_info("Group %s: offline requested, because it depends on group %s.",
				 o->model->groups[deps[k]].name, o->model->groups[gi].name);
	}
	return 0;
}

int agent_ops_group_offline(struct agent_ops *o, const char *name, uint32_t flags,
			    const void *params, size_t params_len, struct agent_ops_result *ret,
			    sd_bus_error *err)
{
	const char *reason = NULL;
	struct agent_group *g;
	size_t gi = 0, at = 0;
	int r;

	r = ops_ready_group(o, name, &gi, err);
	if (r < 0)
		return r;
	g = &o->model->groups[gi];
	if (flags & ~CONTROL_FLAG_IGNORE_LOCKED)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Group '%s': unknown flags 0x%x for OfflineGroup (0x%x ignores the "
				"locked status; no other flag exists).",
				g->name, flags & ~CONTROL_FLAG_IGNORE_LOCKED,
				CONTROL_FLAG_IGNORE_LOCKED);
	if (params_len > CONTROL_PARAMS_MAX)
		return ops_fail(err, CONTROL_ERROR_TOO_BIG,
				"Group '%s': the offline parameters take %zu bytes, more than the "
				"%u a monitor's command carries.",
				g->name, params_len, CONTROL_PARAMS_MAX);
	if (params_len > 0 && proplist_validate(params, params_len, &at, &reason) < 0)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Group '%s': the offline parameters are not a property list: %s "
				"(at byte %zu).",
				g->name, reason ?: "malformed", at);
	if (!(flags & CONTROL_FLAG_IGNORE_LOCKED)) {
		r = check_locked(o, gi, err);
		if (r < 0)
			return r;
	}
	r = dependent_groups_offline(o, gi, err);
	if (r < 0)
		return r;
	r = group_set_targets(o, gi, CONFIG_TARGET_OFFLINE, params_len > 0 ? params : NULL,
			      params_len, err);
	if (r < 0)
		return r;
	log_info("Group %s: offline requested (%s%s).", g->name, group_state_name(g->state),
		 flags & CONTROL_FLAG_IGNORE_LOCKED ? ", locked status ignored" : "");
	r = offline_failed(o, gi, err);
	if (r < 0)
		return r;
	group_result(o, gi, g->state == HAGENT_GROUP_OFFLINE, ret);
	return 0;
}

/* ---- group properties ---- */

static int group_prop_fail(sd_bus_error *err, int r, const char *name, const char *key)
{
	key = key ?: "?";
	switch (r) {
	case -EINVAL:
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Group '%s': invalid property '%s' (a group has FailoverThreshold "
				"and FailoverPeriod, each a number, each given once).",
				name, key);
	case -ERANGE:
		return ops_fail(err, CONTROL_ERROR_OUT_OF_RANGE,
				"Group '%s': property '%s' is out of range (FailoverThreshold "
				"0..%u, or %u for the number of nodes - 1; FailoverPeriod %u..%u "
				"hours).",
				name, key, GROUP_FAILOVER_THRESHOLD_MAX,
				GROUP_FAILOVER_THRESHOLD_NODES, GROUP_FAILOVER_PERIOD_MIN_H,
				GROUP_FAILOVER_PERIOD_MAX_H);
	case -ENOENT:
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Group '%s': the configuration database does not match hagentd's "
				"state (not there).",
				name);
	default:
		return ops_store_fail(err, r, "Group", name);
	}
}

int agent_ops_group_set(struct agent_ops *o, const char *name, const struct config_prop *props,
			size_t n_props, sd_bus_error *err)
{
	_cleanup_free_ struct config_prop *req = NULL;
	struct config_group cg = {};
	const char *key = NULL;
	size_t gi = 0;
	int r;

	r = ops_ready_group(o, name, &gi, err);
	if (r < 0)
		return r;
	name = o->model->groups[gi].name;
	if (n_props == 0)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Group '%s': no property to set.", name);
	req = calloc(n_props, sizeof(*req));
	if (!req)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t k = 0; k < n_props; k++)
		req[k] =
			(struct config_prop){props[k].key, *props[k].value ? props[k].value : NULL};
	r = config_store_group_set_props(o->store, name, req, n_props, &key);
	if (r < 0)
		return group_prop_fail(err, r, name, key);
	r = config_store_group_get(o->store, name, &cg);
	if (r >= 0)
		r = agent_model_group_set_props(o->model, gi, &cg.common);
	config_group_done(&cg);
	if (r < 0) /* committed, but not applied: the next start applies it */
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Group '%s': the properties are stored but could not be applied "
				"now: %s.",
				name, strerror(-r));
	agent_groups_props_changed(o->groups, gi);
	log_info("Group %s: %zu properties set.", name, n_props);
	return 0;
}

/* ---- resource dependencies ---- */

/* The two ends of a dependency: found, distinct, in one group. */
static int dep_ends(struct agent_ops *o, const char *dependent, const char *provider, size_t *ret_d,
		    size_t *ret_p, sd_bus_error *err)
{
	const struct agent_resource *d, *p;
	size_t di = 0, pi = 0;
	int r;

	r = ops_ready_resource(o, dependent, &di, err);
	if (r >= 0)
		r = ops_find_resource(o, provider, &pi, err);
	if (r < 0)
		return r;
	d = &o->model->resources[di];
	p = &o->model->resources[pi];
	if (di == pi)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Resource '%s' cannot depend on itself.", d->name);
	if (d->group != p->group)
		return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
				"Resource '%s' (group '%s') cannot depend on '%s' (group '%s'): "
				"resource dependencies stay inside one group.",
				d->name, o->model->groups[d->group].name, p->name,
				o->model->groups[p->group].name);
	*ret_d = di;
	*ret_p = pi;
	return 0;
}

int agent_ops_dep_add(struct agent_ops *o, const char *dependent, const char *provider,
		      sd_bus_error *err)
{
	const struct agent_resource *d, *p;
	const struct res_fsm *f;
	size_t di = 0, pi = 0;
	int r;

	r = dep_ends(o, dependent, provider, &di, &pi, err);
	if (r < 0)
		return r;
	d = &o->model->resources[di];
	p = &o->model->resources[pi];
	f = agent_resources_fsm(o->resources, di);
	/* semantics.md §5.3 refuses it while both are Online; an Online dependent of a
	 * provider that is not would break "D online => P online": refused as well. */
	if (f && (f->state == HAGENT_RESOURCE_ONLINE || f->state == HAGENT_RESOURCE_ONLINE_PENDING))
		return ops_fail(err, CONTROL_ERROR_RESOURCE_ONLINE,
				"Resource '%s' is %s; take it offline before it gets a new "
				"dependency.",
				d->name, ops_state_name(f->state));
	r = config_store_dep_add(o->store, d->name, p->name);
	switch (r) {
	case 0:
		break;
	case -EEXIST:
		return ops_fail(err, CONTROL_ERROR_EXISTS, "Resource '%s' already depends on '%s'.",
				d->name, p->name);
	case -ELOOP:
		return ops_fail(err, CONTROL_ERROR_CIRCULAR_DEPENDENCY,
				"Resource '%s' cannot depend on '%s': '%s' already depends on '%s' "
				"(directly or through others), which would make a cycle.",
				d->name, p->name, p->name, d->name);
	case -EMLINK:
		return ops_fail(err, CONTROL_ERROR_TREE_TOO_COMPLEX,
				"Resource '%s' cannot depend on '%s': the dependency tree would be "
				"deeper than %d.",
				d->name, p->name, CONFIG_DEP_DEPTH_MAX);
	case -ENOENT:
	case -EXDEV:
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Resource '%s': the configuration database does not match "
				"hagentd's state (%s).",
				d->name, strerror(-r));
	default:
		return ops_store_fail(err, r, "Resource", d->name);
	}
	r = agent_model_dep_add(o->model, di, pi);
	if (r < 0) {
		int k = config_store_dep_remove(o->store, d->name, p->name);

		if (k < 0)
			log_error_errno(k, "Resource %s: failed to undo a dependency: %m", d->name);
		return ops_fail(err, CONTROL_ERROR_FAILED, "Resource '%s': %s.", d->name,
				strerror(-r));
	}
	log_info("Resource %s: depends on %s now.", d->name, p->name);
	agent_groups_deps_changed(o->groups, d->group, di);
	return 0;
}

int agent_ops_dep_remove(struct agent_ops *o, const char *dependent, const char *provider,
			 sd_bus_error *err)
{
	const struct agent_resource *d, *p;
	size_t di = 0, pi = 0;
	int r;

	r = dep_ends(o, dependent, provider, &di, &pi, err);
	if (r < 0)
		return r;
	d = &o->model->resources[di];
	p = &o->model->resources[pi];
	r = config_store_dep_remove(o->store, d->name, p->name);
	if (r == -ENOENT)
		return ops_fail(err, CONTROL_ERROR_NOT_FOUND,
				"Resource '%s' does not depend on '%s'.", d->name, p->name);
	if (r < 0)
		return ops_store_fail(err, r, "Resource", d->name);
	if (agent_model_dep_remove(o->model, di, pi) < 0)
		log_error("Resource %s: hagentd did not know its dependency on %s.", d->name,
			  p->name);
	log_info("Resource %s: no longer depends on %s.", d->name, p->name);
	agent_groups_deps_changed(o->groups, d->group, di);
	return 0;
}
