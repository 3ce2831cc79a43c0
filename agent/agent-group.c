/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The group layer: dependency order inside a group, providers that go away,
 * and the group restart that a RestartAction 2 escalation asks for.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent-group.h"
#include "agent-publish.h"
#include "failover-policy.h"
#include "hagent/shm.h"
#include "log.h"

#define CLUSTER_NODES 1 /* one node until the multi-node issue: failover = restart in place */

enum { DOOMED_UNKNOWN, DOOMED_NO, DOOMED_YES };

struct grp {
	bool restarting; /* a group restart takes every member down before it starts them again */
	bool seen;	 /* last_state holds something */
	int32_t last_state; /* derived state at the last pass: a change concerns other groups */
	/* Scratch of one pass: */
	bool providers_ready; /* every provider group is Online and meant to stay so */
	bool dependents_up;   /* a group depending on this one has a member up */
	struct failover_policy failovers;
};

struct agent_groups {
	struct agent_model *model;
	struct agent_resources *rs;
	struct grp *grps;   /* model->max_groups entries */
	bool *kick;	    /* per resource: a Failed member gets an online attempt when it may */
	bool *up_dependent; /* per resource, scratch of one pass: a dependent is up */
	uint8_t *doomed;    /* per resource, scratch of one pass: DOOMED_* */
	size_t *stack;	    /* per resource, scratch of agent_groups_closure() */
	bool shutting_down; /* agent_groups_shutdown(): everything down, persistent states kept */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static int32_t fsm_state(const struct agent_groups *gs, size_t i)
{
	const struct res_fsm *f = agent_resources_fsm(gs->rs, i);

	return f ? f->state : HAGENT_RESOURCE_INITIALIZING;
}

/* Online, or on its way there or back: a dependent that holds its providers. */
static bool is_up(int32_t state)
{
	return state == HAGENT_RESOURCE_ONLINE || state == HAGENT_RESOURCE_ONLINE_PENDING ||
	       state == HAGENT_RESOURCE_OFFLINE_PENDING;
}

/* A provider that counts: one being removed is no longer in the configuration. */
static bool edge_live(const struct agent_model *m, size_t p)
{
	return m->resources[p].used && !m->resources[p].removing;
}

static bool wants_online(const struct agent_groups *gs, size_t i)
{
	const struct agent_resource *r = &gs->model->resources[i];

	return r->persistent_state == CONFIG_TARGET_ONLINE && !gs->grps[r->group].restarting &&
	       !gs->shutting_down;
}

/*
 * Resource i must go down whatever it wants: a provider is not Online, or
 * must go down itself.  Memoised per pass (gs->doomed); the dependency graph
 * is acyclic and at most CONFIG_DEP_DEPTH_MAX deep, so the recursion ends.
 */
static bool doomed(const struct agent_groups *gs, size_t i)
{
	const struct agent_resource *r = &gs->model->resources[i];
	bool yes = false;

	if (gs->doomed[i] != DOOMED_UNKNOWN)
		return gs->doomed[i] == DOOMED_YES;
	for (size_t k = 0; k < r->n_deps && !yes; k++) {
		size_t p = r->deps[k];

		yes = edge_live(gs->model, p) &&
		      (fsm_state(gs, p) != HAGENT_RESOURCE_ONLINE || doomed(gs, p));
	}
	gs->doomed[i] = yes ? DOOMED_YES : DOOMED_NO;
	return yes;
}

/* Every provider is Online, meant to stay online, and not about to go down. */
static bool providers_ready(const struct agent_groups *gs, size_t i)
{
	const struct agent_resource *r = &gs->model->resources[i];

	for (size_t k = 0; k < r->n_deps; k++) {
		size_t p = r->deps[k];

		if (!edge_live(gs->model, p))
			continue;
		if (fsm_state(gs, p) != HAGENT_RESOURCE_ONLINE || !wants_online(gs, p) ||
		    doomed(gs, p))
			return false;
	}
	return true;
}

/* The per-pass memo of doomed(): forgotten for the members of g. */
static void doomed_forget(struct agent_groups *gs, const struct agent_group *g)
{
	for (size_t j = 0; j < g->n_members; j++)
		gs->doomed[g->members[j]] = DOOMED_UNKNOWN;
}

bool agent_groups_providers_online(struct agent_groups *gs, size_t i)
{
	doomed_forget(gs, &gs->model->groups[gs->model->resources[i].group]);
	return providers_ready(gs, i);
}

bool agent_groups_dependents_up(const struct agent_groups *gs, size_t i)
{
	const struct agent_model *m = gs->model;
	const struct agent_group *g = &m->groups[m->resources[i].group];

	for (size_t j = 0; j < g->n_members; j++) {
		const struct agent_resource *d = &m->resources[g->members[j]];

		if (d->removing || !is_up(fsm_state(gs, g->members[j])))
			continue;
		for (size_t k = 0; k < d->n_deps; k++)
			if (d->deps[k] == i)
				return true;
	}
	return false;
}

int agent_groups_closure(const struct agent_groups *gs, size_t i, bool providers, size_t **ret,
			 size_t *ret_n)
{
	const struct agent_model *m = gs->model;
	const struct agent_group *g = &m->groups[m->resources[i].group];
	_cleanup_free_ bool *seen = calloc(m->n_resources, sizeof(bool));
	_cleanup_free_ size_t *out = calloc(g->n_members + 1, sizeof(size_t));
	size_t n = 0, top = 0;

	if (!seen || !out)
		return -ENOMEM;
	seen[i] = true;
	out[n++] = i;
	gs->stack[top++] = i;
	while (top > 0) { /* each member is pushed once: the stack holds at most all of them */
		size_t x = gs->stack[--top];

		if (providers) {
			const struct agent_resource *r = &m->resources[x];

			for (size_t k = 0; k < r->n_deps; k++) {
				size_t p = r->deps[k];

				if (seen[p] || !edge_live(m, p))
					continue;
				seen[p] = true;
				out[n++] = p;
				gs->stack[top++] = p;
			}
			continue;
		}
		for (size_t j = 0; j < g->n_members; j++) {
			size_t d = g->members[j];
			const struct agent_resource *r = &m->resources[d];

			if (seen[d] || r->removing)
				continue;
			for (size_t k = 0; k < r->n_deps; k++)
				if (r->deps[k] == x) {
					seen[d] = true;
					out[n++] = d;
					gs->stack[top++] = d;
					break;
				}
		}
	}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

/* ---- group dependencies (semantics.md §6.6) ---- */

/* Every group gi names in its dependency expression is Online and meant to stay so. */
static bool group_providers_ready(const struct agent_groups *gs, size_t gi)
{
	const struct agent_model *m = gs->model;
	const struct agent_group *g = &m->groups[gi];

	for (size_t k = 0; k < g->n_providers; k++) {
		const struct agent_group *p = &m->groups[g->providers[k]];

		if (!p->used)
			continue;
		if (p->persistent_state != CONFIG_TARGET_ONLINE ||
		    agent_group_derive_state(m, p) != HAGENT_GROUP_ONLINE)
			return false;
	}
	return true;
}

/* A group whose expression names gi has a member Online or pending: it stops first. */
static bool group_dependents_up(const struct agent_groups *gs, size_t gi)
{
	const struct agent_model *m = gs->model;

	for (size_t d = 0; d < m->n_groups; d++) {
		const struct agent_group *g = &m->groups[d];

		if (!g->used || !agent_model_group_depends_on(m, d, gi))
			continue;
		for (size_t j = 0; j < g->n_members; j++)
			if (!m->resources[g->members[j]].removing &&
			    is_up(fsm_state(gs, g->members[j])))
				return true;
	}
	return false;
}

/* Group gi's derived state changed: its provider and dependent groups get a pass. */
static void group_neighbours_mark(struct agent_groups *gs, size_t gi)
{
	const struct agent_model *m = gs->model;
	const struct agent_group *g = &m->groups[gi];

	for (size_t k = 0; k < g->n_providers; k++)
		if (m->groups[g->providers[k]].used)
			agent_resources_group_changed(gs->rs, g->providers[k], 0, false);
	for (size_t d = 0; d < m->n_groups; d++)
		if (m->groups[d].used && agent_model_group_depends_on(m, d, gi))
			agent_resources_group_changed(gs->rs, d, 0, false);
}

/* Persistently online with a member that would start but for its provider groups. */
static bool group_waiting(const struct agent_groups *gs, size_t gi)
{
	const struct agent_group *g = &gs->model->groups[gi];

	if (gs->grps[gi].providers_ready || g->persistent_state != CONFIG_TARGET_ONLINE)
		return false;
	for (size_t j = 0; j < g->n_members; j++) {
		size_t i = g->members[j];
		int32_t state = fsm_state(gs, i);

		if (wants_online(gs, i) &&
		    (state == HAGENT_RESOURCE_OFFLINE ||
		     (state == HAGENT_RESOURCE_FAILED && gs->kick[i])))
			return true;
	}
	return false;
}

/* ---- the pass ---- */

/* Marks, for this pass, each member that has a dependent up. */
static void mark_up_dependents(struct agent_groups *gs, const struct agent_group *g)
{
	const struct agent_model *m = gs->model;

	for (size_t j = 0; j < g->n_members; j++)
		gs->up_dependent[g->members[j]] = false;
	for (size_t j = 0; j < g->n_members; j++) {
		const struct agent_resource *d = &m->resources[g->members[j]];

		if (d->removing || !is_up(fsm_state(gs, g->members[j])))
			continue;
		for (size_t k = 0; k < d->n_deps; k++)
			gs->up_dependent[d->deps[k]] = true;
	}
}

static void request(struct agent_groups *gs, size_t i, enum res_event_kind kind, bool system)
{
	const char *name = gs->model->resources[i].name;
	uint32_t win32;
	int k, error = 0;

	if (system)
		k = agent_resources_system(gs->rs, i, kind);
	else
		k = agent_resources_request(gs->rs, i, kind, false, &error, &win32);
	if (k >= 0 && error != -EINPROGRESS)
		k = error;
	if (k < 0)
		log_warning_errno(k, "Resource %s: the group layer's %s was refused: %m", name,
				  res_event_kind_to_string(kind));
}

/* The next step of member i toward what it should be, if one is due. */
static void member_step(struct agent_groups *gs, size_t i)
{
	const struct agent_resource *r = &gs->model->resources[i];
	const struct grp *gr = &gs->grps[r->group];
	bool restarting = gr->restarting;
	bool want = wants_online(gs, i);

	switch (fsm_state(gs, i)) {
	case HAGENT_RESOURCE_ONLINE:
		if ((want && !doomed(gs, i)) || gs->up_dependent[i])
			return; /* fine as it is, or its dependents go first */
		if ((r->persistent_state != CONFIG_TARGET_ONLINE || gs->shutting_down) &&
		    gr->dependents_up)
			return; /* an offline waits for the groups depending on this one */
		/* A provider gone, or a restart: down, but the persistent state stays online. */
		request(gs, i, RES_EV_REQ_OFFLINE, r->persistent_state == CONFIG_TARGET_ONLINE);
		return;
	case HAGENT_RESOURCE_ONLINE_PENDING:
		/*
		 * A group offline lets it get there first; a lost provider, a restart
		 * or the agent's stop do not: they terminate it (the persistent state
		 * stays).
		 */
		if (restarting || doomed(gs, i) || gs->shutting_down)
			request(gs, i, RES_EV_REQ_TERMINATE, true);
		return;
	case HAGENT_RESOURCE_OFFLINE:
		if (want && gr->providers_ready && providers_ready(gs, i))
			request(gs, i, RES_EV_REQ_ONLINE, false);
		return;
	case HAGENT_RESOURCE_FAILED:
		if (!want || !providers_ready(gs, i))
			return;
		if (gs->kick[i] && !gr->providers_ready)
			return; /* the operator's online waits for the provider groups too */
		if (gs->kick[i]) {
			gs->kick[i] = false;
			request(gs, i, RES_EV_REQ_ONLINE, false);
		} else if (agent_resources_held(gs->rs, i))
			(void) agent_resources_release(gs->rs, i);
		return;
	default: /* Initializing, OfflinePending: nothing to decide yet */
		return;
	}
}

/* A group restart has taken every member down: bring back those meant to be online. */
static void restart_finish(struct agent_groups *gs, struct agent_group *g, struct grp *gr)
{
	const struct agent_model *m = gs->model;

	for (size_t j = 0; j < g->n_members; j++)
		if (is_up(fsm_state(gs, g->members[j])))
			return;
	gr->restarting = false;
	log_notice("Group %s: every resource is down; starting them again.", g->name);
	for (size_t j = 0; j < g->n_members; j++) {
		size_t i = g->members[j];

		if (m->resources[i].persistent_state == CONFIG_TARGET_ONLINE &&
		    fsm_state(gs, i) == HAGENT_RESOURCE_FAILED)
			gs->kick[i] = true; /* a fresh start, as on another node */
	}
}

static void reconcile(void *userdata, size_t gi)
{
	struct agent_groups *gs = userdata;
	struct agent_group *g = &gs->model->groups[gi];
	struct grp *gr = &gs->grps[gi];

	int32_t state = agent_group_derive_state(gs->model, g);
	bool waiting;

	if (!gr->seen || state != gr->last_state) {
		gr->seen = true;
		gr->last_state = state;
		group_neighbours_mark(gs, gi);
	}
	if (gr->restarting)
		restart_finish(gs, g, gr);
	gr->providers_ready = group_providers_ready(gs, gi);
	gr->dependents_up = group_dependents_up(gs, gi);
	mark_up_dependents(gs, g);
	doomed_forget(gs, g);
	/* Requests change members' states as we go; the agent runs another pass after any. */
	for (size_t j = 0; j < g->n_members; j++) {
		size_t i = g->members[j];

		if (!gs->model->resources[i].removing && agent_resources_fsm(gs->rs, i))
			member_step(gs, i);
	}
	waiting = group_waiting(gs, gi);
	if (waiting != g->waiting) {
		g->waiting = waiting;
		if (waiting)
			log_info("Group %s: waiting for its provider groups to be online.", g->name);
		agent_resources_group_changed(gs->rs, gi, 0, true); /* the record's flag */
	}
}

static void escalate(void *userdata, size_t i)
{
	struct agent_groups *gs = userdata;
	const struct agent_resource *r = &gs->model->resources[i];
	struct agent_group *g = &gs->model->groups[r->group];
	struct grp *gr = &gs->grps[r->group];
	uint32_t threshold = group_props_failover_threshold(&g->common, CLUSTER_NODES);
	uint64_t now = mono_ns();
	int v;

	if (gr->restarting) {
		log_info("Group %s: resource %s escalated during the group's restart.", g->name,
			 r->name);
		return;
	}
	v = failover_policy_record(&gr->failovers, &g->common, CLUSTER_NODES, now);
	if (v < 0) {
		log_error_errno(v, "Group %s: failed to count a failover: %m", g->name);
		return;
	}
	g->failover_count = failover_policy_count(&gr->failovers, &g->common, now);
	if (v == FAILOVER_EXCEEDED)
		log_warning("Group %s: resource %s failed beyond its restart threshold; failover "
			    "%u is over FailoverThreshold %u in %u hours: the group stays failed.",
			    g->name, r->name, g->failover_count, threshold,
			    g->common.failover_period_h);
	else {
		log_notice("Group %s: resource %s failed beyond its restart threshold; restarting "
			   "the group (failover %u of %u allowed in %u hours).",
			   g->name, r->name, g->failover_count, threshold,
			   g->common.failover_period_h);
		gr->restarting = true;
	}
	agent_resources_group_changed(gs->rs, r->group, 0, true); /* failover_count */
}

static bool may_restart(void *userdata, size_t i)
{
	struct agent_groups *gs = userdata;

	return !gs->grps[gs->model->resources[i].group].restarting && !gs->shutting_down &&
	       agent_groups_providers_online(gs, i);
}

void agent_groups_shutdown(struct agent_groups *gs)
{
	if (gs->shutting_down)
		return;
	gs->shutting_down = true;
	agent_resources_begin(gs->rs);
	for (size_t gi = 0; gi < gs->model->n_groups; gi++)
		if (gs->model->groups[gi].used)
			agent_resources_group_changed(gs->rs, gi, 0, false);
	agent_resources_end(gs->rs); /* the passes run before this commit */
}

size_t agent_groups_n_up(const struct agent_groups *gs)
{
	size_t n = 0;

	for (size_t i = 0; i < gs->model->n_resources; i++)
		if (gs->model->resources[i].used && is_up(fsm_state(gs, i)))
			n++;
	return n;
}

/* ---- operations ---- */

void agent_groups_set_targets(struct agent_groups *gs, size_t gi, const size_t *idx, size_t n,
			      bool online, const void *params, size_t params_len)
{
	agent_resources_begin(gs->rs);
	for (size_t j = 0; j < n; j++) {
		size_t i = idx[j];
		int32_t state = fsm_state(gs, i);
		int k;

		gs->kick[i] = online && state == HAGENT_RESOURCE_FAILED;
		/* This call's parameters, none if it has none or is an online: an earlier
		 * offline's may still wait on a member its dependents kept Online. */
		if (state == HAGENT_RESOURCE_ONLINE) {
			k = agent_resources_set_offline_params(gs->rs, i, online ? NULL : params,
							       online ? 0 : params_len);
			if (k < 0)
				log_error_errno(k,
						"Resource %s: failed to keep its offline "
						"parameters: %m",
						gs->model->resources[i].name);
		}
		k = agent_resources_set_target(gs->rs, i, online);
		if (k < 0)
			log_error_errno(k, "Resource %s: failed to set its persistent state: %m",
					gs->model->resources[i].name);
	}
	agent_resources_group_changed(gs->rs, gi, 0, true);
	agent_resources_end(gs->rs);
}

void agent_groups_props_changed(struct agent_groups *gs, size_t gi)
{
	struct agent_group *g = &gs->model->groups[gi];

	agent_resources_begin(gs->rs);
	g->failover_count = failover_policy_count(&gs->grps[gi].failovers, &g->common, mono_ns());
	agent_resources_group_changed(gs->rs, gi, AGENT_CHANGE_GROUP_PROPERTY, true);
	agent_resources_end(gs->rs);
}

void agent_groups_group_deps_changed(struct agent_groups *gs, size_t gi)
{
	agent_resources_begin(gs->rs);
	agent_resources_group_changed(gs->rs, gi, AGENT_CHANGE_GROUP_PROPERTY, true);
	agent_resources_end(gs->rs);
}

int agent_groups_dependents_closure(const struct agent_groups *gs, size_t gi, size_t **ret,
				    size_t *ret_n)
{
	const struct agent_model *m = gs->model;
	_cleanup_free_ bool *seen = calloc(m->n_groups ?: 1, sizeof(bool));
	_cleanup_free_ size_t *out = calloc(m->n_groups ?: 1, sizeof(size_t));
	size_t n = 0;

	if (!seen || !out)
		return -ENOMEM;
	seen[gi] = true;
	out[n++] = gi;
	/* Breadth first: out[] is its own queue; each group enters it once. */
	for (size_t q = 0; q < n; q++)
		for (size_t d = 0; d < m->n_groups; d++)
			if (m->groups[d].used && !seen[d] &&
			    agent_model_group_depends_on(m, d, out[q])) {
				seen[d] = true;
				out[n++] = d;
			}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

void agent_groups_removed(struct agent_groups *gs, size_t gi)
{
	failover_policy_done(&gs->grps[gi].failovers);
	gs->grps[gi] = (struct grp){};
}

void agent_groups_deps_changed(struct agent_groups *gs, size_t gi, size_t d)
{
	agent_resources_begin(gs->rs);
	agent_resources_republish(gs->rs, d, AGENT_CHANGE_RESOURCE_PROPERTY);
	agent_resources_group_changed(gs->rs, gi, 0, false);
	agent_resources_end(gs->rs);
}

int agent_groups_new(struct agent_model *m, struct agent_resources *rs, struct agent_groups **ret)
{
	_cleanup_(agent_groups_freep) struct agent_groups *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return -ENOMEM;
	gs->model = m;
	gs->rs = rs;
	gs->grps = calloc(m->max_groups ?: 1, sizeof(*gs->grps));
	gs->kick = calloc(m->max_resources ?: 1, sizeof(*gs->kick));
	gs->up_dependent = calloc(m->max_resources ?: 1, sizeof(*gs->up_dependent));
	gs->doomed = calloc(m->max_resources ?: 1, sizeof(*gs->doomed));
	gs->stack = calloc(m->max_resources ?: 1, sizeof(*gs->stack));
	if (!gs->grps || !gs->kick || !gs->up_dependent || !gs->doomed || !gs->stack)
		return -ENOMEM;
	agent_resources_set_group_hooks(rs, &(struct agent_group_hooks){
						    .userdata = gs,
						    .reconcile = reconcile,
						    .escalate = escalate,
						    .may_restart = may_restart,
					    });
	*ret = TAKE_PTR(gs);
	return 0;
}

struct agent_groups *agent_groups_free(struct agent_groups *gs)
{
	if (!gs)
		return NULL;
	if (gs->rs)
		agent_resources_set_group_hooks(gs->rs, &(struct agent_group_hooks){});
	for (size_t gi = 0; gs->grps && gi < gs->model->max_groups; gi++)
		failover_policy_done(&gs->grps[gi].failovers);
	free(gs->grps);
	free(gs->kick);
	free(gs->up_dependent);
	free(gs->doomed);
	free(gs->stack);
	free(gs);
	return NULL;
}
