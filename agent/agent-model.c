/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Builds hagentd's model from a configuration snapshot: slots, binary ids,
 * type names, effective properties, dependencies and group members; and the
 * group state derivation of semantics.md §5.1.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	r->props_len = (uint32_t) len;
	r->props = TAKE_PTR(buf);
	return 0;
}

static ssize_t group_find(const struct config_snapshot *snap, const char *id)
{
	for (size_t i = 0; i < snap->n_groups; i++)
		if (strcmp(snap->groups[i].id, id) == 0)
			return (ssize_t) i;
	return -ENOENT;
}

static ssize_t resource_find(const struct config_snapshot *snap, const char *id)
{
	for (size_t i = 0; i < snap->n_resources; i++)
		if (strcmp(snap->resources[i].id, id) == 0)
			return (ssize_t) i;
	return -ENOENT;
}

static const char *type_name(const struct config_snapshot *snap, const char *id)
{
	for (size_t i = 0; i < snap->n_types; i++)
		if (strcmp(snap->types[i].id, id) == 0)
			return snap->types[i].name;
	return NULL;
}

static int groups_build(const struct config_snapshot *snap, const struct shm_writer *w,
			struct agent_model *m)
{
	m->groups = calloc(snap->n_groups ?: 1, sizeof(*m->groups));
	if (!m->groups)
		return -ENOMEM;
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct agent_group *g = &m->groups[i];
		int r = id_parse(snap->groups[i].id, g->id);

		if (r < 0)
			return r;
		m->n_groups++;
		snprintf(g->name, sizeof(g->name), "%s", snap->groups[i].name);
		g->slot = shm_writer_group_slot(w, (uint32_t) i);
		g->persistent_state = (int32_t) snap->groups[i].target;
		g->state_seq = 1;
		g->members = calloc(snap->n_resources ?: 1, sizeof(*g->members));
		if (!g->members)
			return -ENOMEM;
	}
	return 0;
}

static int resource_build(const struct config_snapshot *snap, const struct shm_writer *w,
			  struct agent_model *m, size_t i)
{
	const struct config_resource *cr = &snap->resources[i];
	struct agent_resource *r = &m->resources[i];
	const char *type = type_name(snap, cr->type_id);
	ssize_t g = group_find(snap, cr->group_id);
	int k;

	if (g < 0 || !type)
		return -EBADMSG;
	k = id_parse(cr->id, r->id);
	if (k < 0)
		return k;
	snprintf(r->name, sizeof(r->name), "%s", cr->name);
	/* Type names longer than SHM_TYPE_MAX - 1 bytes are cut. */
	memcpy(r->type, type, MIN(strlen(type), sizeof(r->type) - 1));
	r->slot = shm_writer_resource_slot(w, (uint32_t) i);
	r->group = (size_t) g;
	r->state = HAGENT_RESOURCE_INITIALIZING; /* the monitor is not started yet */
	r->state_seq = 1;
	r->persistent_state = (int32_t) cr->target;
	r->common = cr->common;
	m->groups[g].members[m->groups[g].n_members++] = i;
	return props_build(cr, r);
}

static int deps_build(const struct config_snapshot *snap, struct agent_model *m)
{
	for (size_t i = 0; i < snap->n_deps; i++) {
		ssize_t d = resource_find(snap, snap->deps[i].dependent_id);
		ssize_t p = resource_find(snap, snap->deps[i].provider_id);
		struct agent_resource *r;
		size_t *n;

		if (d < 0 || p < 0)
			return -EBADMSG;
		r = &m->resources[d];
		n = realloc(r->deps, (r->n_deps + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		n[r->n_deps++] = (size_t) p;
		r->deps = n;
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
	r = groups_build(snap, w, m);
	if (r < 0)
		return r;
	m->resources = calloc(snap->n_resources ?: 1, sizeof(*m->resources));
	if (!m->resources)
		return -ENOMEM;
	for (size_t i = 0; i < snap->n_resources; i++) {
		m->n_resources++;
		r = resource_build(snap, w, m, i);
		if (r < 0)
			return r;
	}
	r = deps_build(snap, m);
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
	for (size_t i = 0; i < m->n_groups; i++)
		free(m->groups[i].members);
	free(m->resources);
	free(m->groups);
	free(m);
	return NULL;
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
