/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagent-bench-notify: notification ports (docs/notifications.md) measured
 * against floors taken in the same run.
 *
 * Latency, change -> delivered: an in-process shm_writer with its waker
 * thread (shm_writer_start_waker(), as hagentd runs it) publishes one state
 * change of one resource per round, with its event, stamping
 * CLOCK_MONOTONIC just before the commit into a shared page; W watcher
 * processes, each blocked in hagent_notify_get() on that resource, record
 * when they got it.  Rounds are paced (every watcher has its notification,
 * then a pause) so that watchers are asleep when the change comes: the
 * figure is a wake-up, not a busy reader.  The floor is the same round with
 * a bare futex: the writer stamps, stores a shared word and FUTEX_WAKEs;
 * the watchers sleep in FUTEX_WAIT on it.
 *
 * Publish cost: the writer's time for one publication (begin, put the
 * record, the event, commit with the waker's kick), in the same paced
 * rounds, with 0 watchers and with 100 watchers asleep, and without the
 * waker (the commit then wakes every watcher itself).  Each is the median
 * of the rounds of a run, then the median over runs; the ratios are
 * against the baseline in the same run.  Nothing here asserts a speed.
 *
 * Watchers are forked helper processes that die with the parent and bound
 * their own waits; every one is reaped on every path.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-writer.h"
#include "time-util.h"

#define W_MAX		 100u
#define ROUNDS_MAX	 4000u
#define ROUND_LIMIT_NS	 (2 * NSEC_PER_SEC) /* a round whose deliveries take longer is lost */
#define SETUP_LIMIT_NS	 (10 * NSEC_PER_SEC)
#define REAP_LIMIT_NS	 (5 * NSEC_PER_SEC)
#define WATCH_TIMEOUT_MS 200 /* a watcher looks at the stop flag this often */
#define PAUSE_BASE_NS	 (200 * NSEC_PER_USEC)
#define PAUSE_PER_W_NS	 (10 * NSEC_PER_USEC) /* more watchers take longer to fall asleep */

static bool arg_quick = false;
static unsigned arg_runs = 0;

struct budget {
	unsigned runs;
	unsigned rounds; /* per run and configuration */
};

/* What the writer and its watchers share (MAP_SHARED anonymous). */
struct shared {
	alignas(64) _Atomic uint32_t ready; /* watchers registered */
	alignas(64) _Atomic uint32_t stop;
	alignas(64) _Atomic uint32_t received;		/* deliveries of every round so far */
	alignas(64) _Atomic uint32_t futex_word;	/* the floor's word */
	alignas(64) _Atomic uint64_t stamp[ROUNDS_MAX]; /* CLOCK_MONOTONIC before each commit */
	uint32_t lat_ns[W_MAX][ROUNDS_MAX];		/* each watcher's delay, per round */
};

enum mode {
	MODE_PORT,  /* hagent_notify_get() */
	MODE_FUTEX, /* the floor: FUTEX_WAIT on a shared word */
};

struct config {
	enum mode mode;
	unsigned watchers;
	bool waker;
	unsigned rounds;
};

struct outcome {
	double p50_us, p99_us; /* delivery latency over all watchers and rounds */
	double publish_ns;     /* median over rounds */
	unsigned lost;	       /* rounds not delivered to everyone within ROUND_LIMIT_NS */
};

/* The watched resource. */
static const uint8_t object_id[HAGENT_ID_SIZE] = {0xbe, 0x4c, 0x40, 0x01};
#define SEQ_BASE 1000u /* state_seq of round r is SEQ_BASE + 1 + r */

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

/* ---- the writer side ---- */

static void resource_object(struct shm_object *o, uint32_t seq)
{
	*o = (struct shm_object){.kind = SHM_KIND_RESOURCE};
	memcpy(o->id, object_id, sizeof(object_id));
	(void) snprintf(o->name, sizeof(o->name), "bench-watched");
	(void) snprintf(o->u.res.type, sizeof(o->u.res.type), "bench");
	o->u.res.state = seq % 2 ? HAGENT_RESOURCE_ONLINE : HAGENT_RESOURCE_OFFLINE;
	o->u.res.state_seq = seq;
}

/* One transaction: the resource's new state and its RESOURCE_STATE event; stamp before commit. */
static int publish(struct shm_writer *w, uint32_t slot, uint32_t seq, _Atomic uint64_t *stamp)
{
	struct shm_object o;
	struct shm_event e = {
		.change = HAGENT_CHANGE_RESOURCE_STATE,
		.slot = slot,
		.kind = SHM_KIND_RESOURCE,
		.state_seq = seq,
	};
	int r;

	resource_object(&o, seq);
	e.state = o.u.res.state;
	memcpy(e.id, object_id, sizeof(e.id));
	memcpy(e.name, o.name, sizeof(e.name));
	r = shm_writer_begin(w, NULL);
	if (r < 0)
		return r;
	r = shm_writer_put(w, slot, &o);
	if (r < 0)
		return r;
	r = shm_writer_event(w, &e);
	if (r < 0)
		return r;
	if (stamp)
		atomic_store_explicit(stamp, now(), memory_order_release);
	return shm_writer_commit(w);
}

/* A small segment holding the watched resource. */
static int writer_new(struct shm_writer **ret, uint32_t *ret_slot)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	struct shm_params p = {
		.max_resources = 16,
		.max_groups = 16,
		.blob_bytes = 64 * 1024,
		.event_capacity = 4096,
	};
	int r;

	r = shm_writer_new(&p, &w);
	if (r < 0)
		return r;
	*ret_slot = shm_writer_resource_slot(w, 0);
	r = publish(w, *ret_slot, SEQ_BASE, NULL);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(w);
	return 0;
}

/* ---- the watchers ---- */

struct watcher_arg {
	struct shared *sh;
	const struct config *cfg;
	int fd; /* the segment's memfd, inherited */
	unsigned index;
};

static void delivered(struct shared *sh, unsigned index, uint32_t round, uint64_t t)
{
	uint64_t d;

	if (round >= ROUNDS_MAX)
		return;
	d = t - atomic_load(&sh->stamp[round]);
	sh->lat_ns[index][round] = (uint32_t) (d < UINT32_MAX ? d : UINT32_MAX);
	atomic_fetch_add(&sh->received, 1);
}

static int watcher_port_run(void *userdata)
{
	struct watcher_arg *a = userdata;
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	struct hagent_notification n;
	hagent_notify_t port = 0;
	int r;

	r = hagent_shm_open_fd(a->fd, &s);
	if (r < 0)
		return r;
	r = hagent_notify_new(s, &port);
	if (r < 0)
		return r;
	r = hagent_notify_add(port, object_id, HAGENT_CHANGE_RESOURCE_STATE, a->index, NULL);
	if (r < 0)
		goto out;
	atomic_fetch_add(&a->sh->ready, 1);
	while (!atomic_load(&a->sh->stop)) {
		r = hagent_notify_get(port, &n, WATCH_TIMEOUT_MS);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			goto out;
		if (n.change == HAGENT_CHANGE_RESOURCE_STATE)
			delivered(a->sh, a->index, n.state_seq - SEQ_BASE - 1, now());
	}
	r = 0;
out:
	(void) hagent_notify_close(port);
	return r;
}

static int watcher_futex_run(void *userdata)
{
	struct watcher_arg *a = userdata;
	const struct timespec timeout = {.tv_nsec = WATCH_TIMEOUT_MS * NSEC_PER_MSEC};
	uint32_t seen = atomic_load(&a->sh->futex_word);

	atomic_fetch_add(&a->sh->ready, 1);
	while (!atomic_load(&a->sh->stop)) {
		uint32_t v = atomic_load(&a->sh->futex_word);

		if (v == seen) {
			(void) futex(&a->sh->futex_word, FUTEX_WAIT, seen, &timeout);
			continue;
		}
		delivered(a->sh, a->index, v - 1, now());
		seen = v;
	}
	return 0;
}

/* ---- one configuration, one run ---- */

struct fleet {
	pid_t pids[W_MAX];
	struct watcher_arg args[W_MAX];
	unsigned n;
};

static void fleet_stop(struct fleet *f, struct shared *sh)
{
	atomic_store(&sh->stop, 1);
	atomic_fetch_add(&sh->futex_word, 0); /* the floor's watchers time out and see stop */
	for (unsigned i = 0; i < f->n; i++)
		(void) child_reap(&f->pids[i], REAP_LIMIT_NS);
	f->n = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

static int run_config(const struct config *cfg, struct shared *sh, struct outcome *ret)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	_cleanup_free_ double *lat = NULL, *pub = NULL;
	struct fleet f = {};
	uint64_t deadline;
	size_t n_lat = 0;
	uint32_t slot;
	int r;

	memset(sh, 0, sizeof(*sh));
	lat = calloc((size_t) cfg->rounds * (cfg->watchers + 1), sizeof(*lat));
	pub = calloc(cfg->rounds, sizeof(*pub));
	if (!lat || !pub)
		return -ENOMEM;
	r = writer_new(&w, &slot);
	if (r < 0)
		return r;
	/* The watchers first: a fork copies only the calling thread, not the waker. */
	for (unsigned i = 0; i < cfg->watchers; i++) {
		f.args[i] = (struct watcher_arg){
			.sh = sh, .cfg = cfg, .fd = shm_writer_fd(w), .index = i};
		r = child_spawn(cfg->mode == MODE_PORT ? watcher_port_run : watcher_futex_run,
				&f.args[i], &f.pids[i]);
		if (r < 0)
			goto out;
		f.n++;
	}
	deadline = now() + SETUP_LIMIT_NS;
	while (atomic_load(&sh->ready) < cfg->watchers) {
		if (now() > deadline) {
			r = -ETIMEDOUT;
			goto out;
		}
		sleep_ns(100 * NSEC_PER_USEC);
	}
	if (cfg->waker) {
		r = shm_writer_start_waker(w);
		if (r < 0)
			goto out;
	}
	*ret = (struct outcome){};
	for (uint32_t round = 0; round < cfg->rounds; round++) {
		uint64_t t0, t1;

		sleep_ns(PAUSE_BASE_NS + PAUSE_PER_W_NS * cfg->watchers);
		t0 = now();
		if (cfg->mode == MODE_PORT) {
			r = publish(w, slot, SEQ_BASE + 1 + round, &sh->stamp[round]);
			if (r < 0)
				goto out;
		} else {
			atomic_store(&sh->stamp[round], t0);
			atomic_store(&sh->futex_word, round + 1);
			(void) futex(&sh->futex_word, FUTEX_WAKE, INT_MAX, NULL);
		}
		t1 = now();
		pub[round] = (double) (t1 - t0);
		/* Every watcher has it (and goes back to sleep during the next pause). */
		deadline = t1 + ROUND_LIMIT_NS;
		while (atomic_load(&sh->received) < (round + 1) * cfg->watchers && now() < deadline)
			sleep_ns(20 * NSEC_PER_USEC);
		if (atomic_load(&sh->received) < (round + 1) * cfg->watchers) {
			ret->lost++;
			atomic_store(&sh->received, (round + 1) * cfg->watchers);
		}
	}
	for (unsigned i = 0; i < cfg->watchers; i++)
		for (uint32_t round = 0; round < cfg->rounds; round++)
			if (sh->lat_ns[i][round])
				lat[n_lat++] = (double) sh->lat_ns[i][round] / 1000.0;
	ret->p50_us = percentile(lat, n_lat, 50);
	ret->p99_us = percentile(lat, n_lat, 99);
	qsort(pub, cfg->rounds, sizeof(*pub), cmp_double);
	ret->publish_ns = pub[cfg->rounds / 2];
	r = 0;
out:
	fleet_stop(&f, sh);
	return r;
}

/* ---- the parts ---- */

struct series_set {
	struct series p50, p99, publish;
	unsigned lost;
};

static int runs_of(const struct budget *bud, struct shared *sh, const struct config *cfg,
		   struct series_set *s)
{
	struct outcome o;
	int r;

	r = run_config(cfg, sh, &o);
	if (r < 0)
		return r;
	series_add(&s->p50, o.p50_us);
	series_add(&s->p99, o.p99_us);
	series_add(&s->publish, o.publish_ns);
	s->lost += o.lost;
	(void) bud;
	return 0;
}

static int bench_all(const struct budget *bud, struct shared *sh, struct report *rep)
{
	static const unsigned ws[] = {1, W_MAX};
	struct series_set port[2] = {}, floor[2] = {}, idle = {}, nowaker = {}, nowaker_idle = {};
	char name[72];
	int r;

	/* Interleaved run by run, so that noise hits figure and floor alike. */
	for (unsigned run = 0; run < bud->runs; run++) {
		struct config idle_cfg = {MODE_PORT, 0, true, bud->rounds};
		struct config nowaker_cfg = {MODE_PORT, W_MAX, false, bud->rounds};
		struct config nowaker_idle_cfg = {MODE_PORT, 0, false, bud->rounds};

		for (size_t k = 0; k < ELEMENTSOF(ws); k++) {
			struct config pc = {MODE_PORT, ws[k], true, bud->rounds};
			struct config fc = {MODE_FUTEX, ws[k], false, bud->rounds};

			r = runs_of(bud, sh, &pc, &port[k]);
			if (r < 0)
				return r;
			r = runs_of(bud, sh, &fc, &floor[k]);
			if (r < 0)
				return r;
		}
		r = runs_of(bud, sh, &idle_cfg, &idle);
		if (r < 0)
			return r;
		r = runs_of(bud, sh, &nowaker_cfg, &nowaker);
		if (r < 0)
			return r;
		r = runs_of(bud, sh, &nowaker_idle_cfg, &nowaker_idle);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < ELEMENTSOF(ws); k++) {
		snprintf(name, sizeof(name), "change -> delivered, %u watcher%s, p50", ws[k],
			 ws[k] > 1 ? "s" : "");
		report_series(rep, name, UNIT_US, &port[k].p50, &floor[k].p50, "");
		snprintf(name, sizeof(name), "change -> delivered, %u watcher%s, p99", ws[k],
			 ws[k] > 1 ? "s" : "");
		report_series(rep, name, UNIT_US, &port[k].p99, &floor[k].p99, "");
	}
	report_series(rep, "publish, waker, 0 watchers", UNIT_NS, &idle.publish, NULL, "");
	report_series(rep, "publish, waker, 100 watchers asleep", UNIT_NS, &port[1].publish,
		      &idle.publish, "ratio ~1");
	report_series(rep, "publish, no waker, 0 watchers", UNIT_NS, &nowaker_idle.publish,
		      &idle.publish, "");
	report_series(rep, "publish, no waker, 100 watchers asleep", UNIT_NS, &nowaker.publish,
		      &port[1].publish, "");
	report_note(rep,
		    "latency: %u paced rounds per run, every watcher's delay in each (p50/p99 over "
		    "all of them); floor: the same rounds with a bare FUTEX_WAIT/FUTEX_WAKE on a "
		    "shared word; rounds lost (not delivered to all within 2 s): port %u, floor %u",
		    bud->rounds, port[0].lost + port[1].lost, floor[0].lost + floor[1].lost);
	report_note(
		rep,
		"publish: begin, put, event, commit (with the waker's kick), median of the "
		"rounds; the 100-watcher row's floor is the 0-watcher row (the waker should make "
		"them equal); the no-waker row's floor is the waker row, so its ratio is what "
		"the waker saves the agent per commit; the no-waker 0-watcher row (its floor: the "
		"waker's) "
		"is a commit whose FUTEX_WAKE finds nobody");
	return 0;
}

static void help(void)
{
	printf("Usage: hagent-bench-notify [--quick] [--runs N]\n\n"
	       "Notification ports: delivery latency and the agent's publish cost,\n"
	       "beside floors measured in the same run.\n\n"
	       "  -h --help     show this help\n"
	       "  -q --quick    a smoke run of a few seconds\n"
	       "  -r --runs N   runs per figure (default 3, quick 2)\n");
}

int main(int argc, char *argv[])
{
	struct budget bud;
	struct report rep = {};
	struct shared *sh;
	struct utsname u = {};
	int r;

	r = bench_parse_argv(argc, argv, MAX_RUNS, help, &arg_quick, &arg_runs);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	bud = arg_quick ? (struct budget){.runs = 2, .rounds = 100}
			: (struct budget){.runs = 3, .rounds = 2000};
	if (arg_runs)
		bud.runs = arg_runs;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "hagent-bench-notify: mmap: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	(void) uname(&u);
	printf("hagent-bench-notify: notification ports against floors measured in the same run\n");
	printf("kernel   %s\n", u.release);
	printf("nproc    %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("runs     %u x %u rounds (%s); median over runs, ratio = median / floor\n", bud.runs,
	       bud.rounds, arg_quick ? "quick" : "full");
	r = bench_all(&bud, sh, &rep);
	(void) munmap(sh, sizeof(*sh));
	if (r < 0) {
		fprintf(stderr, "hagent-bench-notify: %s\n", hagent_shm_strerror(r));
		return EXIT_FAILURE;
	}
	report_print(&rep);
	return EXIT_SUCCESS;
}
