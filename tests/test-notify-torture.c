/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Notification ports under fire, across processes (docs/notifications.md):
 *
 *  - a writer making thousands of state changes on N objects while 16
 *    watcher processes check, per object, that sequences strictly increase
 *    and end at the final one (through RECONNECT and re-add when they fall
 *    behind the log, which a log of 64 events makes frequent);
 *  - one watcher SIGSTOPped for longer than the log, then SIGCONTed after
 *    the writer is done: RECONNECT, and after the re-adds exactly one
 *    synthetic event per object changed meanwhile, none for the others;
 *  - watchers killed with SIGKILL at random points: the writer finishes and
 *    its records are consistent;
 *  - no lost wake-up: watchers blocked in get with a long timeout must each
 *    see every one of thousands of commits within a generous bound, with the
 *    waker thread, without it, and with the futex_waitv fallback.
 *
 * Children report through anonymous shared memory and never call Check.
 */
#include <check.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-notify-internal.h"
#include "shm-writer.h"
#include "test-util.h"
#include "time-util.h"

#define N_OBJ	   8
#define N_WATCH	   16
#define N_VICTIM   4
#define EVENTS	   64u
#define CHANGES	   8000
#define CHANGES_2  (4 * EVENTS) /* while watcher 0 is stopped: 4 times the log */
#define WAKE_ITERS 3000
#define WAKE_PROCS 4
#define GET_MS	   30000	       /* a watcher's get: "forever" */
#define BOUND_NS   (10 * NSEC_PER_SEC) /* what the parent waits for anything */

struct wstat {
	_Atomic int ready;
	_Atomic int errors;
	_Atomic uint32_t reconnects;
	_Atomic uint32_t synthetic; /* synthetic STATE events after a RECONNECT seen when done */
	_Atomic uint32_t expected;  /* objects behind the final state at that RECONNECT */
	_Atomic uint32_t last[N_OBJ];
	char why[96];
};

struct shared {
	_Atomic int done; /* the writer finished: final[] is valid */
	uint32_t final[N_OBJ];
	struct wstat w[N_WATCH + N_VICTIM];
};

struct obj {
	uint32_t slot, seq;
	int32_t state;
	uint8_t id[HAGENT_ID_SIZE];
};

static struct shm_writer *w;
static struct shared *sh;
static struct obj objs[N_OBJ];

static void put_change(struct obj *o, uint32_t change)
{
	struct shm_object so = {.kind = SHM_KIND_RESOURCE};
	struct shm_event e = {.change = change, .slot = o->slot, .kind = SHM_KIND_RESOURCE};

	memcpy(so.id, o->id, sizeof(so.id));
	snprintf(so.name, sizeof(so.name), "r%u", o->slot);
	so.u.res.state = o->state;
	so.u.res.state_seq = o->seq;
	so.u.res.group_slot = shm_writer_group_slot(w, 0);
	e.state = o->state;
	e.state_seq = o->seq;
	memcpy(e.id, o->id, sizeof(e.id));
	memcpy(e.name, so.name, sizeof(e.name));
	fast_assert(shm_writer_begin(w, NULL) == 0);
	fast_assert(shm_writer_put(w, o->slot, &so) == 0);
	fast_assert(shm_writer_event(w, &e) == 0);
	fast_assert(shm_writer_commit(w) == 0);
}

static void change(struct obj *o)
{
	o->seq++;
	o->state = o->state == HAGENT_RESOURCE_ONLINE ? HAGENT_RESOURCE_OFFLINE
						      : HAGENT_RESOURCE_ONLINE;
	put_change(o, HAGENT_CHANGE_RESOURCE_STATE);
}

static void setup_common(bool waker)
{
	struct shm_params p = {
		.max_resources = N_OBJ,
		.max_groups = 1,
		.blob_bytes = 16 * SHM_BLOB_CHUNK,
		.event_capacity = EVENTS,
	};

	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	if (waker)
		ck_assert_int_eq(shm_writer_start_waker(w), 0);
	sh = shared_new(sizeof(*sh));
	memset(sh, 0, sizeof(*sh));
	for (uint32_t i = 0; i < N_OBJ; i++) {
		objs[i] = (struct obj){.slot = i, .seq = 100, .state = HAGENT_RESOURCE_OFFLINE};
		for (size_t k = 0; k < sizeof(objs[i].id); k++)
			objs[i].id[k] = (uint8_t) (i * 37 + k * 11 + 1);
		put_change(&objs[i], HAGENT_CHANGE_RESOURCE_ADDED);
	}
}

static void setup(void)
{
	setup_common(true);
}

static void setup_no_waker(void)
{
	setup_common(false);
}

static void setup_fallback(void)
{
	shm_notify_set_debug(SHM_NOTIFY_DEBUG_NO_WAITV);
	setup_common(true);
}

static void teardown(void)
{
	shared_free(sh, sizeof(*sh));
	w = shm_writer_free(w);
}

/* ---- the watcher (a child process) ---- */

static void watch_fail(struct wstat *st, const char *why)
{
	if (atomic_fetch_add(&st->errors, 1) == 0)
		snprintf(st->why, sizeof(st->why), "%s", why);
}

static bool caught_up(struct wstat *st)
{
	if (!atomic_load(&sh->done))
		return false;
	for (int i = 0; i < N_OBJ; i++)
		if (atomic_load(&st->last[i]) != sh->final[i])
			return false;
	return true;
}

/* After a RECONNECT: re-add everything with what this client last saw. */
static void reconnect(struct wstat *st, hagent_notify_t p, bool *after_done)
{
	uint32_t behind = 0;

	atomic_fetch_add(&st->reconnects, 1);
	*after_done = atomic_load(&sh->done);
	for (int i = 0; i < N_OBJ; i++) {
		if (*after_done && atomic_load(&st->last[i]) != sh->final[i])
			behind++;
		if (hagent_notify_readd(p, objs[i].id, HAGENT_CHANGE_RESOURCE_STATE, (uint64_t) i,
					atomic_load(&st->last[i])) < 0)
			watch_fail(st, "readd");
	}
	if (*after_done)
		atomic_store(&st->expected, behind);
}

static void watch(struct wstat *st, hagent_shm *s)
{
	struct hagent_notification n;
	hagent_notify_t p;
	bool after_done = false;
	uint32_t seq;
	int r;

	if (hagent_notify_new(s, &p) < 0) {
		watch_fail(st, "new");
		return;
	}
	for (int i = 0; i < N_OBJ; i++) {
		if (hagent_notify_add(p, objs[i].id, HAGENT_CHANGE_RESOURCE_STATE, (uint64_t) i,
				      &seq) < 0) {
			watch_fail(st, "add");
			return;
		}
		atomic_store(&st->last[i], seq);
	}
	atomic_store(&st->ready, 1);
	while (!caught_up(st)) {
		r = hagent_notify_get(p, &n, GET_MS);
		if (r < 0) {
			watch_fail(st, r == -ETIMEDOUT ? "get timed out" : "get");
			return;
		}
		if (n.change == HAGENT_CHANGE_RECONNECT) {
			reconnect(st, p, &after_done);
			continue;
		}
		if (n.change != HAGENT_CHANGE_RESOURCE_STATE || n.key >= N_OBJ) {
			watch_fail(st, "unexpected notification");
			return;
		}
		/* Strictly increasing per object, never past the last one written. */
		if ((int32_t) (n.state_seq - atomic_load(&st->last[n.key])) <= 0) {
			watch_fail(st, "sequence not increasing");
			return;
		}
		if (memcmp(n.id, objs[n.key].id, sizeof(n.id)) != 0) {
			watch_fail(st, "wrong object for key");
			return;
		}
		if (after_done) {
			if (n.position != UINT64_MAX || n.state_seq != sh->final[n.key]) {
				watch_fail(st,
					   "after the final RECONNECT: not the synthetic final");
				return;
			}
			atomic_fetch_add(&st->synthetic, 1);
		}
		atomic_store(&st->last[n.key], n.state_seq);
	}
	if (hagent_notify_close(p) < 0)
		watch_fail(st, "close");
}

static pid_t watcher_start(int i)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hagent_shm *s = NULL;

		if (hagent_shm_open_fd(shm_writer_fd(w), &s) < 0)
			watch_fail(&sh->w[i], "open");
		else
			watch(&sh->w[i], s);
		_exit(atomic_load(&sh->w[i].errors) ? 1 : 0);
	}
	return pid;
}

static void wait_ready(int n)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	for (int i = 0; i < n; i++)
		while (!atomic_load(&sh->w[i].ready)) {
			ck_assert_uint_lt(now_ns(CLOCK_MONOTONIC) - t0, BOUND_NS);
			usleep(1000);
		}
}

/* Waits for pid with a bound (a hung watcher is killed and fails the test); returns its status. */
static int reap(pid_t pid, uint64_t bound_ns)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ns(CLOCK_MONOTONIC) - t0 > bound_ns) {
			(void) kill(pid, SIGKILL);
			(void) waitpid(pid, &status, 0);
			ck_abort_msg("watcher %d did not finish", (int) pid);
		}
		usleep(2000);
	}
	ck_assert_int_eq(r, pid);
	return status;
}

static void assert_watcher_ok(int i, int status)
{
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "watcher %d: status 0x%x, %d errors, first: %s", i, status,
		      atomic_load(&sh->w[i].errors), sh->w[i].why);
	for (int o = 0; o < N_OBJ; o++)
		ck_assert_uint_eq(atomic_load(&sh->w[i].last[o]), sh->final[o]);
}

/* Until watcher i has seen every object's current sequence. */
static void wait_caught_up(int i)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	for (int o = 0; o < N_OBJ; o++)
		while (atomic_load(&sh->w[i].last[o]) != objs[o].seq) {
			ck_assert_msg(now_ns(CLOCK_MONOTONIC) - t0 < BOUND_NS,
				      "watcher %d stays behind on object %d (%s)", i, o,
				      sh->w[i].why);
			usleep(1000);
		}
}

static void publish_final(void)
{
	for (int o = 0; o < N_OBJ; o++)
		sh->final[o] = objs[o].seq;
	atomic_store(&sh->done, 1);
}

/* The writer's records after everything: each object's last version, consistent. */
static void assert_records(void)
{
	hagent_shm *s;
	struct hagent_resource r;

	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(w), &s), 0);
	for (int o = 0; o < N_OBJ; o++) {
		ck_assert_int_eq(hagent_shm_read_resource(s, objs[o].slot, &r), 0);
		ck_assert_uint_eq(r.state_seq, objs[o].seq);
		ck_assert_int_eq(r.state, objs[o].state);
		ck_assert_mem_eq(r.id, objs[o].id, sizeof(r.id));
	}
	hagent_shm_unref(s);
}

START_TEST(test_watchers)
{
	pid_t pids[N_WATCH + N_VICTIM];
	uint64_t rnd = 0x9e3779b97f4a7c15u ^ (uint64_t) getpid();
	int kill_at[N_VICTIM], status;
	uint32_t reconnects_stopped;

	for (int i = 0; i < N_WATCH + N_VICTIM; i++)
		pids[i] = watcher_start(i);
	wait_ready(N_WATCH + N_VICTIM);
	for (int v = 0; v < N_VICTIM; v++)
		kill_at[v] = (int) (xorshift64(&rnd) % CHANGES);

	/*
	 * Phase 1: every object, in bursts of up to 1.5 logs, some victims dying
	 * on the way.  After most bursts the writer lets one watcher catch up,
	 * so that watchers see long runs of events as well as overruns.
	 */
	for (int c = 0; c < CHANGES;) {
		int burst = 1 + (int) (xorshift64(&rnd) % (EVENTS + EVENTS / 2));

		for (; burst > 0 && c < CHANGES; burst--, c++) {
			change(&objs[xorshift64(&rnd) % N_OBJ]);
			for (int v = 0; v < N_VICTIM; v++)
				if (kill_at[v] == c)
					fast_assert(kill(pids[N_WATCH + v], SIGKILL) == 0);
		}
		if (xorshift64(&rnd) % 4 != 0)
			wait_caught_up(1 + (int) (xorshift64(&rnd) % (N_WATCH - 1)));
	}
	/* Watcher 0 catches up, then stops for longer than the log. */
	wait_caught_up(0);
	ck_assert_int_eq(kill(pids[0], SIGSTOP), 0);
	ck_assert_int_eq(waitpid(pids[0], &status, WUNTRACED), pids[0]);
	ck_assert(WIFSTOPPED(status));
	reconnects_stopped = atomic_load(&sh->w[0].reconnects);
	/* Phase 2: only the first half of the objects change, each at least once. */
	for (unsigned c = 0; c < CHANGES_2; c++)
		change(&objs[c % (N_OBJ / 2)]);
	publish_final();
	ck_assert_int_eq(kill(pids[0], SIGCONT), 0);

	for (int i = 0; i < N_WATCH; i++)
		assert_watcher_ok(i, reap(pids[i], 4 * BOUND_NS));
	for (int v = 0; v < N_VICTIM; v++) {
		status = reap(pids[N_WATCH + v], BOUND_NS);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	/* The stopped one: a RECONNECT, then one synthetic event per changed object only. */
	ck_assert_uint_gt(atomic_load(&sh->w[0].reconnects), reconnects_stopped);
	ck_assert_uint_eq(atomic_load(&sh->w[0].expected), N_OBJ / 2);
	ck_assert_uint_eq(atomic_load(&sh->w[0].synthetic), N_OBJ / 2);
	assert_records();
}
END_TEST

/* ---- no lost wake-up ---- */

struct wake {
	_Atomic uint32_t ack[WAKE_PROCS];
	_Atomic int errors[WAKE_PROCS];
};

/* Blocks in get with a long timeout for each of WAKE_ITERS changes of object 0, acking each. */
static void wake_watch(struct wake *wk, int i)
{
	struct hagent_notification n;
	hagent_shm *s;
	hagent_notify_t p;
	uint32_t seq;

	if (hagent_shm_open_fd(shm_writer_fd(w), &s) < 0 || hagent_notify_new(s, &p) < 0 ||
	    hagent_notify_add(p, objs[0].id, HAGENT_CHANGE_RESOURCE_STATE, 1, &seq) < 0) {
		atomic_store(&wk->errors[i], 1);
		return;
	}
	atomic_store(&wk->ack[i], seq);
	for (int k = 0; k < WAKE_ITERS; k++) {
		/* The writer waits for this ack before the next change: one event per get. */
		if (hagent_notify_get(p, &n, GET_MS) < 0 || n.state_seq != seq + 1) {
			atomic_store(&wk->errors[i], 2);
			return;
		}
		seq = n.state_seq;
		atomic_store(&wk->ack[i], seq);
	}
}

static void no_lost_wakeup(void)
{
	struct wake *wk = shared_new(sizeof(*wk));
	pid_t pids[WAKE_PROCS];
	uint64_t t0;

	memset(wk, 0, sizeof(*wk));
	for (int i = 0; i < WAKE_PROCS; i++) {
		atomic_store(&wk->ack[i], UINT32_MAX);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			wake_watch(wk, i);
			_exit(atomic_load(&wk->errors[i]));
		}
	}
	for (int i = 0; i < WAKE_PROCS; i++) {
		t0 = now_ns(CLOCK_MONOTONIC);
		while (atomic_load(&wk->ack[i]) != objs[0].seq)
			ck_assert_uint_lt(now_ns(CLOCK_MONOTONIC) - t0, BOUND_NS);
	}
	/*
	 * Ping-pong: each change while the watchers are on their way to sleep.
	 * A lost wake-up leaves one asleep for GET_MS: the bound fails first.
	 */
	for (int k = 0; k < WAKE_ITERS; k++) {
		change(&objs[0]);
		t0 = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < WAKE_PROCS; i++)
			while (atomic_load(&wk->ack[i]) != objs[0].seq) {
				fast_assert_msg(now_ns(CLOCK_MONOTONIC) - t0 < BOUND_NS,
						"watcher %d missed change %d (error %d)", i, k,
						atomic_load(&wk->errors[i]));
				sched_yield();
			}
	}
	for (int i = 0; i < WAKE_PROCS; i++) {
		int status = reap(pids[i], BOUND_NS);

		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	}
	shared_free(wk, sizeof(*wk));
}

START_TEST(test_no_lost_wakeup)
{
	no_lost_wakeup();
}
END_TEST

static Suite *notify_torture_suite(void)
{
	Suite *su = suite_create("notify-torture");
	TCase *tc = tcase_create("watchers");
	TCase *tw = tcase_create("wakeup-waker");
	TCase *tn = tcase_create("wakeup-commit");
	TCase *tf = tcase_create("wakeup-fallback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_watchers);
	suite_add_tcase(su, tc);

	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, test_no_lost_wakeup);
	suite_add_tcase(su, tw);

	/* Without a waker thread, commit wakes the watchers itself. */
	tcase_add_checked_fixture(tn, setup_no_waker, teardown);
	tcase_set_timeout(tn, 120);
	tcase_add_test(tn, test_no_lost_wakeup);
	suite_add_tcase(su, tn);

	/* And the watchers without futex_waitv. */
	tcase_add_checked_fixture(tf, setup_fallback, teardown);
	tcase_set_timeout(tf, 120);
	tcase_add_test(tf, test_no_lost_wakeup);
	suite_add_tcase(su, tf);
	return su;
}

int main(void)
{
	return test_run_suite(notify_torture_suite());
}
