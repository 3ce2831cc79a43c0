/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Single-process tests of the state segment (shm/shm-writer.c,
 * shm/shm-reader.c, shm/shm-blob-heap.c, shm/shm-publish.c,
 * shm/memfd-util.c): every test tries to break one claim of docs/shm.md
 * §5.1/§5.2 or of include/hagent/shm.h, and fails if the claim is broken.
 * The writer and the reader share this process; concurrency is in
 * test-shm-torture.c.  Where a test needs the writer "in the middle" of a
 * store sequence it stops between shm_writer_* calls (an open transaction)
 * or, for fault injection, edits the writer's own mapping directly.
 */
#include <check.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "memfd-util.h"
#include "shm-layout.h"
#include "shm-publish.h"
#include "shm-reader-internal.h"
#include "shm-writer.h"
#include "test-util.h"

#define MAX_RES	    32u
#define MAX_GRP	    8u
#define HEAP_CHUNKS 64u
#define EVENTS	    8u

/* Per-test state, set up by the checked fixture (each test runs in its own process). */
static struct shm_writer *w;
static hagent_shm *s;
static char tmpdir[64];

static void params_small(struct shm_params *p)
{
	*p = (struct shm_params){
		.max_resources = MAX_RES,
		.max_groups = MAX_GRP,
		.blob_bytes = HEAP_CHUNKS * SHM_BLOB_CHUNK,
		.event_capacity = EVENTS,
	};
}

static void setup(void)
{
	struct shm_params p;

	params_small(&p);
	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(w), &s), 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-shm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	s = hagent_shm_unref(s);
	w = shm_writer_free(w);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void) !system(cmd); /* best effort: the directory only holds this test's files */
}

static uint32_t gslot(uint32_t i)
{
	return shm_writer_group_slot(w, i);
}

static void id_for(const char *name, uint8_t id[SHM_ID_SIZE])
{
	memset(id, 0x5a, SHM_ID_SIZE);
	for (size_t i = 0; name[i]; i++)
		id[i % SHM_ID_SIZE] ^= (uint8_t) (name[i] * (i + 1));
}

static struct shm_object res_obj(const char *name, uint32_t group_slot, uint32_t seq)
{
	struct shm_object o = {.kind = SHM_KIND_RESOURCE};

	snprintf(o.name, sizeof(o.name), "%s", name);
	id_for(name, o.id);
	o.u.res.state = HAGENT_RESOURCE_ONLINE;
	o.u.res.state_seq = seq;
	o.u.res.group_slot = group_slot;
	o.u.res.checkpoint = seq;
	snprintf(o.u.res.type, sizeof(o.u.res.type), "IP Address");
	return o;
}

static void txn_begin(void)
{
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
}

static void txn_commit(void)
{
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

static void put_res(uint32_t slot, const char *name, uint32_t group_slot, uint32_t seq)
{
	struct shm_object o = res_obj(name, group_slot, seq);

	ck_assert_int_eq(shm_writer_put(w, slot, &o), 0);
}

/* A group version with a fresh members blob; the version holds the only reference. */
static void put_grp(uint32_t slot, const char *name, uint32_t seq, const uint32_t *members,
		    uint32_t n)
{
	struct shm_object o = {.kind = SHM_KIND_GROUP};
	struct shm_blob_ref ref;

	snprintf(o.name, sizeof(o.name), "%s", name);
	id_for(name, o.id);
	o.u.grp.state = HAGENT_GROUP_ONLINE;
	o.u.grp.state_seq = seq;
	ck_assert_int_eq(shm_writer_blob_new(w, members, n * sizeof(uint32_t), &ref), 0);
	o.u.grp.members = ref;
	o.u.grp.n_members = n;
	ck_assert_int_eq(shm_writer_put(w, slot, &o), 0);
	shm_writer_blob_unref(w, &ref);
}

static void put_tombstone(uint32_t slot)
{
	struct shm_object o = {.kind = SHM_KIND_FREE};

	ck_assert_int_eq(shm_writer_put(w, slot, &o), 0);
}

static uint32_t read_seq(uint32_t slot)
{
	struct hagent_resource r;

	ck_assert_int_eq(hagent_shm_read_resource(s, slot, &r), 0);
	return r.state_seq;
}

static struct hagent_shm_stats stats(void)
{
	struct hagent_shm_stats st;

	ck_assert_int_eq(hagent_shm_get_stats(s, &st), 0);
	return st;
}

/* ===================================== writer ===================================== */

/* Claim: bad parameters are refused with the documented errno, nothing is created. */
START_TEST(test_writer_params)
{
	struct shm_writer *x = (struct shm_writer *) 0x1;
	struct shm_params p;

	params_small(&p);
	p.max_resources = 0;
	ck_assert_int_eq(shm_writer_new(&p, &x), -EINVAL);
	params_small(&p);
	p.max_groups = 0;
	ck_assert_int_eq(shm_writer_new(&p, &x), -EINVAL);
	params_small(&p);
	p.max_resources = SHM_MAX_RECORDS;
	ck_assert_int_eq(shm_writer_new(&p, &x), -E2BIG);
	params_small(&p);
	p.event_capacity = 12;
	ck_assert_int_eq(shm_writer_new(&p, &x), -EINVAL);
	params_small(&p);
	p.event_capacity = 0;
	ck_assert_int_eq(shm_writer_new(&p, &x), -EINVAL);
	params_small(&p);
	p.event_capacity = 1u << 25;
	ck_assert_int_eq(shm_writer_new(&p, &x), -E2BIG);
	ck_assert_ptr_eq(x, (struct shm_writer *) 0x1);
}
END_TEST

/* Claim: the transaction API refuses misuse with exact errnos and publishes nothing then. */
START_TEST(test_writer_txn_errors)
{
	struct shm_object o = res_obj("r0", gslot(0), 1), g = {.kind = SHM_KIND_GROUP};
	struct shm_event e = {.change = 1};
	uint64_t t1, t2;

	ck_assert_int_eq(shm_writer_put(w, 0, &o), -ENOTCONN);
	ck_assert_int_eq(shm_writer_event(w, &e), -ENOTCONN);
	ck_assert_int_eq(shm_writer_commit(w), -ENOTCONN);

	ck_assert_int_eq(shm_writer_begin(w, &t1), 0);
	ck_assert_uint_eq(t1, 1);
	ck_assert_int_eq(shm_writer_begin(w, &t2), -EBUSY);
	ck_assert_int_eq(shm_writer_put(w, MAX_RES + MAX_GRP, &o), -ERANGE);
	ck_assert_int_eq(shm_writer_put(w, gslot(0), &o), -EINVAL); /* resource in group range */
	ck_assert_int_eq(shm_writer_put(w, 0, &g), -EINVAL);	    /* group in resource range */
	o.kind = 7;
	ck_assert_int_eq(shm_writer_put(w, 0, &o), -EINVAL);
	o = res_obj("r0", gslot(0), 1);
	memset(o.name, 'x', sizeof(o.name));
	ck_assert_int_eq(shm_writer_put(w, 0, &o), -ENAMETOOLONG);
	txn_commit();

	/* None of the refused puts left a trace. */
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &(struct hagent_resource){}), -ENOENT);
	ck_assert_int_eq(shm_writer_begin(w, &t2), 0);
	ck_assert_uint_eq(t2, 2);
	txn_commit();
}
END_TEST

/* ===================================== reads ===================================== */

/* Claim: a resource reads back exactly as put, with its slot, generation and stamp. */
START_TEST(test_read_resource)
{
	struct shm_object o = res_obj("web-ip", gslot(1), 42);
	struct hagent_resource r;
	uint64_t T;

	o.u.res.state = HAGENT_RESOURCE_ONLINE_PENDING;
	o.u.res.flags = SHM_RES_F_LOCKED;
	o.u.res.checkpoint = 7;
	o.u.res.wait_hint_ms = 3000;
	o.u.res.monitor_pid = 4321;
	o.u.res.restart_count = 3;
	o.u.res.last_error = -EIO;
	o.u.res.persistent_state = 1;
	o.u.res.state_change_ns = UINT64_C(1700000000123456789);
	o.u.res.pending_deadline_ns = UINT64_C(987654321);
	ck_assert_int_eq(shm_writer_begin(w, &T), 0);
	ck_assert_int_eq(shm_writer_put(w, 5, &o), 0);
	txn_commit();

	ck_assert_int_eq(hagent_shm_read_resource(s, 5, &r), 0);
	ck_assert_uint_eq(r.slot, 5);
	ck_assert_uint_eq(r.gen, 1);
	ck_assert_uint_eq(r.txn, T);
	ck_assert_mem_eq(r.id, o.id, HAGENT_ID_SIZE);
	ck_assert_str_eq(r.name, "web-ip");
	ck_assert_str_eq(r.type, "IP Address");
	ck_assert_int_eq(r.state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_uint_eq(r.state_seq, 42);
	ck_assert_uint_eq(r.group_slot, gslot(1));
	ck_assert_uint_eq(r.flags, HAGENT_RESOURCE_LOCKED);
	ck_assert_uint_eq(r.checkpoint, 7);
	ck_assert_uint_eq(r.wait_hint_ms, 3000);
	ck_assert_int_eq(r.monitor_pid, 4321);
	ck_assert_uint_eq(r.restart_count, 3);
	ck_assert_int_eq(r.last_error, -EIO);
	ck_assert_int_eq(r.persistent_state, 1);
	ck_assert_uint_eq(r.state_change_ns, UINT64_C(1700000000123456789));
	ck_assert_uint_eq(r.pending_deadline_ns, UINT64_C(987654321));
	ck_assert_uint_eq(r.properties.blob_id, 0);
	ck_assert_uint_eq(r.dependencies.blob_id, 0);

	/* A second version: new generation and stamp. */
	txn_begin();
	put_res(5, "web-ip", gslot(1), 43);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(s, 5, &r), 0);
	ck_assert_uint_eq(r.gen, 2);
	ck_assert_uint_eq(r.txn, T + 1);
	ck_assert_uint_eq(r.state_seq, 43);
}
END_TEST

/* Claim: a name filling the whole field is returned NUL-terminated (never trust the segment). */
START_TEST(test_read_name_terminated)
{
	struct shm_object o = res_obj("x", gslot(0), 1);
	struct hagent_resource r;
	struct shm_version *v;
	const struct shm_header *h = shm_writer_header(w);

	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
	txn_commit();
	/* Fault injection: a segment whose name and type have no terminator. */
	v = &((struct shm_record *) ((uint8_t *) h + h->records_offset))[0].v[1];
	memset(v->name, 'n', sizeof(v->name));
	memset(v->u.res.type, 't', sizeof(v->u.res.type));
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), 0);
	ck_assert_uint_eq(strlen(r.name), HAGENT_NAME_MAX - 1);
	ck_assert_uint_eq(strlen(r.type), HAGENT_TYPE_MAX - 1);
}
END_TEST

/* Claim: every read reports misuse and absence with the documented errno, output untouched. */
START_TEST(test_read_errors)
{
	struct hagent_resource r, r0, m[2];
	struct hagent_group g;
	struct hagent_shm_table *t = NULL;
	struct hagent_event e;
	size_t n = 99;
	uint32_t slot = 77;

	memset(&r, 0xa5, sizeof(r));
	r0 = r;
	ck_assert_int_eq(hagent_shm_read_resource(s, MAX_RES, &r), -ERANGE);
	ck_assert_int_eq(hagent_shm_read_resource(s, UINT32_MAX, &r), -ERANGE);
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), -ENOENT); /* never used */
	ck_assert_mem_eq(&r, &r0, sizeof(r));
	ck_assert_int_eq(hagent_shm_read_group(s, 0, &g, NULL, 0, &n), -ERANGE);
	ck_assert_int_eq(hagent_shm_read_group(s, MAX_RES - 1, &g, NULL, 0, &n), -ERANGE);
	ck_assert_int_eq(hagent_shm_read_group(s, MAX_RES + MAX_GRP, &g, NULL, 0, &n), -ERANGE);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, NULL, 0, &n), -ENOENT);
	ck_assert_uint_eq(n, 99);

	ck_assert_int_eq(hagent_shm_read_resource(NULL, 0, &r), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_group(NULL, gslot(0), &g, m, 2, &n), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), NULL, m, 2, &n), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, NULL, 2, &n), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 2, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_table(NULL, &t), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_table(s, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_FREE, "x", &slot), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(s, 3, "x", &slot), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, NULL, &slot), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "x", NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(NULL, SHM_KIND_RESOURCE, "x", &slot), -EINVAL);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "x", &slot), -ENOENT);
	ck_assert_uint_eq(slot, 77);
	ck_assert_int_eq(hagent_shm_get_info(s, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_get_info(NULL, &(struct hagent_shm_info){}), -EINVAL);
	ck_assert_int_eq(hagent_shm_get_stats(s, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_event(s, 0, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_event(NULL, 0, &e), -EINVAL);
	ck_assert_int_eq(hagent_shm_open_fd(-1, &s), -EBADF);
	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(w), NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_open(tmpdir, NULL), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_ptr_null(hagent_shm_unref(NULL));
	ck_assert_ptr_null(hagent_shm_table_free(NULL));
}
END_TEST

/* Claim: a group reads with its members in stored order, all at one commit. */
START_TEST(test_read_group)
{
	const uint32_t members[] = {9, 2, 5};
	struct hagent_resource m[4];
	struct hagent_group g;
	size_t n = 0;

	txn_begin();
	put_res(2, "b", gslot(3), 10);
	put_res(5, "c", gslot(3), 11);
	put_res(9, "a", gslot(3), 12);
	put_grp(gslot(3), "grp", 77, members, 3);
	txn_commit();

	ck_assert_int_eq(hagent_shm_read_group(s, gslot(3), &g, m, 4, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(g.n_members, 3);
	ck_assert_uint_eq(g.slot, gslot(3));
	ck_assert_str_eq(g.name, "grp");
	ck_assert_uint_eq(g.state_seq, 77);
	ck_assert_uint_eq(g.members.len, sizeof(members));
	for (size_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(m[i].slot, members[i]);
		ck_assert_uint_eq(m[i].group_slot, gslot(3));
	}
	ck_assert_str_eq(m[0].name, "a");
	ck_assert_str_eq(m[1].name, "b");
	ck_assert_str_eq(m[2].name, "c");

	/* A short buffer gets the first members; the count is the full one. */
	memset(m, 0, sizeof(m));
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(3), &g, m, 2, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(m[1].slot, 2);
	ck_assert_str_eq(m[2].name, "");
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(3), &g, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(stats().restarts, 0);
}
END_TEST

/* Claim: a member that names another group, or did not exist at T, is reported (-EBADMSG). */
START_TEST(test_read_group_bad_member)
{
	const uint32_t members[] = {1, 2};
	const uint32_t out_of_range[] = {1, MAX_RES};
	struct hagent_resource m[2], m0[2];
	struct hagent_group g;
	size_t n = 5;

	txn_begin();
	put_res(1, "m1", gslot(0), 1);
	put_res(2, "m2", gslot(1), 1); /* group_slot points elsewhere */
	put_grp(gslot(0), "g0", 1, members, 2);
	put_grp(gslot(1), "g1", 1, members + 1, 1);
	put_res(3, "m3", gslot(2), 1);
	put_grp(gslot(2), "g2", 1, out_of_range, 2);
	txn_commit();
	memset(m, 0x3c, sizeof(m));
	memcpy(m0, m, sizeof(m));
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 2, &n), -EBADMSG);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(2), &g, m, 2, &n), -EBADMSG);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(1), &g, m, 2, &n), 0);
	ck_assert_uint_eq(n, 1);

	/* A member that does not exist (never written) at T. */
	txn_begin();
	put_res(2, "m2", gslot(0), 2);
	put_tombstone(1);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m0, 2, &n), -EBADMSG);
}
END_TEST

/* Claim: the table holds every live object at one commit and nothing else. */
START_TEST(test_read_table)
{
	const uint32_t members[] = {0, 1};
	struct hagent_shm_table *t = NULL;
	uint64_t T;

	txn_begin();
	put_res(0, "r0", gslot(0), 1);
	put_res(1, "r1", gslot(0), 1);
	put_res(4, "r4", gslot(2), 1);
	put_res(6, "gone", gslot(2), 1);
	put_grp(gslot(0), "g0", 1, members, 2);
	put_grp(gslot(2), "g2", 1, NULL, 0);
	txn_commit();
	txn_begin();
	put_tombstone(6);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	T = shm_writer_header(w)->commit;

	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	ck_assert_uint_eq(t->txn, T);
	ck_assert_uint_eq(t->n_resources, 3);
	ck_assert_uint_eq(t->n_groups, 2);
	ck_assert_uint_eq(t->resources[0].slot, 0);
	ck_assert_uint_eq(t->resources[1].slot, 1);
	ck_assert_uint_eq(t->resources[2].slot, 4);
	ck_assert_str_eq(t->resources[2].name, "r4");
	ck_assert_uint_eq(t->groups[0].slot, gslot(0));
	ck_assert_uint_eq(t->groups[0].n_members, 2);
	ck_assert_uint_eq(t->groups[1].slot, gslot(2));
	ck_assert_str_eq(t->groups[1].name, "g2");
	for (size_t i = 0; i < t->n_resources; i++)
		ck_assert_uint_le(t->resources[i].txn, t->txn);
	t = hagent_shm_table_free(t);
	ck_assert_ptr_null(t);
}
END_TEST

/* Claim: find matches names case-insensitively, within the kind asked for, live objects only. */
START_TEST(test_find)
{
	uint32_t slot = 0;

	txn_begin();
	put_res(3, "Web-IP", gslot(0), 1);
	put_res(4, "db", gslot(0), 1);
	put_grp(gslot(0), "Web-IP", 1, NULL, 0);
	txn_commit();

	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "web-ip", &slot), 0);
	ck_assert_uint_eq(slot, 3);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "WEB-IP", &slot), 0);
	ck_assert_uint_eq(slot, 3);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_GROUP, "wEb-Ip", &slot), 0);
	ck_assert_uint_eq(slot, gslot(0));
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "DB", &slot), 0);
	ck_assert_uint_eq(slot, 4);
	slot = 99;
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_GROUP, "db", &slot), -ENOENT);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "web-i", &slot), -ENOENT);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "", &slot), -ENOENT);
	ck_assert_uint_eq(slot, 99);
}
END_TEST

/* Claim: info reports the header, a non-zero incarnation, the commit and a moving heartbeat. */
START_TEST(test_info)
{
	struct hagent_shm_info a, b, other;
	static const uint8_t zero[16];
	struct shm_writer *w2 = NULL;
	hagent_shm *s2 = NULL;
	struct shm_params p;

	ck_assert_int_eq(hagent_shm_get_info(s, &a), 0);
	ck_assert_mem_ne(a.incarnation, zero, sizeof(zero));
	ck_assert_uint_eq(a.abi_version, SHM_ABI_VERSION);
	ck_assert_uint_eq(a.segment_size, shm_writer_header(w)->segment_size);
	ck_assert_uint_eq(a.max_resources, MAX_RES);
	ck_assert_uint_eq(a.max_groups, MAX_GRP);
	ck_assert_int_eq(a.writer_pid, getpid());
	ck_assert_uint_eq(a.commit, 0);
	ck_assert_uint_eq(a.event_capacity, EVENTS);
	ck_assert_uint_eq(a.event_head, 0);
	ck_assert(!a.superseded);
	ck_assert_uint_ne(a.heartbeat_ns, 0);

	txn_begin();
	put_res(0, "r", gslot(0), 1);
	txn_commit();
	usleep(2000);
	shm_writer_heartbeat(w);
	ck_assert_int_eq(hagent_shm_get_info(s, &b), 0);
	ck_assert_uint_eq(b.commit, 1);
	ck_assert_uint_gt(b.heartbeat_ns, a.heartbeat_ns);
	ck_assert_mem_eq(b.incarnation, a.incarnation, sizeof(a.incarnation));

	shm_writer_supersede(w);
	ck_assert_int_eq(hagent_shm_get_info(s, &b), 0);
	ck_assert(b.superseded);

	/* Every segment has its own incarnation. */
	params_small(&p);
	ck_assert_int_eq(shm_writer_new(&p, &w2), 0);
	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(w2), &s2), 0);
	ck_assert_int_eq(hagent_shm_get_info(s2, &other), 0);
	ck_assert_mem_ne(other.incarnation, a.incarnation, sizeof(a.incarnation));
	hagent_shm_unref(s2);
	shm_writer_free(w2);
}
END_TEST

/* ================================== visibility ================================== */

/* Claim: versions put in an open transaction are invisible until its commit. */
START_TEST(test_uncommitted_invisible)
{
	const uint32_t members[] = {0, 1}, members3[] = {0, 1, 2};
	struct hagent_shm_table *t = NULL;
	struct hagent_resource m[3];
	struct hagent_group g;
	uint32_t slot;
	size_t n;

	txn_begin();
	put_res(0, "r0", gslot(0), 1);
	put_res(1, "r1", gslot(0), 1);
	put_grp(gslot(0), "g0", 1, members, 2);
	txn_commit();

	txn_begin();
	put_res(0, "r0", gslot(0), 2);
	put_res(1, "r1", gslot(0), 2);
	put_res(2, "new", gslot(0), 2); /* created after T */
	put_grp(gslot(0), "g0", 2, members3, 3);
	put_res(7, "lonely", gslot(1), 2); /* created after T */

	ck_assert_uint_eq(read_seq(0), 1);
	ck_assert_int_eq(hagent_shm_read_resource(s, 2, &m[0]), -ENOENT);
	ck_assert_int_eq(hagent_shm_read_resource(s, 7, &m[0]), -ENOENT);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "new", &slot), -ENOENT);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 3, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(g.state_seq, 1);
	ck_assert_uint_eq(m[0].state_seq, 1);
	ck_assert_uint_eq(m[1].state_seq, 1);
	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	ck_assert_uint_eq(t->txn, 1);
	ck_assert_uint_eq(t->n_resources, 2);
	ck_assert_uint_eq(t->resources[1].state_seq, 1);
	t = hagent_shm_table_free(t);
	ck_assert_uint_eq(stats().restarts, 0);

	txn_commit();
	ck_assert_uint_eq(read_seq(0), 2);
	ck_assert_uint_eq(read_seq(7), 2);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "NEW", &slot), 0);
	ck_assert_uint_eq(slot, 2);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 3, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(g.state_seq, 2);
	ck_assert_uint_eq(m[2].slot, 2);
	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	ck_assert_uint_eq(t->n_resources, 4);
	hagent_shm_table_free(t);
}
END_TEST

/* Negative control: without the commit-stamp check the uncommitted version leaks out. */
START_TEST(test_uncommitted_visible_without_txn_check)
{
	txn_begin();
	put_res(0, "r0", gslot(0), 1);
	txn_commit();
	txn_begin();
	put_res(0, "r0", gslot(0), 2);
	ck_assert_uint_eq(read_seq(0), 1);
	shm_reader_set_debug(s, SHM_DEBUG_NO_TXN);
	ck_assert_uint_eq(read_seq(0), 2);
	txn_commit();
}
END_TEST

/* Claim: a tombstone hides the object from every read, once committed; the slot can be reused. */
START_TEST(test_tombstone_hides)
{
	struct hagent_shm_table *t = NULL;
	struct hagent_resource r;
	struct hagent_group g;
	uint32_t slot;
	size_t n;

	txn_begin();
	put_res(3, "victim", gslot(0), 1);
	put_grp(gslot(0), "grp", 1, NULL, 0);
	txn_commit();

	txn_begin();
	put_tombstone(3);
	put_tombstone(gslot(0));
	ck_assert_uint_eq(read_seq(3), 1); /* not yet committed */
	txn_commit();

	ck_assert_int_eq(hagent_shm_read_resource(s, 3, &r), -ENOENT);
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, NULL, 0, &n), -ENOENT);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_RESOURCE, "victim", &slot), -ENOENT);
	ck_assert_int_eq(hagent_shm_find(s, SHM_KIND_GROUP, "grp", &slot), -ENOENT);
	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	ck_assert_uint_eq(t->n_resources, 0);
	ck_assert_uint_eq(t->n_groups, 0);
	t = hagent_shm_table_free(t);

	txn_begin();
	put_res(3, "reborn", gslot(0), 9);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(s, 3, &r), 0);
	ck_assert_str_eq(r.name, "reborn");
	ck_assert_uint_eq(r.gen, 3);
}
END_TEST

/* =================================== history =================================== */

/*
 * Claim: a reader whose T is older than the newest versions still finds its
 * version while fewer than SHM_VERSIONS newer ones exist; once the writer has
 * lapped the record SHM_VERSIONS times past T the protocol reports restart
 * (and, as T cannot move while the transaction is open, gives up with
 * -EBUSY, output untouched).  T is held back with an open transaction.
 */
START_TEST(test_history_laps)
{
	const uint32_t members[] = {0};
	struct hagent_resource r, r0, m[1];
	struct hagent_shm_table *t = NULL;
	struct hagent_shm_stats st;
	struct hagent_group g;
	size_t n;

	txn_begin();
	put_res(0, "r0", gslot(0), 100);
	put_res(1, "r1", gslot(0), 100);
	put_grp(gslot(0), "g0", 100, members, 1);
	txn_commit();

	txn_begin();
	for (uint32_t k = 1; k < SHM_VERSIONS; k++) {
		put_res(0, "r0", gslot(0), 100 + k);
		ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), 0);
		ck_assert_uint_eq(r.state_seq, 100);
		ck_assert_uint_eq(r.gen, 1);
		ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 1, &n), 0);
		ck_assert_uint_eq(m[0].state_seq, 100);
	}
	ck_assert_uint_eq(stats().restarts, 0);
	ck_assert_uint_eq(stats().failures, 0);

	put_res(0, "r0", gslot(0), 100 + SHM_VERSIONS); /* the version at T is gone */
	memset(&r, 0x77, sizeof(r));
	r0 = r;
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), -EBUSY);
	ck_assert_mem_eq(&r, &r0, sizeof(r));
	st = stats();
	ck_assert_uint_gt(st.restarts, 0);
	ck_assert_uint_eq(st.failures, 1);
	/* Every kind of read that needs that record notices; others are unaffected. */
	ck_assert_int_eq(hagent_shm_read_group(s, gslot(0), &g, m, 1, &n), -EBUSY);
	ck_assert_int_eq(hagent_shm_read_table(s, &t), -EBUSY);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(read_seq(1), 100);
	ck_assert_uint_eq(stats().failures, 3);

	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), 0);
	ck_assert_uint_eq(r.state_seq, 100 + SHM_VERSIONS);
	ck_assert_uint_eq(r.gen, 1 + SHM_VERSIONS);
	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	hagent_shm_table_free(t);
}
END_TEST

/* Claim: a record created after T and already lapped is still absent at T, not an error. */
START_TEST(test_history_created_after_T)
{
	struct hagent_resource r;

	txn_begin();
	put_res(0, "r0", gslot(0), 1);
	txn_commit();
	txn_begin();
	for (uint32_t k = 0; k < SHM_VERSIONS; k++)
		put_res(1, "young", gslot(0), k);
	ck_assert_int_eq(hagent_shm_read_resource(s, 1, &r), -ENOENT);
	txn_commit();
	ck_assert_uint_eq(read_seq(1), SHM_VERSIONS - 1);
}
END_TEST

static struct shm_version *writer_version(uint32_t slot, uint64_t gen)
{
	const struct shm_header *h = shm_writer_header(w);
	struct shm_record *recs = (struct shm_record *) ((uint8_t *) h + h->records_offset);

	return &recs[slot].v[gen % SHM_VERSIONS];
}

/*
 * Claim: a copy is only used if its seqcount was even and unchanged and it
 * holds the generation walked to.  Fault injection edits the writer's mapping
 * into states a reader can meet mid-write; the negative control shows that
 * without the check the torn contents are returned.
 */
START_TEST(test_torn_version_rejected)
{
	struct shm_version *v;
	struct hagent_resource r;
	uint32_t seq;

	txn_begin();
	put_res(0, "r0", gslot(0), 5);
	txn_commit();
	v = writer_version(0, 1);
	seq = atomic_load(&v->seq);

	/* Writer "in the middle": odd seqcount, payload half rewritten. */
	atomic_store(&v->seq, seq + 1);
	v->u.res.state_seq = 666;
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), -EBUSY);
	shm_reader_set_debug(s, SHM_DEBUG_NO_SEQ);
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), 0);
	ck_assert_uint_eq(r.state_seq, 666); /* what an unvalidated reader would use */
	shm_reader_set_debug(s, 0);

	/* Even again but holding another generation (overwritten by a lap). */
	atomic_store(&v->seq, seq + 2);
	v->gen = 1 + SHM_VERSIONS;
	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), -EBUSY);
	v->gen = 1;
	ck_assert_uint_eq(read_seq(0), 666);
}
END_TEST

/* ===================================== blobs ===================================== */

static struct shm_blob_ref blob_new(const void *data, uint32_t len)
{
	struct shm_blob_ref ref;

	ck_assert_int_eq(shm_writer_blob_new(w, data, len, &ref), 0);
	ck_assert_uint_ne(ref.blob_id, 0);
	ck_assert_uint_eq(ref.len, len);
	return ref;
}

/*
 * Commits a version of resource slot naming ref as its properties (the
 * version takes its own reference) and returns the reference a reader gets.
 */
static struct hagent_shm_blob publish_blob(uint32_t slot, const struct shm_blob_ref *ref)
{
	struct shm_object o = res_obj("holder", gslot(0), 1);
	struct hagent_resource r;

	o.u.res.properties = *ref;
	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, slot, &o), 0);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(s, slot, &r), 0);
	ck_assert_uint_eq(r.properties.blob_id, ref->blob_id);
	ck_assert_uint_eq(r.properties.chunk, ref->chunk);
	ck_assert_uint_eq(r.properties.len, ref->len);
	ck_assert_uint_eq(r.properties.origin_slot, slot);
	ck_assert_uint_eq(r.properties.origin_gen, r.gen);
	return r.properties;
}

/* One more version of resource slot, naming no blob. */
static void put_plain(uint32_t slot)
{
	put_res(slot, "plain", gslot(0), 1);
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t) (seed + i * 7);
}

/* Claim: a blob put into a version reads back byte for byte; short buffers get a prefix. */
START_TEST(test_blob_roundtrip)
{
	static const char props[] = "address=10.0.0.1\0netmask=24\0";
	const uint32_t deps[] = {4, 8, 15};
	struct shm_object o = res_obj("ip", gslot(0), 1);
	struct hagent_shm_blob bad, empty;
	struct shm_blob_ref ref;
	struct hagent_resource r;
	char buf[128];
	size_t len = 0;

	o.u.res.properties = blob_new(props, sizeof(props));
	o.u.res.dependencies = blob_new(deps, sizeof(deps));
	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
	txn_commit();
	shm_writer_blob_unref(w, &o.u.res.properties);
	shm_writer_blob_unref(w, &o.u.res.dependencies);

	ck_assert_int_eq(hagent_shm_read_resource(s, 0, &r), 0);
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.properties, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(props));
	ck_assert_mem_eq(buf, props, sizeof(props));
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.dependencies, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(deps));
	ck_assert_mem_eq(buf, deps, sizeof(deps));

	memset(buf, '#', sizeof(buf));
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.properties, buf, 4, &len), 0);
	ck_assert_uint_eq(len, sizeof(props));
	ck_assert_mem_eq(buf, "addr#", 5);
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.properties, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, sizeof(props));

	/* No blob, and an empty one. */
	bad = (struct hagent_shm_blob){};
	len = 9;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 0);
	ref = blob_new(NULL, 0);
	empty = publish_blob(1, &ref);
	shm_writer_blob_unref(w, &ref);
	len = 9;
	ck_assert_int_eq(hagent_shm_read_blob(s, &empty, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 0);

	/* References that cannot be valid. */
	bad = r.properties;
	bad.chunk = HEAP_CHUNKS;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -EBADMSG);
	bad = r.properties;
	bad.chunk = HEAP_CHUNKS - 1;
	bad.len = 64;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -EBADMSG);
	bad = r.properties;
	bad.len = SHM_BLOB_MAX + 1;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -EBADMSG);
	bad = r.properties;
	bad.origin_slot = MAX_RES + MAX_GRP;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -EBADMSG);
	bad = r.properties;
	bad.blob_id++;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -ESTALE);
	bad = r.properties;
	bad.len--;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -ESTALE);
	bad = r.properties;
	bad.origin_gen++;
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -ESTALE);
	bad = r.properties;
	bad.origin_slot = 2; /* never written */
	ck_assert_int_eq(hagent_shm_read_blob(s, &bad, buf, sizeof(buf), &len), -ESTALE);
	ck_assert_uint_eq(len, 0); /* untouched since the empty blob */
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.properties, NULL, 4, &len), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_blob(s, &r.properties, buf, 4, NULL), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_blob(s, NULL, buf, 4, &len), -EINVAL);
	ck_assert_int_eq(hagent_shm_read_blob(NULL, &r.properties, buf, 4, &len), -EINVAL);
}
END_TEST

/*
 * Claim: a blob copy is used only if the version it came from is unchanged
 * across the copy (even, same seqcount, same generation): once that version
 * is being overwritten the blob may be freed and its chunks reused.  Fault
 * injection puts the version into the states a concurrent reader meets.
 */
START_TEST(test_blob_torn_rejected)
{
	uint8_t data[80], buf[80];
	struct hagent_shm_blob b;
	struct shm_blob_ref ref;
	struct shm_version *v;
	size_t len;
	uint32_t seq;

	fill_pattern(data, sizeof(data), 4);
	ref = blob_new(data, sizeof(data));
	b = publish_blob(0, &ref);
	shm_writer_blob_unref(w, &ref);
	v = writer_version(0, b.origin_gen);
	seq = atomic_load(&v->seq);

	atomic_store(&v->seq, seq + 1); /* being overwritten */
	ck_assert_int_eq(hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len), -ESTALE);
	atomic_store(&v->seq, seq + 2); /* overwritten by a later generation */
	v->gen = b.origin_gen + SHM_VERSIONS;
	ck_assert_int_eq(hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len), -ESTALE);
	v->gen = b.origin_gen;
	ck_assert_int_eq(hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len), 0);
	ck_assert_mem_eq(buf, data, sizeof(data));
}
END_TEST

/*
 * Claim: a blob lives exactly as long as a reference to it: the creator's
 * and one per version in the history.  A put naming a dead blob fails with
 * -ESTALE and takes no reference at all.
 */
START_TEST(test_blob_refcount)
{
	uint8_t data[200];
	struct shm_object o = res_obj("r", gslot(0), 1);
	struct shm_blob_ref a, b;
	uint32_t na = (16 + sizeof(data) + 63) / 64;

	fill_pattern(data, sizeof(data), 1);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);
	a = blob_new(data, sizeof(data));
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), na);

	/* Two versions hold a; the creator drops its reference. */
	o.u.res.properties = a;
	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
	txn_commit();
	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
	txn_commit();
	shm_writer_blob_unref(w, &a);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), na);

	/* The versions leave the history one by one: a dies with the second. */
	for (uint32_t k = 0; k < SHM_VERSIONS - 1; k++) {
		txn_begin();
		put_plain(0);
		txn_commit();
		ck_assert_uint_eq(shm_writer_blob_chunks_used(w), na);
	}
	txn_begin();
	put_plain(0);
	txn_commit();
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);

	/* A put naming the dead blob: refused, and b keeps exactly its one reference. */
	b = blob_new(data, 10);
	o.u.res.properties = b;
	o.u.res.dependencies = a;
	txn_begin();
	ck_assert_int_eq(shm_writer_put(w, 1, &o), -ESTALE);
	o.u.res.dependencies = (struct shm_blob_ref){.chunk = HEAP_CHUNKS + 5, .blob_id = 99};
	ck_assert_int_eq(shm_writer_put(w, 1, &o), -ESTALE);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(s, 1, &(struct hagent_resource){}), -ENOENT);
	shm_writer_blob_unref(w, &b);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);
	/* Unreferencing a dead blob again changes nothing. */
	shm_writer_blob_unref(w, &b);
	shm_writer_blob_unref(w, &a);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);
}
END_TEST

/* Claim: a full heap says -ENOSPC, an oversized blob -E2BIG, a NULL source -EINVAL. */
START_TEST(test_blob_limits)
{
	_cleanup_free_ uint8_t *big = calloc(1, SHM_BLOB_MAX + 1);
	struct shm_blob_ref ref = {.chunk = 123, .len = 456, .blob_id = 789}, keep[HEAP_CHUNKS];
	uint8_t data[48];

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(shm_writer_blob_new(w, big, SHM_BLOB_MAX + 1, &ref), -E2BIG);
	ck_assert_int_eq(shm_writer_blob_new(w, big, HEAP_CHUNKS * SHM_BLOB_CHUNK, &ref), -ENOSPC);
	ck_assert_int_eq(shm_writer_blob_new(w, NULL, 1, &ref), -EINVAL);
	ck_assert_uint_eq(ref.blob_id, 789);

	/* The largest blob that fits, then nothing more. */
	keep[0] = blob_new(big, HEAP_CHUNKS * SHM_BLOB_CHUNK - 16);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), HEAP_CHUNKS);
	ck_assert_int_eq(shm_writer_blob_new(w, NULL, 0, &ref), -ENOSPC);
	shm_writer_blob_unref(w, &keep[0]);

	/* One-chunk blobs fill it exactly; a freed chunk is found again. */
	fill_pattern(data, sizeof(data), 3);
	for (uint32_t i = 0; i < HEAP_CHUNKS; i++)
		keep[i] = blob_new(data, sizeof(data));
	ck_assert_int_eq(shm_writer_blob_new(w, data, 1, &ref), -ENOSPC);
	ck_assert_uint_eq(ref.blob_id, 789);
	shm_writer_blob_unref(w, &keep[17]);
	ref = blob_new(data, 1);
	ck_assert_uint_eq(ref.chunk, 17);
	for (uint32_t i = 0; i < HEAP_CHUNKS; i++)
		if (i != 17)
			shm_writer_blob_unref(w, &keep[i]);
	shm_writer_blob_unref(w, &ref);
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);
}
END_TEST

/*
 * Claim: a blob reference reads back exactly while the version it came from
 * is in the record's history, and once the blob is freed and its chunks are
 * reused (the heap is filled so the allocator must reuse them, from the same
 * start offset) it is -ESTALE, never other bytes.
 */
START_TEST(test_blob_stale_after_reuse)
{
	uint8_t data[100], buf[100];
	struct shm_blob_ref fill[HEAP_CHUNKS], ref;
	struct hagent_shm_blob b;
	uint32_t n = 0;
	size_t len;
	int r;

	fill_pattern(data, sizeof(data), 9);
	ref = blob_new(data, sizeof(data));
	b = publish_blob(0, &ref);
	shm_writer_blob_unref(w, &ref);

	for (uint32_t k = 1; k < SHM_VERSIONS; k++) {
		txn_begin();
		put_plain(0);
		txn_commit();
		ck_assert_int_eq(hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len), 0);
		ck_assert_uint_eq(len, sizeof(data));
		ck_assert_mem_eq(buf, data, sizeof(data));
	}
	txn_begin();
	put_plain(0); /* the version that named the blob leaves the history */
	txn_commit();
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), 0);
	r = hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len);
	if (r == 0)
		ck_assert_mem_eq(buf, data, sizeof(data));
	ck_assert_int_eq(r, -ESTALE);

	/* Fill the heap with other bytes until it is full: every chunk is reused. */
	memset(data, 0, sizeof(data));
	while (shm_writer_blob_new(w, data, 48, &ref) == 0) {
		ck_assert_uint_lt(n, HEAP_CHUNKS);
		fill[n++] = ref;
	}
	ck_assert_uint_eq(n, HEAP_CHUNKS);
	ck_assert_int_eq(hagent_shm_read_blob(s, &b, buf, sizeof(buf), &len), -ESTALE);
	for (uint32_t i = 0; i < n; i++)
		shm_writer_blob_unref(w, &fill[i]);
}
END_TEST

/*
 * Claim: reuse of a freed blob's chunks from another start offset is
 * detected too, including when the blob's own header survives it.  Layout
 * (heap of 64 chunks, next fit from chunk 0):
 *   P [0,2)  A [2,6)  Q [6,64)        then P and A are freed;
 *   L [0,3)  whose payload ends with ONE byte in A's first chunk, so it
 *            overwrites only the low byte of A's header seqcount (here
 *            with an even value: half of all payloads);
 *   B [3,5)  starts inside A: A's header is not touched again while A's
 *            payload is overwritten.
 * A reader still holding A's reference must get -ESTALE after L and after B,
 * never L's or B's bytes as A's.
 */
START_TEST(test_blob_reuse_other_offset)
{
	uint8_t pd[100], ad[200], qd[(HEAP_CHUNKS - 6) * SHM_BLOB_CHUNK - 16], ld[113], bd[100];
	struct shm_blob_ref p, a, q, l, b;
	struct hagent_shm_blob ra, rl, rb;
	uint8_t buf[sizeof(ad)];
	size_t len;
	int r;

	fill_pattern(pd, sizeof(pd), 1);
	fill_pattern(ad, sizeof(ad), 2);
	fill_pattern(qd, sizeof(qd), 3);
	fill_pattern(bd, sizeof(bd), 5);
	p = blob_new(pd, sizeof(pd));
	a = blob_new(ad, sizeof(ad));
	q = blob_new(qd, sizeof(qd));
	ck_assert_uint_eq(p.chunk, 0);
	ck_assert_uint_eq(a.chunk, 2);
	ck_assert_uint_eq(q.chunk, 6);
	ra = publish_blob(0, &a);
	ck_assert_int_eq(hagent_shm_read_blob(s, &ra, buf, sizeof(buf), &len), 0);
	ck_assert_mem_eq(buf, ad, sizeof(ad));
	shm_writer_blob_unref(w, &p);
	shm_writer_blob_unref(w, &a);
	for (uint32_t k = 0; k < SHM_VERSIONS; k++) {
		txn_begin();
		put_plain(0);
		txn_commit();
	}

	for (size_t i = 0; i < sizeof(ld); i++)
		ld[i] = (uint8_t) (0x40 + 2 * i); /* all even; the last lands on A's seq */
	ck_assert_uint_eq((16 + sizeof(ld)) % SHM_BLOB_CHUNK, 1); /* exactly one byte into A */
	l = blob_new(ld, sizeof(ld));
	ck_assert_uint_eq(l.chunk, 0);
	r = hagent_shm_read_blob(s, &ra, buf, sizeof(buf), &len);
	ck_assert_int_eq(r, -ESTALE);

	b = blob_new(bd, sizeof(bd));
	ck_assert_uint_eq(b.chunk, 3); /* inside A's old range, after its header */
	r = hagent_shm_read_blob(s, &ra, buf, sizeof(buf), &len);
	if (r == 0)
		ck_assert_msg(memcmp(buf, ad, sizeof(ad)) == 0,
			      "stale blob returned other bytes as its own");
	ck_assert_int_eq(r, -ESTALE);

	/* The live blobs are intact. */
	rl = publish_blob(1, &l);
	rb = publish_blob(2, &b);
	ck_assert_int_eq(hagent_shm_read_blob(s, &rl, buf, sizeof(ld), &len), 0);
	ck_assert_mem_eq(buf, ld, sizeof(ld));
	ck_assert_int_eq(hagent_shm_read_blob(s, &rb, buf, sizeof(bd), &len), 0);
	ck_assert_mem_eq(buf, bd, sizeof(bd));
	shm_writer_blob_unref(w, &q);
	shm_writer_blob_unref(w, &l);
	shm_writer_blob_unref(w, &b);
}
END_TEST

/*
 * Claim: republishing blobs does not grow the heap: once the versions that
 * reference old blobs are overwritten, usage is back at its baseline, and a
 * small heap never runs out however many times objects change.
 */
START_TEST(test_blob_memory_flat)
{
	struct shm_object o = res_obj("r", gslot(0), 0), go = {.kind = SHM_KIND_GROUP};
	uint32_t members[1] = {0}, baseline, peak = 0, per = 2; /* 100 bytes: 2 chunks */
	char props[100];

	baseline = shm_writer_blob_chunks_used(w);
	snprintf(go.name, sizeof(go.name), "g");
	for (uint32_t k = 1; k <= 20000; k++) {
		memset(props, 'a' + k % 26, sizeof(props));
		o.u.res.state_seq = k;
		o.u.res.properties = blob_new(props, sizeof(props));
		go.u.grp.members = blob_new(members, sizeof(members));
		go.u.grp.n_members = 1;
		txn_begin();
		ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
		ck_assert_int_eq(shm_writer_put(w, gslot(0), &go), 0);
		txn_commit();
		shm_writer_blob_unref(w, &o.u.res.properties);
		shm_writer_blob_unref(w, &go.u.grp.members);
		if (shm_writer_blob_chunks_used(w) > peak)
			peak = shm_writer_blob_chunks_used(w);
	}
	ck_assert_uint_le(peak, baseline + SHM_VERSIONS * (per + 1));
	ck_assert_uint_eq(read_seq(0), 20000);

	o.u.res.properties = (struct shm_blob_ref){};
	go.u.grp.members = (struct shm_blob_ref){};
	go.u.grp.n_members = 0;
	for (uint32_t k = 0; k < SHM_VERSIONS; k++) {
		txn_begin();
		ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
		ck_assert_int_eq(shm_writer_put(w, gslot(0), &go), 0);
		txn_commit();
	}
	ck_assert_uint_eq(shm_writer_blob_chunks_used(w), baseline);
}
END_TEST

/* ==================================== events ==================================== */

/* Claim: events appended in a transaction are invisible until it commits, then exact. */
START_TEST(test_event_commit)
{
	struct shm_event in = {
		.change = 0x20,
		.slot = 3,
		.kind = SHM_KIND_RESOURCE,
		.state_seq = 17,
		.state = HAGENT_RESOURCE_FAILED,
		.time_ns = UINT64_C(1234567890123),
	};
	struct hagent_shm_info info;
	struct hagent_event e, e0;
	uint64_t T;

	id_for("evt", in.id);
	memset(&e, 0x11, sizeof(e));
	e0 = e;
	ck_assert_int_eq(hagent_shm_read_event(s, 0, &e), -EAGAIN);
	ck_assert_int_eq(shm_writer_begin(w, &T), 0);
	ck_assert_int_eq(shm_writer_event(w, &in), 0);
	ck_assert_int_eq(hagent_shm_read_event(s, 0, &e), -EAGAIN);
	ck_assert_int_eq(hagent_shm_get_info(s, &info), 0);
	ck_assert_uint_eq(info.event_head, 0);
	ck_assert_mem_eq(&e, &e0, sizeof(e));
	txn_commit();

	ck_assert_int_eq(hagent_shm_read_event(s, 0, &e), 0);
	ck_assert_uint_eq(e.position, 0);
	ck_assert_uint_eq(e.change, 0x20);
	ck_assert_uint_eq(e.slot, 3);
	ck_assert_uint_eq(e.kind, SHM_KIND_RESOURCE);
	ck_assert_uint_eq(e.state_seq, 17);
	ck_assert_int_eq(e.state, HAGENT_RESOURCE_FAILED);
	ck_assert_uint_eq(e.txn, T);
	ck_assert_mem_eq(e.id, in.id, HAGENT_ID_SIZE);
	ck_assert_uint_eq(e.time_ns, UINT64_C(1234567890123));
	ck_assert_int_eq(hagent_shm_read_event(s, 1, &e), -EAGAIN);
	ck_assert_int_eq(hagent_shm_get_info(s, &info), 0);
	ck_assert_uint_eq(info.event_head, 1);

	/* time_ns 0: the writer stamps it. */
	in.time_ns = 0;
	txn_begin();
	ck_assert_int_eq(shm_writer_event(w, &in), 0);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_event(s, 1, &e), 0);
	ck_assert_uint_ne(e.time_ns, 0);
}
END_TEST

/*
 * Claim: a reader more than event_capacity behind gets -ESTALE, never a
 * newer event in place of the one it asked for; this holds even while the
 * writer is rewriting the slot in an open transaction.
 */
START_TEST(test_event_fall_behind)
{
	struct shm_event in = {.change = 1, .kind = SHM_KIND_GROUP};
	struct hagent_event e;

	for (uint32_t i = 0; i < 20; i++) {
		in.state_seq = i;
		txn_begin();
		ck_assert_int_eq(shm_writer_event(w, &in), 0);
		txn_commit();
	}
	for (uint64_t pos = 0; pos < 20 - EVENTS; pos++)
		ck_assert_int_eq(hagent_shm_read_event(s, pos, &e), -ESTALE);
	for (uint64_t pos = 20 - EVENTS; pos < 20; pos++) {
		ck_assert_int_eq(hagent_shm_read_event(s, pos, &e), 0);
		ck_assert_uint_eq(e.state_seq, pos);
		ck_assert_uint_eq(e.position, pos);
	}
	ck_assert_int_eq(hagent_shm_read_event(s, 20, &e), -EAGAIN);
	ck_assert_int_eq(hagent_shm_read_event(s, UINT64_MAX, &e), -EAGAIN);

	/* Position 20 reuses the slot of 12 before it is published. */
	in.state_seq = 20;
	txn_begin();
	ck_assert_int_eq(shm_writer_event(w, &in), 0);
	ck_assert_int_eq(hagent_shm_read_event(s, 20 - EVENTS, &e), -ESTALE);
	ck_assert_int_eq(hagent_shm_read_event(s, 21 - EVENTS, &e), 0);
	ck_assert_uint_eq(e.state_seq, 21 - EVENTS);
	ck_assert_int_eq(hagent_shm_read_event(s, 20, &e), -EAGAIN);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_event(s, 20 - EVENTS, &e), -ESTALE);
	ck_assert_int_eq(hagent_shm_read_event(s, 20, &e), 0);
	ck_assert_uint_eq(e.state_seq, 20);

	/* Many events in one transaction: only the last event_capacity survive. */
	txn_begin();
	for (uint32_t i = 0; i < 3 * EVENTS; i++) {
		in.state_seq = 100 + i;
		ck_assert_int_eq(shm_writer_event(w, &in), 0);
	}
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_event(s, 21 + 2 * EVENTS - 1, &e), -ESTALE);
	ck_assert_int_eq(hagent_shm_read_event(s, 21 + 2 * EVENTS, &e), 0);
	ck_assert_uint_eq(e.state_seq, 100 + 2 * EVENTS);
}
END_TEST

/* ====================================== ABI ====================================== */

/* A sealed memfd of size bytes holding a copy of the writer's segment, one field changed. */
static int fake_segment(size_t size, int field)
{
	const struct shm_header *real = shm_writer_header(w);
	struct shm_header *h;
	void *map;
	int fd;

	fd = memfd_new_sealed("hagent-fake", size, size, true, &map);
	ck_assert_int_ge(fd, 0);
	memcpy(map, real, size < real->segment_size ? size : real->segment_size);
	h = map;
	switch (field) {
	case 0:
		break;
	case 1:
		h->magic ^= 1;
		break;
	case 2:
		h->abi_version = SHM_ABI_VERSION + 1;
		break;
	case 3:
		h->abi_version = 0;
		break;
	case 4:
		h->header_size += 64;
		break;
	case 5:
		h->segment_size += 4096;
		break;
	case 6:
		h->n_versions = 2 * SHM_VERSIONS;
		break;
	case 7:
		h->version_size /= 2;
		break;
	case 8:
		h->record_size += 64;
		break;
	case 9:
		h->blob_chunk_size *= 2;
		break;
	case 10:
		h->event_size = 32;
		break;
	case 11:
		h->max_resources = 0;
		break;
	case 12:
		h->max_groups = SHM_MAX_RECORDS;
		break;
	case 13:
		h->records_offset = 0; /* inside the header page */
		break;
	case 14:
		h->records_offset = h->segment_size;
		break;
	case 15:
		h->blob_offset = h->records_offset; /* overlaps the records */
		break;
	case 16:
		h->events_offset = h->segment_size - SHM_CACHELINE;
		break;
	case 17:
		h->events_offset += 8; /* still inside, misaligned */
		break;
	case 18:
		h->event_capacity = 6;
		break;
	case 19:
		h->event_capacity = 1u << 31;
		break;
	case 20:
		h->blob_chunks = UINT32_MAX;
		break;
	case 21:
		h->max_resources = UINT32_MAX; /* n_records overflows 32 bits */
		h->max_groups = 2;
		break;
	case 22:
		h->events_offset = UINT64_MAX - 100; /* offset + length wraps */
		break;
	}
	(void) munmap(map, size);
	return fd;
}

static const int fake_expected[] = {
	0,		  /* 0: unmodified copy */
	-EPROTO,	  /* 1: magic */
	-EPROTONOSUPPORT, /* 2: newer ABI */
	-EPROTONOSUPPORT, /* 3: ABI 0 */
	-EBADMSG,	  /* 4: header_size */
	-EBADMSG,	  /* 5: segment_size */
	-EBADMSG,	  /* 6: n_versions */
	-EBADMSG,	  /* 7: version_size */
	-EBADMSG,	  /* 8: record_size */
	-EBADMSG,	  /* 9: blob_chunk_size */
	-EBADMSG,	  /* 10: event_size */
	-EBADMSG,	  /* 11: max_resources 0 */
	-EBADMSG,	  /* 12: too many records */
	-EBADMSG,	  /* 13: records in header page */
	-EBADMSG,	  /* 14: records past the end */
	-EBADMSG,	  /* 15: blobs over records */
	-EBADMSG,	  /* 16: events past the end */
	-EBADMSG,	  /* 17: events misaligned */
	-EBADMSG,	  /* 18: event_capacity not 2^n */
	-EBADMSG,	  /* 19: event_capacity huge */
	-EBADMSG,	  /* 20: blob_chunks huge */
	-EBADMSG,	  /* 21: record count wraps */
	-EBADMSG,	  /* 22: events offset wraps */
};

/* The word hagent_shm_strerror() must use for each header error. */
static const char *cause_word(int r)
{
	switch (r) {
	case -EPROTO:
		return "magic";
	case -EPROTONOSUPPORT:
		return "ABI version";
	default:
		return "layout";
	}
}

/*
 * Claim: a segment whose header is not exactly what this reader understands
 * is refused with the errno naming the cause, and nothing is mapped.  Case 0
 * is the unmodified copy: it must open, so the fake itself is sound.
 */
START_TEST(test_abi_header)
{
	size_t size = shm_writer_header(w)->segment_size;
	_cleanup_close_ int fd = fake_segment(size, _i);
	hagent_shm *x = (hagent_shm *) 0x1;
	int r;

	r = hagent_shm_open_fd(fd, &x);
	ck_assert_msg(r == fake_expected[_i], "case %d: got %d, expected %d", _i, r,
		      fake_expected[_i]);
	if (r == 0) {
		x = hagent_shm_unref(x);
		return;
	}
	ck_assert_ptr_eq(x, (hagent_shm *) 0x1);
	/* The message names the cause. */
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(r), cause_word(r)));
}
END_TEST

/* Claim: a file of another size than the header says, or too small for a header, is refused. */
START_TEST(test_abi_size)
{
	size_t size = shm_writer_header(w)->segment_size;
	hagent_shm *x = NULL;
	int fd;

	fd = fake_segment(size + 4096, 0);
	ck_assert_int_eq(hagent_shm_open_fd(fd, &x), -EBADMSG);
	safe_close(fd);
	fd = fake_segment(size - 4096, 0);
	ck_assert_int_eq(hagent_shm_open_fd(fd, &x), -EBADMSG);
	safe_close(fd);
	fd = fake_segment(SHM_HEADER_AREA - 1, 0);
	ck_assert_int_eq(hagent_shm_open_fd(fd, &x), -EBADMSG);
	safe_close(fd);
	ck_assert_ptr_null(x);
}
END_TEST

/* Claim: only a size-sealed memfd is accepted: pipes, plain files and unsealed memfds are not. */
START_TEST(test_abi_not_memfd)
{
	char path[128];
	hagent_shm *x = NULL;
	int p[2], fd, r;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(hagent_shm_open_fd(p[0], &x), -EMEDIUMTYPE);
	ck_assert_int_eq(hagent_shm_open_fd(p[1], &x), -EMEDIUMTYPE);
	safe_close(p[0]);
	safe_close(p[1]);

	/* A regular file holding a perfect copy of a segment. */
	snprintf(path, sizeof(path), "%s/segment", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, shm_writer_header(w), SHM_HEADER_AREA), SHM_HEADER_AREA);
	ck_assert_int_eq(ftruncate(fd, (off_t) shm_writer_header(w)->segment_size), 0);
	r = hagent_shm_open_fd(fd, &x);
	/* Files on tmpfs support F_GET_SEALS (and have none but F_SEAL_SEAL): -EPERM there. */
	ck_assert_msg(r == -EMEDIUMTYPE || r == -EPERM, "regular file: %d", r);
	safe_close(fd);

	/* A memfd without the size seals. */
	fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t) shm_writer_header(w)->segment_size), 0);
	ck_assert_int_eq(hagent_shm_open_fd(fd, &x), -EPERM);
	safe_close(fd);
	ck_assert_ptr_null(x);
}
END_TEST

/* Claim: hagent_shm_strerror() names the segment-specific causes. */
START_TEST(test_abi_strerror)
{
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-EPROTO), "magic"));
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-EPROTONOSUPPORT), "ABI version"));
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-EBADMSG), "layout"));
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-EMEDIUMTYPE), "memfd"));
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-EBUSY), "retry"));
	ck_assert_ptr_nonnull(strstr(hagent_shm_strerror(-ESTALE), "again"));
	ck_assert_str_eq(hagent_shm_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(hagent_shm_strerror(ECONNREFUSED), strerror(ECONNREFUSED));
}
END_TEST

/* ================================== read-only ================================== */

struct mapping {
	uintptr_t start, end;
	char perms[5];
};

/* The mappings of the file behind fd in this process, from /proc/self/maps. */
static size_t segment_mappings(int fd, struct mapping *ret, size_t max)
{
	struct stat st;
	char line[512];
	size_t n = 0;
	FILE *f;

	ck_assert_int_eq(fstat(fd, &st), 0);
	f = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, off, ino;
		unsigned maj, min;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &start, &end, perms, &off, &maj, &min,
			   &ino) != 7)
			continue;
		if (ino != st.st_ino || makedev(maj, min) != st.st_dev)
			continue;
		ck_assert_uint_lt(n, max);
		ret[n].start = start;
		ret[n].end = end;
		memcpy(ret[n].perms, perms, sizeof(perms));
		n++;
	}
	fclose(f);
	return n;
}

/* mprotect() of a sealed shared mapping fails: EACCES on older kernels, EPERM on newer ones. */
static void assert_no_write_upgrade(void *addr, size_t len)
{
	errno = 0;
	ck_assert_int_eq(mprotect(addr, len, PROT_READ | PROT_WRITE), -1);
	ck_assert_msg(errno == EACCES || errno == EPERM, "mprotect: %s", strerror(errno));
	errno = 0;
	ck_assert_int_eq(madvise(addr, len, MADV_REMOVE), -1); /* would punch holes */
	ck_assert_int_eq(errno, EACCES);
}

/*
 * Every way to change or resize the segment through fd must fail, so that
 * whoever holds the fd (every reader) cannot disturb the writer or other
 * readers: no write, no resize, no hole, no writable shared mapping, no new
 * seal.  A private mapping may be written, but the writer never sees it.
 */
static void assert_fd_readonly(int fd)
{
	const struct shm_header *h = shm_writer_header(w);
	size_t size = h->segment_size;
	uint8_t *map, byte = 0xee;
	struct stat st;

	ck_assert_int_eq(ftruncate(fd, (off_t) size - 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, (off_t) size + 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(write(fd, &byte, 1), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(pwrite(fd, &byte, 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(fd, 0, 0, (off_t) size + 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, 4096), MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);

	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	assert_no_write_upgrade(map, size);
	ck_assert_int_eq(munmap(map, size), 0);

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	memset(map, 0xff, 64);
	ck_assert_uint_eq(h->magic, SHM_MAGIC);
	ck_assert_int_eq(munmap(map, size), 0);

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t) size);
}

/* The writer's own mapping still publishes, and a reader sees it. */
static void assert_writer_still_works(hagent_shm *reader, uint32_t seq)
{
	struct hagent_resource r;

	txn_begin();
	put_res(0, "still-here", gslot(0), seq);
	txn_commit();
	ck_assert_int_eq(hagent_shm_read_resource(reader, 0, &r), 0);
	ck_assert_uint_eq(r.state_seq, seq);
	ck_assert_str_eq(r.name, "still-here");
}

/* Claim: the writer's fd (the one handed out) is read-only for everyone but its mapping. */
START_TEST(test_readonly_writer_fd)
{
	int fd = shm_writer_fd(w);
	char path[64];
	int fd2;

	assert_fd_readonly(fd);
	assert_writer_still_works(s, 1);

	/* Reopening through /proc gives a new, writable-looking file description: still sealed. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	assert_fd_readonly(fd2);
	safe_close(fd2);
	assert_writer_still_works(s, 2);
}
END_TEST

/*
 * Claim: the reader maps the segment read-only and cannot make that mapping
 * writable; the writer's mapping is the only writable one in the process.
 */
START_TEST(test_readonly_reader_mapping)
{
	struct mapping m[8];
	size_t n, writable = 0, readers = 0;

	n = segment_mappings(shm_writer_fd(w), m, ELEMENTSOF(m));
	ck_assert_uint_ge(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strchr(m[i].perms, 'w')) {
			ck_assert_uint_eq(m[i].start, (uintptr_t) shm_writer_header(w));
			writable++;
			continue;
		}
		ck_assert_str_eq(m[i].perms, "r--s");
		assert_no_write_upgrade((void *) m[i].start, m[i].end - m[i].start);
		readers++;
	}
	ck_assert_uint_eq(writable, 1);
	ck_assert_uint_eq(readers, 1);
	assert_writer_still_works(s, 3);
}
END_TEST

struct client {
	char path[256]; /* socket path, or runtime dir when open_dir */
	bool open_dir;
	int fd;
	hagent_shm *shm;
	int r;
};

static void *client_main(void *p)
{
	struct client *c = p;

	if (c->open_dir)
		c->r = hagent_shm_open(c->path, &c->shm);
	else
		c->r = shm_socket_receive_fd(c->path, &c->fd);
	return NULL;
}

static void client_start(pthread_t *t, struct client *c, const char *path, bool open_dir)
{
	*c = (struct client){.open_dir = open_dir, .fd = -EBADF, .r = 1};
	snprintf(c->path, sizeof(c->path), "%s", path);
	ck_assert_int_eq(pthread_create(t, NULL, client_main, c), 0);
}

/* Serves one connection (waiting up to 5 s for it) and returns serve_one's result. */
static int serve(int lfd, int seg_fd, shm_peer_check_t check, void *userdata)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	return shm_socket_serve_one(lfd, seg_fd, check, userdata);
}

static void sock_path(char *buf, size_t size)
{
	snprintf(buf, (size), "%s/%s", tmpdir, HAGENT_SHM_SOCKET);
}

/*
 * Claim: the fd a reader receives through the socket, and the mapping
 * hagent_shm_open() makes from it, are read-only just like the writer's.
 */
START_TEST(test_readonly_socket_fd)
{
	struct client c;
	struct mapping m[8];
	char path[128];
	pthread_t t;
	size_t n;
	int lfd;

	sock_path(path, sizeof(path));
	lfd = shm_socket_listen(path, 0600);
	ck_assert_int_ge(lfd, 0);

	client_start(&t, &c, path, false);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), NULL, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, 0);
	ck_assert_int_ge(c.fd, 0);
	ck_assert_int_ne(c.fd, shm_writer_fd(w));
	ck_assert_int_eq(fcntl(c.fd, F_GETFD), FD_CLOEXEC);
	assert_fd_readonly(c.fd);
	safe_close(c.fd);

	s = hagent_shm_unref(s); /* only the socket reader's mapping is left */
	client_start(&t, &c, tmpdir, true);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), NULL, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, 0);
	n = segment_mappings(shm_writer_fd(w), m, ELEMENTSOF(m));
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (m[i].start == (uintptr_t) shm_writer_header(w))
			continue;
		ck_assert_str_eq(m[i].perms, "r--s");
		assert_no_write_upgrade((void *) m[i].start, m[i].end - m[i].start);
	}
	assert_writer_still_works(c.shm, 4);
	hagent_shm_unref(c.shm);
	safe_close(lfd);
}
END_TEST

/* ==================================== socket ==================================== */

/* Leaves a socket file nobody listens on, as a dead writer does. */
static void bind_dead_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	safe_close(fd);
}

/* A client opening the runtime directory is served on lfd and maps this writer's segment. */
static void expect_open_gets_segment(int lfd)
{
	struct hagent_shm_info info, mine;
	struct client c;
	pthread_t t;

	client_start(&t, &c, tmpdir, true);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), NULL, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, 0);
	ck_assert_int_eq(hagent_shm_get_info(c.shm, &info), 0);
	ck_assert_int_eq(hagent_shm_get_info(s, &mine), 0);
	ck_assert_mem_eq(info.incarnation, mine.incarnation, sizeof(info.incarnation));
	hagent_shm_unref(c.shm);
}

/* Claim: a socket file left by a dead writer is replaced; the mode is applied. */
START_TEST(test_socket_stale_replaced)
{
	char path[128];
	struct stat st;
	int lfd;

	sock_path(path, sizeof(path));
	bind_dead_socket(path);
	ck_assert_int_eq(lstat(path, &st), 0);

	lfd = shm_socket_listen(path, 0640);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(fcntl(lfd, F_GETFD), FD_CLOEXEC);
	ck_assert_int_eq(shm_socket_serve_one(lfd, shm_writer_fd(w), NULL, NULL), -EAGAIN);

	expect_open_gets_segment(lfd);
	safe_close(lfd);
}
END_TEST

/* Claim: a second writer cannot take over the socket a live writer listens on. */
START_TEST(test_socket_live_kept)
{
	char path[128];
	int lfd;

	sock_path(path, sizeof(path));
	lfd = shm_socket_listen(path, 0600);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(shm_socket_listen(path, 0600), -EADDRINUSE);
	/* The probe's connection is in the backlog; its peer has gone: -EPIPE, harmless. */
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), NULL, NULL), -EPIPE);

	/* The first writer still serves on it. */
	expect_open_gets_segment(lfd);
	safe_close(lfd);
}
END_TEST

/* Claim: shm_socket_listen() never removes anything but a socket. */
START_TEST(test_socket_refuses_non_socket)
{
	char path[128], buf[8] = {};
	int fd;

	sock_path(path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	safe_close(fd);
	ck_assert_int_eq(shm_socket_listen(path, 0600), -EEXIST);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "keep");
	safe_close(fd);
	ck_assert_int_eq(unlink(path), 0);

	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(shm_socket_listen(path, 0600), -EEXIST);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink("/nonexistent", path), 0);
	ck_assert_int_eq(shm_socket_listen(path, 0600), -EEXIST);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

struct peer_log {
	int calls;
	struct ucred last;
	int verdict;
};

static int peer_check(const struct ucred *peer, void *userdata)
{
	struct peer_log *log = userdata;

	log->calls++;
	log->last = *peer;
	return log->verdict;
}

/* Claim: a refused peer gets an error and no fd; the check sees the peer's credentials. */
START_TEST(test_socket_peer_refused)
{
	struct peer_log log = {.verdict = -EACCES};
	struct client c;
	char path[128];
	pthread_t t;
	int lfd;

	sock_path(path, sizeof(path));
	lfd = shm_socket_listen(path, 0600);
	ck_assert_int_ge(lfd, 0);

	client_start(&t, &c, path, false);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), peer_check, &log), -EACCES);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, -ECONNRESET);
	ck_assert_int_eq(c.fd, -EBADF);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_int_eq(log.last.pid, getpid());
	ck_assert_uint_eq(log.last.uid, getuid());
	ck_assert_uint_eq(log.last.gid, getgid());

	client_start(&t, &c, tmpdir, true);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), peer_check, &log), -EACCES);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, -ECONNRESET);
	ck_assert_ptr_null(c.shm);

	log.verdict = 0;
	client_start(&t, &c, path, false);
	ck_assert_int_eq(serve(lfd, shm_writer_fd(w), peer_check, &log), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.r, 0);
	ck_assert_int_ge(c.fd, 0);
	ck_assert_int_eq(log.calls, 3);
	safe_close(c.fd);
	safe_close(lfd);
}
END_TEST

/* Claim: with no agent, hagent_shm_open() fails with -ENOENT or -ECONNREFUSED, at once. */
START_TEST(test_socket_no_agent)
{
	char path[128], longdir[200];
	hagent_shm *x = NULL;
	int fd = -EBADF;

	ck_assert_int_eq(hagent_shm_open(tmpdir, &x), -ENOENT);
	ck_assert_int_eq(setenv("HAGENT_RUNTIME_DIR", tmpdir, 1), 0);
	ck_assert_int_eq(hagent_shm_open(NULL, &x), -ENOENT);

	sock_path(path, sizeof(path));
	bind_dead_socket(path);
	ck_assert_int_eq(hagent_shm_open(tmpdir, &x), -ECONNREFUSED);
	ck_assert_int_eq(hagent_shm_open(NULL, &x), -ECONNREFUSED);
	fd = -EBADF;
	ck_assert_int_eq(shm_socket_receive_fd(path, &fd), -ECONNREFUSED);
	ck_assert_int_eq(fd, -EBADF);
	ck_assert_ptr_null(x);

	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	ck_assert_int_eq(hagent_shm_open(longdir, &x), -ENAMETOOLONG);
	ck_assert_int_eq(shm_socket_listen(longdir, 0600), -ENAMETOOLONG);
	ck_assert_int_eq(shm_socket_listen("", 0600), -EINVAL);
	ck_assert_int_eq(shm_socket_receive_fd("", &fd), -EINVAL);
}
END_TEST

static Suite *shm_segment_suite(void)
{
	Suite *su = suite_create("shm-segment");
	struct {
		const char *name;
		const TTest *tests[12];
	} cases[] = {
		{"writer", {test_writer_params, test_writer_txn_errors}},
		{"read",
		 {test_read_resource, test_read_name_terminated, test_read_errors, test_read_group,
		  test_read_group_bad_member, test_read_table, test_find, test_info}},
		{"visibility",
		 {test_uncommitted_invisible, test_uncommitted_visible_without_txn_check,
		  test_tombstone_hides}},
		{"history",
		 {test_history_laps, test_history_created_after_T, test_torn_version_rejected}},
		{"blob",
		 {test_blob_roundtrip, test_blob_torn_rejected, test_blob_refcount,
		  test_blob_limits, test_blob_stale_after_reuse, test_blob_reuse_other_offset,
		  test_blob_memory_flat}},
		{"event", {test_event_commit, test_event_fall_behind}},
		{"abi", {test_abi_size, test_abi_not_memfd, test_abi_strerror}},
		{"readonly",
		 {test_readonly_writer_fd, test_readonly_reader_mapping, test_readonly_socket_fd}},
		{"socket",
		 {test_socket_stale_replaced, test_socket_live_kept, test_socket_refuses_non_socket,
		  test_socket_peer_refused, test_socket_no_agent}},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 30);
		for (size_t j = 0; j < ELEMENTSOF(cases[i].tests) && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		if (strcmp(cases[i].name, "abi") == 0)
			tcase_add_loop_test(tc, test_abi_header, 0,
					    (int) ELEMENTSOF(fake_expected));
		suite_add_tcase(su, tc);
	}
	return su;
}

int main(void)
{
	return test_run_suite(shm_segment_suite());
}
