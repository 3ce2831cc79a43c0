/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's reads of the state segment.  A blob read fails with -ESTALE
 * when its object changed after we read the object; then the object is read
 * again, a bounded number of times, and the read gives up with -EBUSY.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "monitorctl-state.h"

#define READ_ATTEMPTS 16

/* The kinds of hagent_shm_find(). */
#define KIND_RESOURCE 1u
#define KIND_GROUP    2u

static void blob_clear(struct blob *b)
{
	free(b->data);
	*b = (struct blob){};
}

/* Copies the blob behind ref into b (NUL-terminated); an unset blob leaves b empty. */
static int blob_read(hagent_shm *s, const struct hagent_shm_blob *ref, struct blob *b)
{
	size_t len;
	char *p;
	int r;

	blob_clear(b);
	if (ref->blob_id == 0)
		return 0;
	p = malloc((size_t) ref->len + 1);
	if (!p)
		return -ENOMEM;
	r = hagent_shm_read_blob(s, ref, p, ref->len, &len);
	if (r < 0 || len != ref->len) {
		free(p);
		return r < 0 ? r : -ESTALE;
	}
	p[len] = '\0';
	*b = (struct blob){.data = p, .len = len};
	return 0;
}

/* A blob of uint32_t slots as an array; *ret is NULL when the blob is unset. */
static int slots_read(hagent_shm *s, const struct hagent_shm_blob *ref, uint32_t **ret,
		      size_t *ret_n)
{
	struct blob b = {};
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = blob_read(s, ref, &b);
	if (r < 0)
		return r;
	*ret_n = b.len / sizeof(uint32_t);
	*ret = (uint32_t *) (void *) b.data; /* malloc()ed: aligned for uint32_t */
	return 0;
}

/* ===================================== status ===================================== */

struct status_view *status_view_free(struct status_view *v)
{
	if (!v)
		return NULL;
	if (v->groups)
		for (size_t i = 0; i < v->table->n_groups; i++)
			free(v->groups[i].members);
	free(v->groups);
	free(v->ungrouped);
	hagent_shm_table_free(v->table);
	free(v);
	return NULL;
}

const char *status_view_group_name(const struct status_view *v, uint32_t slot)
{
	for (size_t i = 0; i < v->table->n_groups; i++)
		if (v->table->groups[i].slot == slot)
			return v->table->groups[i].name;
	return NULL;
}

/* Index of the resource at slot in the table (sorted by slot), or -1. */
static ssize_t resource_index(const struct hagent_shm_table *t, uint32_t slot)
{
	size_t lo = 0, hi = t->n_resources;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->resources[mid].slot == slot)
			return (ssize_t) mid;
		if (t->resources[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Fills g with the members of group gr: first in the order of its member
 * list, then any other resource naming the group (none, when the agent keeps
 * the list right).  placed[] marks the resources taken.
 */
static int status_group_fill(hagent_shm *s, const struct hagent_shm_table *t,
			     const struct hagent_group *gr, bool *placed, struct status_group *g)
{
	_cleanup_free_ uint32_t *slots = NULL;
	size_t n_slots;
	int r;

	*g = (struct status_group){.group = gr};
	r = slots_read(s, &gr->members, &slots, &n_slots);
	if (r < 0)
		return r;
	g->members = calloc(t->n_resources + 1, sizeof(*g->members));
	if (!g->members)
		return -ENOMEM;
	for (size_t i = 0; i < n_slots; i++) {
		ssize_t k = resource_index(t, slots[i]);

		if (k < 0 || placed[k] || t->resources[k].group_slot != gr->slot)
			continue;
		placed[k] = true;
		g->members[g->n_members++] = &t->resources[k];
	}
	for (size_t k = 0; k < t->n_resources; k++) {
		if (placed[k] || t->resources[k].group_slot != gr->slot)
			continue;
		placed[k] = true;
		g->members[g->n_members++] = &t->resources[k];
	}
	return 0;
}

static int status_view_fill(hagent_shm *s, struct status_view *v)
{
	const struct hagent_shm_table *t = v->table;
	_cleanup_free_ bool *placed = calloc(t->n_resources + 1, sizeof(bool));
	int r;

	v->groups = calloc(t->n_groups + 1, sizeof(*v->groups));
	v->ungrouped = calloc(t->n_resources + 1, sizeof(*v->ungrouped));
	if (!placed || !v->groups || !v->ungrouped)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_groups; i++) {
		r = status_group_fill(s, t, &t->groups[i], placed, &v->groups[i]);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < t->n_resources; k++)
		if (!placed[k])
			v->ungrouped[v->n_ungrouped++] = &t->resources[k];
	return 0;
}

int status_view_read(hagent_shm *s, struct status_view **ret)
{
	int r = -EBUSY;

	for (unsigned attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		_cleanup_(status_view_freep) struct status_view *v = calloc(1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		r = hagent_shm_read_table(s, &v->table);
		if (r < 0)
			return r;
		r = status_view_fill(s, v);
		if (r == 0) {
			*ret = TAKE_PTR(v);
			return 0;
		}
		if (r != -ESTALE)
			return r;
	}
	return -EBUSY;
}

/* ==================================== resource ==================================== */

struct resource_view *resource_view_free(struct resource_view *v)
{
	if (!v)
		return NULL;
	blob_clear(&v->properties);
	free(v->dependencies);
	free(v);
	return NULL;
}

/* Names of the providers in the dependencies blob; a provider deleted meanwhile stays "". */
static int dependencies_read(hagent_shm *s, struct resource_view *v)
{
	_cleanup_free_ uint32_t *slots = NULL;
	struct hagent_resource p;
	size_t n;
	int r;

	free(v->dependencies);
	v->dependencies = NULL;
	v->n_dependencies = 0;
	r = slots_read(s, &v->r.dependencies, &slots, &n);
	if (r < 0 || n == 0)
		return r;
	v->dependencies = calloc(n, sizeof(*v->dependencies));
	if (!v->dependencies)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = hagent_shm_read_resource(s, slots[i], &p);
		if (r == -ENOENT || r == -ERANGE)
			continue;
		if (r < 0)
			return r;
		memcpy(v->dependencies[i], p.name, sizeof(p.name));
	}
	v->n_dependencies = n;
	return 0;
}

static int resource_view_fill(hagent_shm *s, uint32_t slot, struct resource_view *v)
{
	struct hagent_group g;
	size_t n;
	int r;

	r = hagent_shm_read_resource(s, slot, &v->r);
	if (r < 0)
		return r;
	v->r.name[HAGENT_NAME_MAX - 1] = '\0';
	v->r.type[HAGENT_TYPE_MAX - 1] = '\0';
	v->group[0] = '\0';
	r = hagent_shm_read_group(s, v->r.group_slot, &g, NULL, 0, &n);
	if (r == 0)
		memcpy(v->group, g.name, sizeof(v->group));
	else if (r != -ENOENT && r != -ERANGE)
		return r;
	v->group[HAGENT_NAME_MAX - 1] = '\0';
	r = blob_read(s, &v->r.properties, &v->properties);
	if (r < 0)
		return r;
	return dependencies_read(s, v);
}

int resource_view_read(hagent_shm *s, const char *name, struct resource_view **ret)
{
	_cleanup_(resource_view_freep) struct resource_view *v = calloc(1, sizeof(*v));
	uint32_t slot;
	int r;

	if (!v)
		return -ENOMEM;
	for (unsigned attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		r = hagent_shm_find(s, KIND_RESOURCE, name, &slot);
		if (r < 0)
			return r;
		r = resource_view_fill(s, slot, v);
		if (r == 0) {
			*ret = TAKE_PTR(v);
			return 0;
		}
		/* -ENOENT: deleted since find(), perhaps re-created elsewhere. */
		if (r != -ESTALE && r != -ENOENT)
			return r;
	}
	return -EBUSY;
}

/* ===================================== group ===================================== */

struct group_view *group_view_free(struct group_view *v)
{
	if (!v)
		return NULL;
	free(v->members);
	blob_clear(&v->properties);
	blob_clear(&v->dependency_expression);
	free(v);
	return NULL;
}

/* The group and all its members as of one commit; the buffer grows until they fit. */
static int group_members_read(hagent_shm *s, uint32_t slot, struct group_view *v)
{
	size_t cap = 16, n;
	int r;

	for (;;) {
		struct hagent_resource *m = realloc(v->members, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		v->members = m;
		r = hagent_shm_read_group(s, slot, &v->g, v->members, cap, &n);
		if (r < 0)
			return r;
		if (n <= cap)
			break;
		cap = n;
	}
	v->n_members = n;
	v->g.name[HAGENT_NAME_MAX - 1] = '\0';
	for (size_t i = 0; i < n; i++) {
		v->members[i].name[HAGENT_NAME_MAX - 1] = '\0';
		v->members[i].type[HAGENT_TYPE_MAX - 1] = '\0';
	}
	return 0;
}

static int group_view_fill(hagent_shm *s, uint32_t slot, struct group_view *v)
{
	int r;

	r = group_members_read(s, slot, v);
	if (r < 0)
		return r;
	r = blob_read(s, &v->g.properties, &v->properties);
	if (r < 0)
		return r;
	return blob_read(s, &v->g.dependency_expression, &v->dependency_expression);
}

int group_view_read(hagent_shm *s, const char *name, struct group_view **ret)
{
	_cleanup_(group_view_freep) struct group_view *v = calloc(1, sizeof(*v));
	uint32_t slot;
	int r;

	if (!v)
		return -ENOMEM;
	for (unsigned attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		r = hagent_shm_find(s, KIND_GROUP, name, &slot);
		if (r < 0)
			return r;
		r = group_view_fill(s, slot, v);
		if (r == 0) {
			*ret = TAKE_PTR(v);
			return 0;
		}
		if (r != -ESTALE && r != -ENOENT)
			return r;
	}
	return -EBUSY;
}
