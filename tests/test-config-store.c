/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration store (agent/config-store.h): a round trip of everything
 * through close and reopen, every error with its errno and an unchanged
 * database after it, case-insensitive names, dependency rules, durability
 * across SIGKILL (after the call returned, and in the middle of one), the
 * schema version, the migration of a version 1 database, and a file that is
 * not a database.  Groups: properties, targets of a group and its members,
 * resources added with their dependencies, the dependency depth limit.
 */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config-store.h"
#include "test-util.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st _unused_, int flag _unused_,
		  struct FTW *ftw _unused_)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/test-config-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	(void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *db_path(const char *suffix)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/hagent.db%s", dir, suffix);
	return path;
}

static struct config_store *open_ok(void)
{
	struct config_store *s = NULL;
	int r = config_store_open(dir, &s);

	ck_assert_msg(r == 0, "config_store_open: %s", strerror(-r));
	return s;
}

/* Everything the store holds, as text: equal dumps, equal configurations. */
static char *dump(struct config_store *s)
{
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(config_store_load(s, &snap), 0);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < snap->n_types; i++)
		fprintf(f, "type %s %s\n", snap->types[i].id, snap->types[i].name);
	for (size_t i = 0; i < snap->n_groups; i++) {
		const struct config_group *g = &snap->groups[i];

		fprintf(f, "group %s %s %d %s\n", g->id, g->name, g->target,
			g->dep_expr ? g->dep_expr : "-");
		fprintf(f, " common %u %u\n", g->common.failover_threshold,
			g->common.failover_period_h);
		for (size_t j = 0; j < g->n_props; j++)
			fprintf(f, " prop %s=%s\n", g->props[j].key, g->props[j].value);
	}
	for (size_t i = 0; i < snap->n_resources; i++) {
		const struct config_resource *r = &snap->resources[i];

		fprintf(f, "resource %s %s %s %s %d\n", r->id, r->name, r->group_id, r->type_id,
			r->target);
		fprintf(f, " common %u %u %u %u %u %u %u %u %u\n", r->common.pending_timeout_ms,
			r->common.deadlock_timeout_ms, r->common.looks_alive_ms,
			r->common.is_alive_ms, r->common.restart_action,
			r->common.restart_threshold, r->common.restart_period_ms,
			r->common.restart_delay_ms, r->common.retry_period_ms);
		for (size_t j = 0; j < r->n_props; j++)
			fprintf(f, " prop %s=%s\n", r->props[j].key, r->props[j].value);
	}
	for (size_t i = 0; i < snap->n_deps; i++)
		fprintf(f, "dep %s %s\n", snap->deps[i].dependent_id, snap->deps[i].provider_id);
	for (size_t i = 0; i < snap->n_group_deps; i++)
		fprintf(f, "group-dep %s %s\n", snap->group_deps[i].dependent_id,
			snap->group_deps[i].provider_id);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* A mutation that must fail with want, leaving the store as it was. */
#define FAILS(s, want, call)                                                                       \
	do {                                                                                       \
		_cleanup_free_ char *_before = dump(s), *_after = NULL;                            \
		int _r = (call);                                                                   \
                                                                                                   \
		ck_assert_msg(_r == (want), "%s: %d (%s), expected %d (%s)", #call, _r,            \
			      strerror(-_r), (want), strerror(-(want)));                           \
		_after = dump(s);                                                                  \
		ck_assert_str_eq(_before, _after);                                                 \
	} while (false)

#define OK(call)                                                                                   \
	do {                                                                                       \
		int _r = (call);                                                                   \
                                                                                                   \
		ck_assert_msg(_r == 0, "%s: %d (%s)", #call, _r, strerror(-_r));                   \
	} while (false)

/* Two groups, a type, three resources with properties and dependencies. */
static void populate(struct config_store *s)
{
	const struct config_prop web_props[] = {
		{"PendingTimeout", "20000"},
		{"RestartAction", "0x1"},
		{"Address", "192.0.2.10/24"},
		{"comment", "spaces and = signs = fine"},
	};
	const struct config_prop none[] = {{NULL, NULL}};

	OK(config_store_type_add(s, "test", NULL));
	OK(config_store_type_add(s, "IP Address", NULL));
	OK(config_store_group_add(s, "web", NULL));
	OK(config_store_group_add(s, "Database", NULL));
	OK(config_store_resource_add(s, "web-ip", "web", "IP Address", web_props,
				     ELEMENTSOF(web_props), NULL, NULL));
	OK(config_store_resource_add(s, "httpd", "WEB", "test", none, 0, NULL, NULL));
	OK(config_store_resource_add(s, "Postgres", "database", "TEST", NULL, 0, NULL, NULL));
	OK(config_store_dep_add(s, "httpd", "web-ip"));
	OK(config_store_resource_set_target(s, "httpd", CONFIG_TARGET_ONLINE));
	OK(config_store_group_set_target(s, "web", CONFIG_TARGET_ONLINE));
}

START_TEST(test_roundtrip)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	_cleanup_free_ char *before = NULL, *after = NULL;
	char gid[CONFIG_ID_LEN + 1], rid[CONFIG_ID_LEN + 1];
	const struct res_props *c;

	populate(s);
	OK(config_store_group_add(s, "empty", gid));
	OK(config_store_resource_add(s, "standby", "empty", "test", NULL, 0, rid, NULL));
	ck_assert_uint_eq(strlen(gid), CONFIG_ID_LEN);
	ck_assert_uint_eq(strspn(gid, "0123456789abcdef"), CONFIG_ID_LEN);
	ck_assert_str_ne(gid, rid);

	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_types, 2);
	ck_assert_str_eq(snap->types[0].name, "IP Address");
	ck_assert_str_eq(snap->types[1].name, "test");
	/* groups by name, case-insensitively */
	ck_assert_uint_eq(snap->n_groups, 3);
	ck_assert_str_eq(snap->groups[0].name, "Database");
	ck_assert_str_eq(snap->groups[1].name, "empty");
	ck_assert_str_eq(snap->groups[1].id, gid);
	ck_assert_str_eq(snap->groups[2].name, "web");
	ck_assert_int_eq(snap->groups[0].target, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(snap->groups[2].target, CONFIG_TARGET_ONLINE);
	ck_assert_ptr_null(snap->groups[2].dep_expr);
	/* resources by group, then name */
	ck_assert_uint_eq(snap->n_resources, 4);
	ck_assert_str_eq(snap->resources[0].name, "Postgres");
	ck_assert_str_eq(snap->resources[1].name, "standby");
	ck_assert_str_eq(snap->resources[1].id, rid);
	ck_assert_str_eq(snap->resources[1].group_id, gid);
	ck_assert_str_eq(snap->resources[2].name, "httpd");
	ck_assert_str_eq(snap->resources[3].name, "web-ip");
	ck_assert_str_eq(snap->resources[3].type_id, snap->types[0].id);
	ck_assert_int_eq(snap->resources[2].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->resources[3].target, CONFIG_TARGET_OFFLINE);
	/* properties by key, case-insensitively; common ones in decimal and in .common */
	ck_assert_uint_eq(snap->resources[3].n_props, 4);
	ck_assert_str_eq(snap->resources[3].props[0].key, "Address");
	ck_assert_str_eq(snap->resources[3].props[0].value, "192.0.2.10/24");
	ck_assert_str_eq(snap->resources[3].props[1].key, "comment");
	ck_assert_str_eq(snap->resources[3].props[2].key, "PendingTimeout");
	ck_assert_str_eq(snap->resources[3].props[2].value, "20000");
	ck_assert_str_eq(snap->resources[3].props[3].key, "RestartAction");
	ck_assert_str_eq(snap->resources[3].props[3].value, "1");
	c = &snap->resources[3].common;
	ck_assert_uint_eq(c->pending_timeout_ms, 20000);
	ck_assert_uint_eq(c->restart_action, RES_RESTART_LOCAL);
	ck_assert_uint_eq(c->deadlock_timeout_ms, 300000); /* default */
	ck_assert_uint_eq(snap->resources[0].n_props, 0);
	ck_assert_uint_eq(snap->n_deps, 1);
	ck_assert_str_eq(snap->deps[0].dependent_id, snap->resources[2].id);
	ck_assert_str_eq(snap->deps[0].provider_id, snap->resources[3].id);

	before = dump(s);
	s = config_store_free(s);
	s = open_ok();
	after = dump(s);
	ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(test_file)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;
	mode_t old = umask(0);
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *q;

	s = open_ok();
	umask(old);
	OK(config_store_group_add(s, "g", NULL));
	ck_assert_int_eq(stat(db_path(""), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(db_path("-wal"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(db_path("-shm"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	/* what another connection sees: WAL, and the schema version */
	ck_assert_int_eq(sqlite3_open(db_path(""), &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *) sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), CONFIG_SCHEMA_VERSION);
	sqlite3_finalize(q);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_open_errors)
{
	struct config_store *s = NULL;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/nope", dir);
	ck_assert_int_eq(config_store_open(missing, &s), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(config_store_open(NULL, &s), -EINVAL);
}
END_TEST

/* Reads the database file whole (no -wal after a clean close). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t) n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
	fclose(f);
	*len = (size_t) n;
	return buf;
}

START_TEST(test_newer_schema)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct config_store *s = open_ok();
	size_t n1, n2;
	char sql[64];
	sqlite3 *db;

	populate(s);
	config_store_free(s);
	ck_assert_int_eq(sqlite3_open(db_path(""), &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", CONFIG_SCHEMA_VERSION + 1);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(access(db_path("-wal"), F_OK), -1);

	before = slurp(db_path(""), &n1);
	s = NULL;
	ck_assert_int_eq(config_store_open(dir, &s), -EPROTONOSUPPORT);
	ck_assert_ptr_null(s);
	after = slurp(db_path(""), &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(before, after, n1) == 0);
}
END_TEST

START_TEST(test_garbage)
{
	struct config_store *s = NULL;
	char junk[8192];
	int fd;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char) ("not a database "[i % 15]);
	fd = open(db_path(""), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t) sizeof(junk));
	close(fd);
	ck_assert_int_eq(config_store_open(dir, &s), -EBADMSG);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_empty_file)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;
	int fd = open(db_path(""), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	/* a crash between creating the file and the first migration leaves this */
	ck_assert_int_ge(fd, 0);
	close(fd);
	s = open_ok();
	OK(config_store_group_add(s, "g", NULL));
}
END_TEST

START_TEST(test_names)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	static const char *const bad[] = {
		"",
		"a/b",
		"a\tb",
		"a\nb",
		"del\x7f",
		" lead",
		"trail ",
		"\xff",
		"bad\xc3(",
		"\xc2\x80"
		"c1",
		"\xed\xa0\x80",
		"\xc0\xaf",
		NULL,
	};
	char longest[CONFIG_NAME_MAX + 2];

	populate(s);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		FAILS(s, -EINVAL, config_store_group_add(s, bad[i], NULL));
		FAILS(s, -EINVAL, config_store_type_add(s, bad[i], NULL));
		FAILS(s, -EINVAL, config_store_group_remove(s, bad[i]));
		FAILS(s, -EINVAL,
		      config_store_resource_add(s, bad[i], "web", "test", NULL, 0, NULL, NULL));
	}
	memset(longest, 'x', sizeof(longest));
	longest[CONFIG_NAME_MAX + 1] = '\0';
	FAILS(s, -EINVAL, config_store_group_add(s, longest, NULL));
	longest[CONFIG_NAME_MAX] = '\0';
	OK(config_store_group_add(s, longest, NULL));
	OK(config_store_group_add(s, "Ünïcödé group €", NULL));
	OK(config_store_group_add(s, "a b", NULL));
}
END_TEST

START_TEST(test_case_insensitive)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	const struct config_prop dup[] = {{"Foo", "1"}, {"bar", "2"}, {"FOO", "3"}};
	const struct config_prop lower[] = {{"pendingtimeout", "30000"}, {"FOO", "x"}};
	const struct config_prop again[] = {{"PENDINGTIMEOUT", "40000"}, {"foo", "y"}};
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const char *key = NULL;

	populate(s);
	FAILS(s, -EEXIST, config_store_group_add(s, "WEB", NULL));
	FAILS(s, -EEXIST, config_store_type_add(s, "ip address", NULL));
	FAILS(s, -EEXIST,
	      config_store_resource_add(s, "HTTPD", "web", "test", NULL, 0, NULL, &key));
	ck_assert_str_eq(key, "name");
	/* resource names are unique across groups */
	FAILS(s, -EEXIST,
	      config_store_resource_add(s, "postGRES", "web", "test", NULL, 0, NULL, &key));
	FAILS(s, -EINVAL, config_store_resource_set_props(s, "httpd", dup, ELEMENTSOF(dup), &key));
	ck_assert_str_eq(key, "FOO");

	OK(config_store_resource_set_props(s, "HTTPD", lower, ELEMENTSOF(lower), &key));
	ck_assert_ptr_null(key);
	OK(config_store_resource_set_props(s, "httpd", again, ELEMENTSOF(again), NULL));
	OK(config_store_load(s, &snap));
	ck_assert_str_eq(snap->resources[1].name, "httpd");
	ck_assert_uint_eq(snap->resources[1].n_props, 2);
	ck_assert_str_eq(snap->resources[1].props[0].value, "y");
	ck_assert_str_eq(snap->resources[1].props[1].value, "40000");
	ck_assert_uint_eq(snap->resources[1].common.pending_timeout_ms, 40000);

	/* a group name and a resource name may be the same: different kinds */
	OK(config_store_resource_add(s, "Database", "database", "test", NULL, 0, NULL, NULL));
}
END_TEST

START_TEST(test_group_errors)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();

	populate(s);
	FAILS(s, -ENOENT, config_store_group_remove(s, "nope"));
	FAILS(s, -ENOTEMPTY, config_store_group_remove(s, "Web"));
	FAILS(s, -ENOENT, config_store_group_set_target(s, "nope", CONFIG_TARGET_ONLINE));
	FAILS(s, -EINVAL, config_store_group_set_target(s, "web", (enum config_target) 2));
	FAILS(s, -ENOENT, config_store_type_remove(s, "nope"));
	FAILS(s, -ENOTEMPTY, config_store_type_remove(s, "test"));
	FAILS(s, -EINVAL, config_store_group_add(NULL, "x", NULL));

	OK(config_store_group_add(s, "spare", NULL));
	OK(config_store_type_add(s, "unused", NULL));
	OK(config_store_group_remove(s, "SPARE"));
	OK(config_store_type_remove(s, "Unused"));
	FAILS(s, -ENOENT, config_store_group_remove(s, "spare"));
}
END_TEST

/* The id of group name, from a load. */
static void group_id(struct config_store *s, const char *name, char ret[CONFIG_ID_LEN + 1])
{
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;

	ret[0] = '\0';
	ck_assert_int_eq(config_store_load(s, &snap), 0);
	for (size_t i = 0; i < snap->n_groups; i++)
		if (strcasecmp(snap->groups[i].name, name) == 0)
			memcpy(ret, snap->groups[i].id, CONFIG_ID_LEN + 1);
	ck_assert_str_ne(ret, "");
}

/*
 * Claim: group dependencies are stored by id in the order given with their
 * text, replaced whole, survive renames, guard against cycles (direct and
 * transitive) and self, and keep a provider group from being removed.
 */
START_TEST(test_group_deps)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	char web[CONFIG_ID_LEN + 1], db[CONFIG_ID_LEN + 1], st[CONFIG_ID_LEN + 1];
	char bogus[CONFIG_ID_LEN + 1];
	size_t bad = 99;

	populate(s);
	OK(config_store_group_add(s, "storage", NULL));
	group_id(s, "web", web);
	group_id(s, "database", db);
	group_id(s, "storage", st);
	memset(bogus, 'a', CONFIG_ID_LEN);
	bogus[CONFIG_ID_LEN] = '\0';
	{
		const char *web_deps[] = {st, db}, *db_deps[] = {st};

		OK(config_store_group_set_deps(s, "web", "text-web", web_deps, 2, NULL));
		OK(config_store_group_set_deps(s, "DATABASE", "text-db", db_deps, 1, NULL));
	}
	{
		const char *self[] = {db}, *loop[] = {web}, *loop2[] = {db, web}, *dup[] = {db, db};
		const char *unknown[] = {st, bogus};

		FAILS(s, -ELOOP, config_store_group_set_deps(s, "database", "x", self, 1, &bad));
		FAILS(s, -ELOOP, config_store_group_set_deps(s, "storage", "x", loop, 1, &bad));
		FAILS(s, -ELOOP, config_store_group_set_deps(s, "storage", "x", loop2, 2, &bad));
		ck_assert_uint_eq(bad, 0); /* database already reaches storage */
		FAILS(s, -EINVAL, config_store_group_set_deps(s, "web", "x", dup, 2, &bad));
		FAILS(s, -ENOENT, config_store_group_set_deps(s, "web", "x", unknown, 2, &bad));
		ck_assert_uint_eq(bad, 1);
		FAILS(s, -ENOENT, config_store_group_set_deps(s, "nope", "x", NULL, 0, &bad));
		FAILS(s, -EADDRINUSE, config_store_group_remove(s, "storage"));
		FAILS(s, -EEXIST, config_store_group_rename(s, "storage", "WEB"));
		FAILS(s, -EINVAL, config_store_group_rename(s, "storage", " x"));
		FAILS(s, -ENOENT, config_store_group_rename(s, "nope", "x"));
		FAILS(s, -EEXIST, config_store_resource_rename(s, "httpd", "Postgres"));
	}
	OK(config_store_group_rename(s, "storage", "Disks"));
	OK(config_store_group_rename(s, "disks", "DISKS")); /* case only */
	OK(config_store_resource_rename(s, "httpd", "nginx"));
	ck_assert_int_eq(config_store_load(s, &snap), 0);
	ck_assert_uint_eq(snap->n_group_deps, 3);
	/* by dependent's name ("Database" < "web"), then in the order given */
	ck_assert_str_eq(snap->group_deps[0].dependent_id, db);
	ck_assert_str_eq(snap->group_deps[0].provider_id, st);
	ck_assert_str_eq(snap->group_deps[1].dependent_id, web);
	ck_assert_str_eq(snap->group_deps[1].provider_id, st);
	ck_assert_str_eq(snap->group_deps[2].provider_id, db);
	for (size_t i = 0; i < snap->n_groups; i++)
		if (strcmp(snap->groups[i].id, web) == 0)
			ck_assert_str_eq(snap->groups[i].dep_expr, "text-web");
		else if (strcmp(snap->groups[i].id, st) == 0)
			ck_assert_str_eq(snap->groups[i].name, "DISKS");
	snap = config_snapshot_free(snap);

	/* Replaced whole, cleared, and then the provider can go. */
	{
		const char *web_deps[] = {db};

		OK(config_store_group_set_deps(s, "web", "text-web-2", web_deps, 1, NULL));
	}
	OK(config_store_group_set_deps(s, "database", "", NULL, 0, NULL));
	OK(config_store_resource_remove(s, "Postgres"));
	FAILS(s, -EADDRINUSE, config_store_group_remove(s, "database")); /* web still */
	OK(config_store_group_set_deps(s, "web", "", NULL, 0, NULL));
	OK(config_store_group_remove(s, "disks"));
	ck_assert_int_eq(config_store_load(s, &snap), 0);
	ck_assert_uint_eq(snap->n_group_deps, 0);
}
END_TEST

START_TEST(test_resource_errors)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	static char huge[CONFIG_VALUE_MAX + 2];
	const struct config_prop not_number[] = {{"Address", "x"}, {"IsAlivePollInterval", "5s"}};
	const struct config_prop negative[] = {{"RestartDelay", "-1"}};
	const struct config_prop spaced[] = {{"RestartDelay", " 1"}};
	const struct config_prop empty[] = {{"RestartDelay", ""}};
	const struct config_prop over[] = {{"RestartDelay", "4294967296"}};
	const struct config_prop over_hex[] = {{"RestartDelay", "0x100000000"}};
	const struct config_prop zero_poll[] = {{"LooksAlivePollInterval", "0"}};
	const struct config_prop low_pending[] = {{"PendingTimeout", "5"}};
	const struct config_prop bad_key[] = {{"a/b", "1"}};
	const struct config_prop null_value[] = {{"Address", NULL}};
	const struct config_prop big[] = {{"Blob", huge}};
	/* every write valid alone, the result invalid: none of it may stay */
	const struct config_prop mixed[] = {
		{"Address", "198.51.100.1"}, {"RestartDelay", "1000"}, {"RestartPeriod", "0"}};
	const struct config_prop retry[] = {{"RetryPeriodOnFailure", "1000"}};
	const struct config_prop max_u32[] = {{"RetryPeriodOnFailure", "0xFFFFFFFF"}};
	const char *key = NULL;

	memset(huge, 'v', sizeof(huge) - 1);
	populate(s);

#define ADD_FAILS(want, props, want_key)                                                           \
	do {                                                                                       \
		key = "unset";                                                                     \
		FAILS(s, want,                                                                     \
		      config_store_resource_add(s, "new", "web", "test", props, ELEMENTSOF(props), \
						NULL, &key));                                      \
		ck_assert_str_eq(key, want_key);                                                   \
		key = "unset";                                                                     \
		FAILS(s, want,                                                                     \
		      config_store_resource_set_props(s, "web-ip", props, ELEMENTSOF(props),       \
						      &key));                                      \
		ck_assert_str_eq(key, want_key);                                                   \
	} while (false)

	ADD_FAILS(-EINVAL, not_number, "IsAlivePollInterval");
	ADD_FAILS(-EINVAL, negative, "RestartDelay");
	ADD_FAILS(-EINVAL, spaced, "RestartDelay");
	ADD_FAILS(-EINVAL, empty, "RestartDelay");
	ADD_FAILS(-ERANGE, over, "RestartDelay");
	ADD_FAILS(-ERANGE, over_hex, "RestartDelay");
	ADD_FAILS(-EINVAL, zero_poll, "LooksAlivePollInterval");
	ADD_FAILS(-ERANGE, low_pending, "PendingTimeout");
	ADD_FAILS(-EINVAL, bad_key, "a/b");
	ADD_FAILS(-E2BIG, big, "Blob");
	ADD_FAILS(-ERANGE, mixed, "RestartPeriod");
	ADD_FAILS(-EINVAL, retry, "RetryPeriodOnFailure");

	/* NULL removes in a set, means nothing in an add */
	key = NULL;
	FAILS(s, -EINVAL,
	      config_store_resource_add(s, "new", "web", "test", null_value, 1, NULL, &key));
	ck_assert_str_eq(key, "Address");

	FAILS(s, -ENOENT, config_store_resource_add(s, "new", "nope", "test", NULL, 0, NULL, &key));
	ck_assert_str_eq(key, "group");
	FAILS(s, -ENOENT, config_store_resource_add(s, "new", "web", "nope", NULL, 0, NULL, &key));
	ck_assert_str_eq(key, "type");
	FAILS(s, -EEXIST,
	      config_store_resource_add(s, "Web-IP", "web", "test", NULL, 0, NULL, &key));
	ck_assert_str_eq(key, "name");
	FAILS(s, -ENOENT, config_store_resource_set_props(s, "nope", retry, 1, &key));
	ck_assert_str_eq(key, "name");
	FAILS(s, -ENOENT, config_store_resource_remove(s, "nope"));
	FAILS(s, -ENOENT, config_store_resource_set_target(s, "nope", CONFIG_TARGET_ONLINE));
	FAILS(s, -EINVAL, config_store_resource_set_target(s, "httpd", (enum config_target) - 1));

	/* the limit itself is fine; 0xFFFFFFFF is a number like any other here */
	huge[CONFIG_VALUE_MAX] = '\0';
	OK(config_store_resource_set_props(s, "web-ip", big, 1, NULL));
	OK(config_store_resource_set_props(s, "web-ip", max_u32, 1, NULL));
	/* removing a property that is not there is not an error */
	OK(config_store_resource_set_props(s, "web-ip", null_value, 1, NULL));
	OK(config_store_resource_set_props(s, "web-ip", null_value, 1, NULL));
}
END_TEST

START_TEST(test_props_remove)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const struct config_prop period[] = {{"RestartPeriod", "10000"},
					     {"RetryPeriodOnFailure", "20000"}};
	const struct config_prop unset_retry[] = {{"RetryPeriodOnFailure", NULL}};
	const struct config_prop unset_both[] = {{"RetryPeriodOnFailure", NULL},
						 {"RestartPeriod", NULL}};
	const struct config_prop big_period[] = {{"RestartPeriod", "7200000"}};
	const char *key = NULL;

	populate(s);
	OK(config_store_resource_set_props(s, "httpd", period, 2, NULL));
	OK(config_store_resource_set_props(s, "httpd", unset_retry, 1, NULL)); /* back to 1 h */
	/* RestartPeriod 2 h above the default retry (1 h): invalid as a whole */
	FAILS(s, -EINVAL, config_store_resource_set_props(s, "httpd", big_period, 1, &key));
	ck_assert_str_eq(key, "RetryPeriodOnFailure");
	OK(config_store_resource_set_props(s, "httpd", unset_both, 2, NULL));
	OK(config_store_load(s, &snap));
	ck_assert_str_eq(snap->resources[1].name, "httpd");
	ck_assert_uint_eq(snap->resources[1].n_props, 0);
	ck_assert_uint_eq(snap->resources[1].common.restart_period_ms, 900000);
}
END_TEST

/* Scenario 37: 0xFFFFFFFF is "the type's value" (the default), but for RetryPeriodOnFailure
 * "never". */
START_TEST(test_props_inherit)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const struct config_prop inherit[] = {{"LooksAlivePollInterval", "0xFFFFFFFF"},
					      {"PendingTimeout", "4294967295"},
					      {"RetryPeriodOnFailure", "0xffffffff"}};

	populate(s);
	OK(config_store_resource_set_props(s, "httpd", inherit, 3, NULL));
	OK(config_store_load(s, &snap));
	ck_assert_str_eq(snap->resources[1].name, "httpd");
	ck_assert_uint_eq(snap->resources[1].common.looks_alive_ms, 5000);
	ck_assert_uint_eq(snap->resources[1].common.pending_timeout_ms, 180000);
	ck_assert_uint_eq(snap->resources[1].common.retry_period_ms, RES_RETRY_NEVER);
	ck_assert_uint_eq(snap->resources[1].n_props, 3); /* stored as given */
}
END_TEST

START_TEST(test_deps)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;

	populate(s); /* httpd → web-ip */
	OK(config_store_resource_add(s, "app", "web", "test", NULL, 0, NULL, NULL));
	OK(config_store_resource_add(s, "disk", "web", "test", NULL, 0, NULL, NULL));
	OK(config_store_dep_add(s, "app", "httpd"));
	OK(config_store_dep_add(s, "web-ip", "disk"));
	OK(config_store_dep_add(s, "app", "disk")); /* a diamond is no cycle */

	FAILS(s, -ELOOP, config_store_dep_add(s, "httpd", "HTTPD"));
	FAILS(s, -ELOOP, config_store_dep_add(s, "web-ip", "httpd"));
	FAILS(s, -ELOOP, config_store_dep_add(s, "disk", "app"));
	FAILS(s, -EXDEV, config_store_dep_add(s, "httpd", "Postgres"));
	FAILS(s, -EXDEV, config_store_dep_add(s, "Postgres", "httpd"));
	FAILS(s, -EEXIST, config_store_dep_add(s, "App", "Httpd"));
	FAILS(s, -ENOENT, config_store_dep_add(s, "app", "nope"));
	FAILS(s, -ENOENT, config_store_dep_add(s, "nope", "app"));
	FAILS(s, -ENOENT, config_store_dep_remove(s, "httpd", "app"));
	FAILS(s, -ENOENT, config_store_dep_remove(s, "httpd", "nope"));
	FAILS(s, -EINVAL, config_store_dep_add(s, "httpd", ""));

	/* order: by the dependent (as resources: group, name), then the provider's name */
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_deps, 4);
	ck_assert_str_eq(snap->resources[1].name, "app");
	ck_assert_str_eq(snap->resources[2].name, "disk");
	ck_assert_str_eq(snap->resources[3].name, "httpd");
	ck_assert_str_eq(snap->resources[4].name, "web-ip");
	ck_assert_str_eq(snap->deps[0].dependent_id, snap->resources[1].id);
	ck_assert_str_eq(snap->deps[0].provider_id, snap->resources[2].id);
	ck_assert_str_eq(snap->deps[1].dependent_id, snap->resources[1].id);
	ck_assert_str_eq(snap->deps[1].provider_id, snap->resources[3].id);
	ck_assert_str_eq(snap->deps[2].dependent_id, snap->resources[3].id);
	ck_assert_str_eq(snap->deps[3].dependent_id, snap->resources[4].id);
	snap = config_snapshot_free(snap);

	/* removing the middle of the chain breaks it: then the old cycle is allowed */
	OK(config_store_dep_remove(s, "httpd", "web-ip"));
	OK(config_store_dep_add(s, "web-ip", "httpd"));

	/* a removed resource takes its dependencies, both ways, and properties with it */
	OK(config_store_resource_remove(s, "HTTPD"));
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_resources, 4);
	ck_assert_uint_eq(snap->n_deps, 2);
	snap = config_snapshot_free(snap);
	OK(config_store_resource_remove(s, "web-ip"));
	OK(config_store_resource_remove(s, "app"));
	OK(config_store_resource_remove(s, "disk"));
	OK(config_store_group_remove(s, "web"));
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_deps, 0);
	ck_assert_uint_eq(snap->n_groups, 1);
}
END_TEST

START_TEST(test_group_props)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	_cleanup_free_ char *before = NULL, *after = NULL;
	const struct config_prop set[] = {{"failoverthreshold", "0x5"}, {"FailoverPeriod", "3"}};
	const struct config_prop nodes[] = {{"FailoverThreshold", "0xFFFFFFFF"}};
	const struct config_prop limits[] = {{"FailoverThreshold", "1000"},
					     {"FailoverPeriod", "1193"}};
	const struct config_prop unset[] = {{"FAILOVERPERIOD", NULL}};
	const struct config_prop private[] = {{"FailoverPeriod", "2"}, {"Address", "x"}};
	const struct config_prop resource_key[] = {{"RestartThreshold", "1"}};
	const struct config_prop dup[] = {{"FailoverPeriod", "2"}, {"failoverPERIOD", "3"}};
	const struct config_prop not_number[] = {{"FailoverPeriod", "3h"}};
	const struct config_prop empty[] = {{"FailoverPeriod", ""}};
	const struct config_prop over[] = {{"FailoverThreshold", "4294967296"}};
	const struct config_prop thr_high[] = {{"FailoverThreshold", "1001"}};
	const struct config_prop thr_almost[] = {{"FailoverThreshold", "4294967294"}};
	const struct config_prop period_zero[] = {{"FailoverPeriod", "0"}};
	const struct config_prop period_high[] = {{"FailoverPeriod", "1194"}};
	/* the first write valid alone, the set invalid: none of it may stay */
	const struct config_prop mixed[] = {{"FailoverThreshold", "2"}, {"FailoverPeriod", "0"}};
	const struct config_prop bad_key[] = {{"a/b", "1"}};
	struct config_group g = {};
	const char *key = NULL;

	populate(s);
	/* defaults, before anything is set */
	OK(config_store_group_get(s, "WEB", &g));
	ck_assert_str_eq(g.name, "web");
	ck_assert_int_eq(g.target, CONFIG_TARGET_ONLINE);
	ck_assert_uint_eq(g.common.failover_threshold, GROUP_FAILOVER_THRESHOLD_NODES);
	ck_assert_uint_eq(g.common.failover_period_h, 6);
	ck_assert_uint_eq(g.n_props, 0);
	config_group_done(&g);

	OK(config_store_group_set_props(s, "Web", set, ELEMENTSOF(set), &key));
	ck_assert_ptr_null(key);
	OK(config_store_group_get(s, "web", &g));
	ck_assert_uint_eq(g.common.failover_threshold, 5);
	ck_assert_uint_eq(g.common.failover_period_h, 3);
	ck_assert_uint_eq(g.n_props, 2);
	ck_assert_str_eq(g.props[0].key, "FailoverPeriod");
	ck_assert_str_eq(g.props[0].value, "3");
	ck_assert_str_eq(g.props[1].key, "failoverthreshold"); /* the spelling first given */
	ck_assert_str_eq(g.props[1].value, "5");	       /* hex stored in decimal */
	config_group_done(&g);
	ck_assert_ptr_null(g.props);

#define GROUP_FAILS(want, props, want_key)                                                         \
	do {                                                                                       \
		key = "unset";                                                                     \
		FAILS(s, want,                                                                     \
		      config_store_group_set_props(s, "web", props, ELEMENTSOF(props), &key));     \
		ck_assert_str_eq(key, want_key);                                                   \
	} while (false)

	GROUP_FAILS(-EINVAL, private, "Address");
	GROUP_FAILS(-EINVAL, resource_key, "RestartThreshold");
	GROUP_FAILS(-EINVAL, dup, "failoverPERIOD");
	GROUP_FAILS(-EINVAL, not_number, "FailoverPeriod");
	GROUP_FAILS(-EINVAL, empty, "FailoverPeriod");
	GROUP_FAILS(-EINVAL, bad_key, "a/b");
	GROUP_FAILS(-ERANGE, over, "FailoverThreshold");
	GROUP_FAILS(-ERANGE, thr_high, "FailoverThreshold");
	GROUP_FAILS(-ERANGE, thr_almost, "FailoverThreshold");
	GROUP_FAILS(-ERANGE, period_zero, "FailoverPeriod");
	GROUP_FAILS(-ERANGE, period_high, "FailoverPeriod");
	GROUP_FAILS(-ERANGE, mixed, "FailoverPeriod");
	key = "unset";
	FAILS(s, -ENOENT, config_store_group_set_props(s, "nope", set, 1, &key));
	ck_assert_str_eq(key, "name");
	FAILS(s, -EINVAL, config_store_group_set_props(s, "a/b", set, 1, &key));
	ck_assert_str_eq(key, "name");
	FAILS(s, -ENOENT, config_store_group_get(s, "nope", &g));

	/* the limits, the "nodes − 1" marker, and removal back to the default */
	OK(config_store_group_set_props(s, "web", limits, ELEMENTSOF(limits), NULL));
	OK(config_store_group_set_props(s, "web", nodes, ELEMENTSOF(nodes), NULL));
	OK(config_store_group_set_props(s, "web", unset, ELEMENTSOF(unset), NULL));
	OK(config_store_group_set_props(s, "web", unset, ELEMENTSOF(unset), NULL));
	OK(config_store_load(s, &snap));
	ck_assert_str_eq(snap->groups[1].name, "web");
	ck_assert_uint_eq(snap->groups[1].common.failover_threshold,
			  GROUP_FAILOVER_THRESHOLD_NODES);
	ck_assert_uint_eq(snap->groups[1].common.failover_period_h, 6);
	ck_assert_uint_eq(snap->groups[1].n_props, 1);
	ck_assert_str_eq(snap->groups[1].props[0].value, "4294967295");
	ck_assert_uint_eq(snap->groups[0].n_props, 0); /* the other group untouched */
	snap = config_snapshot_free(snap);

	/* through close and reopen */
	OK(config_store_group_set_props(s, "database", set, ELEMENTSOF(set), NULL));
	before = dump(s);
	s = config_store_free(s);
	s = open_ok();
	after = dump(s);
	ck_assert_str_eq(before, after);

	/* a removed group takes its properties: the same name again has the defaults */
	OK(config_store_resource_remove(s, "Postgres"));
	OK(config_store_group_remove(s, "database"));
	OK(config_store_group_add(s, "database", NULL));
	OK(config_store_group_get(s, "database", &g));
	ck_assert_uint_eq(g.n_props, 0);
	ck_assert_uint_eq(g.common.failover_period_h, 6);
	config_group_done(&g);
}
END_TEST

START_TEST(test_group_target_all)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;

	populate(s); /* web online, httpd online, web-ip offline; Database offline */
	OK(config_store_resource_set_target(s, "Postgres", CONFIG_TARGET_ONLINE));
	OK(config_store_group_set_target_all(s, "WEB", CONFIG_TARGET_OFFLINE));
	OK(config_store_load(s, &snap));
	ck_assert_int_eq(snap->groups[1].target, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(snap->resources[1].target, CONFIG_TARGET_OFFLINE);
	ck_assert_int_eq(snap->resources[2].target, CONFIG_TARGET_OFFLINE);
	/* another group's members are not touched */
	ck_assert_str_eq(snap->resources[0].name, "Postgres");
	ck_assert_int_eq(snap->resources[0].target, CONFIG_TARGET_ONLINE);
	snap = config_snapshot_free(snap);

	OK(config_store_group_set_target_all(s, "web", CONFIG_TARGET_ONLINE));
	OK(config_store_load(s, &snap));
	ck_assert_int_eq(snap->groups[1].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->resources[1].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->resources[2].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->groups[0].target, CONFIG_TARGET_OFFLINE);

	FAILS(s, -ENOENT, config_store_group_set_target_all(s, "nope", CONFIG_TARGET_OFFLINE));
	FAILS(s, -EINVAL, config_store_group_set_target_all(s, "web", (enum config_target) 2));
	FAILS(s, -EINVAL, config_store_group_set_target_all(s, "", CONFIG_TARGET_OFFLINE));
	/* an empty group has only its own target */
	OK(config_store_group_add(s, "empty", NULL));
	OK(config_store_group_set_target_all(s, "empty", CONFIG_TARGET_ONLINE));
}
END_TEST

START_TEST(test_resources_set_target)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const char *const some[] = {"web-ip", "POSTGRES"};
	const char *const unknown[] = {"web-ip", "nope", "Postgres"};
	const char *const bad[] = {"web-ip", "a/b"};
	const char *const null_name[] = {"web-ip", NULL};

	populate(s);
	OK(config_store_resources_set_target(s, some, ELEMENTSOF(some), CONFIG_TARGET_ONLINE));
	OK(config_store_load(s, &snap));
	ck_assert_str_eq(snap->resources[0].name, "Postgres");
	ck_assert_int_eq(snap->resources[0].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->resources[1].target, CONFIG_TARGET_ONLINE); /* httpd, before */
	ck_assert_int_eq(snap->resources[2].target, CONFIG_TARGET_ONLINE);
	/* groups are not touched */
	ck_assert_int_eq(snap->groups[0].target, CONFIG_TARGET_OFFLINE);

	/* all or nothing: the known ones before and after the unknown one stay online */
	FAILS(s, -ENOENT,
	      config_store_resources_set_target(s, unknown, ELEMENTSOF(unknown),
						CONFIG_TARGET_OFFLINE));
	FAILS(s, -EINVAL,
	      config_store_resources_set_target(s, bad, ELEMENTSOF(bad), CONFIG_TARGET_OFFLINE));
	FAILS(s, -EINVAL,
	      config_store_resources_set_target(s, null_name, 2, CONFIG_TARGET_OFFLINE));
	FAILS(s, -EINVAL, config_store_resources_set_target(s, NULL, 1, CONFIG_TARGET_OFFLINE));
	FAILS(s, -EINVAL, config_store_resources_set_target(s, some, 2, (enum config_target) 5));
	OK(config_store_resources_set_target(s, NULL, 0, CONFIG_TARGET_OFFLINE));
	OK(config_store_resources_set_target(s, some, 1, CONFIG_TARGET_OFFLINE));
	snap = config_snapshot_free(snap);
	OK(config_store_load(s, &snap));
	ck_assert_int_eq(snap->resources[0].target, CONFIG_TARGET_ONLINE);
	ck_assert_int_eq(snap->resources[2].target, CONFIG_TARGET_OFFLINE);
}
END_TEST

START_TEST(test_resource_add_deps)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const char *const both[] = {"WEB-IP", "httpd"};
	const char *const unknown[] = {"httpd", "nope"};
	const char *const cross[] = {"httpd", "Postgres"};
	const char *const self[] = {"web-ip", "new"};
	const char *const twice[] = {"httpd", "web-ip", "HTTPD"};
	const char *const bad[] = {"httpd", "a/b"};
	const char *const null_name[] = {"httpd", NULL};
	const struct config_prop props[] = {{"RestartPeriod", "0"}};
	char id[CONFIG_ID_LEN + 1];
	const char *key = NULL;

	populate(s); /* httpd → web-ip */

#define DEPS_FAIL(want, deps, want_key)                                                            \
	do {                                                                                       \
		key = "unset";                                                                     \
		FAILS(s, want,                                                                     \
		      config_store_resource_add_deps(s, "new", "web", "test", NULL, 0, deps,       \
						     ELEMENTSOF(deps), NULL, &key));               \
		ck_assert_ptr_eq(key, (deps)[want_key]);                                           \
	} while (false)

	/* *reterr_key is the very string of deps[] at fault */
	DEPS_FAIL(-ENOENT, unknown, 1);
	DEPS_FAIL(-EXDEV, cross, 1);
	DEPS_FAIL(-ELOOP, self, 1);
	DEPS_FAIL(-EEXIST, twice, 2);
	DEPS_FAIL(-EINVAL, bad, 1);
	key = "unset";
	FAILS(s, -EINVAL,
	      config_store_resource_add_deps(s, "new", "web", "test", NULL, 0, null_name, 2, NULL,
					     &key));
	ck_assert_str_eq(key, "depends_on");
	FAILS(s, -EINVAL,
	      config_store_resource_add_deps(s, "new", "web", "test", NULL, 0, NULL, 1, NULL,
					     &key));
	/* the resource's own errors come first, as for config_store_resource_add */
	FAILS(s, -ERANGE,
	      config_store_resource_add_deps(s, "new", "web", "test", props, 1, both, 2, NULL,
					     &key));
	ck_assert_str_eq(key, "RestartPeriod");
	FAILS(s, -ENOENT,
	      config_store_resource_add_deps(s, "new", "nope", "test", NULL, 0, both, 2, NULL,
					     &key));
	ck_assert_str_eq(key, "group");
	FAILS(s, -EEXIST,
	      config_store_resource_add_deps(s, "HTTPD", "web", "test", NULL, 0, both, 2, NULL,
					     &key));
	ck_assert_str_eq(key, "name");

	OK(config_store_resource_add_deps(s, "new", "web", "test", NULL, 0, both, 2, id, &key));
	ck_assert_ptr_null(key);
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_resources, 4);
	ck_assert_str_eq(snap->resources[2].name, "new");
	ck_assert_str_eq(snap->resources[2].id, id);
	ck_assert_uint_eq(snap->n_deps, 3);
	/* by dependent, then provider name: httpd → web-ip, new → httpd, new → web-ip */
	ck_assert_str_eq(snap->deps[1].dependent_id, id);
	ck_assert_str_eq(snap->deps[1].provider_id, snap->resources[1].id);
	ck_assert_str_eq(snap->deps[2].dependent_id, id);
	ck_assert_str_eq(snap->deps[2].provider_id, snap->resources[3].id);
	/* now a cycle through the new one is refused as any other */
	FAILS(s, -ELOOP, config_store_dep_add(s, "web-ip", "new"));
}
END_TEST

/* Adds r<first>..r<last> in group g, each depending on the next: last - first edges. */
static void chain(struct config_store *s, const char *prefix, int first, int last)
{
	char name[32], next[32];
	const char *deps[] = {next};

	for (int i = last; i >= first; i--) {
		snprintf(name, sizeof(name), "%s%03d", prefix, i);
		snprintf(next, sizeof(next), "%s%03d", prefix, i + 1);
		OK(config_store_resource_add_deps(s, name, "g", "test", NULL, 0, deps,
						  i == last ? 0 : 1, NULL, NULL));
	}
}

/* semantics.md §5.3: at most CONFIG_DEP_DEPTH_MAX edges on any chain. */
START_TEST(test_dep_depth)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	const char *const top[] = {"a000"};
	const char *key = NULL;

	ck_assert_int_eq(CONFIG_DEP_DEPTH_MAX, 100);
	OK(config_store_type_add(s, "test", NULL));
	OK(config_store_group_add(s, "g", NULL));
	/* a000 → a001 → … → a100: exactly 100 edges */
	chain(s, "a", 0, CONFIG_DEP_DEPTH_MAX);
	/* the 101st, at either end, by either call */
	OK(config_store_resource_add(s, "x", "g", "test", NULL, 0, NULL, NULL));
	FAILS(s, -EMLINK, config_store_dep_add(s, "x", "a000"));
	FAILS(s, -EMLINK, config_store_dep_add(s, "a100", "x"));
	FAILS(s, -EMLINK,
	      config_store_resource_add_deps(s, "y", "g", "test", NULL, 0, top, 1, NULL, &key));
	ck_assert_ptr_eq(key, top[0]);
	/* a shortcut is no deeper; the cycle check still comes first */
	OK(config_store_dep_add(s, "a000", "a050"));
	FAILS(s, -ELOOP, config_store_dep_add(s, "a100", "a000"));
	FAILS(s, -EEXIST, config_store_dep_add(s, "a000", "a001"));
	/* shorter chains elsewhere are unaffected */
	OK(config_store_dep_add(s, "x", "a001"));

	/* joining two chains: 50 + 1 + 49 = 100 edges is fine, 50 + 1 + 50 is not */
	chain(s, "b", 0, 50); /* b000 … b050: 50 edges */
	chain(s, "c", 0, 49); /* c000 … c049: 49 edges */
	chain(s, "d", 0, 50); /* d000 … d050: 50 edges */
	FAILS(s, -EMLINK, config_store_dep_add(s, "b050", "d000"));
	OK(config_store_dep_add(s, "b050", "c000"));
	/* and now c's chain is 100 deep from b000: nothing may hang below c049 */
	FAILS(s, -EMLINK, config_store_dep_add(s, "c049", "x"));
}
END_TEST

/*
 * 100 layers of two resources, each depending on both of the next layer: 99
 * edges deep, 2^99 paths.  The checks must not walk the paths (the test's
 * timeout would): one more layer on top is refused, beside it accepted.
 */
START_TEST(test_dep_depth_lattice)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	enum { LAYERS = 100 };
	const char *key = NULL;
	char names[2][16], next[2][16];
	const char *deps[] = {next[0], next[1]};
	const char *const top[] = {"l00a"};

	OK(config_store_type_add(s, "test", NULL));
	OK(config_store_group_add(s, "g", NULL));
	for (int i = LAYERS - 1; i >= 0; i--)
		for (int k = 0; k < 2; k++) {
			snprintf(names[k], sizeof(names[k]), "l%02d%c", i, 'a' + k);
			snprintf(next[0], sizeof(next[0]), "l%02da", i + 1);
			snprintf(next[1], sizeof(next[1]), "l%02db", i + 1);
			OK(config_store_resource_add_deps(s, names[k], "g", "test", NULL, 0, deps,
							  i == LAYERS - 1 ? 0 : 2, NULL, NULL));
		}
	OK(config_store_resource_add_deps(s, "top", "g", "test", NULL, 0, top, 1, NULL, NULL));
	FAILS(s, -EMLINK,
	      config_store_resource_add_deps(s, "over", "g", "test", NULL, 0,
					     (const char *const[]){"top"}, 1, NULL, &key));
	ck_assert_str_eq(key, "top");
	OK(config_store_resource_add(s, "bottom", "g", "test", NULL, 0, NULL, NULL));
	FAILS(s, -EMLINK, config_store_dep_add(s, "l99a", "bottom"));
	FAILS(s, -ELOOP, config_store_dep_add(s, "l99b", "top"));
}
END_TEST

/* The schema of version 1, as released: a database of that version must migrate in place. */
static const char schema_v1[] =
	"CREATE TABLE types ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE);"
	"CREATE TABLE groups ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  target INTEGER NOT NULL DEFAULT 0 CHECK (target IN (0, 1)),"
	"  dep_expr TEXT);"
	"CREATE TABLE resources ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  group_id TEXT NOT NULL REFERENCES groups (id),"
	"  type_id TEXT NOT NULL REFERENCES types (id),"
	"  target INTEGER NOT NULL DEFAULT 0 CHECK (target IN (0, 1)));"
	"CREATE INDEX resources_group ON resources (group_id);"
	"CREATE INDEX resources_type ON resources (type_id);"
	"CREATE TABLE resource_props ("
	"  resource_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL COLLATE NOCASE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (resource_id, key)) WITHOUT ROWID;"
	"CREATE TABLE resource_deps ("
	"  dependent_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  provider_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,"
	"  PRIMARY KEY (dependent_id, provider_id),"
	"  CHECK (dependent_id <> provider_id)) WITHOUT ROWID;"
	"CREATE INDEX resource_deps_provider ON resource_deps (provider_id);"
	"INSERT INTO types VALUES ('11111111111111111111111111111111', 'test');"
	"INSERT INTO groups VALUES ('22222222222222222222222222222222', 'web', 1, NULL);"
	"INSERT INTO resources VALUES ('33333333333333333333333333333333', 'ip', "
	"  '22222222222222222222222222222222', '11111111111111111111111111111111', 1);"
	"INSERT INTO resources VALUES ('44444444444444444444444444444444', 'httpd', "
	"  '22222222222222222222222222222222', '11111111111111111111111111111111', 0);"
	"INSERT INTO resource_props VALUES ('33333333333333333333333333333333', "
	"  'PendingTimeout', '20000');"
	"INSERT INTO resource_deps VALUES ('44444444444444444444444444444444', "
	"  '33333333333333333333333333333333');"
	"PRAGMA user_version = 1;";

START_TEST(test_migrate_v1)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	const struct config_prop period[] = {{"FailoverPeriod", "2"}};
	const char *const deps[] = {"httpd"};
	sqlite3 *db;
	sqlite3_stmt *q;

	ck_assert_int_eq(sqlite3_open(db_path(""), &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, schema_v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_ok();
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_groups, 1);
	ck_assert_str_eq(snap->groups[0].id, "22222222222222222222222222222222");
	ck_assert_int_eq(snap->groups[0].target, CONFIG_TARGET_ONLINE);
	ck_assert_uint_eq(snap->groups[0].n_props, 0);
	ck_assert_uint_eq(snap->groups[0].common.failover_period_h, 6);
	ck_assert_uint_eq(snap->n_resources, 2);
	ck_assert_str_eq(snap->resources[1].name, "ip");
	ck_assert_uint_eq(snap->resources[1].common.pending_timeout_ms, 20000);
	ck_assert_int_eq(snap->resources[1].target, CONFIG_TARGET_ONLINE);
	ck_assert_uint_eq(snap->n_deps, 1);
	/* the new table works, and its cascade */
	OK(config_store_group_set_props(s, "web", period, 1, NULL));
	OK(config_store_resource_add_deps(s, "app", "web", "test", NULL, 0, deps, 1, NULL, NULL));
	s = config_store_free(s);

	ck_assert_int_eq(sqlite3_open(db_path(""), &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), CONFIG_SCHEMA_VERSION);
	sqlite3_finalize(q);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT value FROM group_props WHERE group_id = "
					    "'22222222222222222222222222222222' AND "
					    "key = 'failoverperiod'",
					    -1, &q, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *) sqlite3_column_text(q, 0), "2");
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* and a second open finds nothing to do */
	s = open_ok();
	snap = config_snapshot_free(snap);
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->groups[0].common.failover_period_h, 2);
	ck_assert_uint_eq(snap->n_deps, 2);
}
END_TEST

START_TEST(test_busy)
{
	_cleanup_(config_store_freep) struct config_store *s = open_ok();
	_cleanup_free_ char *before = NULL, *after = NULL;
	sqlite3 *other;

	populate(s);
	before = dump(s);
	ck_assert_int_eq(sqlite3_open(db_path(""), &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(config_store_group_add(s, "x", NULL), -EBUSY);
	ck_assert_int_eq(config_store_resource_remove(s, "httpd"), -EBUSY);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	after = dump(s);
	ck_assert_str_eq(before, after);
	OK(config_store_group_add(s, "x", NULL));
}
END_TEST

/* Each child commits one change and is SIGKILLed as soon as the call returned. */
START_TEST(test_kill_after_ack)
{
	_cleanup_(config_store_freep) struct config_store *s = NULL;
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	enum { N = 20 };

	for (int i = 0; i < N; i++) {
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct config_store *c = NULL;
			char name[16];

			snprintf(name, sizeof(name), "g%02d", i);
			if (config_store_open(dir, &c) < 0 ||
			    config_store_group_add(c, name, NULL) < 0)
				_exit(1);
			raise(SIGKILL);
			_exit(2);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child %d: %#x",
			      i, status);
	}
	s = open_ok();
	OK(config_store_load(s, &snap));
	ck_assert_uint_eq(snap->n_groups, N);
	for (int i = 0; i < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%02d", i);
		ck_assert_str_eq(snap->groups[i].name, name);
	}
}
END_TEST

/*
 * A child adds resources with many properties each (one big transaction per
 * call) until it is SIGKILLed at a random moment: every resource found has
 * all its properties, and every acknowledged one is there.
 */
START_TEST(test_kill_midway)
{
	enum { N_PROPS = 3000, ROUNDS = 8 };
	volatile int *acked = shared_new(2 * sizeof(int)), *in_call = acked + 1;
	uint64_t seed = (uint64_t) time(NULL) * 2654435761u | 1;
	struct config_prop *props = calloc(N_PROPS, sizeof(*props));
	struct config_store *s = open_ok();
	int total_partial = 0, inside = 0;

	ck_assert_ptr_nonnull(props);
	for (int i = 0; i < N_PROPS; i++) {
		char *k;

		ck_assert_int_gt(asprintf(&k, "key%05d", i), 0);
		props[i].key = k;
		props[i].value = "some private value of moderate length, to make the WAL grow";
	}
	OK(config_store_type_add(s, "test", NULL));
	OK(config_store_group_add(s, "g", NULL));
	s = config_store_free(s);

	for (int round = 0; round < ROUNDS; round++) {
		_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
		struct timespec delay = {0, (long) (xorshift64(&seed) % 150) * 1000000L};
		int status, before_acked;
		size_t before;
		pid_t pid;

		s = open_ok();
		OK(config_store_load(s, &snap));
		before = snap->n_resources;
		snap = config_snapshot_free(snap);
		s = config_store_free(s);
		*acked = (int) before;
		*in_call = 0;
		before_acked = *acked;

		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct config_store *c = NULL;

			if (config_store_open(dir, &c) < 0)
				_exit(1);
			for (int i = (int) before;; i++) {
				char name[32];

				snprintf(name, sizeof(name), "r%04d", i);
				__atomic_store_n(in_call, 1, __ATOMIC_SEQ_CST);
				if (config_store_resource_add(c, name, "g", "test", props, N_PROPS,
							      NULL, NULL) < 0)
					_exit(1);
				__atomic_store_n(acked, i + 1, __ATOMIC_SEQ_CST);
				__atomic_store_n(in_call, 0, __ATOMIC_SEQ_CST);
			}
		}
		nanosleep(&delay, NULL);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "child exited %d", WEXITSTATUS(status));
		inside += *in_call;

		s = open_ok();
		OK(config_store_load(s, &snap));
		s = config_store_free(s);
		/* every acknowledged change is there; at most the one in flight beyond */
		ck_assert_int_ge((int) snap->n_resources, *acked);
		ck_assert_int_le((int) snap->n_resources, *acked + 1);
		ck_assert_int_ge(*acked, before_acked);
		for (size_t i = 0; i < snap->n_resources; i++)
			ck_assert_uint_eq(snap->resources[i].n_props, N_PROPS);
		total_partial += (int) snap->n_resources - *acked;
	}
	/* the kills did land inside calls (within a transaction, or its commit) */
	ck_assert_int_gt(inside, 0);
	fprintf(stderr, "kill_midway: %d of %d kills inside a call, %d of them after the commit\n",
		inside, ROUNDS, total_partial);
	for (int i = 0; i < N_PROPS; i++)
		free((char *) props[i].key);
	free(props);
	shared_free((void *) acked, 2 * sizeof(int));
}
END_TEST

static Suite *config_store_suite(void)
{
	Suite *s = suite_create("config-store");
	TCase *tc = tcase_create("config-store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_newer_schema);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_case_insensitive);
	tcase_add_test(tc, test_group_errors);
	tcase_add_test(tc, test_resource_errors);
	tcase_add_test(tc, test_group_deps);
	tcase_add_test(tc, test_props_remove);
	tcase_add_test(tc, test_props_inherit);
	tcase_add_test(tc, test_deps);
	tcase_add_test(tc, test_group_props);
	tcase_add_test(tc, test_group_target_all);
	tcase_add_test(tc, test_resources_set_target);
	tcase_add_test(tc, test_resource_add_deps);
	tcase_add_test(tc, test_dep_depth);
	tcase_add_test(tc, test_dep_depth_lattice);
	tcase_add_test(tc, test_migrate_v1);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_kill_after_ack);
	tcase_add_test(tc, test_kill_midway);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(config_store_suite());
}
