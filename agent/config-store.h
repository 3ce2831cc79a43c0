/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The nonvolatile configuration (design.md "Persistence"): resource types,
 * groups with their properties, resources with their properties, resource
 * dependencies and persistent target states, in SQLite at
 * <state_dir>/hagent.db.
 *
 * Every mutation is one transaction, all or nothing, and is durable (WAL,
 * synchronous=FULL) when the call returns 0: acknowledge only then.  Objects
 * are named by name (case-insensitive, semantics.md §1); each has a stable
 * 128-bit random id, 32 lower-case hex characters, that never changes.
 * One store belongs to one thread; never use it across fork().  No logging:
 * errors are negative errnos, and the mutations that take properties say
 * which one was wrong through *reterr_key.
 *
 * Errors common to every call: -EBUSY (another connection holds the
 * database; no waiting), -ENOSPC, -EIO, -EBADMSG (corrupt), -ENOMEM, -EROFS.
 */

#include <stdbool.h>
#include <stddef.h>

#include "group-props.h"
#include "macro.h"
#include "resource-props.h"

#define CONFIG_ID_LEN	      32   /* hex characters of an id */
#define CONFIG_NAME_MAX	      63   /* bytes of a name or a property key */
#define CONFIG_VALUE_MAX      4096 /* bytes of a property value */
#define CONFIG_SCHEMA_VERSION 3	   /* PRAGMA user_version this code writes */
#define CONFIG_DEP_DEPTH_MAX  100  /* edges of the longest dependency chain (semantics.md §5.3) */

enum config_target {
	CONFIG_TARGET_OFFLINE = 0,
	CONFIG_TARGET_ONLINE = 1,
};

/* A property in a request: value NULL (in a set) removes it (back to the default). */
struct config_prop {
	const char *key;
	const char *value;
};

struct config_store;

/*
 * Opens (creating if needed, mode 0600) <state_dir>/hagent.db and brings its
 * schema to CONFIG_SCHEMA_VERSION.  state_dir must exist.
 * -EPROTONOSUPPORT: written by a newer hagent (the file is left untouched);
 * -EBADMSG: not a database, or corrupt.
 */
int config_store_open(const char *state_dir, struct config_store **ret);
struct config_store *config_store_free(struct config_store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config_store *, config_store_free);

/* 0 if name is a valid name or key (below), else -EINVAL. */
int config_name_check(const char *name);
/* True for the common properties of resource-props.h (case-insensitive). */
bool config_prop_is_common(const char *key);

/*
 * Names (and property keys): 1..CONFIG_NAME_MAX bytes of valid UTF-8, no
 * control character, no '/', no leading or trailing space; else -EINVAL.
 * A name already used by another object of the same kind, in any case: -EEXIST.
 * An unknown name: -ENOENT.  ret_id (may be NULL) gets the new id.
 */
int config_store_type_add(struct config_store *s, const char *name, char ret_id[CONFIG_ID_LEN + 1]);
/* -ENOTEMPTY: resources of this type exist. */
int config_store_type_remove(struct config_store *s, const char *name);

int config_store_group_add(struct config_store *s, const char *name,
			   char ret_id[CONFIG_ID_LEN + 1]);
/*
 * -ENOTEMPTY: the group still has resources; -EADDRINUSE: another group's
 * dependency expression names it.
 */
int config_store_group_remove(struct config_store *s, const char *name);

/*
 * Renames a group or a resource (its id stays, so do dependencies and
 * expressions naming it).  -ENOENT: no such object; -EINVAL: a bad new name;
 * -EEXIST: the new name is another object's (a change of case only is fine).
 */
int config_store_group_rename(struct config_store *s, const char *name, const char *new_name);
int config_store_resource_rename(struct config_store *s, const char *name, const char *new_name);

/*
 * The group dependency expression of group name (semantics.md §6): the
 * groups it depends on, by id, in order (provider_ids[0..n), no duplicates),
 * and its stored text, replacing the previous ones in one transaction; n 0
 * with expr "" clears it.  -ENOENT: no such group, or a provider id that is
 * not a group (*reterr_index is its index); -ELOOP: the group itself, or a
 * provider that already depends on it, directly or not (*reterr_index);
 * -EINVAL: duplicates.  The agent checks all this before with better
 * messages; this is the store's own guard.
 */
int config_store_group_set_deps(struct config_store *s, const char *name, const char *expr,
				const char *const *provider_ids, size_t n, size_t *reterr_index);
/* -EINVAL: target not a config_target. */
int config_store_group_set_target(struct config_store *s, const char *name,
				  enum config_target target);
/*
 * The group's target and every member resource's target, in one
 * transaction (OnlineGroup / OfflineGroup).  -ENOENT: no such group.
 */
int config_store_group_set_target_all(struct config_store *s, const char *name,
				      enum config_target target);

/*
 * Sets (or with a NULL value removes, back to the default) group
 * properties: only those of group-props.h (matched case-insensitively;
 * groups have no private properties), each an unsigned 32-bit number,
 * decimal or 0x-hex, stored in decimal; after the change the group's whole
 * set must pass group_props_validate.  Errors as for
 * config_store_resource_set_props, and -EINVAL for any other key;
 * -ENOENT with *reterr_key "name" for an unknown group.
 */
int config_store_group_set_props(struct config_store *s, const char *name,
				 const struct config_prop *props, size_t n_props,
				 const char **reterr_key);

/*
 * Adds a resource, persistent target offline, with the given properties
 * (NULL values are not allowed here).  Errors of the properties as for
 * config_store_resource_set_props; -ENOENT with *reterr_key "group" or
 * "type" when those do not exist; -EEXIST with *reterr_key "name".
 */
int config_store_resource_add(struct config_store *s, const char *name, const char *group,
			      const char *type, const struct config_prop *props, size_t n_props,
			      char ret_id[CONFIG_ID_LEN + 1], const char **reterr_key);
/*
 * As config_store_resource_add, and the new resource depends on each of the
 * resources named in deps[], all in the same transaction.  Errors of a
 * dependency as for config_store_dep_add, with *reterr_key pointing at the
 * provider's name in deps[]: -EINVAL a malformed name, -ENOENT no such
 * resource, -EXDEV another group, -ELOOP the new resource itself, -EEXIST
 * named twice (in any case), -EMLINK the chain would be too deep.
 */
int config_store_resource_add_deps(struct config_store *s, const char *name, const char *group,
				   const char *type, const struct config_prop *props,
				   size_t n_props, const char *const *deps, size_t n_deps,
				   char ret_id[CONFIG_ID_LEN + 1], const char **reterr_key);
/* Also removes its dependencies in both directions and its properties. */
int config_store_resource_remove(struct config_store *s, const char *name);

/*
 * Sets (or with a NULL value removes) properties.  The common ones
 * (resource-props.h, matched case-insensitively) take an unsigned 32-bit
 * number, decimal or 0x-hex, stored in decimal; after the change the
 * resource's whole common set (defaults overlaid with its values) must pass
 * res_props_validate.  Private ones are kept as text for the monitor.
 * Errors, with *reterr_key (if reterr_key is not NULL) the key at fault:
 *   -EINVAL  a bad key, a key twice in one request, a common value that is
 *            not a number, or res_props_validate's -EINVAL
 *   -ERANGE  a common value above UINT32_MAX, or res_props_validate's -ERANGE
 *   -E2BIG   a value longer than CONFIG_VALUE_MAX
 * *reterr_key points into props[] or to a static string.
 */
int config_store_resource_set_props(struct config_store *s, const char *name,
				    const struct config_prop *props, size_t n_props,
				    const char **reterr_key);
int config_store_resource_set_target(struct config_store *s, const char *name,
				     enum config_target target);
/* The target of every resource named, in one transaction; -ENOENT: one is unknown (none
 * changed). */
int config_store_resources_set_target(struct config_store *s, const char *const *names, size_t n,
				      enum config_target target);

/*
 * dependent depends on provider.  -EXDEV: not in the same group; -ELOOP:
 * the same resource, or provider already depends (transitively) on
 * dependent; -EMLINK: a chain of dependencies through the new one would
 * have more than CONFIG_DEP_DEPTH_MAX edges; -EEXIST: already there.
 * remove: -ENOENT if not there.
 */
int config_store_dep_add(struct config_store *s, const char *dependent, const char *provider);
int config_store_dep_remove(struct config_store *s, const char *dependent, const char *provider);

/* Everything, read in one transaction, in a deterministic order. */
struct config_type {
	char id[CONFIG_ID_LEN + 1];
	char name[CONFIG_NAME_MAX + 1];
};

struct config_prop_entry {
	char *key;
	char *value;
};

struct config_group {
	char id[CONFIG_ID_LEN + 1];
	char name[CONFIG_NAME_MAX + 1];
	enum config_target target;
	char *dep_expr;			 /* the group dependency expression as stored, NULL: none */
	struct group_props common;	 /* the defaults overlaid with its properties */
	struct config_prop_entry *props; /* as stored, by key */
	size_t n_props;
};

struct config_resource {
	char id[CONFIG_ID_LEN + 1];
	char name[CONFIG_NAME_MAX + 1];
	char group_id[CONFIG_ID_LEN + 1];
	char type_id[CONFIG_ID_LEN + 1];
	char type_name[CONFIG_NAME_MAX + 1];
	enum config_target target;
	struct res_props common;	 /* the defaults overlaid with its common properties */
	struct config_prop_entry *props; /* all of them, common and private, by key */
	size_t n_props;
};

struct config_dep {
	char dependent_id[CONFIG_ID_LEN + 1];
	char provider_id[CONFIG_ID_LEN + 1];
};

struct config_snapshot {
	struct config_type *types; /* by name */
	size_t n_types;
	struct config_group *groups; /* by name */
	size_t n_groups;
	struct config_resource *resources; /* by group name, then name */
	size_t n_resources;
	struct config_dep *deps; /* by dependent (as resources), then provider's name */
	size_t n_deps;
	struct config_dep *group_deps; /* group dependencies: by dependent's name, then as written */
	size_t n_group_deps;
};

int config_store_load(struct config_store *s, struct config_snapshot **ret);

/* One resource by name, as config_store_load() gives it; -ENOENT if none.  Free with
 * config_resource_done(). */
int config_store_resource_get(struct config_store *s, const char *name,
			      struct config_resource *ret);
void config_resource_done(struct config_resource *res);
/* One group by name, as config_store_load() gives it; -ENOENT if none.  Free with
 * config_group_done(). */
int config_store_group_get(struct config_store *s, const char *name, struct config_group *ret);
void config_group_done(struct config_group *g);
struct config_snapshot *config_snapshot_free(struct config_snapshot *snap);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config_snapshot *, config_snapshot_free);
