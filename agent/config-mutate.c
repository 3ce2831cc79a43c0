/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mutations of the configuration: each one transaction, checked before
 * and while it writes, rolled back whole on any error.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config-store-internal.h"

/* Runs a lookup by name (?1); copies columns 0 and (if ret2) 1.  -ENOENT: no row. */
static int lookup(struct config_store *s, enum config_stmt id, const char *name,
		  char ret[CONFIG_ID_LEN + 1], char ret2[CONFIG_ID_LEN + 1])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const char *v;
	int r = 0, rc;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, name);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return config_errno(rc);
	for (int col = 0; col < (ret2 ? 2 : 1); col++) {
		v = (const char *) sqlite3_column_text(st, col);
		if (!v || strlen(v) != CONFIG_ID_LEN)
			return v ? -EBADMSG : -ENOMEM;
		memcpy(col ? ret2 : ret, v, CONFIG_ID_LEN + 1);
	}
	return 0;
}

/* Runs a statement with the text parameters given (NULL-terminated); 0 or its errno. */
static int run(struct config_store *s, enum config_stmt id, const char *a, const char *b,
	       const char *c, const char *d)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const char *args[] = {a, b, c, d};
	int r = 0;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	for (int i = 0; i < 4 && args[i]; i++) {
		r = config_bind_text(st, i + 1, args[i]);
		if (r < 0)
			return r;
	}
	return config_errno(sqlite3_step(st));
}

/* Does a row exist for this statement with ?1 = a? 1, 0 or an errno. */
static int exists(struct config_store *s, enum config_stmt id, const char *a, const char *b)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = 0, rc;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, a);
	if (r >= 0 && b)
		r = config_bind_text(st, 2, b);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	return rc == SQLITE_ROW ? 1 : config_errno(rc);
}

static int object_add(struct config_store *s, enum config_stmt add, const char *name,
		      char ret_id[CONFIG_ID_LEN + 1])
{
	char id[CONFIG_ID_LEN + 1];
	int r;

	assert_return(s, -EINVAL);
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_id_new(id);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = config_end(s, run(s, add, id, name, NULL, NULL));
	if (r < 0)
		return r;
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	return 0;
}

/*
 * Removes the object named name unless a row of `used` refers to it
 * (-ENOTEMPTY) or, if provides is not _STMT_MAX, a row of `provides` does
 * (-EADDRINUSE).
 */
static int object_remove(struct config_store *s, enum config_stmt find, enum config_stmt used,
			 enum config_stmt provides, enum config_stmt del, const char *name)
{
	char id[CONFIG_ID_LEN + 1];
	int r;

	assert_return(s, -EINVAL);
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = lookup(s, find, name, id, NULL);
	if (r >= 0)
		r = exists(s, used, id, NULL);
	if (r > 0)
		r = -ENOTEMPTY;
	if (r >= 0 && provides != _STMT_MAX)
		r = exists(s, provides, id, NULL);
	if (r > 0)
		r = -EADDRINUSE;
	if (r >= 0)
		r = run(s, del, id, NULL, NULL, NULL);
	return config_end(s, r);
}

static bool target_valid(enum config_target target)
{
	return target == CONFIG_TARGET_OFFLINE || target == CONFIG_TARGET_ONLINE;
}

/* Runs an update of the target (?2) of what ?1 names; the rows changed, or an errno. */
static int target_update(struct config_store *s, enum config_stmt update, const char *name,
			 enum config_target target)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = 0;

	st = config_stmt(s, update, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, name);
	if (r >= 0)
		r = config_errno(sqlite3_bind_int(st, 2, (int) target));
	if (r >= 0)
		r = config_errno(sqlite3_step(st));
	return r < 0 ? r : sqlite3_changes(s->db);
}

/* The target of name through update, then (unless _STMT_MAX) through also, in one transaction. */
static int set_target(struct config_store *s, enum config_stmt update, enum config_stmt also,
		      const char *name, enum config_target target)
{
	int r;

	assert_return(s, -EINVAL);
	if (!target_valid(target))
		return -EINVAL;
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = target_update(s, update, name, target);
	if (r == 0)
		r = -ENOENT;
	if (r >= 0 && also != _STMT_MAX)
		r = target_update(s, also, name, target);
	return config_end(s, r);
}

int config_store_type_add(struct config_store *s, const char *name, char ret_id[CONFIG_ID_LEN + 1])
{
	return object_add(s, STMT_TYPE_ADD, name, ret_id);
}

int config_store_type_remove(struct config_store *s, const char *name)
{
	return object_remove(s, STMT_TYPE_ID, STMT_TYPE_USED, _STMT_MAX, STMT_TYPE_DEL, name);
}

int config_store_group_add(struct config_store *s, const char *name, char ret_id[CONFIG_ID_LEN + 1])
{
	return object_add(s, STMT_GROUP_ADD, name, ret_id);
}

int config_store_group_remove(struct config_store *s, const char *name)
{
	return object_remove(s, STMT_GROUP_ID, STMT_GROUP_USED, STMT_GROUP_PROVIDES, STMT_GROUP_DEL,
			     name);
}

static int object_rename(struct config_store *s, enum config_stmt find, enum config_stmt rename,
			 const char *name, const char *new_name)
{
	char id[CONFIG_ID_LEN + 1];
	int r;

	assert_return(s, -EINVAL);
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_name_check(new_name);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = lookup(s, find, name, id, NULL);
	if (r >= 0)
		r = run(s, rename, id, new_name, NULL, NULL);
	return config_end(s, r);
}

int config_store_group_rename(struct config_store *s, const char *name, const char *new_name)
{
	return object_rename(s, STMT_GROUP_ID, STMT_GROUP_RENAME, name, new_name);
}

int config_store_resource_rename(struct config_store *s, const char *name, const char *new_name)
{
	return object_rename(s, STMT_RES_FIND, STMT_RES_RENAME, name, new_name);
}

/* Inside a transaction: the checks and rows of config_store_group_set_deps(). */
static int group_deps_write(struct config_store *s, const char *id, const char *expr,
			    const char *const *provider_ids, size_t n, size_t *reterr_index)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		*reterr_index = i;
		for (size_t j = 0; j < i; j++)
			if (strcmp(provider_ids[i], provider_ids[j]) == 0)
				return -EINVAL;
		if (strcmp(provider_ids[i], id) == 0)
			return -ELOOP;
		r = exists(s, STMT_GROUP_BY_ID, provider_ids[i], NULL);
		if (r == 0)
			return -ENOENT;
		/* The old edges of id are still there, but none can lead back to id unless
		 * the provider reaches id through another group: then it is a cycle anyway. */
		if (r > 0)
			r = exists(s, STMT_GDEP_REACHES, provider_ids[i], id);
		if (r > 0)
			return -ELOOP;
		if (r < 0)
			return r;
	}
	r = run(s, STMT_GDEP_CLEAR, id, NULL, NULL, NULL);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char pos[24];

		snprintf(pos, sizeof(pos), "%zu", i);
		*reterr_index = i;
		r = run(s, STMT_GDEP_ADD, id, provider_ids[i], pos, NULL);
	}
	if (r >= 0)
		r = run(s, STMT_GROUP_EXPR, id, expr, NULL, NULL);
	return r;
}

int config_store_group_set_deps(struct config_store *s, const char *name, const char *expr,
				const char *const *provider_ids, size_t n, size_t *reterr_index)
{
	char id[CONFIG_ID_LEN + 1];
	size_t dummy;
	int r;

	assert_return(s && expr && (provider_ids || n == 0), -EINVAL);
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = lookup(s, STMT_GROUP_ID, name, id, NULL);
	if (r >= 0)
		r = group_deps_write(s, id, expr, provider_ids, n, reterr_index ?: &dummy);
	return config_end(s, r);
}

int config_store_group_set_target(struct config_store *s, const char *name,
				  enum config_target target)
{
	return set_target(s, STMT_GROUP_TARGET, _STMT_MAX, name, target);
}

int config_store_group_set_target_all(struct config_store *s, const char *name,
				      enum config_target target)
{
	return set_target(s, STMT_GROUP_TARGET, STMT_GROUP_RES_TARGET, name, target);
}

int config_store_group_set_props(struct config_store *s, const char *name,
				 const struct config_prop *props, size_t n_props,
				 const char **reterr_key)
{
	char id[CONFIG_ID_LEN + 1];
	const char *dummy, **key = reterr_key ? reterr_key : &dummy;
	struct group_props p;
	int r;

	assert_return(s, -EINVAL);
	*key = "name";
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_props_check(CONFIG_PROPS_GROUP, props, n_props, true, key);
	if (r < 0)
		return r;

	r = config_begin(s);
	if (r < 0)
		return r;
	*key = "name";
	r = lookup(s, STMT_GROUP_ID, name, id, NULL);
	if (r >= 0) {
		*key = NULL;
		r = config_props_apply(s, CONFIG_PROPS_GROUP, id, props, n_props);
	}
	if (r >= 0)
		r = config_group_props_read(s, id, &p);
	if (r >= 0)
		r = group_props_validate(&p, key);
	r = config_end(s, r);
	if (r >= 0)
		*key = NULL;
	return r;
}

/* After the properties of res_id changed: the whole common set must still be valid. */
static int validate(struct config_store *s, const char *res_id, const char **reterr_key)
{
	struct res_props p;
	int r;

	r = config_props_common(s, res_id, &p);
	if (r < 0)
		return r;
	return res_props_validate(&p, reterr_key);
}

/* dependent (id, group id known) depends on the resource named provider: the checks of
 * config_store_dep_add, then the row. */
static int dep_insert(struct config_store *s, const char *dep_id, const char *dep_group,
		      const char *provider)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char prov_id[CONFIG_ID_LEN + 1], prov_group[CONFIG_ID_LEN + 1];
	int r, rc;

	r = lookup(s, STMT_RES_FIND, provider, prov_id, prov_group);
	if (r < 0)
		return r;
	if (strcmp(dep_group, prov_group) != 0)
		return -EXDEV;
	/* A cycle: the provider already reaches the dependent (or is it). */
	r = exists(s, STMT_DEP_REACHES, prov_id, dep_id);
	if (r > 0)
		return -ELOOP;
	if (r < 0)
		return r;
	/* Without a cycle the edge is new unless already there (-EEXIST below), so the
	 * longest chain through it is the deepest dependents above, it, the deepest below. */
	st = config_stmt(s, STMT_DEP_DEPTH, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, dep_id);
	if (r >= 0)
		r = config_bind_text(st, 2, prov_id);
	if (r >= 0)
		r = config_errno(sqlite3_bind_int(st, 3, CONFIG_DEP_DEPTH_MAX));
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -EBADMSG : config_errno(rc);
	if (sqlite3_column_int(st, 0) > CONFIG_DEP_DEPTH_MAX)
		return -EMLINK;
	return run(s, STMT_DEP_ADD, dep_id, prov_id, NULL, NULL);
}

int config_store_resource_add_deps(struct config_store *s, const char *name, const char *group,
				   const char *type, const struct config_prop *props,
				   size_t n_props, const char *const *deps, size_t n_deps,
				   char ret_id[CONFIG_ID_LEN + 1], const char **reterr_key)
{
	char id[CONFIG_ID_LEN + 1], group_id[CONFIG_ID_LEN + 1], type_id[CONFIG_ID_LEN + 1];
	const char *dummy, **key = reterr_key ? reterr_key : &dummy;
	int r;

	assert_return(s, -EINVAL);
	*key = "name";
	r = config_name_check(name);
	if (r < 0)
		return r;
	*key = "group";
	r = config_name_check(group);
	if (r < 0)
		return r;
	*key = "type";
	r = config_name_check(type);
	if (r < 0)
		return r;
	r = config_props_check(CONFIG_PROPS_RESOURCE, props, n_props, false, key);
	if (r < 0)
		return r;
	*key = "depends_on";
	if (n_deps > 0 && !deps)
		return -EINVAL;
	for (size_t i = 0; i < n_deps; i++) {
		*key = deps[i] ? deps[i] : "depends_on";
		r = config_name_check(deps[i]);
		if (r < 0)
			return r;
	}
	r = config_id_new(id);
	if (r < 0)
		return r;

	r = config_begin(s);
	if (r < 0)
		return r;
	*key = "group";
	r = lookup(s, STMT_GROUP_ID, group, group_id, NULL);
	if (r >= 0) {
		*key = "type";
		r = lookup(s, STMT_TYPE_ID, type, type_id, NULL);
	}
	if (r >= 0) {
		*key = "name";
		r = run(s, STMT_RES_ADD, id, name, group_id, type_id);
	}
	if (r >= 0) {
		*key = NULL;
		r = config_props_apply(s, CONFIG_PROPS_RESOURCE, id, props, n_props);
	}
	if (r >= 0)
		r = validate(s, id, key);
	/* A provider named twice meets its own row: -EEXIST from the primary key. */
	for (size_t i = 0; r >= 0 && i < n_deps; i++) {
		*key = deps[i];
		r = dep_insert(s, id, group_id, deps[i]);
	}
	r = config_end(s, r);
	if (r < 0)
		return r;
	*key = NULL;
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	return 0;
}

int config_store_resource_add(struct config_store *s, const char *name, const char *group,
			      const char *type, const struct config_prop *props, size_t n_props,
			      char ret_id[CONFIG_ID_LEN + 1], const char **reterr_key)
{
	return config_store_resource_add_deps(s, name, group, type, props, n_props, NULL, 0, ret_id,
					      reterr_key);
}

int config_store_resource_remove(struct config_store *s, const char *name)
{
	char id[CONFIG_ID_LEN + 1], group_id[CONFIG_ID_LEN + 1];
	int r;

	assert_return(s, -EINVAL);
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = lookup(s, STMT_RES_FIND, name, id, group_id);
	if (r >= 0)
		r = run(s, STMT_RES_DEL, id, NULL, NULL, NULL);
	return config_end(s, r);
}

int config_store_resource_set_props(struct config_store *s, const char *name,
				    const struct config_prop *props, size_t n_props,
				    const char **reterr_key)
{
	char id[CONFIG_ID_LEN + 1], group_id[CONFIG_ID_LEN + 1];
	const char *dummy, **key = reterr_key ? reterr_key : &dummy;
	int r;

	assert_return(s, -EINVAL);
	*key = "name";
	r = config_name_check(name);
	if (r < 0)
		return r;
	r = config_props_check(CONFIG_PROPS_RESOURCE, props, n_props, true, key);
	if (r < 0)
		return r;

	r = config_begin(s);
	if (r < 0)
		return r;
	*key = "name";
	r = lookup(s, STMT_RES_FIND, name, id, group_id);
	if (r >= 0) {
		*key = NULL;
		r = config_props_apply(s, CONFIG_PROPS_RESOURCE, id, props, n_props);
	}
	if (r >= 0)
		r = validate(s, id, key);
	r = config_end(s, r);
	if (r >= 0)
		*key = NULL;
	return r;
}

int config_store_resource_set_target(struct config_store *s, const char *name,
				     enum config_target target)
{
	return set_target(s, STMT_RES_TARGET, _STMT_MAX, name, target);
}

int config_store_resources_set_target(struct config_store *s, const char *const *names, size_t n,
				      enum config_target target)
{
	int r;

	assert_return(s, -EINVAL);
	if (!target_valid(target) || (n > 0 && !names))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (config_name_check(names[i]) < 0)
			return -EINVAL;
	r = config_begin(s);
	if (r < 0)
		return r;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = target_update(s, STMT_RES_TARGET, names[i], target);
		if (r == 0)
			r = -ENOENT;
	}
	return config_end(s, r);
}

/* Looks both up: ids and whether they share a group. */
static int dep_ids(struct config_store *s, const char *dependent, const char *provider,
		   char dep_id[CONFIG_ID_LEN + 1], char prov_id[CONFIG_ID_LEN + 1],
		   bool *ret_same_group)
{
	char g1[CONFIG_ID_LEN + 1], g2[CONFIG_ID_LEN + 1];
	int r;

	r = lookup(s, STMT_RES_FIND, dependent, dep_id, g1);
	if (r < 0)
		return r;
	r = lookup(s, STMT_RES_FIND, provider, prov_id, g2);
	if (r < 0)
		return r;
	*ret_same_group = strcmp(g1, g2) == 0;
	return 0;
}

int config_store_dep_add(struct config_store *s, const char *dependent, const char *provider)
{
	char dep_id[CONFIG_ID_LEN + 1], dep_group[CONFIG_ID_LEN + 1];
	int r;

	assert_return(s, -EINVAL);
	if (config_name_check(dependent) < 0 || config_name_check(provider) < 0)
		return -EINVAL;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = lookup(s, STMT_RES_FIND, dependent, dep_id, dep_group);
	if (r >= 0)
		r = dep_insert(s, dep_id, dep_group, provider);
	return config_end(s, r);
}

int config_store_dep_remove(struct config_store *s, const char *dependent, const char *provider)
{
	char dep_id[CONFIG_ID_LEN + 1], prov_id[CONFIG_ID_LEN + 1];
	bool same_group;
	int r;

	assert_return(s, -EINVAL);
	if (config_name_check(dependent) < 0 || config_name_check(provider) < 0)
		return -EINVAL;
	r = config_begin(s);
	if (r < 0)
		return r;
	r = dep_ids(s, dependent, provider, dep_id, prov_id, &same_group);
	if (r >= 0)
		r = run(s, STMT_DEP_DEL, dep_id, prov_id, NULL, NULL);
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return config_end(s, r);
}
