/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading the whole configuration into a snapshot, in one read transaction,
 * in the order the statements fix (by name, case-insensitively).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config-store-internal.h"

/* Grows *array (of elements of size) to hold one more; returns the new element, zeroed. */
static void *grow(void **array, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void *a = reallocarray(*array, c, size);

		if (!a)
			return NULL;
		*array = a;
		*cap = c;
	}
	return memset((char *) *array + (*n)++ * size, 0, size);
}

/* Copies a text column of at most max bytes; -EBADMSG if longer (not written by us). */
static int column_copy(sqlite3_stmt *st, int col, char *buf, size_t max)
{
	const char *v = (const char *) sqlite3_column_text(st, col);
	size_t len;

	if (!v)
		return sqlite3_column_type(st, col) == SQLITE_NULL ? -EBADMSG : -ENOMEM;
	len = strlen(v);
	if (len > max)
		return -EBADMSG;
	memcpy(buf, v, len + 1);
	return 0;
}

static int column_target(sqlite3_stmt *st, int col, enum config_target *ret)
{
	int v = sqlite3_column_int(st, col);

	if (v != CONFIG_TARGET_OFFLINE && v != CONFIG_TARGET_ONLINE)
		return -EBADMSG;
	*ret = (enum config_target) v;
	return 0;
}

static int load_types(struct config_store *s, struct config_snapshot *snap)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = 0, rc;

	st = config_stmt(s, STMT_LOAD_TYPES, &r);
	if (!st)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct config_type *t =
			grow((void **) &snap->types, &snap->n_types, &cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		r = column_copy(st, 0, t->id, CONFIG_ID_LEN);
		if (r >= 0)
			r = column_copy(st, 1, t->name, CONFIG_NAME_MAX);
		if (r < 0)
			return r;
	}
	return config_errno(rc);
}

/*
 * The properties of the resource or group id (list is STMT_PROP_LIST or
 * STMT_GPROP_LIST) into *props, and the numeric ones into res_common or
 * group_common, whichever is not NULL (its defaults set first).
 */
static int load_props(struct config_store *s, enum config_stmt list, const char *id,
		      struct config_prop_entry **props, size_t *n_props,
		      struct res_props *res_common, struct group_props *group_common)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = 0, rc;

	st = config_stmt(s, list, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, id);
	if (r < 0)
		return r;
	if (res_common)
		res_props_init(res_common);
	if (group_common)
		group_props_init(group_common);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *) sqlite3_column_text(st, 0);
		const char *value = (const char *) sqlite3_column_text(st, 1);
		struct config_prop_entry *e;
		uint32_t v;

		if (!key || !value)
			return -ENOMEM;
		e = grow((void **) props, n_props, &cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->key = strdup(key);
		e->value = strdup(value);
		if (!e->key || !e->value)
			return -ENOMEM;
		if (res_common && config_prop_is_common(key)) {
			if (config_prop_parse(value, &v) < 0)
				return -EBADMSG;
			(void) res_props_set_stored(res_common, key, v);
		}
		/* Written by config_props_apply: only known keys, numbers. */
		if (group_common &&
		    (config_prop_parse(value, &v) < 0 || group_props_set(group_common, key, v) < 0))
			return -EBADMSG;
	}
	return config_errno(rc);
}

/* The columns id, name, target, dep_expr of st's row, and the properties. */
static int group_row(struct config_store *s, sqlite3_stmt *st, struct config_group *g)
{
	const char *expr;
	int r = column_copy(st, 0, g->id, CONFIG_ID_LEN);

	if (r >= 0)
		r = column_copy(st, 1, g->name, CONFIG_NAME_MAX);
	if (r >= 0)
		r = column_target(st, 2, &g->target);
	if (r < 0)
		return r;
	expr = (const char *) sqlite3_column_text(st, 3);
	if (expr) {
		g->dep_expr = strdup(expr);
		if (!g->dep_expr)
			return -ENOMEM;
	}
	return load_props(s, STMT_GPROP_LIST, g->id, &g->props, &g->n_props, NULL, &g->common);
}

static int load_groups(struct config_store *s, struct config_snapshot *snap)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = 0, rc;

	st = config_stmt(s, STMT_LOAD_GROUPS, &r);
	if (!st)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct config_group *g =
			grow((void **) &snap->groups, &snap->n_groups, &cap, sizeof(*g));

		if (!g)
			return -ENOMEM;
		r = group_row(s, st, g);
		if (r < 0)
			return r;
	}
	return config_errno(rc);
}

/* The columns id, name, group_id, type_id, target, type name of st's row, and the properties. */
static int resource_row(struct config_store *s, sqlite3_stmt *st, struct config_resource *res)
{
	int r = column_copy(st, 0, res->id, CONFIG_ID_LEN);

	if (r >= 0)
		r = column_copy(st, 1, res->name, CONFIG_NAME_MAX);
	if (r >= 0)
		r = column_copy(st, 2, res->group_id, CONFIG_ID_LEN);
	if (r >= 0)
		r = column_copy(st, 3, res->type_id, CONFIG_ID_LEN);
	if (r >= 0)
		r = column_target(st, 4, &res->target);
	if (r >= 0)
		r = column_copy(st, 5, res->type_name, CONFIG_NAME_MAX);
	if (r >= 0)
		r = load_props(s, STMT_PROP_LIST, res->id, &res->props, &res->n_props, &res->common,
			       NULL);
	return r;
}

static int load_resources(struct config_store *s, struct config_snapshot *snap)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = 0, rc;

	st = config_stmt(s, STMT_LOAD_RESOURCES, &r);
	if (!st)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct config_resource *res =
			grow((void **) &snap->resources, &snap->n_resources, &cap, sizeof(*res));

		if (!res)
			return -ENOMEM;
		r = resource_row(s, st, res);
		if (r < 0)
			return r;
	}
	return config_errno(rc);
}

/* Resource (STMT_LOAD_DEPS) or group (STMT_LOAD_GDEPS) dependencies. */
static int load_deps(struct config_store *s, enum config_stmt id, struct config_dep **deps,
		     size_t *n_deps)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = 0, rc;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct config_dep *d = grow((void **) deps, n_deps, &cap, sizeof(*d));

		if (!d)
			return -ENOMEM;
		r = column_copy(st, 0, d->dependent_id, CONFIG_ID_LEN);
		if (r >= 0)
			r = column_copy(st, 1, d->provider_id, CONFIG_ID_LEN);
		if (r < 0)
			return r;
	}
	return config_errno(rc);
}

int config_store_load(struct config_store *s, struct config_snapshot **ret)
{
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	int r;

	assert_return(s, -EINVAL);
	assert_return(ret, -EINVAL);

	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	/* IMMEDIATE although it only reads: one consistent view, and no writer meanwhile. */
	r = config_begin(s);
	if (r < 0)
		return r;
	r = load_types(s, snap);
	if (r >= 0)
		r = load_groups(s, snap);
	if (r >= 0)
		r = load_resources(s, snap);
	if (r >= 0)
		r = load_deps(s, STMT_LOAD_DEPS, &snap->deps, &snap->n_deps);
	if (r >= 0)
		r = load_deps(s, STMT_LOAD_GDEPS, &snap->group_deps, &snap->n_group_deps);
	r = config_end(s, r);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(snap);
	return 0;
}

/*
 * Runs statement id for name and leaves it on its one row in *ret_st (reset
 * when the caller's cleanup runs); -ENOENT if there is none.
 */
static int load_one(struct config_store *s, enum config_stmt id, const char *name,
		    sqlite3_stmt **ret_st)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	*ret_st = st;
	r = config_bind_text(st, 1, name);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : config_errno(rc);
}

static int load_resource(struct config_store *s, const char *name, struct config_resource *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = load_one(s, STMT_LOAD_RESOURCE, name, &st);

	return r < 0 ? r : resource_row(s, st, ret);
}

int config_store_resource_get(struct config_store *s, const char *name, struct config_resource *ret)
{
	struct config_resource res = {};
	int r;

	assert_return(s, -EINVAL);
	assert_return(name, -EINVAL);
	assert_return(ret, -EINVAL);

	r = config_begin(s);
	if (r < 0)
		return r;
	r = config_end(s, load_resource(s, name, &res));
	if (r < 0) {
		config_resource_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}

static void props_free(struct config_prop_entry **props, size_t *n)
{
	for (size_t j = 0; j < *n; j++) {
		free((*props)[j].key);
		free((*props)[j].value);
	}
	free(*props);
	*props = NULL;
	*n = 0;
}

void config_resource_done(struct config_resource *res)
{
	props_free(&res->props, &res->n_props);
}

static int load_group(struct config_store *s, const char *name, struct config_group *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = load_one(s, STMT_LOAD_GROUP, name, &st);

	return r < 0 ? r : group_row(s, st, ret);
}

int config_store_group_get(struct config_store *s, const char *name, struct config_group *ret)
{
	struct config_group g = {};
	int r;

	assert_return(s, -EINVAL);
	assert_return(name, -EINVAL);
	assert_return(ret, -EINVAL);

	r = config_begin(s);
	if (r < 0)
		return r;
	r = config_end(s, load_group(s, name, &g));
	if (r < 0) {
		config_group_done(&g);
		return r;
	}
	*ret = g;
	return 0;
}

void config_group_done(struct config_group *g)
{
	free(g->dep_expr);
	g->dep_expr = NULL;
	props_free(&g->props, &g->n_props);
}

struct config_snapshot *config_snapshot_free(struct config_snapshot *snap)
{
	if (!snap)
		return NULL;
	for (size_t i = 0; i < snap->n_groups; i++)
		config_group_done(&snap->groups[i]);
	for (size_t i = 0; i < snap->n_resources; i++)
		config_resource_done(&snap->resources[i]);
	free(snap->types);
	free(snap->groups);
	free(snap->resources);
	free(snap->deps);
	free(snap->group_deps);
	free(snap);
	return NULL;
}
