/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Following the agent across restarts, at the library level:
 * hagent_shm_follow() (shm/shm-follow.c) and hagent_notify_rebind()
 * (shm/shm-notify.c).  In-process writers play the agents: segment A is the
 * old incarnation, B the new one with the same object ids (in other slots)
 * and later sequences; a thread serves whichever the test says on a
 * state.sock in a private runtime dir, or nothing does.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-notify-internal.h"
#include "shm-publish.h"
#include "shm-writer.h"
#include "test-util.h"
#include "time-util.h"

#define MAX_RES	 16u
#define MAX_GRP	 4u
#define LONG_MS	 20000 /* "never" for a test: fails it instead of hanging it */
#define STALE_NS (10 * NSEC_PER_MSEC)

static char dir[64], sock_path[128];
static struct shm_writer *wa, *wb;
static hagent_shm *s;

/* ================================ the agents ================================ */

struct obj {
	uint32_t kind, slot, seq;
	int32_t state;
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX];
};

static struct shm_writer *writer_new(void)
{
	struct shm_params p = {
		.max_resources = MAX_RES,
		.max_groups = MAX_GRP,
		.blob_bytes = 16 * SHM_BLOB_CHUNK,
		.event_capacity = 64,
	};
	struct shm_writer *w = NULL;

	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	return w;
}

static void put(struct shm_writer *w, const struct obj *o)
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

static void event(struct shm_writer *w, const struct obj *o, uint32_t change)
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

/* Object number i of a kind: its id is the same in every segment, its slot is the caller's. */
static struct obj obj_make(uint32_t kind, uint32_t i, const char *name)
{
	struct obj o = {.kind = kind, .seq = 1, .state = kind == SHM_KIND_RESOURCE ? 3 : 1};

	snprintf(o.name, sizeof(o.name), "%s", name);
	for (size_t k = 0; k < sizeof(o.id); k++)
		o.id[k] = (uint8_t) (0x30 + kind * 29 + i * 11 + k * 5);
	return o;
}

/* Publishes o in w at slot index i of its kind, with its ADDED event. */
static void publish(struct shm_writer *w, struct obj *o, uint32_t i)
{
	o->slot = o->kind == SHM_KIND_RESOURCE ? shm_writer_resource_slot(w, i)
					       : shm_writer_group_slot(w, i);
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(w, o);
	event(w, o, bit(o, HAGENT_CHANGE_RESOURCE_ADDED));
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

/* One state change in w: the next sequence, record and STATE event in one commit. */
static void change(struct shm_writer *w, struct obj *o, int32_t state)
{
	o->state = state;
	o->seq++;
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(w, o);
	event(w, o, bit(o, HAGENT_CHANGE_RESOURCE_STATE));
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

static void assert_incarnation(hagent_shm *h, const struct shm_writer *w)
{
	struct hagent_shm_info info;

	ck_assert_int_eq(hagent_shm_get_info(h, &info), 0);
	ck_assert_mem_eq(info.incarnation, shm_writer_header(w)->incarnation,
			 sizeof(info.incarnation));
}

/* ================================ state.sock ================================ */

/* A thread that answers every connection with the segment fd in serve.fd. */
static struct {
	int listen_fd, stop[2];
	_Atomic int fd;
	pthread_t thread;
	bool running;
} serve = {.listen_fd = -1, .stop = {-1, -1}};

static void *serve_main(void *userdata)
{
	(void) userdata;
	for (;;) {
		struct pollfd pf[2] = {
			{.fd = serve.listen_fd, .events = POLLIN},
			{.fd = serve.stop[0], .events = POLLIN},
		};

		if (poll(pf, 2, -1) < 0 || pf[1].revents)
			return NULL;
		(void) shm_socket_serve_one(serve.listen_fd, atomic_load(&serve.fd), NULL, NULL);
	}
}

/* Listens on state.sock; with a thread answering with w's segment, or (w NULL) nobody answering. */
static void serve_start(struct shm_writer *w)
{
	serve.listen_fd = shm_socket_listen(sock_path, 0600);
	ck_assert_int_ge(serve.listen_fd, 0);
	if (!w)
		return;
	atomic_store(&serve.fd, shm_writer_fd(w));
	ck_assert_int_eq(pipe2(serve.stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&serve.thread, NULL, serve_main, NULL), 0);
	serve.running = true;
}

/* Stops listening; the socket file stays (a SIGKILLed agent's): connections are refused. */
static void serve_stop(void)
{
	if (serve.running) {
		ck_assert_int_eq(write(serve.stop[1], "x", 1), 1);
		ck_assert_int_eq(pthread_join(serve.thread, NULL), 0);
		serve.stop[0] = safe_close(serve.stop[0]);
		serve.stop[1] = safe_close(serve.stop[1]);
		serve.running = false;
	}
	serve.listen_fd = safe_close(serve.listen_fd);
}

/* ================================= fixture ================================= */

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-shm-follow-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/%s", dir, HAGENT_SHM_SOCKET);
	wa = writer_new();
	wb = writer_new();
	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(wa), &s), 0);
}

static void setup_fallback(void)
{
	shm_notify_set_debug(SHM_NOTIFY_DEBUG_NO_WAITV);
	setup();
}

static void teardown(void)
{
	if (serve.listen_fd >= 0)
		serve_stop();
	s = hagent_shm_unref(s);
	wa = shm_writer_free(wa);
	wb = shm_writer_free(wb);
	(void) unlink(sock_path);
	(void) rmdir(dir);
}

/* ============================ hagent_shm_follow() ============================ */

/* A live segment: 0, the same handle, and no look at state.sock (nothing serves there). */
START_TEST(test_live)
{
	hagent_shm *before = s;

	shm_writer_heartbeat(wa);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 0);
	ck_assert_ptr_eq(s, before);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, HAGENT_SHM_STALE_DEFAULT_NS), 0);
	ck_assert_ptr_eq(s, before);
	ck_assert_int_eq(hagent_shm_follow(NULL, dir, 0), -EINVAL);
}
END_TEST

/* Superseded (a graceful restart): the new incarnation replaces the handle. */
START_TEST(test_superseded)
{
	serve_start(wb);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 0); /* not yet */
	assert_incarnation(s, wa);
	shm_writer_supersede(wa);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 1);
	assert_incarnation(s, wb);
	/* And on the new one: live. */
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 0);
	assert_incarnation(s, wb);
}
END_TEST

/* A stale heartbeat (a SIGKILLed agent cannot mark its segment): the same. */
START_TEST(test_stale)
{
	serve_start(wb);
	usleep(2 * STALE_NS / NSEC_PER_USEC);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, STALE_NS), 1);
	assert_incarnation(s, wb);
}
END_TEST

/* A stale heartbeat but the agent still serves this very segment: alive, busy. */
START_TEST(test_stale_but_served)
{
	hagent_shm *before = s;

	serve_start(wa);
	usleep(2 * STALE_NS / NSEC_PER_USEC);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, STALE_NS), 0);
	ck_assert_ptr_eq(s, before);
	/* ... unless it says it is superseded: its successor is still to come. */
	shm_writer_supersede(wa);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, STALE_NS), -EAGAIN);
	ck_assert_ptr_eq(s, before);
}
END_TEST

/*
 * Dead, and no new agent yet: -EAGAIN and the handle kept, whether there is
 * no socket, a socket nobody listens on, a new segment already superseded
 * itself, or a listener that never answers; then the new agent serves.
 */
START_TEST(test_nobody_serves)
{
	hagent_shm *before = s;
	struct shm_writer *wc = writer_new();
	uint64_t t0;

	shm_writer_supersede(wa);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), -EAGAIN); /* no state.sock */
	ck_assert_ptr_eq(s, before);

	serve_start(wb);
	serve_stop(); /* the file stays, refused */
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), -EAGAIN);
	ck_assert_ptr_eq(s, before);

	shm_writer_supersede(wc);
	serve_start(wc);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), -EAGAIN);
	ck_assert_ptr_eq(s, before);
	serve_stop();
	wc = shm_writer_free(wc);

	/* A hung agent: the kernel accepts the connection, nobody answers. */
	serve_start(NULL);
	t0 = now_ns(CLOCK_MONOTONIC);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), -EAGAIN);
	ck_assert_uint_ge(now_ns(CLOCK_MONOTONIC) - t0, NSEC_PER_SEC); /* it did wait */
	ck_assert_ptr_eq(s, before);
	serve_stop();

	serve_start(wb);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 1);
	assert_incarnation(s, wb);
}
END_TEST

/* ========================== hagent_notify_rebind() ========================== */

static hagent_notify_t port_new(void)
{
	hagent_notify_t p = 0;

	ck_assert_int_eq(hagent_notify_new(s, &p), 0);
	return p;
}

static void assert_empty(hagent_notify_t p)
{
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_get(p, &n, 0), -ETIMEDOUT);
}

static struct hagent_notification get_one(hagent_notify_t p)
{
	struct hagent_notification n;

	ck_assert_int_eq(hagent_notify_get(p, &n, LONG_MS), 0);
	return n;
}

static void assert_note(const struct hagent_notification *n, const struct obj *o, uint32_t change,
			uint64_t key, bool synthetic)
{
	ck_assert_uint_eq(n->change, change);
	ck_assert_uint_eq(n->kind, o->kind);
	ck_assert_uint_eq(n->key, key);
	ck_assert_mem_eq(n->id, o->id, sizeof(n->id));
	ck_assert_str_eq(n->name, o->name);
	ck_assert_int_eq(n->state, o->state);
	ck_assert_uint_eq(n->state_seq, o->seq);
	if (synthetic)
		ck_assert_uint_eq(n->position, UINT64_MAX);
	else
		ck_assert_uint_lt(n->position, UINT64_MAX);
}

/* The agent restarts: follow, then rebind the port to what follow found. */
static void restart_and_rebind(hagent_notify_t p)
{
	shm_writer_supersede(wa);
	serve_start(wb);
	ck_assert_int_eq(hagent_shm_follow(&s, dir, 0), 1);
	ck_assert_int_eq(hagent_notify_rebind(p, s), 0);
}

#define RES_BITS (HAGENT_CHANGE_RESOURCE_STATE | HAGENT_CHANGE_RESOURCE_DELETED)

/*
 * One event per changed object (its current state, synthetic), none for an
 * unchanged one, *_DELETED for one that is gone (only where the filter has
 * it); then the port reads B's log and no longer A's.
 */
START_TEST(test_rebind_changed_unchanged_gone)
{
	struct obj same = obj_make(SHM_KIND_RESOURCE, 0, "same");
	struct obj moved = obj_make(SHM_KIND_RESOURCE, 1, "moved");
	struct obj gone = obj_make(SHM_KIND_RESOURCE, 2, "gone");
	struct obj grp = obj_make(SHM_KIND_GROUP, 0, "grp");
	struct obj same_b, moved_b, grp_b;
	struct hagent_notification n;
	hagent_notify_t p;
	bool seen[3] = {};

	publish(wa, &same, 0);
	publish(wa, &moved, 1);
	publish(wa, &gone, 2);
	publish(wa, &grp, 0);
	change(wa, &moved, HAGENT_RESOURCE_ONLINE_PENDING);
	p = port_new();
	ck_assert_int_eq(hagent_notify_add(p, same.id, RES_BITS, 10, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, moved.id, RES_BITS, 11, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, gone.id, RES_BITS, 12, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, gone.id, HAGENT_CHANGE_RESOURCE_STATE, 13, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, grp.id, HAGENT_CHANGE_GROUP_STATE, 14, NULL), 0);
	assert_empty(p);

	/* B: the same ids in other slots, sequences going on; "gone" is not there. */
	same_b = same;
	moved_b = moved;
	grp_b = grp;
	publish(wb, &grp_b, 2);
	publish(wb, &moved_b, 5);
	publish(wb, &same_b, 7);
	change(wb, &moved_b, HAGENT_RESOURCE_ONLINE);
	change(wb, &grp_b, HAGENT_GROUP_ONLINE);
	restart_and_rebind(p);

	/* Exactly three, in the order of the registrations (by id): which is which by key. */
	for (int i = 0; i < 3; i++) {
		n = get_one(p);
		ck_assert_uint_ge(n.key, 11);
		ck_assert_uint_ne(n.key, 13); /* its filter has no DELETED */
		ck_assert_uint_le(n.key, 14);
		ck_assert(!seen[n.key == 11 ? 0 : n.key == 12 ? 1 : 2]);
		seen[n.key == 11 ? 0 : n.key == 12 ? 1 : 2] = true;
		if (n.key == 11)
			assert_note(&n, &moved_b, HAGENT_CHANGE_RESOURCE_STATE, 11, true);
		else if (n.key == 12)
			assert_note(&n, &gone, HAGENT_CHANGE_RESOURCE_DELETED, 12, true);
		else
			assert_note(&n, &grp_b, HAGENT_CHANGE_GROUP_STATE, 14, true);
	}
	assert_empty(p);

	/* The gone object's registrations are dropped; the others live on, on B. */
	ck_assert_int_eq(hagent_notify_readd(p, gone.id, RES_BITS, 12, gone.seq), -ENOENT);
	change(wa, &same, HAGENT_RESOURCE_ONLINE); /* the dead agent's log: not read any more */
	assert_empty(p);
	change(wb, &same_b, HAGENT_RESOURCE_ONLINE_PENDING);
	change(wb, &moved_b, HAGENT_RESOURCE_OFFLINE_PENDING);
	n = get_one(p);
	assert_note(&n, &same_b, HAGENT_CHANGE_RESOURCE_STATE, 10, false);
	n = get_one(p);
	assert_note(&n, &moved_b, HAGENT_CHANGE_RESOURCE_STATE, 11, false);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/*
 * What the port had queued, and what the old log still held unread, come
 * first, in order; then the synthetic current state.  A sequence B did not
 * move past (the same as the last one seen) gives nothing.
 */
START_TEST(test_rebind_old_first)
{
	struct obj r = obj_make(SHM_KIND_RESOURCE, 0, "r");
	struct obj q = obj_make(SHM_KIND_RESOURCE, 1, "q");
	struct obj r1, r2, r_b, q_b;
	struct hagent_notification n;
	hagent_notify_t p;

	publish(wa, &r, 0);
	publish(wa, &q, 1);
	p = port_new();
	ck_assert_int_eq(hagent_notify_add(p, r.id, RES_BITS, 1, NULL), 0);
	ck_assert_int_eq(hagent_notify_add(p, q.id, RES_BITS, 2, NULL), 0);
	change(wa, &r, HAGENT_RESOURCE_ONLINE_PENDING);
	r1 = r;
	/* An add syncs without consuming: r1 is queued now. */
	ck_assert_int_eq(hagent_notify_add(p, q.id, RES_BITS, 2, NULL), 0);
	change(wa, &r, HAGENT_RESOURCE_ONLINE); /* committed, never synced before the rebind */
	r2 = r;
	change(wa, &q, HAGENT_RESOURCE_ONLINE_PENDING);

	r_b = r;
	q_b = q;
	r_b.seq += 5;
	r_b.state = HAGENT_RESOURCE_FAILED;
	publish(wb, &r_b, 3);
	publish(wb, &q_b, 4); /* the sequence the old log ended with: nothing missed */
	restart_and_rebind(p);

	n = get_one(p);
	assert_note(&n, &r1, HAGENT_CHANGE_RESOURCE_STATE, 1, false);
	n = get_one(p);
	assert_note(&n, &r2, HAGENT_CHANGE_RESOURCE_STATE, 1, false);
	n = get_one(p);
	assert_note(&n, &q, HAGENT_CHANGE_RESOURCE_STATE, 2, false);
	n = get_one(p);
	assert_note(&n, &r_b, HAGENT_CHANGE_RESOURCE_STATE, 1, true);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

/* The all-objects registration cannot be re-added: one RECONNECT, then B's events. */
START_TEST(test_rebind_all_objects)
{
	struct obj r = obj_make(SHM_KIND_RESOURCE, 0, "r");
	struct obj r_b;
	struct hagent_notification n;
	hagent_notify_t p;

	publish(wa, &r, 0);
	p = port_new();
	ck_assert_int_eq(hagent_notify_add_all(p, HAGENT_CHANGE_RESOURCE_ALL, 9), 0);
	r_b = r;
	publish(wb, &r_b, 2); /* an ADDED before the rebind: B's past, not for the port */
	restart_and_rebind(p);
	n = get_one(p);
	ck_assert_uint_eq(n.change, HAGENT_CHANGE_RECONNECT);
	assert_empty(p);
	change(wa, &r, HAGENT_RESOURCE_ONLINE);
	assert_empty(p);
	change(wb, &r_b, HAGENT_RESOURCE_ONLINE_PENDING);
	n = get_one(p);
	assert_note(&n, &r_b, HAGENT_CHANGE_RESOURCE_STATE, 9, false);
	assert_empty(p);
	ck_assert_int_eq(hagent_notify_close(p), 0);
}
END_TEST

struct getter {
	hagent_notify_t port;
	struct hagent_notification n;
	int r;
};

static void *getter_main(void *userdata)
{
	struct getter *g = userdata;

	g->r = hagent_notify_get(g->port, &g->n, LONG_MS);
	return NULL;
}

/*
 * A get blocked on the old segment's head word when the port is rebound
 * goes on on the new one: it returns B's change, not after its timeout.
 */
START_TEST(test_rebind_wakes_blocked_get)
{
	struct obj r = obj_make(SHM_KIND_RESOURCE, 0, "r");
	struct getter g = {.r = 1};
	struct obj r_b;
	pthread_t t;

	publish(wa, &r, 0);
	g.port = port_new();
	ck_assert_int_eq(hagent_notify_add(g.port, r.id, RES_BITS, 3, NULL), 0);
	r_b = r;
	publish(wb, &r_b, 1);
	ck_assert_int_eq(pthread_create(&t, NULL, getter_main, &g), 0);
	usleep(100 * 1000); /* let it block */
	restart_and_rebind(g.port);
	change(wb, &r_b, HAGENT_RESOURCE_ONLINE_PENDING);
	/* Asleep on A's word for good, it would end with -ETIMEDOUT after LONG_MS. */
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(g.r, 0);
	assert_note(&g.n, &r_b, HAGENT_CHANGE_RESOURCE_STATE, 3, false);
	/* An unblock still cancels, after the rebind's own wake-up. */
	g.r = 1;
	ck_assert_int_eq(pthread_create(&t, NULL, getter_main, &g), 0);
	usleep(100 * 1000);
	ck_assert_int_eq(hagent_notify_unblock(g.port), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(g.r, -ECANCELED);
	ck_assert_int_eq(hagent_notify_close(g.port), 0);
}
END_TEST

START_TEST(test_rebind_bad_calls)
{
	hagent_notify_t p = port_new();

	ck_assert_int_eq(hagent_notify_rebind(0, s), -EBADF);
	ck_assert_int_eq(hagent_notify_rebind(p, NULL), -EINVAL);
	ck_assert_int_eq(hagent_notify_close(p), 0);
	ck_assert_int_eq(hagent_notify_rebind(p, s), -EBADF);
}
END_TEST

static Suite *follow_suite(void)
{
	Suite *su = suite_create("shm-follow");
	TCase *tc = tcase_create("follow");
	TCase *tf = tcase_create("fallback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_live);
	tcase_add_test(tc, test_superseded);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_stale_but_served);
	tcase_add_test(tc, test_nobody_serves);
	tcase_add_test(tc, test_rebind_changed_unchanged_gone);
	tcase_add_test(tc, test_rebind_old_first);
	tcase_add_test(tc, test_rebind_all_objects);
	tcase_add_test(tc, test_rebind_wakes_blocked_get);
	tcase_add_test(tc, test_rebind_bad_calls);
	suite_add_tcase(su, tc);

	/* Without futex_waitv (kernels before 5.16): a get sleeps on the head word alone. */
	tcase_add_checked_fixture(tf, setup_fallback, teardown);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_rebind_wakes_blocked_get);
	suite_add_tcase(su, tf);
	return su;
}

int main(void)
{
	return test_run_suite(follow_suite());
}
