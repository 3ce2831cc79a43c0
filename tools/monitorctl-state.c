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

/* ================================== dependencies ================================== */

/* Writes the name of the resource at slot into name, "" if there is none; 0 or a negative errno. */
typedef int (*slot_name_fn)(hagent_shm *s, const void *ctx, uint32_t slot,
			    char name[HAGENT_NAME_MAX]);

static void name_list_clear(struct name_list *l)
{
	free(l->names);
	*l = (struct name_list){};
}

/*
 * The providers in a dependencies blob (provider slots), by name, in the
 * blob's order: the one reading of it that status and show share.
 */
static int name_list_read(hagent_shm *s, const struct hagent_shm_blob *ref, slot_name_fn name_of,
			  const void *ctx, struct name_list *l)
{
	_cleanup_free_ uint32_t *slots = NULL;
	size_t n;
	int r;

	name_list_clear(l);
	r = slots_read(s, ref, &slots, &n);
	if (r < 0 || n == 0)
		return r;
	l->names = calloc(n, sizeof(*l->names));
	if (!l->names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = name_of(s, ctx, slots[i], l->names[i]);
		if (r < 0) {
			name_list_clear(l);
			return r;
		}
		l->names[i][HAGENT_NAME_MAX - 1] = '\0';
	}
	l->n = n;
	return 0;
}

/* The resource's own record in the segment; a provider deleted meanwhile is "". */
static int name_from_segment(hagent_shm *s, const void *ctx, uint32_t slot,
			     char name[HAGENT_NAME_MAX])
{
	struct hagent_resource p;
	int r;

	(void) ctx;
	name[0] = '\0';
	r = hagent_shm_read_resource(s, slot, &p);
	if (r == -ENOENT || r == -ERANGE)
		return 0;
	if (r < 0)
		return r;
	memcpy(name, p.name, HAGENT_NAME_MAX);
	return 0;
}

/* ===================================== status ===================================== */

struct status_view *status_view_free(struct status_view *v)
{
	if (!v)
		return NULL;
	if (v->groups)
		for (size_t i = 0; i < v->table->n_groups; i++) {
			free(v->groups[i].members);
			free(v->groups[i].deps);
			name_list_clear(&v->groups[i].provider_groups);
		}
	free(v->groups);
	if (v->deps)
		for (size_t k = 0; k < v->table->n_resources; k++)
			name_list_clear(&v->deps[k]);
	free(v->deps);
	free(v->ungrouped);
	free(v->ungrouped_deps);
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

/* A provider's name from the table itself: the same commit as its dependent. */
static int name_from_table(hagent_shm *s, const void *ctx, uint32_t slot,
			   char name[HAGENT_NAME_MAX])
{
	const struct hagent_shm_table *t = ctx;
	ssize_t k = resource_index(t, slot);

	(void) s;
	name[0] = '\0';
	if (k >= 0)
		memcpy(name, t->resources[k].name, HAGENT_NAME_MAX);
	return 0;
}

/* A provider group's name from the table itself. */
static int group_name_from_table(hagent_shm *s, const void *ctx, uint32_t slot,
				 char name[HAGENT_NAME_MAX])
{
	const struct hagent_shm_table *t = ctx;

	(void) s;
	name[0] = '\0';
	for (size_t i = 0; i < t->n_groups; i++)
		if (t->groups[i].slot == slot)
			memcpy(name, t->groups[i].name, HAGENT_NAME_MAX);
	return 0;
}

/*
 * Fills g with the members of group gr: first in the order of its member
 * list, then any other resource naming the group (none, when the agent keeps
 * the list right).  placed[] marks the resources taken.
 */
static int status_group_fill(hagent_shm *s, const struct status_view *v,
			     const struct hagent_group *gr, bool *placed, struct status_group *g)
{
	const struct hagent_shm_table *t = v->table;
	_cleanup_free_ uint32_t *slots = NULL;
	size_t n_slots;
	int r;

	*g = (struct status_group){.group = gr};
	r = name_list_read(s, &gr->provider_groups, group_name_from_table, t, &g->provider_groups);
	if (r < 0)
		return r;
	r = slots_read(s, &gr->members, &slots, &n_slots);
	if (r < 0)
		return r;
	g->members = calloc(t->n_resources + 1, sizeof(*g->members));
	g->deps = calloc(t->n_resources + 1, sizeof(*g->deps));
	if (!g->members || !g->deps)
		return -ENOMEM;
	for (size_t i = 0; i < n_slots; i++) {
		ssize_t k = resource_index(t, slots[i]);

		if (k < 0 || placed[k] || t->resources[k].group_slot != gr->slot)
			continue;
		placed[k] = true;
		g->deps[g->n_members] = &v->deps[k];
		g->members[g->n_members++] = &t->resources[k];
	}
	for (size_t k = 0; k < t->n_resources; k++) {
		if (placed[k] || t->resources[k].group_slot != gr->slot)
			continue;
		placed[k] = true;
		g->deps[g->n_members] = &v->deps[k];
		g->members[g->n_members++] = &t->resources[k];
	}
	return 0;
}

static int status_view_fill(hagent_shm *s, struct status_view *v)
{
	const struct hagent_shm_table *t = v->table;
	_cleanup_free_ bool *placed = calloc(t->n_resources + 1, sizeof(bool));
	int r;

	v->deps = calloc(t->n_resources + 1, sizeof(*v->deps));
	v->groups = calloc(t->n_groups + 1, sizeof(*v->groups));
	v->ungrouped = calloc(t->n_resources + 1, sizeof(*v->ungrouped));
	v->ungrouped_deps = calloc(t->n_resources + 1, sizeof(*v->ungrouped_deps));
	if (!placed || !v->deps || !v->groups || !v->ungrouped || !v->ungrouped_deps)
		return -ENOMEM;
	for (size_t k = 0; k < t->n_resources; k++) {
		r = name_list_read(s, &t->resources[k].dependencies, name_from_table, t,
				   &v->deps[k]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < t->n_groups; i++) {
		r = status_group_fill(s, v, &t->groups[i], placed, &v->groups[i]);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < t->n_resources; k++)
		if (!placed[k]) {
			v->ungrouped_deps[v->n_ungrouped] = &v->deps[k];
			v->ungrouped[v->n_ungrouped++] = &t->resources[k];
		}
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
	name_list_clear(&v->deps);
	free(v);
	return NULL;
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
	return name_list_read(s, &v->r.dependencies, name_from_segment, NULL, &v->deps);
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
	if (v->deps)
		for (size_t i = 0; i < v->n_members; i++)
			name_list_clear(&v->deps[i]);
	free(v->deps);
	free(v->members);
	blob_clear(&v->properties);
	blob_clear(&v->dependency_expression);
	name_list_clear(&v->provider_groups);
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

/* A provider's name: a member read with the group (the same commit), else its own record. */
static int name_from_group(hagent_shm *s, const void *ctx, uint32_t slot,
			   char name[HAGENT_NAME_MAX])
{
	const struct group_view *v = ctx;

	for (size_t i = 0; i < v->n_members; i++)
		if (v->members[i].slot == slot) {
			memcpy(name, v->members[i].name, HAGENT_NAME_MAX);
			return 0;
		}
	return name_from_segment(s, NULL, slot, name);
}

/* The providers of every member; the previous attempt's lists are dropped first. */
static int group_deps_read(hagent_shm *s, struct group_view *v)
{
	struct name_list *d;
	int r;

	d = calloc(v->n_members + 1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	v->deps = d;
	for (size_t i = 0; i < v->n_members; i++) {
		r = name_list_read(s, &v->members[i].dependencies, name_from_group, v, &v->deps[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A provider group's own record; one deleted meanwhile is "". */
static int group_name_from_segment(hagent_shm *s, const void *ctx, uint32_t slot,
				   char name[HAGENT_NAME_MAX])
{
	struct hagent_group g;
	size_t n;
	int r;

	(void) ctx;
	name[0] = '\0';
	r = hagent_shm_read_group(s, slot, &g, NULL, 0, &n);
	if (r == -ENOENT || r == -ERANGE)
		return 0;
	if (r < 0)
		return r;
	memcpy(name, g.name, HAGENT_NAME_MAX);
	return 0;
}

static int group_view_fill(hagent_shm *s, uint32_t slot, struct group_view *v)
{
	int r;

	if (v->deps)
		for (size_t i = 0; i < v->n_members; i++)
			name_list_clear(&v->deps[i]);
	free(v->deps);
	v->deps = NULL;
	r = group_members_read(s, slot, v);
	if (r < 0)
		return r;
	r = group_deps_read(s, v);
	if (r < 0)
		return r;
	r = blob_read(s, &v->g.properties, &v->properties);
	if (r < 0)
		return r;
	r = name_list_read(s, &v->g.provider_groups, group_name_from_segment, NULL,
			   &v->provider_groups);
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
