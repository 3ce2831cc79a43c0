/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration store: opening the database, the statement cache,
 * transactions, and SQLite's errors as errnos.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config-store-internal.h"

static const char *const stmt_sql[_STMT_MAX] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_TYPE_ID] = "SELECT id FROM types WHERE name = ?1",
	[STMT_TYPE_ADD] = "INSERT INTO types (id, name) VALUES (?1, ?2)",
	[STMT_TYPE_USED] = "SELECT 1 FROM resources WHERE type_id = ?1 LIMIT 1",
	[STMT_TYPE_DEL] = "DELETE FROM types WHERE id = ?1",
	[STMT_GROUP_ID] = "SELECT id FROM groups WHERE name = ?1",
	[STMT_GROUP_ADD] = "INSERT INTO groups (id, name) VALUES (?1, ?2)",
	[STMT_GROUP_USED] = "SELECT 1 FROM resources WHERE group_id = ?1 LIMIT 1",
	[STMT_GROUP_DEL] = "DELETE FROM groups WHERE id = ?1",
	[STMT_GROUP_TARGET] = "UPDATE groups SET target = ?2 WHERE name = ?1",
	[STMT_GROUP_RES_TARGET] = "UPDATE resources SET target = ?2 "
				  "WHERE group_id = (SELECT id FROM groups WHERE name = ?1)",
	[STMT_GPROP_SET] = "INSERT INTO group_props (group_id, key, value) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT (group_id, key) DO UPDATE SET value = excluded.value",
	[STMT_GPROP_DEL] = "DELETE FROM group_props WHERE group_id = ?1 AND key = ?2",
	[STMT_GPROP_LIST] = "SELECT key, value FROM group_props WHERE group_id = ?1 ORDER BY key",
	[STMT_RES_FIND] = "SELECT id, group_id FROM resources WHERE name = ?1",
	[STMT_RES_ADD] =
		"INSERT INTO resources (id, name, group_id, type_id) VALUES (?1, ?2, ?3, ?4)",
	[STMT_RES_DEL] = "DELETE FROM resources WHERE id = ?1",
	[STMT_RES_TARGET] = "UPDATE resources SET target = ?2 WHERE name = ?1",
	[STMT_PROP_SET] =
		"INSERT INTO resource_props (resource_id, key, value) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
	[STMT_PROP_DEL] = "DELETE FROM resource_props WHERE resource_id = ?1 AND key = ?2",
	[STMT_PROP_LIST] = "SELECT key, value FROM resource_props WHERE resource_id = ?1 "
			   "ORDER BY key",
	[STMT_DEP_ADD] = "INSERT INTO resource_deps (dependent_id, provider_id) VALUES (?1, ?2)",
	[STMT_DEP_DEL] = "DELETE FROM resource_deps WHERE dependent_id = ?1 AND provider_id = ?2",
	/* Does ?1 reach ?2 (itself included) along "depends on"? */
	[STMT_DEP_REACHES] = "WITH RECURSIVE reach(id) AS (SELECT ?1 UNION "
			     "SELECT d.provider_id FROM resource_deps d JOIN reach "
			     "ON d.dependent_id = reach.id) "
			     "SELECT 1 FROM reach WHERE id = ?2 LIMIT 1",
	/*
	 * The edges of the longest chain through a new edge ?1 → ?2: the longest
	 * chain of dependents ending at ?1, one, the longest chain of providers
	 * from ?2.  UNION keeps one row per (resource, depth), so a lattice of
	 * diamonds costs resources × depth rows, not one row per path; each
	 * side stops at CONFIG_DEP_DEPTH_MAX, enough to tell "too deep".
	 */
	[STMT_DEP_DEPTH] = "WITH RECURSIVE "
			   "up(id, depth) AS (SELECT ?1, 0 UNION "
			   "SELECT d.dependent_id, up.depth + 1 FROM resource_deps d JOIN up "
			   "ON d.provider_id = up.id WHERE up.depth < ?3), "
			   "down(id, depth) AS (SELECT ?2, 0 UNION "
			   "SELECT d.provider_id, down.depth + 1 FROM resource_deps d JOIN down "
			   "ON d.dependent_id = down.id WHERE down.depth < ?3) "
			   "SELECT (SELECT max(depth) FROM up) + 1 + (SELECT max(depth) FROM down)",
	[STMT_LOAD_TYPES] = "SELECT id, name FROM types ORDER BY name",
	[STMT_LOAD_GROUPS] = "SELECT id, name, target, dep_expr FROM groups ORDER BY name",
	[STMT_LOAD_RESOURCES] = "SELECT r.id, r.name, r.group_id, r.type_id, r.target, t.name "
				"FROM resources r JOIN groups g ON g.id = r.group_id "
				"JOIN types t ON t.id = r.type_id "
				"ORDER BY g.name, r.name",
	[STMT_LOAD_DEPS] = "SELECT d.dependent_id, d.provider_id FROM resource_deps d "
			   "JOIN resources r ON r.id = d.dependent_id "
			   "JOIN groups g ON g.id = r.group_id "
			   "JOIN resources p ON p.id = d.provider_id "
			   "ORDER BY g.name, r.name, p.name",
	[STMT_GROUP_PROVIDES] = "SELECT 1 FROM group_deps WHERE provider_id = ?1 LIMIT 1",
	[STMT_GROUP_RENAME] = "UPDATE groups SET name = ?2 WHERE id = ?1",
	[STMT_RES_RENAME] = "UPDATE resources SET name = ?2 WHERE id = ?1",
	[STMT_GDEP_CLEAR] = "DELETE FROM group_deps WHERE dependent_id = ?1",
	[STMT_GDEP_ADD] = "INSERT INTO group_deps (dependent_id, provider_id, position) "
			  "VALUES (?1, ?2, CAST(?3 AS INTEGER))",
	/* Does group ?1 depend on group ?2, directly or not? */
	[STMT_GDEP_REACHES] = "WITH RECURSIVE reach(id) AS (SELECT ?1 UNION "
			      "SELECT d.provider_id FROM group_deps d JOIN reach "
			      "ON d.dependent_id = reach.id) "
			      "SELECT 1 FROM reach WHERE id = ?2 LIMIT 1",
	[STMT_GROUP_EXPR] = "UPDATE groups SET dep_expr = ?2 WHERE id = ?1",
	[STMT_GROUP_BY_ID] = "SELECT id FROM groups WHERE id = ?1",
	[STMT_LOAD_GDEPS] = "SELECT d.dependent_id, d.provider_id FROM group_deps d "
			    "JOIN groups g ON g.id = d.dependent_id ORDER BY g.name, d.position",
	[STMT_LOAD_GROUP] = "SELECT id, name, target, dep_expr FROM groups WHERE name = ?1",
	[STMT_LOAD_RESOURCE] = "SELECT r.id, r.name, r.group_id, r.type_id, r.target, t.name "
			       "FROM resources r JOIN types t ON t.id = r.type_id "
			       "WHERE r.name = ?1",
};

int config_errno(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	case SQLITE_IOERR_NOMEM:
		return -ENOMEM;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EPERM;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_INTERRUPT:
		return -EINTR;
	case SQLITE_PROTOCOL:
		return -EPROTO;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	default:
		return -EIO;
	}
}

sqlite3_stmt *config_stmt(struct config_store *s, enum config_stmt id, int *r)
{
	if (!s->stmts[id]) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			*r = config_errno(rc);
			return NULL;
		}
	}
	return s->stmts[id];
}

int config_exec(struct config_store *s, enum config_stmt id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = 0;

	st = config_stmt(s, id, &r);
	if (!st)
		return r;
	return config_errno(sqlite3_step(st));
}

int config_begin(struct config_store *s)
{
	return config_exec(s, STMT_BEGIN);
}

int config_commit(struct config_store *s)
{
	return config_exec(s, STMT_COMMIT);
}

void config_rollback(struct config_store *s)
{
	/* SQLite may have rolled back already (SQLITE_FULL, IOERR, ...). */
	if (!sqlite3_get_autocommit(s->db))
		(void) config_exec(s, STMT_ROLLBACK);
}

int config_end(struct config_store *s, int r)
{
	if (r >= 0) {
		r = config_commit(s);
		if (r >= 0)
			return 0;
	}
	config_rollback(s);
	return r;
}

int config_bind_text(sqlite3_stmt *st, int idx, const char *text)
{
	return config_errno(sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC));
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return config_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Creates the file with mode 0600 (SQLite would use 0644 & ~umask); its -wal and -shm follow. */
static int db_create(int dfd, bool *ret_created)
{
	_cleanup_close_ int fd = -EBADF;

	fd = openat(dfd, "hagent.db", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno != EEXIST)
			return negative_errno();
		*ret_created = false;
		return 0;
	}
	if (fchmod(fd, 0600) < 0)
		return negative_errno();
	*ret_created = true;
	/* Closed now: closing any descriptor of the file later would drop SQLite's locks. */
	return 0;
}

int config_store_open(const char *state_dir, struct config_store **ret)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dfd = -EBADF;
	bool created;
	int r, version, rc;

	assert_return(state_dir, -EINVAL);
	assert_return(ret, -EINVAL);

	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();
	r = db_create(dfd, &created);
	if (r < 0)
		return r;
	if (asprintf(&path, "%s/hagent.db", state_dir) < 0)
		return -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return s->db ? config_errno(sqlite3_extended_errcode(s->db)) : -ENOMEM;
	sqlite3_extended_result_codes(s->db, 1);

	/* Before anything writes to the file: a newer schema stays untouched. */
	r = config_schema_version(s, &version);
	if (r < 0)
		return r;

	r = exec_sql(s->db, "PRAGMA journal_mode = WAL");
	if (r < 0)
		return r;
	r = exec_sql(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
			    "PRAGMA trusted_schema = OFF");
	if (r < 0)
		return r;

	r = config_schema_migrate(s);
	if (r < 0)
		return r;

	/* The new file's directory entry, durable before anything is acknowledged. */
	if (created && fsync(dfd) < 0)
		return negative_errno();

	*ret = TAKE_PTR(s);
	return 0;
}

struct config_store *config_store_free(struct config_store *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < _STMT_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close_v2(s->db);
	free(s);
	return NULL;
}
