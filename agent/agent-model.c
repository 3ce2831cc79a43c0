/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Builds hagentd's model from a configuration snapshot: slots, binary ids,
 * type names, effective properties, dependencies and group members; and the
 * group state derivation of semantics.md §5.1.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/param.h>
#include <sys/types.h>

#include "agent-model.h"
#include "hagent/shm.h"
#include "resource-props.h"
#include "shm-writer.h"

/* 32 lower-case hex characters to 16 bytes. */
static int id_parse(const char *hex, uint8_t ret[SHM_ID_SIZE])
{
	uint8_t id[SHM_ID_SIZE];

	if (strlen(hex) != 2 * SHM_ID_SIZE)
		return -EBADMSG;
	for (unsigned i = 0; i < SHM_ID_SIZE; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EBADMSG;
		id[i] = (uint8_t) v;
	}
	memcpy(ret, id, SHM_ID_SIZE);
	return 0;
}

static int append(char **buf, size_t *len, const char *key, const char *value)
{
	size_t n = strlen(key) + 1 + strlen(value) + 1;
	char *p;

	if (*len + n > SHM_BLOB_MAX)
		return -E2BIG;
	p = realloc(*buf, *len + n);
	if (!p)
		return -ENOMEM;
	sprintf(p + *len, "%s=%s", key, value); /* writes the terminating NUL too */
	*buf = p;
	*len += n;
	return 0;
}

/* The common properties with their effective values, then the private ones by key. */
/* The common properties with their effective values, then the private ones by key. */
static int props_build(const struct config_resource *cr, struct agent_resource *r)
{
	const struct res_props *c = &cr->common;
	const struct {
		const char *key;
		uint32_t value;
	} common[] = {
		{"PendingTimeout", c->pending_timeout_ms},
		{"DeadlockTimeout", c->deadlock_timeout_ms},
		{"LooksAlivePollInterval", c->looks_alive_ms},
		{"IsAlivePollInterval", c->is_alive_ms},
		{"RestartAction", c->restart_action},
		{"RestartThreshold", c->restart_threshold},
		{"RestartPeriod", c->restart_period_ms},
		{"RestartDelay", c->restart_delay_ms},
		{"RetryPeriodOnFailure", c->retry_period_ms},
	};
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r2;

	for (size_t i = 0; i < ELEMENTSOF(common); i++) {
		char v[16];

		snprintf(v, sizeof(v), "%u", common[i].value);
		r2 = append(&buf, &len, common[i].key, v);
		if (r2 < 0)
			return r2;
	}
	for (size_t i = 0; i < cr->n_props; i++) {
		struct res_props scratch;

		res_props_init(&scratch);
		if (res_props_set(&scratch, cr->props[i].key, 0) != -ENOENT)
			continue; /* a common one: already there with its effective value */
		r2 = append(&buf, &len, cr->props[i].key, cr->props[i].value);
		if (r2 < 0)
			return r2;
	}
	free(r->props);
	r->props_len = (uint32_t) len;
	r->props = TAKE_PTR(buf);
	r->common = cr->common;
	return 0;
}

/* A free index of an array of max entries, [0, *n) in use or freed. */
static ssize_t index_take(size_t *free_list, size_t *n_free, size_t *n, size_t max)
{
	if (*n_free > 0)
		return (ssize_t) free_list[--*n_free];
	if (*n >= max)
		return -ENOSPC;
	return (ssize_t) (*n)++;
}

void agent_model_id_hex(const uint8_t id[SHM_ID_SIZE], char ret[SHM_ID_SIZE * 2 + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SHM_ID_SIZE; i++) {
		ret[2 * i] = hex[id[i] >> 4];
		ret[2 * i + 1] = hex[id[i] & 0xf];
	}
	ret[SHM_ID_SIZE * 2] = '\0';
}

ssize_t agent_model_group_find(const struct agent_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_groups; i++)
		if (m->groups[i].used && strcasecmp(m->groups[i].name, name) == 0)
			return (ssize_t) i;
	return -ENOENT;
}

ssize_t agent_model_resource_find(const struct agent_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_resources; i++) {
		const struct agent_resource *r = &m->resources[i];

		if (r->used && !r->removing && strcasecmp(r->name, name) == 0)
			return (ssize_t) i;
	}
	return -ENOENT;
}

/* An index of the group with this id (hex), or -EBADMSG. */
static ssize_t group_by_hex(const struct agent_model *m, const char *hex)
{
	uint8_t id[SHM_ID_SIZE];

	if (id_parse(hex, id) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < m->n_groups; i++)
		if (m->groups[i].used && memcmp(m->groups[i].id, id, SHM_ID_SIZE) == 0)
			return (ssize_t) i;
	return -EBADMSG;
}

/* The segment's view of a group's properties: "FailoverThreshold=N\0FailoverPeriod=N\0". */
int agent_model_group_set_props(struct agent_model *m, size_t gi, const struct group_props *p)
{
	struct agent_group *g = &m->groups[gi];
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	char v[16];
	int k;

	snprintf(v, sizeof(v), "%" PRIu32, p->failover_threshold);
	k = append(&buf, &len, "FailoverThreshold", v);
	if (k >= 0) {
		snprintf(v, sizeof(v), "%" PRIu32, p->failover_period_h);
		k = append(&buf, &len, "FailoverPeriod", v);
	}
	if (k < 0)
		return k;
	free(g->props);
	g->props = TAKE_PTR(buf);
	g->props_len = (uint32_t) len;
	g->common = *p;
	return 0;
}

int agent_model_group_add(struct agent_model *m, const struct shm_writer *w,
			  const struct config_group *cg, size_t *ret)
{
	uint8_t id[SHM_ID_SIZE];
	struct agent_group *g;
	ssize_t i;
	int k;

	if (id_parse(cg->id, id) < 0)
		return -EBADMSG;
	i = index_take(m->free_groups, &m->n_free_groups, &m->n_groups, m->max_groups);
	if (i < 0)
		return (int) i;
	g = &m->groups[i];
	*g = (struct agent_group){
		.used = true,
		.slot = shm_writer_group_slot(w, (uint32_t) i),
		.state = HAGENT_GROUP_OFFLINE,
		.state_seq = 1,
		.persistent_state = (int32_t) cg->target,
	};
	memcpy(g->id, id, SHM_ID_SIZE);
	snprintf(g->name, sizeof(g->name), "%s", cg->name);
	k = agent_model_group_set_props(m, (size_t) i, &cg->common);
	if (k < 0) {
		*g = (struct agent_group){};
		m->free_groups[m->n_free_groups++] = (size_t) i;
		return k;
	}
	m->live_groups++;
	*ret = (size_t) i;
	return 0;
}

int agent_model_group_set_deps(struct agent_model *m, size_t gi, const char *expr,
			       const size_t *providers, size_t n)
{
	struct agent_group *g = &m->groups[gi];
	_cleanup_free_ size_t *p = NULL;
	_cleanup_free_ char *e = NULL;

	if (n > 0) {
		p = calloc(n, sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, providers, n * sizeof(*p));
	}
	if (expr && expr[0]) {
		e = strdup(expr);
		if (!e)
			return -ENOMEM;
	}
	free(g->providers);
	free(g->dep_expr);
	g->providers = TAKE_PTR(p);
	g->n_providers = n;
	g->dep_expr = TAKE_PTR(e);
	return 0;
}

bool agent_model_group_depends_on(const struct agent_model *m, size_t gi, size_t p)
{
	const struct agent_group *g = &m->groups[gi];

	for (size_t k = 0; k < g->n_providers; k++)
		if (g->providers[k] == p)
			return true;
	return false;
}

void agent_model_group_remove(struct agent_model *m, size_t gi)
{
	struct agent_group *g = &m->groups[gi];

	assert(g->used && g->n_members == 0);
	free(g->members);
	free(g->props);
	free(g->providers);
	free(g->dep_expr);
	*g = (struct agent_group){};
	m->free_groups[m->n_free_groups++] = gi;
	m->live_groups--;
}

static int members_append(struct agent_group *g, size_t i)
{
	size_t *n = reallocarray(g->members, g->n_members + 1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n[g->n_members++] = i;
	g->members = n;
	return 0;
}

int agent_model_resource_add(struct agent_model *m, const struct shm_writer *w,
			     const struct config_resource *cr, const char *type, size_t g,
			     size_t *ret)
{
	struct agent_resource *r;
	uint8_t id[SHM_ID_SIZE];
	ssize_t i;
	int k;

	assert(g < m->n_groups && m->groups[g].used);
	if (id_parse(cr->id, id) < 0)
		return -EBADMSG;
	i = index_take(m->free_resources, &m->n_free_resources, &m->n_resources, m->max_resources);
	if (i < 0)
		return (int) i;
	r = &m->resources[i];
	*r = (struct agent_resource){
		.used = true,
		.slot = shm_writer_resource_slot(w, (uint32_t) i),
		.group = g,
		.state = HAGENT_RESOURCE_INITIALIZING, /* the monitor is not started yet */
		.state_seq = 1,
		.persistent_state = (int32_t) cr->target,
	};
	memcpy(r->id, id, SHM_ID_SIZE);
	snprintf(r->name, sizeof(r->name), "%s", cr->name);
	/* Type names longer than SHM_TYPE_MAX - 1 bytes are cut. */
	memcpy(r->type, type, MIN(strlen(type), sizeof(r->type) - 1));
	k = props_build(cr, r);
	if (k >= 0)
		k = members_append(&m->groups[g], (size_t) i);
	if (k < 0) {
		free(r->props);
		*r = (struct agent_resource){};
		m->free_resources[m->n_free_resources++] = (size_t) i;
		return k;
	}
	m->live_resources++;
	*ret = (size_t) i;
	return 0;
}

/* Removes every occurrence of v from a[0..*n). */
static void index_drop(size_t *a, size_t *n, size_t v)
{
	size_t j = 0;

	for (size_t i = 0; i < *n; i++)
		if (a[i] != v)
			a[j++] = a[i];
	*n = j;
}

void agent_model_resource_remove(struct agent_model *m, size_t i)
{
	struct agent_resource *r = &m->resources[i];

	assert(r->used);
	struct agent_group *g = &m->groups[r->group];

	/* Dependencies stay inside a group: only its members can name i. */
	for (size_t j = 0; j < g->n_members; j++) {
		struct agent_resource *d = &m->resources[g->members[j]];

		if (d->n_deps > 0)
			index_drop(d->deps, &d->n_deps, i);
	}
	index_drop(g->members, &g->n_members, i);
	free(r->props);
	free(r->deps);
	*r = (struct agent_resource){};
	m->free_resources[m->n_free_resources++] = i;
	m->live_resources--;
}

int agent_model_resource_set_props(struct agent_model *m, size_t i,
				   const struct config_resource *cr)
{
	assert(m->resources[i].used);
	return props_build(cr, &m->resources[i]);
}

static const char *type_name(const struct config_snapshot *snap, const char *id)
{
	for (size_t i = 0; i < snap->n_types; i++)
		if (strcmp(snap->types[i].id, id) == 0)
			return snap->types[i].name;
	return NULL;
}

/* The index of the resource with this id (hex), or -EBADMSG. */
static ssize_t resource_by_hex(const struct agent_model *m, const char *hex)
{
	uint8_t id[SHM_ID_SIZE];

	if (id_parse(hex, id) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < m->n_resources; i++)
		if (m->resources[i].used && memcmp(m->resources[i].id, id, SHM_ID_SIZE) == 0)
			return (ssize_t) i;
	return -EBADMSG;
}

static int deps_build(const struct config_snapshot *snap, struct agent_model *m)
{
	for (size_t i = 0; i < snap->n_deps; i++) {
		ssize_t d = resource_by_hex(m, snap->deps[i].dependent_id);
		ssize_t p = resource_by_hex(m, snap->deps[i].provider_id);
		struct agent_resource *r;
		size_t *n;

		if (d < 0 || p < 0)
			return -EBADMSG;
		r = &m->resources[d];
		n = reallocarray(r->deps, r->n_deps + 1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n[r->n_deps++] = (size_t) p;
		r->deps = n;
	}
	return 0;
}

/* The group dependencies of snap, and each group's stored expression. */
static int group_deps_build(const struct config_snapshot *snap, struct agent_model *m)
{
	for (size_t i = 0; i < snap->n_group_deps; i++) {
		ssize_t d = group_by_hex(m, snap->group_deps[i].dependent_id);
		ssize_t p = group_by_hex(m, snap->group_deps[i].provider_id);
		struct agent_group *g;
		size_t *n;

		if (d < 0 || p < 0 || d == p)
			return -EBADMSG;
		g = &m->groups[d];
		n = reallocarray(g->providers, g->n_providers + 1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n[g->n_providers++] = (size_t) p;
		g->providers = n;
	}
	for (size_t i = 0; i < snap->n_groups; i++) {
		ssize_t g = group_by_hex(m, snap->groups[i].id);
		const char *e = snap->groups[i].dep_expr;

		if (g < 0)
			return -EBADMSG;
		if (e && e[0]) {
			m->groups[g].dep_expr = strdup(e);
			if (!m->groups[g].dep_expr)
				return -ENOMEM;
		}
	}
	return 0;
}

int agent_model_new(const struct config_snapshot *snap, const struct shm_writer *w,
		    uint32_t max_resources, uint32_t max_groups, struct agent_model **ret)
{
	_cleanup_(agent_model_freep) struct agent_model *m = NULL;
	int r;

	assert(snap && w && ret);
	if (snap->n_resources > max_resources || snap->n_groups > max_groups)
		return -E2BIG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->max_groups = max_groups;
	m->max_resources = max_resources;
	m->groups = calloc(max_groups, sizeof(*m->groups));
	m->free_groups = calloc(max_groups, sizeof(*m->free_groups));
	m->resources = calloc(max_resources, sizeof(*m->resources));
	m->free_resources = calloc(max_resources, sizeof(*m->free_resources));
	if (!m->groups || !m->free_groups || !m->resources || !m->free_resources)
		return -ENOMEM;
	for (size_t i = 0; i < snap->n_groups; i++) {
		size_t g;

		r = agent_model_group_add(m, w, &snap->groups[i], &g);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < snap->n_resources; i++) {
		const struct config_resource *cr = &snap->resources[i];
		const char *type = type_name(snap, cr->type_id);
		ssize_t g = group_by_hex(m, cr->group_id);
		size_t ri;

		if (g < 0 || !type)
			return -EBADMSG;
		r = agent_model_resource_add(m, w, cr, type, (size_t) g, &ri);
		if (r < 0)
			return r;
	}
	r = deps_build(snap, m);
	if (r >= 0)
		r = group_deps_build(snap, m);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_groups; i++)
		m->groups[i].state = agent_group_derive_state(m, &m->groups[i]);
	*ret = TAKE_PTR(m);
	return 0;
}

struct agent_model *agent_model_free(struct agent_model *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_resources; i++) {
		free(m->resources[i].props);
		free(m->resources[i].deps);
	}
	for (size_t i = 0; i < m->n_groups; i++) {
		free(m->groups[i].members);
		free(m->groups[i].props);
		free(m->groups[i].providers);
		free(m->groups[i].dep_expr);
	}
	free(m->resources);
	free(m->free_resources);
	free(m->groups);
	free(m->free_groups);
	free(m);
	return NULL;
}

int agent_model_dep_add(struct agent_model *m, size_t d, size_t p)
{
	struct agent_resource *r = &m->resources[d];
	size_t *n;

	assert(r->used && m->resources[p].used && m->resources[p].group == r->group);
	n = reallocarray(r->deps, r->n_deps + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->deps = n;
	r->deps[r->n_deps++] = p;
	return 0;
}

int agent_model_dep_remove(struct agent_model *m, size_t d, size_t p)
{
	struct agent_resource *r = &m->resources[d];
	size_t n = r->n_deps;

	index_drop(r->deps, &r->n_deps, p);
	return r->n_deps < n ? 0 : -ENOENT;
}

int32_t agent_group_derive_state(const struct agent_model *m, const struct agent_group *g)
{
	bool failed = false, pending = false;
	size_t online = 0;

	for (size_t i = 0; i < g->n_members; i++) {
		switch (m->resources[g->members[i]].state) {
		case HAGENT_RESOURCE_FAILED:
			failed = true;
			break;
		case HAGENT_RESOURCE_ONLINE_PENDING:
		case HAGENT_RESOURCE_OFFLINE_PENDING:
		case 128: /* generic Pending */
			pending = true;
			break;
		case HAGENT_RESOURCE_ONLINE:
			online++;
			break;
		default: /* Offline, Initializing, Inherited: offline */
			break;
		}
	}
	if (failed)
		return HAGENT_GROUP_FAILED;
	if (pending)
		return HAGENT_GROUP_PENDING;
	if (online > 0 && online < g->n_members)
		return HAGENT_GROUP_PARTIAL_ONLINE;
	if (online > 0)
		return HAGENT_GROUP_ONLINE;
	return HAGENT_GROUP_OFFLINE;
}
