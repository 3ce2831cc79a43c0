/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The schema of hagent.db and its forward-only migrations.  PRAGMA
 * user_version is the number of migrations applied; migration i takes
 * version i to i + 1.  Never edit a migration once released: add one.
 */

#include <errno.h>
#include <stdio.h>

#include "config-store-internal.h"

static const char *const migrations[] = {
	/* 0 → 1 */
	"CREATE TABLE types ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE"
	");"
	"CREATE TABLE groups ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  target INTEGER NOT NULL DEFAULT 0 CHECK (target IN (0, 1)),"
	"  dep_expr TEXT"
	");"
	"CREATE TABLE resources ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  group_id TEXT NOT NULL REFERENCES groups (id),"
	"  type_id TEXT NOT NULL REFERENCES types (id),"
	"  target INTEGER NOT NULL DEFAULT 0 CHECK (target IN (0, 1))"
	");"
	"CREATE INDEX resources_group ON resources (group_id);"
	"CREATE INDEX resources_type ON resources (type_id);"
	"CREATE TABLE resource_props ("
	"  resource_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL COLLATE NOCASE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (resource_id, key)"
	") WITHOUT ROWID;"
	"CREATE TABLE resource_deps ("
	"  dependent_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  provider_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  PRIMARY KEY (dependent_id, provider_id),"
	"  CHECK (dependent_id <> provider_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX resource_deps_provider ON resource_deps (provider_id);",
	/* 1 → 2: group properties (FailoverThreshold, FailoverPeriod) */
	"CREATE TABLE group_props ("
	"  group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL COLLATE NOCASE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (group_id, key)"
	") WITHOUT ROWID;",
	/* 2 → 3: group dependency expressions, by group id (semantics.md §6) */
	"CREATE TABLE group_deps ("
	"  dependent_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
	"  provider_id TEXT NOT NULL REFERENCES groups (id),"
	"  position INTEGER NOT NULL,"
	"  PRIMARY KEY (dependent_id, provider_id),"
	"  CHECK (dependent_id <> provider_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX group_deps_provider ON group_deps (provider_id);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == CONFIG_SCHEMA_VERSION,
	       "one migration per schema version");

int config_schema_version(struct config_store *s, int *ret)
{
	sqlite3_stmt *st = NULL;
	int rc, v = 0;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			v = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return config_errno(rc);
	if (v < 0 || v > CONFIG_SCHEMA_VERSION)
		return -EPROTONOSUPPORT;
	*ret = v;
	return 0;
}

int config_schema_migrate(struct config_store *s)
{
	char sql[64];
	int r, v;

	r = config_begin(s);
	if (r < 0)
		return r;
	/* Again, inside the write transaction: another process may have migrated meanwhile. */
	r = config_schema_version(s, &v);
	for (; r >= 0 && v < CONFIG_SCHEMA_VERSION; v++) {
		r = config_errno(sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL));
		if (r < 0)
			break;
		(void) snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		r = config_errno(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
	}
	return config_end(s, r);
}
