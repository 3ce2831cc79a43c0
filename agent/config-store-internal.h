/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by the config-*.c files: the store, its statement cache, the
 * transaction helpers, SQLite error mapping, name checks.
 */

#include <sqlite3.h>
#include <stdbool.h>

#include "config-store.h"

enum config_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_TYPE_ID,
	STMT_TYPE_ADD,
	STMT_TYPE_USED,
	STMT_TYPE_DEL,
	STMT_GROUP_ID,
	STMT_GROUP_ADD,
	STMT_GROUP_USED,
	STMT_GROUP_DEL,
	STMT_GROUP_TARGET,
	STMT_GROUP_RES_TARGET,
	STMT_GPROP_SET,
	STMT_GPROP_DEL,
	STMT_GPROP_LIST,
	STMT_RES_FIND,
	STMT_RES_ADD,
	STMT_RES_DEL,
	STMT_RES_TARGET,
	STMT_PROP_SET,
	STMT_PROP_DEL,
	STMT_PROP_LIST,
	STMT_DEP_ADD,
	STMT_DEP_DEL,
	STMT_DEP_REACHES,
	STMT_DEP_DEPTH,
	STMT_LOAD_TYPES,
	STMT_LOAD_GROUPS,
	STMT_LOAD_RESOURCES,
	STMT_LOAD_DEPS,
	STMT_LOAD_RESOURCE,
	STMT_LOAD_GROUP,
	STMT_GROUP_PROVIDES,
	STMT_GROUP_RENAME,
	STMT_RES_RENAME,
	STMT_GDEP_CLEAR,
	STMT_GDEP_ADD,
	STMT_GDEP_REACHES,
	STMT_GROUP_EXPR,
	STMT_GROUP_BY_ID,
	STMT_LOAD_GDEPS,
	_STMT_MAX,
};

struct config_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[_STMT_MAX];
};

/* SQLite result code (primary or extended) → negative errno; 0 for OK/ROW/DONE. */
int config_errno(int rc);

/* The cached statement, reset and unbound; NULL with *r set on error. */
sqlite3_stmt *config_stmt(struct config_store *s, enum config_stmt id, int *r);

/* Resets a statement taken with config_stmt at scope exit. */
static inline void config_stmt_resetp(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_ _cleanup_(config_stmt_resetp)

/* Runs a statement without results to completion. */
int config_exec(struct config_store *s, enum config_stmt id);

/* BEGIN IMMEDIATE / COMMIT, or ROLLBACK (which cannot fail usefully). */
int config_begin(struct config_store *s);
int config_commit(struct config_store *s);
void config_rollback(struct config_store *s);
/* Commits if r >= 0 (returning the commit's error, if any), else rolls back and returns r. */
int config_end(struct config_store *s, int r);

int config_bind_text(sqlite3_stmt *st, int idx, const char *text);

/* Names and keys (config-store.h); 0 or -EINVAL. */
int config_name_check(const char *name);
/* 128 random bits as 32 hex characters. */
int config_id_new(char ret[CONFIG_ID_LEN + 1]);

/* config-schema.c: brings the schema to CONFIG_SCHEMA_VERSION, in one transaction. */
int config_schema_migrate(struct config_store *s);
/* The version on disk; -EPROTONOSUPPORT if newer than this code. */
int config_schema_version(struct config_store *s, int *ret);

/* config-props.c: the properties of resources and of groups. */
enum config_prop_owner {
	CONFIG_PROPS_RESOURCE, /* common (numbers) and private (text) properties */
	CONFIG_PROPS_GROUP,    /* group-props.h's only, all numbers */
};

bool config_prop_is_common(const char *key);
/* A property of group-props.h (case-insensitive). */
bool config_group_prop_is_known(const char *key);
/* A common property's value: decimal or 0x-hex; -EINVAL not a number, -ERANGE > UINT32_MAX. */
int config_prop_parse(const char *value, uint32_t *ret);
/* Checks a request before anything is written (config_store_resource_set_props). */
int config_props_check(enum config_prop_owner owner, const struct config_prop *props, size_t n,
		       bool allow_remove, const char **reterr_key);
/* Writes a checked request for the resource or group with this id. */
int config_props_apply(struct config_store *s, enum config_prop_owner owner, const char *id,
		       const struct config_prop *props, size_t n);
/* The resource's common set as stored (defaults overlaid), unvalidated. */
int config_props_common(struct config_store *s, const char *res_id, struct res_props *ret);
/* The group's set as stored (defaults overlaid), unvalidated. */
int config_group_props_read(struct config_store *s, const char *group_id, struct group_props *ret);
