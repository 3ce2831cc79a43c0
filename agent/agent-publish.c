/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the model into the segment: records with their blobs (members,
 * properties, dependencies), ADDED events, and the periodic heartbeat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent-publish.h"
#include "hagent/shm.h"

#define AGENT_HEARTBEAT_ACCURACY_USEC 1000 /* 0 would mean sd-event's default, 250 ms */

static int blob_make(struct shm_writer *w, const void *data, size_t len, struct shm_blob_ref *ret)
{
	*ret = (struct shm_blob_ref){};
	if (len == 0)
		return 0; /* blob_id 0: no data */
	if (len > SHM_BLOB_MAX)
		return -E2BIG;
	return shm_writer_blob_new(w, data, (uint32_t) len, ret);
}

int agent_publish_event(struct shm_writer *w, uint32_t change, uint32_t slot, uint32_t kind,
			uint32_t state_seq, int32_t state, const uint8_t id[SHM_ID_SIZE],
			const char *name)
{
	struct shm_event e = {
		.change = change,
		.slot = slot,
		.kind = kind,
		.state_seq = state_seq,
		.state = state,
	};

	memcpy(e.id, id, SHM_ID_SIZE);
	snprintf(e.name, sizeof(e.name), "%s", name);
	return shm_writer_event(w, &e);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* The record of r; an event with change (and r's state) unless change is 0. */
static int resource_put(struct shm_writer *w, const struct agent_model *m,
			const struct agent_resource *r, uint32_t change)
{
	struct shm_object o = {.kind = SHM_KIND_RESOURCE};
	_cleanup_free_ uint32_t *deps = calloc(r->n_deps ?: 1, sizeof(uint32_t));
	int k;

	if (!deps)
		return -ENOMEM;
	memcpy(o.id, r->id, SHM_ID_SIZE);
	memcpy(o.name, r->name, SHM_NAME_MAX);
	memcpy(o.u.res.type, r->type, SHM_TYPE_MAX);
	o.u.res.state = r->state;
	o.u.res.state_seq = r->state_seq;
	o.u.res.group_slot = m->groups[r->group].slot;
	o.u.res.persistent_state = r->persistent_state;
	o.u.res.state_change_ns = r->state_change_ns ?: realtime_ns();
	o.u.res.pending_deadline_ns = r->pending_deadline_ns;
	o.u.res.checkpoint = r->checkpoint;
	o.u.res.wait_hint_ms = r->wait_hint_ms;
	o.u.res.monitor_pid = r->monitor_pid;
	o.u.res.restart_count = r->restart_count;
	o.u.res.last_error = r->last_error;
	o.u.res.flags = r->locked ? SHM_RES_F_LOCKED : 0;
	for (size_t i = 0; i < r->n_deps; i++)
		deps[i] = m->resources[r->deps[i]].slot;
	k = blob_make(w, r->props, r->props_len, &o.u.res.properties);
	if (k >= 0)
		k = blob_make(w, deps, r->n_deps * sizeof(uint32_t), &o.u.res.dependencies);
	if (k >= 0)
		k = shm_writer_put(w, r->slot, &o);
	/* The version holds its own references now (or, on failure, never took any). */
	shm_writer_blob_unref(w, &o.u.res.properties);
	shm_writer_blob_unref(w, &o.u.res.dependencies);
	if (k < 0 || change == 0)
		return k;
	return agent_publish_event(w, change, r->slot, SHM_KIND_RESOURCE, r->state_seq, r->state,
				   r->id, r->name);
}

static int group_put(struct shm_writer *w, const struct agent_model *m, const struct agent_group *g,
		     uint32_t change)
{
	struct shm_object o = {.kind = SHM_KIND_GROUP};
	_cleanup_free_ uint32_t *members = calloc(g->n_members ?: 1, sizeof(uint32_t));
	_cleanup_free_ uint32_t *providers = calloc(g->n_providers ?: 1, sizeof(uint32_t));
	int k;

	if (!members || !providers)
		return -ENOMEM;
	memcpy(o.id, g->id, SHM_ID_SIZE);
	memcpy(o.name, g->name, SHM_NAME_MAX);
	o.u.grp.state = g->state;
	o.u.grp.state_seq = g->state_seq;
	o.u.grp.persistent_state = g->persistent_state;
	o.u.grp.n_members = (uint32_t) g->n_members;
	o.u.grp.state_change_ns = g->state_change_ns ?: realtime_ns();
	for (size_t i = 0; i < g->n_members; i++)
		members[i] = m->resources[g->members[i]].slot;
	o.u.grp.failover_count = g->failover_count;
	o.u.grp.flags = g->waiting ? SHM_GRP_F_WAITING : 0;
	for (size_t i = 0; i < g->n_providers; i++)
		providers[i] = m->groups[g->providers[i]].slot;
	k = blob_make(w, members, g->n_members * sizeof(uint32_t), &o.u.grp.members);
	if (k >= 0)
		k = blob_make(w, g->props, g->props_len, &o.u.grp.properties);
	if (k >= 0)
		k = blob_make(w, g->dep_expr, g->dep_expr ? strlen(g->dep_expr) : 0,
			      &o.u.grp.dependency_expression);
	if (k >= 0)
		k = blob_make(w, providers, g->n_providers * sizeof(uint32_t),
			      &o.u.grp.provider_groups);
	if (k >= 0)
		k = shm_writer_put(w, g->slot, &o);
	shm_writer_blob_unref(w, &o.u.grp.members);
	shm_writer_blob_unref(w, &o.u.grp.properties);
	shm_writer_blob_unref(w, &o.u.grp.dependency_expression);
	shm_writer_blob_unref(w, &o.u.grp.provider_groups);
	if (k < 0 || change == 0)
		return k;
	return agent_publish_event(w, change, g->slot, SHM_KIND_GROUP, g->state_seq, g->state,
				   g->id, g->name);
}

int agent_publish_all(struct shm_writer *w, const struct agent_model *m)
{
	int r;

	r = shm_writer_begin(w, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_resources; i++) {
		if (!m->resources[i].used)
			continue;
		r = resource_put(w, m, &m->resources[i], AGENT_CHANGE_RESOURCE_ADDED);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->n_groups; i++) {
		if (!m->groups[i].used)
			continue;
		r = group_put(w, m, &m->groups[i], AGENT_CHANGE_GROUP_ADDED);
		if (r < 0)
			return r;
	}
	return shm_writer_commit(w);
}

int agent_publish_resource(struct shm_writer *w, const struct agent_model *m, size_t i,
			   uint32_t change)
{
	return resource_put(w, m, &m->resources[i], change);
}

int agent_publish_group(struct shm_writer *w, const struct agent_model *m, size_t i,
			uint32_t change)
{
	return group_put(w, m, &m->groups[i], change);
}

/* A FREE record keeps the id and name, so that a reader that held the slot sees what went. */
static int tombstone_put(struct shm_writer *w, uint32_t slot, const uint8_t id[SHM_ID_SIZE],
			 const char *name)
{
	struct shm_object o = {.kind = SHM_KIND_FREE};

	memcpy(o.id, id, SHM_ID_SIZE);
	memcpy(o.name, name, SHM_NAME_MAX);
	return shm_writer_put(w, slot, &o);
}

int agent_publish_resource_deleted(struct shm_writer *w, const struct agent_model *m, size_t i)
{
	const struct agent_resource *r = &m->resources[i];
	int k = tombstone_put(w, r->slot, r->id, r->name);

	if (k < 0)
		return k;
	return agent_publish_event(w, AGENT_CHANGE_RESOURCE_DELETED, r->slot, SHM_KIND_RESOURCE,
				   r->state_seq, r->state, r->id, r->name);
}

int agent_publish_group_deleted(struct shm_writer *w, const struct agent_model *m, size_t i)
{
	const struct agent_group *g = &m->groups[i];
	int k = tombstone_put(w, g->slot, g->id, g->name);

	if (k < 0)
		return k;
	return agent_publish_event(w, AGENT_CHANGE_GROUP_DELETED, g->slot, SHM_KIND_GROUP,
				   g->state_seq, g->state, g->id, g->name);
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct shm_writer *w = userdata;

	int r;

	shm_writer_heartbeat(w);
	r = sd_event_source_set_time(s, usec + AGENT_HEARTBEAT_USEC);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(s, SD_EVENT_ON); /* time sources are one-shot */
}

int agent_heartbeat_start(sd_event *e, struct shm_writer *w, sd_event_source **ret)
{
	uint64_t now;
	int r;

	shm_writer_heartbeat(w);
	r = sd_event_now(e, CLOCK_MONOTONIC, &now);
	if (r < 0)
		return r;
	return sd_event_add_time(e, ret, CLOCK_MONOTONIC, now + AGENT_HEARTBEAT_USEC,
				 AGENT_HEARTBEAT_ACCURACY_USEC, on_heartbeat, w);
}
