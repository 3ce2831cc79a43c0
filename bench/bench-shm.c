/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagent-bench: the shared-memory layer measured against floors taken in the
 * same run on the same machine (docs/shm.md §4 and §5.6).
 *
 * The machine this runs on is small (2 vCPUs) and shared, so an absolute
 * figure means little on its own.  Every figure is the median of --runs
 * runs, printed next to its floor: the same data movement done the bare way
 * (plain seqlock copies, plain memcpy, a minimal SPSC ring, a bare eventfd
 * ping), measured in the same run and interleaved with the figure, so that
 * noise hits both alike.  The ratio figure/floor is what to watch.
 *
 * Cross-process rows fork helper processes.  A helper dies with its parent
 * (PR_SET_PDEATHSIG), bounds its own loops in count and time, and is reaped
 * on every path, killed first if it overstays.  Nothing is pinned.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "channel.h"
#include "hagent/shm.h"
#include "macro.h"
#include "memfd-util.h"
#include "shm-layout.h"
#include "shm-writer.h"
#include "time-util.h"

#define N_RESOURCES	  940u
#define N_GROUPS	  60u
#define GROUP_MAX	  16u
#define N_RECORDS	  (N_RESOURCES + N_GROUPS)
#define IDX_N		  4096u /* length of the precomputed random sequences */
#define BARE_RETRIES_MAX  64u
#define WRITER_RATE	  100000u /* txn/s of the paced writer process */
#define DRAIN_BUDGET	  64u /* entries per drain call, as the agent does (docs/shm.md §5.3) */
#define WAKE_SLEEP_MIN_US 50u
#define WAKE_SLEEP_MAX_US 500u
#define WAKE_POLL_MS	  100
#define SETUP_LIMIT_NS	  (5 * NSEC_PER_SEC) /* a helper must be ready within this */
#define REAP_LIMIT_NS	  (5 * NSEC_PER_SEC) /* and gone within this once it should be */

_Static_assert(N_RESOURCES <= N_GROUPS * GROUP_MAX, "every resource has a group");
_Static_assert((IDX_N & (IDX_N - 1)) == 0, "power of two");

static unsigned arg_runs = 0; /* 0: the mode's default */
static bool arg_quick = false;

/* How long each part runs; derived from the command line. */
struct budget {
	unsigned runs;
	uint64_t read_ns;	/* one timed phase of a reader row */
	uint64_t write_ns;	/* one timed phase of the writer row */
	uint64_t ring_entries;	/* entries per ring run */
	unsigned wake_samples;	/* wake-ups per run, for the figure and for the floor each */
	uint64_t ring_limit_ns; /* hard bound on one ring run */
};

static void budget_init(struct budget *b)
{
	if (arg_quick)
		*b = (struct budget){
			.runs = 3,
			.read_ns = 25 * NSEC_PER_MSEC,
			.write_ns = 25 * NSEC_PER_MSEC,
			.ring_entries = 200000,
			.wake_samples = 300,
			.ring_limit_ns = 2 * NSEC_PER_SEC,
		};
	else
		*b = (struct budget){
			.runs = 5,
			.read_ns = 500 * NSEC_PER_MSEC,
			.write_ns = 500 * NSEC_PER_MSEC,
			.ring_entries = 8000000,
			.wake_samples = 4000,
			.ring_limit_ns = 20 * NSEC_PER_SEC,
		};
	if (arg_runs > 0)
		b->runs = arg_runs;
}

/* ---- the populated state segment ---- */

/* 1,000 records: 940 resources and 60 groups (40 of 16 members, 20 of 15). */
struct population {
	uint32_t res_slot[N_RESOURCES];
	struct shm_object res_obj[N_RESOURCES];
	uint32_t grp_slot[N_GROUPS];
	struct shm_object grp_obj[N_GROUPS];
	uint32_t n_members[N_GROUPS];
	uint32_t members[N_GROUPS][GROUP_MAX]; /* resource indices */
	uint32_t full[N_GROUPS];	       /* the groups with GROUP_MAX members */
	uint32_t n_full;
	uint32_t stamp; /* state_seq of the next publication */
};

static void resource_object(struct shm_object *o, uint32_t i, uint32_t group_slot)
{
	*o = (struct shm_object){.kind = SHM_KIND_RESOURCE};
	memcpy(o->id, &i, sizeof(i));
	(void) snprintf(o->name, sizeof(o->name), "bench-resource-%04u", i);
	(void) snprintf(o->u.res.type, sizeof(o->u.res.type), "bench");
	o->u.res.state = HAGENT_RESOURCE_ONLINE;
	o->u.res.group_slot = group_slot;
}

static void group_object(struct shm_object *o, uint32_t g, uint32_t n_members,
			 const struct shm_blob_ref *members)
{
	uint32_t id = UINT32_C(0x80000000) | g;

	*o = (struct shm_object){.kind = SHM_KIND_GROUP};
	memcpy(o->id, &id, sizeof(id));
	(void) snprintf(o->name, sizeof(o->name), "bench-group-%02u", g);
	o->u.grp.state = HAGENT_GROUP_ONLINE;
	o->u.grp.n_members = n_members;
	o->u.grp.members = *members;
}

/* Resource i belongs to group i % N_GROUPS. */
static void population_plan(struct population *pop, const struct shm_writer *w)
{
	for (uint32_t g = 0; g < N_GROUPS; g++)
		pop->grp_slot[g] = shm_writer_group_slot(w, g);
	for (uint32_t i = 0; i < N_RESOURCES; i++) {
		uint32_t g = i % N_GROUPS;

		pop->res_slot[i] = shm_writer_resource_slot(w, i);
		pop->members[g][pop->n_members[g]++] = i;
		resource_object(&pop->res_obj[i], i, pop->grp_slot[g]);
	}
	for (uint32_t g = 0; g < N_GROUPS; g++)
		if (pop->n_members[g] == GROUP_MAX)
			pop->full[pop->n_full++] = g;
}

static int members_blob(struct shm_writer *w, const struct population *pop, uint32_t g,
			struct shm_blob_ref *ret)
{
	uint32_t slots[GROUP_MAX];

	for (uint32_t k = 0; k < pop->n_members[g]; k++)
		slots[k] = pop->res_slot[pop->members[g][k]];
	return shm_writer_blob_new(w, slots, pop->n_members[g] * (uint32_t) sizeof(uint32_t), ret);
}

static int publish_all(struct shm_writer *w, const struct population *pop)
{
	int r;

	r = shm_writer_begin(w, NULL);
	if (r < 0)
		return r;
	for (uint32_t g = 0; g < N_GROUPS; g++) {
		r = shm_writer_put(w, pop->grp_slot[g], &pop->grp_obj[g]);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < N_RESOURCES; i++) {
		r = shm_writer_put(w, pop->res_slot[i], &pop->res_obj[i]);
		if (r < 0)
			return r;
	}
	return shm_writer_commit(w);
}

/* One transaction: group g and each of its members, with a new state_seq. */
static int publish_group(struct shm_writer *w, struct population *pop, uint32_t g)
{
	uint32_t stamp = ++pop->stamp;
	struct shm_object *o;
	int r;

	r = shm_writer_begin(w, NULL);
	if (r < 0)
		return r;
	pop->grp_obj[g].u.grp.state_seq = stamp;
	r = shm_writer_put(w, pop->grp_slot[g], &pop->grp_obj[g]);
	if (r < 0)
		return r;
	for (uint32_t k = 0; k < pop->n_members[g]; k++) {
		o = &pop->res_obj[pop->members[g][k]];
		o->u.res.state_seq = stamp;
		r = shm_writer_put(w, pop->res_slot[pop->members[g][k]], o);
		if (r < 0)
			return r;
	}
	return shm_writer_commit(w);
}

/*
 * A segment of the given capacity holding the 1,000 records, each published
 * SHM_VERSIONS times so every version slot has history, as in a
 * long-running agent.
 */
static int population_new(const struct shm_params *p, struct shm_writer **ret_w,
			  struct population **ret_pop)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	_cleanup_free_ struct population *pop = NULL;
	struct shm_blob_ref refs[N_GROUPS];
	int r;

	r = shm_writer_new(p, &w);
	if (r < 0)
		return r;
	pop = calloc(1, sizeof(*pop));
	if (!pop)
		return -ENOMEM;
	population_plan(pop, w);
	for (uint32_t g = 0; g < N_GROUPS; g++) {
		r = members_blob(w, pop, g, &refs[g]);
		if (r < 0)
			return r;
		group_object(&pop->grp_obj[g], g, pop->n_members[g], &refs[g]);
	}
	for (unsigned v = 0; v < SHM_VERSIONS; v++) {
		r = publish_all(w, pop);
		if (r < 0)
			return r;
	}
	/* The published versions hold their own references. */
	for (uint32_t g = 0; g < N_GROUPS; g++)
		shm_writer_blob_unref(w, &refs[g]);
	*ret_w = TAKE_PTR(w);
	*ret_pop = TAKE_PTR(pop);
	return 0;
}

/* ---- rows 1-3: readers ---- */

struct reader_bench {
	hagent_shm *shm;
	const struct population *pop;
	const void *map; /* our own read-only mapping of the segment, for the floors */
	size_t map_size;
	const struct shm_record *records;
	struct shm_version *copies; /* floor destinations, one per record */
	uint64_t floor_ops, floor_retries;
	uint32_t res_seq[IDX_N]; /* random resource slots */
	uint32_t grp_seq[IDX_N]; /* random groups of GROUP_MAX members */
};

static struct reader_bench *reader_bench_free(struct reader_bench *b)
{
	if (!b)
		return NULL;
	hagent_shm_unref(b->shm);
	if (b->map)
		(void) munmap((void *) b->map, b->map_size);
	free(b->copies);
	free(b);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct reader_bench *, reader_bench_free);

static int reader_bench_new(const struct shm_writer *w, const struct population *pop,
			    struct reader_bench **ret)
{
	_cleanup_(reader_bench_freep) struct reader_bench *b = NULL;
	const struct shm_header *h = shm_writer_header(w);
	uint64_t rng = UINT64_C(0x243f6a8885a308d3);
	void *map;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pop = pop;
	r = hagent_shm_open_fd(shm_writer_fd(w), &b->shm);
	if (r < 0)
		return r;
	map = mmap(NULL, h->segment_size, PROT_READ, MAP_SHARED, shm_writer_fd(w), 0);
	if (map == MAP_FAILED)
		return -errno;
	b->map = map;
	b->map_size = h->segment_size;
	b->records = (const struct shm_record *) ((const uint8_t *) map + h->records_offset);
	b->copies = calloc(N_RECORDS, sizeof(*b->copies));
	if (!b->copies)
		return -ENOMEM;
	for (unsigned i = 0; i < IDX_N; i++) {
		b->res_seq[i] = pop->res_slot[rng_next(&rng) % N_RESOURCES];
		b->grp_seq[i] = pop->full[rng_next(&rng) % pop->n_full];
	}
	*ret = TAKE_PTR(b);
	return 0;
}

/*
 * The floor of every reader row: a bare seqlock read of a record's newest
 * version (load latest, copy 256 B, re-check seq), from the same pages.
 */
static int bare_read(struct reader_bench *b, uint32_t slot, struct shm_version *dst)
{
	const struct shm_record *rec = &b->records[slot];

	for (unsigned attempt = 0; attempt < BARE_RETRIES_MAX; attempt++) {
		/* Pair with the writer's release stores of latest and seq. */
		uint64_t g = atomic_load_explicit(&rec->latest, memory_order_acquire);
		const struct shm_version *v = &rec->v[g % SHM_VERSIONS];
		uint32_t s1 = atomic_load_explicit(&v->seq, memory_order_acquire);

		memcpy(dst, (const void *) v, sizeof(*dst));
		atomic_thread_fence(memory_order_acquire);
		if ((s1 & 1u) == 0 && atomic_load_explicit(&v->seq, memory_order_relaxed) == s1) {
			keep(dst);
			return 0;
		}
		b->floor_retries++;
	}
	return -EBUSY;
}

static int op_resource(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;
	struct hagent_resource res;
	int r;

	r = hagent_shm_read_resource(b->shm, b->res_seq[i % IDX_N], &res);
	keep(&res);
	return r;
}

static int op_resource_floor(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;

	b->floor_ops++;
	return bare_read(b, b->res_seq[i % IDX_N], &b->copies[0]);
}

static int op_group(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;
	struct hagent_resource members[GROUP_MAX];
	struct hagent_group g;
	size_t n;
	int r;

	r = hagent_shm_read_group(b->shm, b->pop->grp_slot[b->grp_seq[i % IDX_N]], &g, members,
				  GROUP_MAX, &n);
	if (r < 0)
		return r;
	keep(members);
	return n == GROUP_MAX ? 0 : -EBADMSG;
}

static int op_group_floor(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;
	const struct population *pop = b->pop;
	uint32_t g = b->grp_seq[i % IDX_N];
	int r;

	b->floor_ops++;
	r = bare_read(b, pop->grp_slot[g], &b->copies[0]);
	for (uint32_t k = 0; r >= 0 && k < pop->n_members[g]; k++)
		r = bare_read(b, pop->res_slot[pop->members[g][k]], &b->copies[k + 1]);
	return r;
}

static int op_table(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;
	struct hagent_shm_table *t;
	int r;

	(void) i;
	r = hagent_shm_read_table(b->shm, &t);
	if (r < 0)
		return r;
	r = t->n_resources == N_RESOURCES && t->n_groups == N_GROUPS ? 0 : -EBADMSG;
	hagent_shm_table_free(t);
	return r;
}

static int op_table_floor(void *ctx, uint64_t i)
{
	struct reader_bench *b = ctx;
	const struct population *pop = b->pop;
	int r = 0;

	(void) i;
	b->floor_ops++;
	for (uint32_t k = 0; r >= 0 && k < N_RESOURCES; k++)
		r = bare_read(b, pop->res_slot[k], &b->copies[k]);
	for (uint32_t g = 0; r >= 0 && g < N_GROUPS; g++)
		r = bare_read(b, pop->grp_slot[g], &b->copies[N_RESOURCES + g]);
	return r;
}

struct read_metric {
	const char *name;
	bench_op op, floor_op;
	unsigned batch; /* calls between clock reads */
	const char *target;
	struct series value, floor;	     /* µs per call */
	struct series restarts, floor_retry; /* % of reads */
};

enum { READ_RESOURCE, READ_GROUP, READ_TABLE, _READ_MAX };

static void read_metrics_init(struct read_metric m[_READ_MAX])
{
	m[READ_RESOURCE] = (struct read_metric){
		.name = "read one resource",
		.op = op_resource,
		.floor_op = op_resource_floor,
		.batch = 64,
		.target = "≤ 0.5 µs",
	};
	m[READ_GROUP] = (struct read_metric){
		.name = "read group of 16",
		.op = op_group,
		.floor_op = op_group_floor,
		.batch = 16,
		.target = "≤ 1 µs",
	};
	m[READ_TABLE] = (struct read_metric){
		.name = "read table of 1,000",
		.op = op_table,
		.floor_op = op_table_floor,
		.batch = 1,
		.target = "≤ 30 µs",
	};
}

static int read_floor_phase(struct reader_bench *b, struct read_metric *m, uint64_t duration)
{
	double ns;
	int r;

	b->floor_ops = b->floor_retries = 0;
	r = time_op(m->floor_op, b, m->batch, duration, &ns);
	if (r < 0)
		return r;
	series_add(&m->floor, ns / 1000.0);
	series_add(&m->floor_retry, percent(b->floor_retries, b->floor_ops));
	return 0;
}

static int read_api_phase(struct reader_bench *b, struct read_metric *m, uint64_t duration)
{
	struct hagent_shm_stats s0, s1;
	double ns;
	int r;

	(void) hagent_shm_get_stats(b->shm, &s0);
	r = time_op(m->op, b, m->batch, duration, &ns);
	if (r < 0)
		return r;
	(void) hagent_shm_get_stats(b->shm, &s1);
	series_add(&m->value, ns / 1000.0);
	series_add(&m->restarts, percent(s1.restarts - s0.restarts, s1.reads - s0.reads));
	return 0;
}

/* All runs of n reader rows; floor and figure alternate which goes first. */
static int read_runs(struct reader_bench *b, const struct budget *bud, struct read_metric *m,
		     unsigned n)
{
	double ignored;
	int r;

	for (unsigned k = 0; k < n; k++) {
		/* Warm caches, TLB and the allocator; not recorded. */
		r = time_op(m[k].op, b, m[k].batch, bud->read_ns / 5, &ignored);
		if (r < 0)
			return r;
	}
	for (unsigned run = 0; run < bud->runs; run++)
		for (unsigned k = 0; k < n; k++) {
			bool floor_first = run % 2 == 0;

			r = floor_first ? read_floor_phase(b, &m[k], bud->read_ns)
					: read_api_phase(b, &m[k], bud->read_ns);
			if (r < 0)
				return r;
			r = floor_first ? read_api_phase(b, &m[k], bud->read_ns)
					: read_floor_phase(b, &m[k], bud->read_ns);
			if (r < 0)
				return r;
		}
	return 0;
}

/* The writer process of the busy rows: one random group per txn, paced. */
struct paced_writer {
	struct shm_writer *w;
	struct population *pop;
	struct ctl *ctl;
	uint64_t limit_ns;
};

static int paced_writer_run(void *arg)
{
	struct paced_writer *pw = arg;
	uint64_t period = NSEC_PER_SEC / WRITER_RATE, start, next, t, n = 0;
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	int r = 0;

	start = next = t = now();
	atomic_store_explicit(&pw->ctl->ready, 1, memory_order_release);
	while (!atomic_load_explicit(&pw->ctl->stop, memory_order_acquire) &&
	       t - start < pw->limit_ns) {
		t = now();
		if (t < next) {
			cpu_relax();
			continue;
		}
		r = publish_group(pw->w, pw->pop, (uint32_t) (rng_next(&rng) % N_GROUPS));
		if (r < 0)
			break;
		n++;
		/* After a preemption, resume the pace instead of bursting to catch up. */
		next = t - next > NSEC_PER_MSEC ? t + period : next + period;
	}
	atomic_store_explicit(&pw->ctl->count, n, memory_order_relaxed);
	atomic_store_explicit(&pw->ctl->elapsed_ns, now() - start, memory_order_relaxed);
	return r;
}

/* read_runs() while another process publishes WRITER_RATE txn/s; *ret_rate: what it reached. */
static int read_runs_busy(struct reader_bench *b, struct shm_writer *w, struct population *pop,
			  const struct budget *bud, struct read_metric m[_READ_MAX],
			  double *ret_rate)
{
	_cleanup_(child_killp) pid_t pid = 0;
	_cleanup_(ctl_unmapp) struct ctl *ctl = NULL;
	struct paced_writer pw;
	uint64_t elapsed;
	int r, k;

	r = ctl_new(&ctl);
	if (r < 0)
		return r;
	/* Bound the writer's life by the work it accompanies, with a generous margin. */
	pw = (struct paced_writer){
		.w = w,
		.pop = pop,
		.ctl = ctl,
		.limit_ns = 4 * (bud->runs + 1) * _READ_MAX * 2 * bud->read_ns + 10 * NSEC_PER_SEC,
	};
	r = child_spawn(paced_writer_run, &pw, &pid);
	if (r < 0)
		return r;
	r = wait_flag(&ctl->ready, now() + SETUP_LIMIT_NS);
	if (r >= 0)
		r = read_runs(b, bud, m, _READ_MAX);
	atomic_store_explicit(&ctl->stop, 1, memory_order_release);
	k = child_reap(&pid, REAP_LIMIT_NS);
	if (r < 0)
		return r;
	if (k < 0)
		return k;
	elapsed = atomic_load_explicit(&ctl->elapsed_ns, memory_order_relaxed);
	*ret_rate = elapsed > 0 ? (double) atomic_load_explicit(&ctl->count, memory_order_relaxed) *
					  1e9 / (double) elapsed
				: 0.0;
	return 0;
}

/* Busy rows are labelled with the rate the writer reached, which a loaded machine may cut. */
static void report_readers(struct report *rep, struct read_metric idle[_READ_MAX],
			   struct read_metric busy[_READ_MAX], double rate)
{
	char name[64];

	for (unsigned k = 0; k < _READ_MAX; k++) {
		(void) snprintf(name, sizeof(name), "%s, writer idle", idle[k].name);
		report_series(rep, name, UNIT_US, &idle[k].value, &idle[k].floor, idle[k].target);
		(void) snprintf(name, sizeof(name), "%s, writer %.0fk txn/s", busy[k].name,
				rate / 1000.0);
		report_series(rep, name, UNIT_US, &busy[k].value, &busy[k].floor, busy[k].target);
		(void) snprintf(name, sizeof(name), "  restarts, writer %.0fk txn/s",
				rate / 1000.0);
		report_series(rep, name, UNIT_PCT, &busy[k].restarts, &busy[k].floor_retry,
			      "< 1 %");
	}
}

/*
 * The table row again on a segment sized for the records it holds (1,024
 * resources, 64 groups), writer idle: shows what part of the figure grows
 * with the segment's capacity rather than with its content.
 */
static int read_table_small_segment(const struct budget *bud, struct report *rep)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	_cleanup_free_ struct population *pop = NULL;
	_cleanup_(reader_bench_freep) struct reader_bench *b = NULL;
	struct read_metric m[_READ_MAX];
	struct shm_params p;
	int r;

	shm_params_default(&p);
	p.max_resources = 1024;
	p.max_groups = 64;
	r = population_new(&p, &w, &pop);
	if (r < 0)
		return r;
	r = reader_bench_new(w, pop, &b);
	if (r < 0)
		return r;
	read_metrics_init(m);
	r = read_runs(b, bud, &m[READ_TABLE], 1);
	if (r < 0)
		return r;
	report_series(rep, "read table of 1,000, 1024+64 segment, idle", UNIT_US,
		      &m[READ_TABLE].value, &m[READ_TABLE].floor, m[READ_TABLE].target);
	return 0;
}

static int bench_readers(const struct budget *bud, struct report *rep)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	_cleanup_free_ struct population *pop = NULL;
	_cleanup_(reader_bench_freep) struct reader_bench *b = NULL;
	struct read_metric idle[_READ_MAX], busy[_READ_MAX];
	struct shm_params p;
	double rate = 0;
	int r;

	shm_params_default(&p);
	r = population_new(&p, &w, &pop);
	if (r < 0)
		return r;
	r = reader_bench_new(w, pop, &b);
	if (r < 0)
		return r;
	read_metrics_init(idle);
	read_metrics_init(busy);

	fprintf(stderr, "readers, writer idle...\n");
	r = read_runs(b, bud, idle, _READ_MAX);
	if (r < 0)
		return r;
	fprintf(stderr, "readers, writer at %u txn/s...\n", WRITER_RATE);
	r = read_runs_busy(b, w, pop, bud, busy, &rate);
	if (r < 0)
		return r;

	report_readers(rep, idle, busy, rate);
	report_note(rep,
		    "rows 1-3: 1,000 records (940 resources, 60 groups), segment sized by "
		    "shm_params_default() (4096 + 1024 slots) unless the row says otherwise; busy "
		    "writer: another process paced at %u txn/s without catch-up after a "
		    "preemption, each txn one random group and its 15-16 members",
		    WRITER_RATE);
	fprintf(stderr, "readers, small segment...\n");
	return read_table_small_segment(bud, rep);
}

/* ---- row 4: the writer ---- */

struct writer_bench {
	struct shm_writer *w;
	struct population *pop;
	uint8_t *scratch; /* records-shaped memfd mapping: where the floor writes */
	size_t scratch_size;
	uint64_t records_offset;
	uint8_t src[1 + GROUP_MAX][SHM_VERSION_SIZE];
	uint32_t grp_seq[IDX_N];
};

static int op_txn(void *ctx, uint64_t i)
{
	struct writer_bench *wb = ctx;

	return publish_group(wb->w, wb->pop, wb->grp_seq[i % IDX_N]);
}

/* The floor: 17 × 256 B memcpy into the same record positions, then one release store. */
static int op_txn_floor(void *ctx, uint64_t i)
{
	struct writer_bench *wb = ctx;
	const struct population *pop = wb->pop;
	struct shm_record *recs = (struct shm_record *) (wb->scratch + wb->records_offset);
	_Atomic uint64_t *commit = (_Atomic uint64_t *) wb->scratch;
	uint32_t g = wb->grp_seq[i % IDX_N];
	unsigned v = (unsigned) (i % SHM_VERSIONS);

	memcpy((void *) &recs[pop->grp_slot[g]].v[v], wb->src[0], SHM_VERSION_SIZE);
	for (uint32_t k = 0; k < pop->n_members[g]; k++)
		memcpy((void *) &recs[pop->res_slot[pop->members[g][k]]].v[v], wb->src[k + 1],
		       SHM_VERSION_SIZE);
	atomic_store_explicit(commit, i + 1, memory_order_release);
	return 0;
}

static int writer_bench_init(struct writer_bench *wb)
{
	const struct shm_header *h = shm_writer_header(wb->w);
	uint64_t rng = UINT64_C(0x13198a2e03707344);
	void *map;
	int r;

	wb->records_offset = h->records_offset;
	wb->scratch_size = h->records_offset + (uint64_t) (h->max_resources + h->max_groups) *
						       sizeof(struct shm_record);
	r = memfd_new_sealed("hagent-bench-floor", wb->scratch_size, wb->scratch_size, false, &map);
	if (r < 0)
		return r;
	(void) safe_close(r); /* the mapping is all the floor needs */
	wb->scratch = map;
	for (unsigned k = 0; k <= GROUP_MAX; k++)
		memset(wb->src[k], (int) k + 1, SHM_VERSION_SIZE);
	for (unsigned i = 0; i < IDX_N; i++)
		wb->grp_seq[i] = wb->pop->full[rng_next(&rng) % wb->pop->n_full];
	return 0;
}

static int bench_writer(const struct budget *bud, struct report *rep)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	_cleanup_free_ struct population *pop = NULL;
	struct series value = {}, floor = {};
	struct writer_bench wb = {};
	struct shm_params p;
	double ns;
	int r;

	fprintf(stderr, "writer...\n");
	shm_params_default(&p);
	r = population_new(&p, &w, &pop);
	if (r < 0)
		return r;
	wb.w = w;
	wb.pop = pop;
	r = writer_bench_init(&wb);
	if (r < 0)
		return r;

	r = time_op(op_txn, &wb, 16, bud->write_ns / 5, &ns); /* warm-up */
	for (unsigned run = 0; r >= 0 && run < bud->runs; run++) {
		bool floor_first = run % 2 == 0;

		r = time_op(floor_first ? op_txn_floor : op_txn, &wb, 16, bud->write_ns, &ns);
		if (r < 0)
			break;
		series_add(floor_first ? &floor : &value, ns);
		r = time_op(floor_first ? op_txn : op_txn_floor, &wb, 16, bud->write_ns, &ns);
		series_add(floor_first ? &value : &floor, ns);
	}
	(void) munmap(wb.scratch, wb.scratch_size);
	if (r < 0)
		return r;
	report_series(rep, "writer: publish txn of 17 records", UNIT_NS, &value, &floor,
		      "≤ 2000 ns");
	return 0;
}

/* ---- row 5: status ring throughput ---- */

/* The floor: a bare per-slot-sequence SPSC ring of the same geometry. */
struct bare_entry {
	_Atomic uint64_t seq; /* position + 1 once written */
	uint8_t body[56];
};
_Static_assert(sizeof(struct bare_entry) == sizeof(struct chan_status_entry), "same entries");

struct bare_ring {
	alignas(64) _Atomic uint64_t head; /* consumer position, published once per batch */
	alignas(64) struct bare_entry ring[CHAN_RING_SIZE];
};

struct ring_sender {
	struct ctl *ctl;
	struct chan_fds fds;	/* figure: the channel */
	struct bare_ring *bare; /* floor */
	uint64_t n;
	uint64_t limit_ns;
};

static void agent_page_unmapp(const struct chan_agent_page **p)
{
	if (*p && *p != MAP_FAILED)
		(void) munmap((void *) *p, sizeof(**p));
}

/*
 * Waits until ring position pos is free, re-reading the consumer's head
 * only when the ring looks full.  -ECANCELED: the parent said stop.
 */
static int ring_wait_space(struct ctl *ctl, const _Atomic uint64_t *head_p, uint64_t pos,
			   uint64_t *head, uint64_t deadline)
{
	struct spinner s = {};

	while (pos - *head >= CHAN_RING_SIZE) {
		/* Pairs with the consumer's release store of head. */
		*head = atomic_load_explicit(head_p, memory_order_acquire);
		if (pos - *head < CHAN_RING_SIZE)
			break;
		if (atomic_load_explicit(&ctl->stop, memory_order_relaxed))
			return -ECANCELED;
		if (now() >= deadline)
			return -ETIMEDOUT;
		spin(&s);
	}
	return 0;
}

static void sender_finish(struct ctl *ctl, uint64_t count, uint64_t coalesced)
{
	atomic_store_explicit(&ctl->count, count, memory_order_relaxed);
	atomic_store_explicit(&ctl->coalesced, coalesced, memory_order_relaxed);
	atomic_store_explicit(&ctl->done, 1, memory_order_release);
}

/*
 * The monitor: chan_monitor_post() in a loop, but only into free ring
 * space (it waits for the agent's head), so every entry goes through the
 * ring; a post that lands in a register anyway is counted as coalesced.
 */
static int ring_monitor_run(void *arg)
{
	struct ring_sender *rs = arg;
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = NULL;
	_cleanup_(agent_page_unmapp) const struct chan_agent_page *page = NULL;
	struct chan_status_body body = {.type = CHAN_ST_FAILURE};
	uint64_t deadline = now() + rs->limit_ns, head = 0, ringed = 0, coalesced = 0;
	int r;

	r = chan_monitor_attach(&rs->fds, &m);
	if (r < 0)
		return r;
	page = mmap(NULL, sizeof(*page), PROT_READ, MAP_SHARED, rs->fds.agent, 0);
	if (page == MAP_FAILED)
		return -errno;
	atomic_store_explicit(&rs->ctl->ready, 1, memory_order_release);
	r = wait_flag(&rs->ctl->go, deadline);
	for (uint64_t i = 0; r >= 0 && i < rs->n; i++) {
		r = ring_wait_space(rs->ctl, &page->head, ringed, &head, deadline);
		if (r < 0)
			break;
		body.code = (int32_t) i;
		r = chan_monitor_post(m, &body);
		if (r == 1)
			coalesced++;
		else if (r == 0)
			ringed++;
	}
	sender_finish(rs->ctl, ringed, coalesced);
	return r < 0 && r != -ECANCELED ? r : 0;
}

static int bare_producer_run(void *arg)
{
	struct ring_sender *rs = arg;
	struct bare_ring *q = rs->bare;
	uint64_t deadline = now() + rs->limit_ns, head = 0, pos;
	uint8_t body[56] = {};
	int r;

	atomic_store_explicit(&rs->ctl->ready, 1, memory_order_release);
	r = wait_flag(&rs->ctl->go, deadline);
	for (pos = 0; r >= 0 && pos < rs->n; pos++) {
		struct bare_entry *e = &q->ring[pos & (CHAN_RING_SIZE - 1)];

		r = ring_wait_space(rs->ctl, &q->head, pos, &head, deadline);
		if (r < 0)
			break;
		memcpy(body, &pos, sizeof(pos));
		memcpy(e->body, body, sizeof(body));
		/* Pairs with the consumer's acquire load of seq. */
		atomic_store_explicit(&e->seq, pos + 1, memory_order_release);
	}
	sender_finish(rs->ctl, pos, 0);
	return r < 0 && r != -ECANCELED ? r : 0;
}

/* Entries the agent took off the ring, accepted or not. */
static uint64_t ring_consumed(const struct chan_agent_stats *st)
{
	uint64_t n = st->accepted - st->coalesced;

	for (unsigned k = 0; k < _CHAN_REJ_MAX; k++)
		n += st->rejected[k];
	return n;
}

/* Drains until all sent entries are consumed (or the deadline); entries consumed. */
static uint64_t ring_agent_consume(struct chan_agent *a, struct ctl *ctl, uint64_t n,
				   uint64_t deadline)
{
	struct chan_status_body buf[DRAIN_BUDGET];
	struct chan_agent_stats st;
	struct spinner s = {};
	uint64_t consumed = 0, before;
	bool done;
	size_t got;

	while (consumed < n) {
		done = atomic_load_explicit(&ctl->done, memory_order_acquire);
		before = consumed;
		(void) chan_agent_drain(a, buf, DRAIN_BUDGET, &got);
		keep(buf);
		chan_agent_get_stats(a, &st);
		consumed = ring_consumed(&st);
		if (consumed != before)
			continue;
		if (done || now() >= deadline)
			break;
		spin(&s);
	}
	return consumed;
}

static uint64_t bare_consume(struct bare_ring *q, struct ctl *ctl, uint64_t n, uint64_t deadline)
{
	struct bare_entry buf[DRAIN_BUDGET];
	struct spinner s = {};
	uint64_t head = 0;
	unsigned k;
	bool done;

	while (head < n) {
		done = atomic_load_explicit(&ctl->done, memory_order_acquire);
		for (k = 0; k < DRAIN_BUDGET; k++) {
			const struct bare_entry *e = &q->ring[head & (CHAN_RING_SIZE - 1)];

			/* Pairs with the producer's release store of seq. */
			if (atomic_load_explicit(&e->seq, memory_order_acquire) != head + 1)
				break;
			memcpy(&buf[k], (const void *) e, sizeof(buf[k]));
			head++;
		}
		keep(buf);
		/* Pairs with the producer's acquire load of head (ring space). */
		atomic_store_explicit(&q->head, head, memory_order_release);
		if (k > 0)
			continue;
		if (done || now() >= deadline)
			break;
		spin(&s);
	}
	return head;
}

struct ring_result {
	double mps; /* entries per second through the ring, millions */
	uint64_t sent, coalesced;
	uint64_t rejected[_CHAN_REJ_MAX];
};

/* Starts the sender, times the consumer; the consumer is ours, the sender a child. */
static int ring_run(struct ring_sender *rs, struct chan_agent *a, struct ring_result *ret)
{
	_cleanup_(child_killp) pid_t pid = 0;
	uint64_t t0, t1, consumed;
	struct chan_agent_stats st;
	int r, k;

	*ret = (struct ring_result){};
	r = child_spawn(a ? ring_monitor_run : bare_producer_run, rs, &pid);
	if (r < 0)
		return r;
	r = wait_flag(&rs->ctl->ready, now() + SETUP_LIMIT_NS);
	if (r < 0)
		return r;
	t0 = now();
	atomic_store_explicit(&rs->ctl->go, 1, memory_order_release);
	consumed = a ? ring_agent_consume(a, rs->ctl, rs->n, t0 + rs->limit_ns)
		     : bare_consume(rs->bare, rs->ctl, rs->n, t0 + rs->limit_ns);
	t1 = now();
	atomic_store_explicit(&rs->ctl->stop, 1, memory_order_relaxed);
	k = child_reap(&pid, REAP_LIMIT_NS);
	if (k < 0)
		return k;
	if (consumed == 0)
		return -ETIMEDOUT;
	ret->mps = (double) consumed * 1e3 / (double) (t1 - t0);
	ret->sent = atomic_load_explicit(&rs->ctl->count, memory_order_relaxed);
	ret->coalesced = atomic_load_explicit(&rs->ctl->coalesced, memory_order_relaxed);
	if (a) {
		chan_agent_get_stats(a, &st);
		memcpy(ret->rejected, st.rejected, sizeof(ret->rejected));
	}
	return 0;
}

static int ring_run_channel(const struct budget *bud, struct ring_result *ret)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = NULL;
	_cleanup_(ctl_unmapp) struct ctl *ctl = NULL;
	struct ring_sender rs;
	int r;

	r = ctl_new(&ctl);
	if (r < 0)
		return r;
	r = chan_agent_new(1, 1, &a);
	if (r < 0)
		return r;
	rs = (struct ring_sender){.ctl = ctl,
				  .n = bud->ring_entries,
				  .limit_ns = bud->ring_limit_ns + SETUP_LIMIT_NS};
	chan_agent_fds(a, &rs.fds);
	return ring_run(&rs, a, ret);
}

static int ring_run_bare(const struct budget *bud, struct ring_result *ret)
{
	_cleanup_(ctl_unmapp) struct ctl *ctl = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct ring_sender rs;
	void *map;
	int r;

	r = ctl_new(&ctl);
	if (r < 0)
		return r;
	r = memfd_new_sealed("hagent-bench-ring", sizeof(struct bare_ring),
			     sizeof(struct bare_ring), false, &map);
	if (r < 0)
		return r;
	fd = r;
	rs = (struct ring_sender){.ctl = ctl,
				  .bare = map,
				  .n = bud->ring_entries,
				  .limit_ns = bud->ring_limit_ns + SETUP_LIMIT_NS};
	r = ring_run(&rs, NULL, ret);
	(void) munmap(map, sizeof(struct bare_ring));
	return r;
}

/* "bad-timestamp 3, torn 1" or "none". */
static void format_rejects(char *buf, size_t size, const uint64_t rejected[_CHAN_REJ_MAX])
{
	size_t len = 0;

	(void) snprintf(buf, size, "none");
	for (unsigned k = 0; k < _CHAN_REJ_MAX && len < size; k++)
		if (rejected[k] > 0)
			len += (size_t) snprintf(buf + len, size - len, "%s%s %llu",
						 len > 0 ? ", " : "", chan_reject_to_string(k),
						 (unsigned long long) rejected[k]);
}

static int bench_ring(const struct budget *bud, struct report *rep)
{
	uint64_t sent = 0, coalesced = 0, rejected = 0, by_reason[_CHAN_REJ_MAX] = {};
	struct series value = {}, floor = {};
	struct ring_result res;
	char reasons[128];
	int r;

	fprintf(stderr, "status ring...\n");
	for (unsigned run = 0; run < bud->runs; run++)
		for (unsigned pass = 0; pass < 2; pass++) {
			bool bare = (pass == 0) == (run % 2 == 0);

			r = bare ? ring_run_bare(bud, &res) : ring_run_channel(bud, &res);
			if (r < 0)
				return r;
			series_add(bare ? &floor : &value, res.mps);
			if (bare)
				continue;
			sent += res.sent;
			coalesced += res.coalesced;
			for (unsigned k = 0; k < _CHAN_REJ_MAX; k++) {
				by_reason[k] += res.rejected[k];
				rejected += res.rejected[k];
			}
		}
	report_series(rep, "status ring throughput, 2 processes", UNIT_MPS, &value, &floor,
		      "≥ 1 M/s");
	report_row(rep, "  posts coalesced into a register", UNIT_COUNT, (double) coalesced, NAN,
		   "0 (sender waits for space)");
	report_row(rep, "  ring entries rejected by the agent", UNIT_COUNT, (double) rejected, NAN,
		   "0");
	format_rejects(reasons, sizeof(reasons), by_reason);
	report_note(rep,
		    "row 5: %llu entries through the ring in %u runs (ring %u × 64 B, agent "
		    "drains ≤ %u per call); rejected by the agent: %s",
		    (unsigned long long) sent, bud->runs, CHAN_RING_SIZE, DRAIN_BUDGET, reasons);
	return 0;
}

/* ---- row 6: wake-up latency ---- */

struct wake_sender {
	struct ctl *ctl;
	struct chan_fds fds; /* figure: the channel */
	int efd;	     /* floor: a bare eventfd */
	unsigned n;
	uint64_t limit_ns;
	uint64_t seed;
};

/* Whether a wake-up sender goes on: not told to stop, not past its deadline. */
static bool sender_goes_on(struct ctl *ctl, uint64_t deadline)
{
	return !atomic_load_explicit(&ctl->stop, memory_order_relaxed) && now() < deadline;
}

/* 50-500 µs, so that the receiver is asleep when the next one comes. */
static void wake_pause(uint64_t *rng)
{
	uint64_t span = WAKE_SLEEP_MAX_US - WAKE_SLEEP_MIN_US + 1;

	sleep_ns((WAKE_SLEEP_MIN_US + rng_next(rng) % span) * NSEC_PER_USEC);
}

static int wake_monitor_run(void *arg)
{
	struct wake_sender *ws = arg;
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = NULL;
	struct chan_status_body body = {.type = CHAN_ST_FAILURE};
	uint64_t deadline = now() + ws->limit_ns, rng = ws->seed;
	unsigned i;
	int r;

	r = chan_monitor_attach(&ws->fds, &m);
	if (r < 0)
		return r;
	atomic_store_explicit(&ws->ctl->ready, 1, memory_order_release);
	for (i = 0; r >= 0 && i < ws->n && sender_goes_on(ws->ctl, deadline); i++) {
		wake_pause(&rng);
		body.code = (int32_t) i;
		r = chan_monitor_post(m, &body); /* stamps mono_ns, rings if the agent sleeps */
	}
	sender_finish(ws->ctl, i, 0);
	return r < 0 ? r : 0;
}

static int wake_bare_run(void *arg)
{
	struct wake_sender *ws = arg;
	uint64_t deadline = now() + ws->limit_ns, rng = ws->seed, one = 1;
	unsigned i;
	int r = 0;

	atomic_store_explicit(&ws->ctl->ready, 1, memory_order_release);
	for (i = 0; i < ws->n && sender_goes_on(ws->ctl, deadline); i++) {
		wake_pause(&rng);
		/* Pairs with the receiver's acquire load after its wake-up. */
		atomic_store_explicit(&ws->ctl->stamp_ns, now(), memory_order_release);
		if (write(ws->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
			r = -errno;
			break;
		}
	}
	sender_finish(ws->ctl, i, 0);
	return r;
}

struct samples {
	double *v; /* µs */
	unsigned n, cap;
	unsigned awake; /* entries found without sleeping: not wake-ups */
};

static void samples_add(struct samples *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->v[s->n++] = (double) ns / 1000.0;
}

/* The agent's loop: drain, arm, sleep in epoll, drain; latency = now - mono_ns. */
static int wake_agent_collect(struct chan_agent *a, int ep, struct ctl *ctl, uint64_t deadline,
			      struct samples *out)
{
	struct chan_status_body buf[DRAIN_BUDGET];
	struct epoll_event ev;
	uint64_t t;
	size_t got;
	bool done;
	int k;

	while (out->n + out->awake < out->cap && now() < deadline) {
		done = atomic_load_explicit(&ctl->done, memory_order_acquire);
		(void) chan_agent_drain(a, buf, DRAIN_BUDGET, &got);
		out->awake += (unsigned) got;
		if (got == 0 && done)
			break;
		if (got > 0 || chan_agent_prepare_sleep(a) > 0)
			continue;
		k = epoll_wait(ep, &ev, 1, WAKE_POLL_MS);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			continue;
		chan_agent_woken(a);
		(void) chan_agent_drain(a, buf, DRAIN_BUDGET, &got);
		t = now();
		for (size_t i = 0; i < got; i++)
			samples_add(out, t - buf[i].mono_ns);
	}
	return 0;
}

/* The floor's loop: sleep in epoll on a bare eventfd; latency = now - the sender's stamp. */
static int wake_bare_collect(int efd, int ep, struct ctl *ctl, uint64_t deadline,
			     struct samples *out)
{
	struct epoll_event ev;
	uint64_t v;
	bool done;
	int k;

	while (out->n < out->cap && now() < deadline) {
		done = atomic_load_explicit(&ctl->done, memory_order_acquire);
		k = epoll_wait(ep, &ev, 1, WAKE_POLL_MS);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0) {
			if (done)
				break;
			continue;
		}
		if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		samples_add(out,
			    now() - atomic_load_explicit(&ctl->stamp_ns, memory_order_acquire));
	}
	return 0;
}

static int epoll_for(int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -errno;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		(void) safe_close(ep);
		return r;
	}
	return ep;
}

/* One run of the figure (a != NULL) or of the floor (efd). */
static int wake_run(struct wake_sender *ws, struct chan_agent *a, struct samples *out)
{
	_cleanup_(child_killp) pid_t pid = 0;
	_cleanup_close_ int ep = -EBADF;
	uint64_t deadline;
	int r, k;

	ep = epoll_for(a ? chan_agent_bell_fd(a) : ws->efd);
	if (ep < 0)
		return ep;
	r = child_spawn(a ? wake_monitor_run : wake_bare_run, ws, &pid);
	if (r < 0)
		return r;
	r = wait_flag(&ws->ctl->ready, now() + SETUP_LIMIT_NS);
	deadline = now() + ws->limit_ns;
	if (r >= 0)
		r = a ? wake_agent_collect(a, ep, ws->ctl, deadline, out)
		      : wake_bare_collect(ws->efd, ep, ws->ctl, deadline, out);
	atomic_store_explicit(&ws->ctl->stop, 1, memory_order_release);
	k = child_reap(&pid, REAP_LIMIT_NS);
	return r < 0 ? r : k;
}

static int wake_run_one(bool bare, uint64_t seed, struct samples *out)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = NULL;
	_cleanup_(ctl_unmapp) struct ctl *ctl = NULL;
	_cleanup_close_ int efd = -EBADF;
	struct wake_sender ws;
	int r;

	r = ctl_new(&ctl);
	if (r < 0)
		return r;
	if (bare) {
		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0)
			return -errno;
	} else {
		r = chan_agent_new(1, 1, &a);
		if (r < 0)
			return r;
	}
	ws = (struct wake_sender){
		.ctl = ctl,
		.efd = efd,
		.n = out->cap,
		.limit_ns = out->cap * (WAKE_SLEEP_MAX_US + 500) * NSEC_PER_USEC + SETUP_LIMIT_NS,
		.seed = seed,
	};
	if (a)
		chan_agent_fds(a, &ws.fds);
	out->n = out->awake = 0;
	return wake_run(&ws, a, out);
}

struct wake_series {
	struct series p50, p99;
	unsigned samples, awake;
};

static int wake_record(struct wake_series *ws, struct samples *s)
{
	if (s->n == 0)
		return -ENODATA;
	series_add(&ws->p50, percentile(s->v, s->n, 50.0));
	series_add(&ws->p99, percentile(s->v, s->n, 99.0));
	ws->samples += s->n;
	ws->awake += s->awake;
	return 0;
}

static int bench_wake(const struct budget *bud, struct report *rep)
{
	_cleanup_free_ double *v = NULL;
	struct wake_series fig = {}, flo = {};
	struct samples s;
	int r;

	fprintf(stderr, "wake-up latency...\n");
	v = calloc(bud->wake_samples, sizeof(double));
	if (!v)
		return -ENOMEM;
	s = (struct samples){.v = v, .cap = bud->wake_samples};
	for (unsigned run = 0; run < bud->runs; run++)
		for (unsigned pass = 0; pass < 2; pass++) {
			bool bare = (pass == 0) == (run % 2 == 0);

			r = wake_run_one(bare, UINT64_C(0xa4093822299f31d0) + run, &s);
			if (r < 0)
				return r;
			r = wake_record(bare ? &flo : &fig, &s);
			if (r < 0)
				return r;
		}
	report_series(rep, "wake-up monitor→agent asleep, p50", UNIT_US, &fig.p50, &flo.p50,
		      "≤ 1.5× floor");
	report_series(rep, "wake-up monitor→agent asleep, p99", UNIT_US, &fig.p99, &flo.p99,
		      "≤ 1.5× floor");
	report_note(rep,
		    "row 6: %u + %u wake-ups (figure + floor) after random 50-500 µs pauses; "
		    "not counted, entries that arrived before the agent slept: %u",
		    fig.samples, flo.samples, fig.awake);
	return 0;
}

/* ---- main ---- */

static void fclosep(FILE **f)
{
	if (*f)
		(void) fclose(*f);
}

static void cpu_model(char *buf, size_t size)
{
	_cleanup_(fclosep) FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];
	char *p;

	(void) snprintf(buf, size, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) != 0 || !(p = strchr(line, ':')))
			continue;
		p += strspn(p + 1, " \t") + 1;
		p[strcspn(p, "\n")] = '\0';
		(void) snprintf(buf, size, "%s", p);
		return;
	}
}

static void load_average(char *buf, size_t size)
{
	_cleanup_(fclosep) FILE *f = fopen("/proc/loadavg", "re");

	(void) snprintf(buf, size, "unknown");
	if (f && fgets(buf, (int) size, f))
		buf[strcspn(buf, "\n")] = '\0';
}

static void print_header(const struct budget *bud)
{
	char date[64] = "unknown", cpu[128], load[128];
	struct utsname u = {};
	time_t t = time(NULL);
	struct tm tm;

	if (localtime_r(&t, &tm))
		(void) strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", &tm);
	if (uname(&u) < 0)
		(void) snprintf(u.release, sizeof(u.release), "unknown");
	cpu_model(cpu, sizeof(cpu));
	load_average(load, sizeof(load));

	printf("hagent-bench: shared-memory layer against floors measured in the same run\n");
	printf("date     %s\n", date);
	printf("kernel   %s\n", u.release);
	printf("cpu      %s\n", cpu);
	printf("nproc    %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("loadavg  %s\n", load);
	printf("runs     %u (%s); median over runs, ratio = median / floor\n", bud->runs,
	       arg_quick ? "quick" : "full");
}

static void help(void)
{
	printf("Usage: hagent-bench [OPTIONS]\n\n"
	       "Measures hagent's shared-memory layer against floors taken in the same run.\n\n"
	       "  -h --help      Show this help\n"
	       "  -q --quick     Short run (smoke test, a few seconds)\n"
	       "  -r --runs N    Runs per figure, 1-%u (default 5, quick 3)\n",
	       MAX_RUNS);
}

int main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*run)(const struct budget *bud, struct report *rep);
	} parts[] = {
		{"readers", bench_readers},
		{"writer", bench_writer},
		{"status ring", bench_ring},
		{"wake-up", bench_wake},
	};
	struct report rep = {};
	struct budget bud;
	int r;

	r = bench_parse_argv(argc, argv, MAX_RUNS, help, &arg_quick, &arg_runs);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	budget_init(&bud);
	print_header(&bud);

	for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
		r = parts[i].run(&bud, &rep);
		if (r < 0) {
			fprintf(stderr, "hagent-bench: %s failed: %s\n", parts[i].name,
				hagent_shm_strerror(r));
			return EXIT_FAILURE;
		}
	}
	report_print(&rep);
	return EXIT_SUCCESS;
}
