/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Notification ports at the library level (shm/shm-notify.c,
 * shm/shm-notify-handle.c, shm/shm-waker.c): scenarios 71-84 of
 * semantics.md §10 and the decisions of docs/notifications.md.  An
 * in-process writer on a memfd plays the agent: each "change" is one
 * transaction with the new record and its event, as hagentd publishes them.
 * Concurrency across processes is in test-notify-torture.c.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-notify-internal.h"
#include "shm-writer.h"
#include "test-util.h"
#include "time-util.h"

#define MAX_RES 32u
#define MAX_GRP 8u
#define EVENTS	64u
#define QMAX	(4u * EVENTS) /* the queue bound docs/notifications.md names */
#define LONG_MS 20000	      /* "never" for a test: fails it instead of hanging it */

static struct shm_writer *w;
static hagent_shm *s;

/* The objects of a test: a slot, an id, a name, a state and its sequence. */
struct obj {
	uint32_t kind, slot, seq;
	int32_t state;
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX];
};

static void setup(void)
{
	struct shm_params p = {
		.max_resources = MAX_RES,
		.max_groups = MAX_GRP,
		.blob_bytes = 64 * SHM_BLOB_CHUNK,
		.event_capacity = EVENTS,
	};

	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(w), &s), 0);
}

static void teardown(void)
{
	s = hagent_shm_unref(s);
	w = shm_writer_free(w);
}

static void setup_waker(void)
{
	setup();
	ck_assert_int_eq(shm_writer_start_waker(w), 0);
	ck_assert_int_eq(shm_writer_start_waker(w), -EALREADY);
}

static void setup_fallback(void)
{
	shm_notify_set_debug(SHM_NOTIFY_DEBUG_NO_WAITV);
	setup_waker();
}

static void put(const struct obj *o)
{
	struct shm_object so = {.kind = o->kind};

	memcpy(so.id, o->id, sizeof(so.id));
	snprintf(so.name, sizeof(so.name), "%s", o->name);
	if (o->kind == SHM_KIND_RESOURCE) {
		so.u.res.state = o->state;
		so.u.res.state_seq = o->seq;
		so.u.res.group_slot = shm_writer_group_slot(w, 0);
	} else {
		so.u.grp.state = o->state;
		so.u.grp.state_seq = o->seq;
	}
	ck_assert_int_eq(shm_writer_put(w, o->slot, &so), 0);
}

static void event(const struct obj *o, uint32_t change)
{
	struct shm_event e = {
		.change = change,
		.slot = o->slot,
		.kind = o->kind,
		.state_seq = o->seq,
		.state = o->state,
	};

	memcpy(e.id, o->id, sizeof(e.id));
	snprintf(e.name, sizeof(e.name), "%s", o->name);
	ck_assert_int_eq(shm_writer_event(w, &e), 0);
}

static uint32_t bit(const struct obj *o, uint32_t res_bit)
{
	return o->kind == SHM_KIND_RESOURCE ? res_bit : res_bit << 4; /* the GROUP_* twin */
}

/* A new object in its own transaction, with its ADDED event. */
static struct obj create(uint32_t kind, uint32_t i, const char *name)
{
	struct obj o = {.kind = kind, .seq = 1, .state = kind == SHM_KIND_RESOURCE ? 3 : 1};

	o.slot = kind == SHM_KIND_RESOURCE ? i : shm_writer_group_slot(w, i);
	snprintf(o.name, sizeof(o.name), "%s", name);
	for (size_t k = 0; k < sizeof(o.id); k++)
		o.id[k] = (uint8_t) (0x40 + kind * 31 + i * 7 + k * 13);
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(&o);
	event(&o, bit(&o, HAGENT_CHANGE_RESOURCE_ADDED));
	ck_assert_int_eq(shm_writer_commit(w), 0);
	return o;
}

/* One state change: new state, next sequence, record and STATE event in one commit. */
static void change(struct obj *o, int32_t state)
{
	o->state = state;
	o->seq++;
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(o);
	event(o, bit(o, HAGENT_CHANGE_RESOURCE_STATE));
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

static void delete (const struct obj *o)
{
	struct shm_object so = {.kind = SHM_KIND_FREE};

	memcpy(so.id, o->id, sizeof(so.id));
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	ck_assert_int_eq(shm_writer_put(w, o->slot, &so), 0);
	event(o, bit(o, HAGENT_CHANGE_RESOURCE_DELETED));
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

static hagent_notify_t port_new(void)
{
	hagent_notify_t p = 0;

	ck_assert_int_eq(hagent_notify_new(s, &p), 0);
	ck_assert_uint_ne(p, 0);
	return p;
}

static struct hagent_notification get_one(hagent_notify_t p)
{
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_get(p, &n, LONG_MS), 0);
	return n;
}

static void assert_empty(hagent_notify_t p)
{
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_get(p, &n, 0), -ETIMEDOUT);
}

static void assert_note(const struct hagent_notification *n, const struct obj *o, uint32_t change,
			uint64_t key)
{
	ck_assert_uint_eq(n->change, change);
	ck_assert_uint_eq(n->kind, o->kind);
	ck_assert_uint_eq(n->key, key);
	ck_assert_mem_eq(n->id, o->id, sizeof(n->id));
	ck_assert_str_eq(n->name, o->name);
	ck_assert_int_eq(n->state, o->state);
	ck_assert_uint_eq(n->state_seq, o->seq);
}

/* ================================== scenarios ===================================== */

/* 71: a port with no registration queues nothing, whatever changes. */
START_TEST(test_s71_no_filters)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();

	change(&g, HAGENT_GROUP_ONLINE);
	assert_empty(p);
	change(&g, HAGENT_GROUP_OFFLINE);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 72: add returns s0; one change gives exactly one {GROUP_STATE, G, seq > s0, key 7}. */
START_TEST(test_s72_one_change_one_event)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;
	uint32_t s0 = 0;

	change(&g, HAGENT_GROUP_PENDING); /* before the add: never delivered */
	ck_assert_int_eq(hagent_notify_add(p, g.id,
					   HAGENT_CHANGE_GROUP_STATE | HAGENT_CHANGE_GROUP_PROPERTY,
					   7, &s0),
			 0);
	ck_assert_uint_eq(s0, g.seq);
	assert_empty(p);
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 7);
	ck_assert_str_eq(n.name, "G");
	ck_assert_uint_gt(n.state_seq, s0);
	ck_assert_uint_lt(n.position, UINT64_MAX);
	ck_assert_uint_gt(n.time_ns, 0);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 73: one change that is a state and a property change: two separate indications. */
START_TEST(test_s73_two_bits_two_events)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, g.id,
					   HAGENT_CHANGE_GROUP_STATE | HAGENT_CHANGE_GROUP_PROPERTY,
					   3, NULL),
			 0);
	g.state = HAGENT_GROUP_ONLINE;
	g.seq++;
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(&g);
	event(&g, HAGENT_CHANGE_GROUP_STATE);
	event(&g, HAGENT_CHANGE_GROUP_PROPERTY);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 3);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_PROPERTY, 3);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 74: resource bits on a group (and group bits on a resource) are -EINVAL, not -ENOENT. */
START_TEST(test_s74_wrong_class)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), r = create(SHM_KIND_RESOURCE, 0, "R");
	hagent_notify_t p = port_new();
	uint32_t seq = 12345;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_RESOURCE_STATE, 1, &seq),
			 -EINVAL);
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_GROUP_STATE, 1, &seq), -EINVAL);
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_RESOURCE_STATE, 1, 0), -EINVAL);
	ck_assert_uint_eq(seq, 12345); /* untouched on failure */
	change(&g, HAGENT_GROUP_ONLINE);
	change(&r, HAGENT_RESOURCE_ONLINE);
	assert_empty(p); /* nothing was registered */
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* Filters: exactly the documented ones are accepted, for add and add_all. */
START_TEST(test_filter_validation)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), r = create(SHM_KIND_RESOURCE, 0, "R");
	hagent_notify_t p = port_new();
	static const struct {
		uint32_t filter;
		int res, grp, all;
	} table[] = {
		{0, -EINVAL, -EINVAL, -EINVAL},
		{HAGENT_CHANGE_RESOURCE_STATE, 0, -EINVAL, 0},
		{HAGENT_CHANGE_RESOURCE_ALL, 0, -EINVAL, 0},
		{HAGENT_CHANGE_GROUP_STATE, -EINVAL, 0, 0},
		{HAGENT_CHANGE_GROUP_ALL, -EINVAL, 0, 0},
		{HAGENT_CHANGE_GROUP_STATE | HAGENT_CHANGE_RESOURCE_STATE, -EINVAL, -EINVAL, 0},
		{HAGENT_CHANGE_RESOURCE_ALL | HAGENT_CHANGE_GROUP_ALL, -EINVAL, -EINVAL, 0},
		{HAGENT_CHANGE_RECONNECT, -EINVAL, -EINVAL, -EINVAL},
		{HAGENT_CHANGE_RESOURCE_STATE | HAGENT_CHANGE_RECONNECT, -EINVAL, -EINVAL, -EINVAL},
		{0x00000001, -EINVAL, -EINVAL, -EINVAL},	      /* NODE_STATE */
		{0x00000080, -EINVAL, -EINVAL, -EINVAL},	      /* REGISTRY_SUBTREE */
		{0x20000000, -EINVAL, -EINVAL, -EINVAL},	      /* CLUSTER_STATE */
		{0x80000000, -EINVAL, -EINVAL, -EINVAL},	      /* HANDLE_CLOSE */
		{0x00001000 | 0x00010000, -EINVAL, -EINVAL, -EINVAL}, /* + RESOURCE_TYPE_DELETED */
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		ck_assert_int_eq(hagent_notify_add(p, r.id, table[i].filter, i, NULL),
				 table[i].res);
		ck_assert_int_eq(hagent_notify_add(p, g.id, table[i].filter, i, NULL),
				 table[i].grp);
		ck_assert_int_eq(hagent_notify_add_all(p, table[i].filter, i), table[i].all);
	}
	ck_assert_int_eq(hagent_notify_add(p, NULL, HAGENT_CHANGE_GROUP_STATE, 1, NULL), -EINVAL);
	ck_assert_int_eq(hagent_notify_get(p, NULL, 0), -EINVAL);
	ck_assert_int_eq(hagent_notify_new(NULL, &p), -EINVAL);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 75: a client that saw s, then missed 3 changes: re-add queues exactly one current STATE. */
START_TEST(test_s75_readd_missed)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p1 = port_new(), p2;
	struct hagent_notification n;
	uint32_t seen = 0;

	ck_assert_int_eq(hagent_notify_add(p1, g.id, HAGENT_CHANGE_GROUP_STATE, 5, &seen), 0);
	ck_assert_int_eq(hagent_notify_close(p1), 0); /* the client is gone */
	change(&g, HAGENT_GROUP_PENDING);
	change(&g, HAGENT_GROUP_ONLINE);
	change(&g, HAGENT_GROUP_PARTIAL_ONLINE);

	p2 = port_new();
	ck_assert_int_eq(hagent_notify_readd(p2, g.id, HAGENT_CHANGE_GROUP_STATE, 5, seen), 0);
	n = get_one(p2);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 5);
	ck_assert_uint_eq(n.position, UINT64_MAX);
	assert_empty(p2);
	/* And the registration is live: the next change comes once. */
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p2);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 5);
	ck_assert_uint_ne(n.position, UINT64_MAX);
	assert_empty(p2);
	ck_assert_int_eq(hagent_notify_close(p2), 0);
}
END_TEST

/* 76: re-add with the current sequence: nothing synthetic. */
START_TEST(test_s76_readd_current)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();

	change(&g, HAGENT_GROUP_ONLINE);
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_GROUP_STATE, 5, g.seq), 0);
	assert_empty(p);
	/* Without the STATE bit there is nothing to synthesise either. */
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_GROUP_PROPERTY, 6, g.seq - 1),
			 0);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/*
 * Re-add on a registration with STATE notifications still queued: they are
 * taken back, and the synthetic one is the last state seen (no state twice).
 */
START_TEST(test_readd_coalesces_queued)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), h = create(SHM_KIND_GROUP, 1, "H");
	hagent_notify_t p = port_new();
	struct hagent_notification n;
	uint32_t s0;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, &s0), 0);
	ck_assert_int_eq(hagent_notify_add(p, h.id, HAGENT_CHANGE_GROUP_STATE, 2, NULL), 0);
	change(&g, HAGENT_GROUP_PENDING);
	change(&h, HAGENT_GROUP_PENDING);
	change(&g, HAGENT_GROUP_ONLINE);
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, s0), 0);
	n = get_one(p);
	assert_note(&n, &h, HAGENT_CHANGE_GROUP_STATE, 2); /* another registration's stays */
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_uint_eq(n.position, UINT64_MAX);
	assert_empty(p);
	/* The all-objects registration's stay too, even with the same key. */
	ck_assert_int_eq(hagent_notify_add_all(p, HAGENT_CHANGE_GROUP_STATE, 1), 0);
	s0 = g.seq;
	change(&g, HAGENT_GROUP_OFFLINE);
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, s0), 0);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_uint_ne(n.position, UINT64_MAX); /* the all-objects one, from the log */
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_uint_eq(n.position, UINT64_MAX); /* the re-add's */
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 77: E1..E5 arrive in the order they happened, across objects and kinds. */
START_TEST(test_s77_order)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), r = create(SHM_KIND_RESOURCE, 3, "R");
	hagent_notify_t p = port_new();
	struct obj expect[5];
	struct hagent_notification n;
	uint64_t last_pos = 0;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 2, NULL), 0);
	change(&r, HAGENT_RESOURCE_ONLINE_PENDING);
	expect[0] = r;
	change(&g, HAGENT_GROUP_PENDING);
	expect[1] = g;
	change(&r, HAGENT_RESOURCE_ONLINE);
	expect[2] = r;
	change(&g, HAGENT_GROUP_ONLINE);
	expect[3] = g;
	change(&r, HAGENT_RESOURCE_FAILED);
	expect[4] = r;
	for (int i = 0; i < 5; i++) {
		n = get_one(p);
		assert_note(&n, &expect[i], bit(&expect[i], HAGENT_CHANGE_RESOURCE_STATE),
			    expect[i].kind == SHM_KIND_GROUP ? 1 : 2);
		ck_assert_uint_gt(n.position, last_pos);
		last_pos = n.position;
	}
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

struct getter {
	hagent_notify_t port;
	int timeout_ms;
	int r;
	struct hagent_notification n;
	uint64_t ns; /* how long the get took */
};

static void *getter_main(void *userdata)
{
	struct getter *g = userdata;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	g->r = hagent_notify_get(g->port, &g->n, g->timeout_ms);
	g->ns = now_ns(CLOCK_MONOTONIC) - t0;
	return NULL;
}

/* Starts a get in a thread and gives it time to block (it cannot return on its own). */
static pthread_t getter_start(struct getter *g)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, getter_main, g), 0);
	usleep(100 * 1000);
	return t;
}

/* 78: unblock from another thread: -ECANCELED promptly, and the port still works. */
static void s78_unblock(void)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	struct getter gt = {.port = port_new(), .timeout_ms = -1, .r = 1};
	struct hagent_notification n;
	pthread_t t;

	ck_assert_int_eq(hagent_notify_add(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL), 0);
	t = getter_start(&gt);
	ck_assert_int_eq(gt.r, 1); /* still blocked */
	ck_assert_int_eq(hagent_notify_unblock(gt.port), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0); /* a lost wake-up hangs here: test timeout */
	ck_assert_int_eq(gt.r, -ECANCELED);
	/* A get after the unblock is not cancelled by it. */
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(gt.port);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 4);
	/* A blocked get wakes up for the change too. */
	gt.r = 1;
	t = getter_start(&gt);
	change(&g, HAGENT_GROUP_OFFLINE);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(gt.r, 0);
	assert_note(&gt.n, &g, HAGENT_CHANGE_GROUP_STATE, 4);
	ck_assert_int_eq(hagent_notify_close(gt.port), 0);
}

START_TEST(test_s78_unblock)
{
	s78_unblock();
}
END_TEST

/* 79: closing a port while a get waits: the get returns -EBADF, the handle is dead. */
static void s79_close(void)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	struct getter gt = {.port = port_new(), .timeout_ms = -1, .r = 1};
	hagent_notify_t other = port_new();
	struct hagent_notification n;
	pthread_t t;

	ck_assert_int_eq(hagent_notify_add(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(other, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL), 0);
	t = getter_start(&gt);
	ck_assert_int_eq(hagent_notify_close(gt.port), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(gt.r, -EBADF);
	change(&g, HAGENT_GROUP_ONLINE);
	ck_assert_int_eq(hagent_notify_get(gt.port, &n, 0), -EBADF);
	ck_assert_int_eq(hagent_notify_add(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL),
			 -EBADF);
	ck_assert_int_eq(hagent_notify_readd(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 4, 0),
			 -EBADF);
	ck_assert_int_eq(hagent_notify_add_all(gt.port, HAGENT_CHANGE_GROUP_STATE, 4), -EBADF);
	ck_assert_int_eq(hagent_notify_unblock(gt.port), -EBADF);
	ck_assert_int_eq(hagent_notify_close(gt.port), -EBADF);
	/* Another port on the same segment is not disturbed. */
	n = get_one(other);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 4);
	ck_assert_int_eq(hagent_notify_close(other), 0);
}

START_TEST(test_s79_close)
{
	s79_close();
}
END_TEST

/* 79: undelivered notifications go with the port (nothing leaks: ASan). */
START_TEST(test_s79_close_discards)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL), 0);
	change(&g, HAGENT_GROUP_ONLINE);
	change(&g, HAGENT_GROUP_OFFLINE);
	n = get_one(p); /* syncs: the second one is queued */
	ck_assert_int_eq(hagent_notify_close(p), 0);
	ck_assert_int_eq(hagent_notify_get(p, &n, 0), -EBADF);
}
END_TEST

/* 80: a 200 ms wait on an empty queue times out after about that, consuming nothing. */
START_TEST(test_s80_timeout)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n = {.change = 0xdead};
	uint64_t t0, dt;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 4, NULL), 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	ck_assert_int_eq(hagent_notify_get(p, &n, 200), -ETIMEDOUT);
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	ck_assert_uint_ge(dt, 200 * NSEC_PER_MSEC);
	ck_assert_uint_lt(dt, 10 * NSEC_PER_SEC); /* generous: a shared machine */
	ck_assert_uint_eq(n.change, 0xdead);	  /* untouched */
	/* Queued before a timed-out get: still there after it. */
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 4);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

static void assert_never_server_only(const struct hagent_notification *n)
{
	ck_assert_uint_ne(n->change, 0x20000000u); /* CLUSTER_STATE */
	ck_assert_uint_ne(n->change, 0x80000000u); /* HANDLE_CLOSE */
	ck_assert_uint_ne(n->change, 0x00000080u); /* REGISTRY_SUBTREE */
}

/* 81: queue overflow: the next indication is RECONNECT, then the queue goes on. */
START_TEST(test_s81_queue_overflow)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;
	unsigned keys = 8, changes = QMAX / keys + 4, got = 0;

	for (unsigned k = 0; k < keys; k++)
		ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, k, NULL), 0);
	/* Fewer changes than the log holds: the queue overflows, not the log. */
	ck_assert_uint_lt(changes, EVENTS);
	for (unsigned i = 0; i < changes; i++)
		change(&g, i % 2 ? HAGENT_GROUP_ONLINE : HAGENT_GROUP_OFFLINE);
	n = get_one(p);
	ck_assert_uint_eq(n.change, HAGENT_CHANGE_RECONNECT);
	ck_assert_uint_eq(n.kind, 0);
	ck_assert_uint_eq(n.key, 0);
	ck_assert_uint_eq(n.position, UINT64_MAX);
	while (hagent_notify_get(p, &n, 0) == 0) {
		assert_never_server_only(&n);
		ck_assert_uint_eq(n.change, HAGENT_CHANGE_GROUP_STATE);
		got++;
	}
	ck_assert_uint_lt(got, changes * keys); /* some were dropped */
	ck_assert_uint_le(got, QMAX);
	/* The registrations stay: the next change comes once per key. */
	change(&g, HAGENT_GROUP_FAILED);
	for (unsigned k = 0; k < keys; k++) {
		n = get_one(p);
		assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, k);
	}
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 81 and §7.4: a port more than the log's capacity behind: queued ones, then RECONNECT. */
START_TEST(test_s81_log_overrun)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), h = create(SHM_KIND_GROUP, 1, "H");
	hagent_notify_t p = port_new();
	struct hagent_notification n;
	uint32_t seen;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, &seen), 0);
	ck_assert_int_eq(hagent_notify_add(p, h.id, HAGENT_CHANGE_GROUP_STATE, 2, NULL), 0);
	change(&h, HAGENT_GROUP_ONLINE);
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p); /* syncs: g's change is queued */
	assert_note(&n, &h, HAGENT_CHANGE_GROUP_STATE, 2);
	seen = g.seq;
	for (unsigned i = 0; i < EVENTS + 5; i++)
		change(&g, i % 2 ? HAGENT_GROUP_ONLINE : HAGENT_GROUP_OFFLINE);
	n = get_one(p);
	ck_assert_uint_eq(n.change, HAGENT_CHANGE_GROUP_STATE); /* what was queued first */
	ck_assert_uint_eq(n.state_seq, seen);
	n = get_one(p);
	ck_assert_uint_eq(n.change, HAGENT_CHANGE_RECONNECT);
	assert_never_server_only(&n);
	assert_empty(p);
	/* Re-adding with the last seen sequence brings back the current state, once. */
	ck_assert_int_eq(hagent_notify_readd(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, seen), 0);
	ck_assert_int_eq(hagent_notify_readd(p, h.id, HAGENT_CHANGE_GROUP_STATE, 2, h.seq), 0);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 82: after a rename the key still routes the event (matching by id), with the new name. */
START_TEST(test_s82_rename)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), other = create(SHM_KIND_GROUP, 1, "G2");
	struct obj renamed;
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_ALL, 9, NULL), 0);
	/* The writer publishes the record and a PROPERTY event under the new name. */
	snprintf(g.name, sizeof(g.name), "G-renamed");
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(&g);
	event(&g, HAGENT_CHANGE_GROUP_PROPERTY);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	renamed = g;
	change(&g, HAGENT_GROUP_ONLINE);
	/* Another group taking the old name is not the registered one. */
	snprintf(other.name, sizeof(other.name), "G");
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(&other);
	event(&other, HAGENT_CHANGE_GROUP_PROPERTY);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	change(&other, HAGENT_GROUP_ONLINE);

	n = get_one(p);
	assert_note(&n, &renamed, HAGENT_CHANGE_GROUP_PROPERTY, 9);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 9);
	ck_assert_str_eq(n.name, "G-renamed");
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 83: queued ones first, then DELETED; the registration is gone and re-add fails. */
START_TEST(test_s83_deleted)
{
	struct obj r = create(SHM_KIND_RESOURCE, 2, "R"), r2, first;
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(
		hagent_notify_add(p, r.id,
				  HAGENT_CHANGE_RESOURCE_STATE | HAGENT_CHANGE_RESOURCE_DELETED, 11,
				  NULL),
		0);
	change(&r, HAGENT_RESOURCE_ONLINE_PENDING);
	first = r;
	change(&r, HAGENT_RESOURCE_ONLINE);
	n = get_one(p); /* the second is queued now: the delete comes after it */
	assert_note(&n, &first, HAGENT_CHANGE_RESOURCE_STATE, 11);
	delete (&r);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_STATE, 11);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_DELETED, 11);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_readd(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 11, r.seq),
			 -ENOENT);
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 11, NULL),
			 -ENOENT);
	/* A new object in the same slot is another object: nothing for the old registration. */
	r2 = create(SHM_KIND_RESOURCE, 3, "R");
	r2.slot = r.slot;
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(&r2);
	event(&r2, HAGENT_CHANGE_RESOURCE_STATE);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 83 without the DELETED bit: the queued ones, nothing more, and the registration is gone. */
START_TEST(test_s83_deleted_unsubscribed)
{
	struct obj r = create(SHM_KIND_RESOURCE, 2, "R");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 1, NULL), 0);
	change(&r, HAGENT_RESOURCE_ONLINE);
	delete (&r);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_STATE, 1);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_readd(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 1, r.seq),
			 -ENOENT);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* 84: garbage, zero, closed and stale handles are -EBADF, never another port. */
START_TEST(test_s84_bad_handles)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t a = port_new(), b;
	struct hagent_notification n;
	static const hagent_notify_t garbage[] = {
		0, 1, 2, UINT64_MAX, UINT32_MAX, (uint64_t) 1 << 32, ((uint64_t) 7 << 32) | 1,
	};

	for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
		if (garbage[i] == a)
			continue;
		ck_assert_int_eq(hagent_notify_unblock(garbage[i]), -EBADF);
		ck_assert_int_eq(hagent_notify_get(garbage[i], &n, 0), -EBADF);
		ck_assert_int_eq(hagent_notify_close(garbage[i]), -EBADF);
		ck_assert_int_eq(hagent_notify_add_all(garbage[i], HAGENT_CHANGE_GROUP_STATE, 1),
				 -EBADF);
	}
	ck_assert_int_eq(hagent_notify_close(a), 0);
	/* Until the table runs out of fresh slots, a new port reuses none; force reuse. */
	for (int i = 0; i < 64; i++) {
		b = port_new();
		ck_assert_uint_ne(b, a);
		ck_assert_int_eq(hagent_notify_close(b), 0);
	}
	b = port_new();
	ck_assert_int_eq(hagent_notify_add(b, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
	change(&g, HAGENT_GROUP_ONLINE);
	/* The old handle of a reused slot reaches nothing. */
	ck_assert_int_eq(hagent_notify_get(a, &n, 0), -EBADF);
	ck_assert_int_eq(hagent_notify_unblock(a), -EBADF);
	ck_assert_int_eq(hagent_notify_close(a), -EBADF);
	n = get_one(b);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_int_eq(hagent_notify_close(b), 0);
}
END_TEST

/* ================================ beyond the scenarios =============================== */

/* Two keys on one object: two notifications per change; the same key again replaces. */
START_TEST(test_keys)
{
	struct obj r = create(SHM_KIND_RESOURCE, 0, "R");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 20, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 10, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_STATE, 10, NULL), 0);
	change(&r, HAGENT_RESOURCE_ONLINE);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_STATE, 10);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_STATE, 20);
	assert_empty(p);
	/* Replacing the filter: key 20 now wants PROPERTY only. */
	ck_assert_int_eq(hagent_notify_add(p, r.id, HAGENT_CHANGE_RESOURCE_PROPERTY, 20, NULL), 0);
	change(&r, HAGENT_RESOURCE_OFFLINE);
	n = get_one(p);
	assert_note(&n, &r, HAGENT_CHANGE_RESOURCE_STATE, 10);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* add_all: every object, present and future, ADDED included; a second one replaces it. */
START_TEST(test_add_all)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G"), r, h;
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add_all(p,
					       HAGENT_CHANGE_RESOURCE_ADDED |
						       HAGENT_CHANGE_GROUP_ADDED |
						       HAGENT_CHANGE_GROUP_STATE,
					       77),
			 0);
	change(&g, HAGENT_GROUP_ONLINE);
	r = create(SHM_KIND_RESOURCE, 5, "new-R");
	h = create(SHM_KIND_GROUP, 3, "new-G");
	change(&r, HAGENT_RESOURCE_ONLINE); /* RESOURCE_STATE: not in the filter */
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 77);
	n = get_one(p);
	ck_assert_uint_eq(n.change, HAGENT_CHANGE_RESOURCE_ADDED);
	ck_assert_str_eq(n.name, "new-R");
	ck_assert_mem_eq(n.id, r.id, sizeof(r.id));
	n = get_one(p);
	assert_note(&n, &h, HAGENT_CHANGE_GROUP_ADDED, 77);
	assert_empty(p);
	/* An object registration and "all" both match: one each, object first. */
	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 5, NULL), 0);
	ck_assert_int_eq(hagent_notify_add_all(p, HAGENT_CHANGE_GROUP_STATE, 78), 0);
	change(&g, HAGENT_GROUP_OFFLINE);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 5);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 78);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* The port keeps its own view: the handle it was made from may go first. */
START_TEST(test_port_outlives_handle)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
	s = hagent_shm_unref(s);
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* A get that started before an unblock is cancelled; one queued is not delivered to it. */
START_TEST(test_unblock_before_get)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	hagent_notify_t p = port_new();
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_add(p, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
	/* An unblock with nobody waiting does not cancel later gets. */
	ck_assert_int_eq(hagent_notify_unblock(p), 0);
	assert_empty(p);
	change(&g, HAGENT_GROUP_ONLINE);
	n = get_one(p);
	assert_note(&n, &g, HAGENT_CHANGE_GROUP_STATE, 1);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

#define MANY_THREADS 8
#define MANY_CHANGES 300

struct many {
	struct obj objs[4];
	int errors;
	pthread_barrier_t start;
};

#define MANY_FINAL (1 + MANY_CHANGES / 4) /* each object's last sequence */

static void many_fail(struct many *m)
{
	__atomic_add_fetch(&m->errors, 1, __ATOMIC_RELAXED);
}

/*
 * Each thread: its own port on every object, sequences strictly increasing
 * per object, until each object's last one; a RECONNECT (the thread fell
 * behind the log) is answered with re-adds as a client would.
 */
static void *many_main(void *userdata)
{
	struct many *m = userdata;
	hagent_notify_t p;
	struct hagent_notification n;
	uint32_t last[4];
	int done = 0;

	if (hagent_notify_new(s, &p) < 0) {
		many_fail(m);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		if (hagent_notify_add(p, m->objs[i].id,
				      bit(&m->objs[i], HAGENT_CHANGE_RESOURCE_STATE), (uint64_t) i,
				      &last[i]) < 0)
			many_fail(m);
	pthread_barrier_wait(&m->start);
	while (done < 4) {
		if (hagent_notify_get(p, &n, LONG_MS) < 0) {
			many_fail(m);
			break;
		}
		if (n.change == HAGENT_CHANGE_RECONNECT) {
			for (int i = 0; i < 4; i++)
				if (hagent_notify_readd(
					    p, m->objs[i].id,
					    bit(&m->objs[i], HAGENT_CHANGE_RESOURCE_STATE),
					    (uint64_t) i, last[i]) < 0)
					many_fail(m);
			continue;
		}
		if (n.key >= 4 || (int32_t) (n.state_seq - last[n.key]) <= 0 ||
		    n.state_seq > MANY_FINAL) {
			many_fail(m);
			break;
		}
		last[n.key] = n.state_seq;
		done += n.state_seq == MANY_FINAL;
	}
	if (hagent_notify_close(p) < 0)
		many_fail(m);
	return NULL;
}

/* Many ports in many threads, each seeing every change once and in order. */
static void many_ports(void)
{
	struct many m = {};
	pthread_t t[MANY_THREADS];

	for (uint32_t i = 0; i < 2; i++) {
		m.objs[i] = create(SHM_KIND_RESOURCE, i, "R");
		m.objs[i + 2] = create(SHM_KIND_GROUP, i, "G");
	}
	ck_assert_int_eq(pthread_barrier_init(&m.start, NULL, MANY_THREADS + 1), 0);
	for (int i = 0; i < MANY_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, many_main, &m), 0);
	pthread_barrier_wait(&m.start);
	for (int i = 0; i < MANY_CHANGES; i++) {
		struct obj *o = &m.objs[i % 4];

		change(o,
		       o->kind == SHM_KIND_RESOURCE ? HAGENT_RESOURCE_ONLINE : HAGENT_GROUP_ONLINE);
		if (i % 16 == 0)
			usleep(1000); /* let getters fall asleep now and then */
	}
	for (int i = 0; i < MANY_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(m.errors, 0);
	pthread_barrier_destroy(&m.start);
}

START_TEST(test_many_ports)
{
	many_ports();
}
END_TEST

/* The waker is stopped and joined by shm_writer_free(), with watchers still waiting. */
START_TEST(test_waker_stop)
{
	struct obj g = create(SHM_KIND_GROUP, 0, "G");
	struct getter gt = {.port = port_new(), .timeout_ms = 300, .r = 1};
	pthread_t t;

	ck_assert_int_eq(hagent_notify_add(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
	t = getter_start(&gt);
	w = shm_writer_free(w); /* the port's mapping stays */
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(gt.r, -ETIMEDOUT);
	ck_assert_int_eq(hagent_notify_close(gt.port), 0);
}
END_TEST

/*
 * A commit right after the waker started, before its thread may have run:
 * the thread owes that wake-up too (it once took the head it first saw as
 * done, and a watcher slept through the commit).
 */
START_TEST(test_waker_start_race)
{
	for (int i = 0; i < 200; i++) {
		struct obj g = create(SHM_KIND_GROUP, 0, "G");
		struct getter gt = {.port = port_new(), .timeout_ms = 5000, .r = 1};
		pthread_t t;

		ck_assert_int_eq(
			hagent_notify_add(gt.port, g.id, HAGENT_CHANGE_GROUP_STATE, 1, NULL), 0);
		ck_assert_int_eq(pthread_create(&t, NULL, getter_main, &gt), 0);
		usleep(2000); /* the getter sleeps */
		ck_assert_int_eq(shm_writer_start_waker(w), 0);
		change(&g, HAGENT_GROUP_ONLINE);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert_msg(gt.r == 0, "round %d: get %d", i, gt.r);
		ck_assert_int_eq(hagent_notify_close(gt.port), 0);
		teardown();
		setup();
	}
}
END_TEST

static Suite *notify_suite(void)
{
	Suite *su = suite_create("notify");
	TCase *tc = tcase_create("scenarios");
	TCase *tw = tcase_create("waker");
	TCase *tf = tcase_create("fallback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_s71_no_filters);
	tcase_add_test(tc, test_s72_one_change_one_event);
	tcase_add_test(tc, test_s73_two_bits_two_events);
	tcase_add_test(tc, test_s74_wrong_class);
	tcase_add_test(tc, test_filter_validation);
	tcase_add_test(tc, test_s75_readd_missed);
	tcase_add_test(tc, test_s76_readd_current);
	tcase_add_test(tc, test_readd_coalesces_queued);
	tcase_add_test(tc, test_s77_order);
	tcase_add_test(tc, test_s78_unblock);
	tcase_add_test(tc, test_s79_close);
	tcase_add_test(tc, test_s79_close_discards);
	tcase_add_test(tc, test_s80_timeout);
	tcase_add_test(tc, test_s81_queue_overflow);
	tcase_add_test(tc, test_s81_log_overrun);
	tcase_add_test(tc, test_s82_rename);
	tcase_add_test(tc, test_s83_deleted);
	tcase_add_test(tc, test_s83_deleted_unsubscribed);
	tcase_add_test(tc, test_s84_bad_handles);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_add_all);
	tcase_add_test(tc, test_port_outlives_handle);
	tcase_add_test(tc, test_unblock_before_get);
	tcase_add_test(tc, test_many_ports);
	tcase_add_test(tc, test_waker_start_race);
	suite_add_tcase(su, tc);

	/* The same waits with the writer's waker thread doing the wake-ups. */
	tcase_add_checked_fixture(tw, setup_waker, teardown);
	tcase_set_timeout(tw, 60);
	tcase_add_test(tw, test_s78_unblock);
	tcase_add_test(tw, test_s79_close);
	tcase_add_test(tw, test_many_ports);
	tcase_add_test(tw, test_waker_stop);
	suite_add_tcase(su, tw);

	/* And without futex_waitv (kernels before 5.16). */
	tcase_add_checked_fixture(tf, setup_fallback, teardown);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_s78_unblock);
	tcase_add_test(tf, test_s79_close);
	tcase_add_test(tf, test_many_ports);
	tcase_add_test(tf, test_s80_timeout);
	suite_add_tcase(su, tf);
	return su;
}

int main(void)
{
	return test_run_suite(notify_suite());
}
