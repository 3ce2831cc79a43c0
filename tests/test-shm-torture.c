/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Multi-process torture of the state segment (docs/shm.md §5.2, §5.7 items
 * 2, 3 and 6).  The test process is the writer; readers are forked children
 * that map the segment read-only (they drop the writer mapping they inherit)
 * and report through a shared anonymous mapping.  Every loop is bounded by
 * a count and by time, every child is reaped, and a child dies with the test
 * process (PR_SET_PDEATHSIG).  Nothing asserts on speed: the benchmarks
 * measure rates, these tests prove that the invariants hold and that no
 * reader, stopped or killed, can hold the writer back or make it grow.
 */
#include <check.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-publish.h"
#include "shm-reader-internal.h"
#include "shm-writer.h"
#include "test-util.h"
#include "time-util.h"

#define MAX_GROUPS   2
#define MAX_MEMBERS  16
#define N_READERS    3
#define READ_TIME_NS (1500 * NSEC_PER_MSEC) /* per reader, per invariant run */
#define READS_MAX    UINT64_C(5000000)
#define TABLE_EVERY  32 /* every 32nd read of a torture reader is a whole table */
#define SMALL_TXNS   1000000

/* ================================ writer side ================================ */

/* The writer's objects: every transaction writes the same counter into all of them. */
struct layout {
	struct shm_writer *w;
	uint32_t n_groups, n_members;
	bool props; /* republish a properties blob "seq=N" with every group version */
	uint32_t grp[MAX_GROUPS];
	uint32_t res[MAX_GROUPS][MAX_MEMBERS];
	struct shm_blob_ref members[MAX_GROUPS]; /* the creator's reference, held throughout */
	struct shm_object gobj[MAX_GROUPS];
	struct shm_object robj[MAX_GROUPS][MAX_MEMBERS];
	uint32_t seq; /* counter of the last committed transaction */
};

static void layout_init(struct layout *l, uint32_t n_groups, uint32_t n_members, bool props,
			uint32_t heap_chunks)
{
	struct shm_params p = {
		.max_resources = 64,
		.max_groups = 8,
		.blob_bytes = heap_chunks * SHM_BLOB_CHUNK,
		.event_capacity = 64,
	};
	uint32_t slots[MAX_MEMBERS];

	ck_assert_uint_le(n_groups, MAX_GROUPS);
	ck_assert_uint_le(n_members, MAX_MEMBERS);
	*l = (struct layout){.n_groups = n_groups, .n_members = n_members, .props = props};
	ck_assert_int_eq(shm_writer_new(&p, &l->w), 0);
	for (uint32_t g = 0; g < n_groups; g++) {
		struct shm_object *go = &l->gobj[g];

		l->grp[g] = shm_writer_group_slot(l->w, g);
		for (uint32_t m = 0; m < n_members; m++) {
			struct shm_object *ro = &l->robj[g][m];

			/* Members in reverse slot order: order must come from the blob. */
			l->res[g][m] =
				shm_writer_resource_slot(l->w, g * n_members + (n_members - 1 - m));
			slots[m] = l->res[g][m];
			*ro = (struct shm_object){.kind = SHM_KIND_RESOURCE};
			snprintf(ro->name, sizeof(ro->name), "res-%u-%u", g, m);
			ro->id[0] = (uint8_t) g;
			ro->id[1] = (uint8_t) m;
			ro->u.res.state = HAGENT_RESOURCE_ONLINE;
			ro->u.res.group_slot = l->grp[g];
		}
		ck_assert_int_eq(shm_writer_blob_new(l->w, slots, n_members * sizeof(uint32_t),
						     &l->members[g]),
				 0);
		*go = (struct shm_object){.kind = SHM_KIND_GROUP};
		snprintf(go->name, sizeof(go->name), "grp-%u", g);
		go->id[0] = 0x80 | (uint8_t) g;
		go->u.grp.state = HAGENT_GROUP_ONLINE;
		go->u.grp.n_members = n_members;
		go->u.grp.members = l->members[g];
	}
}

static void layout_done(struct layout *l)
{
	for (uint32_t g = 0; g < l->n_groups; g++)
		shm_writer_blob_unref(l->w, &l->members[g]);
	l->w = shm_writer_free(l->w);
}

/* One group version; with props, a fresh properties blob that only this version holds. */
static int put_group(struct layout *l, uint32_t g, uint32_t seq)
{
	struct shm_object *go = &l->gobj[g];
	struct shm_blob_ref props = {};
	char text[32];
	int r, len;

	go->u.grp.state_seq = seq;
	go->u.grp.failover_count = seq;
	if (l->props) {
		len = snprintf(text, sizeof(text), "seq=%" PRIu32, seq);
		r = shm_writer_blob_new(l->w, text, (uint32_t) len + 1, &props);
		if (r < 0)
			return r;
	}
	go->u.grp.properties = props;
	r = shm_writer_put(l->w, l->grp[g], go);
	shm_writer_blob_unref(l->w, &props);
	return r;
}

/* One transaction: the same new counter into every group and member. */
static int layout_txn(struct layout *l)
{
	uint64_t T;
	uint32_t seq;
	int r;

	r = shm_writer_begin(l->w, &T);
	if (r < 0)
		return r;
	seq = (uint32_t) T;
	for (uint32_t g = 0; g < l->n_groups; g++) {
		r = put_group(l, g, seq);
		if (r < 0)
			return r;
		for (uint32_t m = 0; m < l->n_members; m++) {
			struct shm_object *ro = &l->robj[g][m];

			ro->u.res.state_seq = seq;
			ro->u.res.checkpoint = seq;
			r = shm_writer_put(l->w, l->res[g][m], ro);
			if (r < 0)
				return r;
		}
	}
	r = shm_writer_commit(l->w);
	if (r == 0)
		l->seq = seq;
	return r;
}

/* ================================ reader side ================================ */

struct reader_result {
	uint64_t group_reads; /* consistent reads of one group with its members */
	uint64_t table_reads; /* consistent reads of the whole table */
	uint64_t violations;  /* a "consistent" read that breaks the invariant */
	uint64_t regressions; /* a read older than one this reader already returned */
	uint64_t busy;	      /* -EBUSY: gave up after its bounded restarts */
	uint64_t errors;      /* any other error */
	int first_error;
	uint64_t blob_reads;	/* properties read back, matching their version */
	uint64_t blob_stale;	/* -ESTALE: the version's blob is gone (allowed) */
	uint64_t blob_mismatch; /* properties that belong to another version */
	uint64_t restarts;
	uint32_t last_seq; /* newest counter seen */
	int done;	   /* 1: finished its loop and wrote everything */
};

struct shared {
	_Atomic uint32_t stop;
	_Atomic uint64_t progress[N_READERS]; /* loop iterations so far */
	struct reader_result res[N_READERS];
};

static void note_error(struct reader_result *res, int r)
{
	if (r == -EBUSY) {
		res->busy++;
		return;
	}
	if (res->errors++ == 0)
		res->first_error = r;
}

static void note_seq(struct reader_result *res, uint32_t seq)
{
	if (seq < res->last_seq)
		res->regressions++;
	else
		res->last_seq = seq;
}

/* The invariant for one group read: every member carries the group's counter, in order. */
static void check_group(hagent_shm *s, const struct layout *l, uint32_t g,
			struct reader_result *res)
{
	struct hagent_resource m[MAX_MEMBERS];
	struct hagent_group grp;
	bool ok;
	size_t n;
	int r;

	r = hagent_shm_read_group(s, l->grp[g], &grp, m, MAX_MEMBERS, &n);
	if (r < 0) {
		note_error(res, r);
		return;
	}
	res->group_reads++;
	ok = n == l->n_members && grp.failover_count == grp.state_seq;
	for (size_t i = 0; ok && i < n; i++)
		ok = m[i].slot == l->res[g][i] && m[i].state_seq == grp.state_seq &&
		     m[i].checkpoint == grp.state_seq && m[i].group_slot == grp.slot;
	if (!ok)
		res->violations++;
	note_seq(res, grp.state_seq);

	if (l->props && grp.properties.blob_id != 0) {
		char buf[32], want[32];
		size_t len;

		r = hagent_shm_read_blob(s, &grp.properties, buf, sizeof(buf), &len);
		if (r == -ESTALE) {
			res->blob_stale++;
		} else if (r < 0) {
			note_error(res, r);
		} else {
			snprintf(want, sizeof(want), "seq=%" PRIu32, grp.state_seq);
			if (len != strlen(want) + 1 || memcmp(buf, want, len) != 0)
				res->blob_mismatch++;
			else
				res->blob_reads++;
		}
	}
}

/* The invariant for a table read: all objects present, all with one counter. */
static void check_table(hagent_shm *s, const struct layout *l, struct reader_result *res)
{
	struct hagent_shm_table *t = NULL;
	uint32_t seq;
	bool ok;
	int r;

	r = hagent_shm_read_table(s, &t);
	if (r < 0) {
		note_error(res, r);
		return;
	}
	res->table_reads++;
	ok = t->n_groups == l->n_groups && t->n_resources == l->n_groups * l->n_members;
	seq = t->n_groups > 0 ? t->groups[0].state_seq : 0;
	for (size_t i = 0; ok && i < t->n_groups; i++)
		ok = t->groups[i].state_seq == seq && t->groups[i].txn <= t->txn;
	for (size_t i = 0; ok && i < t->n_resources; i++)
		ok = t->resources[i].state_seq == seq && t->resources[i].checkpoint == seq &&
		     t->resources[i].txn <= t->txn;
	if (!ok)
		res->violations++;
	note_seq(res, seq);
	hagent_shm_table_free(t);
}

/*
 * A reader child: maps the segment read-only, drops the writer mapping it
 * inherited, and reads until told to stop, max_reads is reached or time_ns
 * has passed.  Never returns.
 */
static _Noreturn void reader_main(struct layout *l, struct shared *sh, unsigned idx, unsigned debug,
				  uint64_t max_reads, uint64_t time_ns)
{
	struct reader_result *res = &sh->res[idx];
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + time_ns;
	struct hagent_shm_stats st;
	hagent_shm *s = NULL;
	int r;

	r = hagent_shm_open_fd(shm_writer_fd(l->w), &s);
	l->w = shm_writer_free(l->w); /* our copy only: unmaps it and closes the fd here */
	if (r < 0) {
		note_error(res, r);
		__atomic_store_n(&res->done, 1, __ATOMIC_RELEASE);
		_exit(1);
	}
	shm_reader_set_debug(s, debug);
	for (uint64_t i = 0; i < max_reads; i++) {
		if (i % TABLE_EVERY == TABLE_EVERY - 1)
			check_table(s, l, res);
		else
			check_group(s, l, (uint32_t) (i % l->n_groups), res);
		atomic_store_explicit(&sh->progress[idx], i + 1, memory_order_relaxed);
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		if (i % 128 == 0 && now_ns(CLOCK_MONOTONIC) > deadline)
			break;
	}
	(void) hagent_shm_get_stats(s, &st);
	res->restarts = st.restarts;
	hagent_shm_unref(s);
	__atomic_store_n(&res->done, 1, __ATOMIC_RELEASE); /* results above are complete */
	_exit(0);
}

static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Never outlive the test process, even when an assertion ends it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(2);
	}
	return pid;
}

static pid_t spawn_reader(struct layout *l, struct shared *sh, unsigned idx, unsigned debug,
			  uint64_t max_reads, uint64_t time_ns)
{
	pid_t pid = fork_child();

	if (pid == 0)
		reader_main(l, sh, idx, debug, max_reads, time_ns);
	return pid;
}

static void reap(pid_t pid, int expect_exit)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == expect_exit,
		      "child %d: status 0x%x", (int) pid, status);
}

static bool readers_done(const struct shared *sh, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!__atomic_load_n(&sh->res[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* Writes transactions until the first n readers have finished (bounded by time). */
static uint64_t write_until_readers_done(struct layout *l, struct shared *sh, unsigned n,
					 uint64_t time_ns)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + time_ns, txns = 0;

	while (!readers_done(sh, n)) {
		ck_assert_int_eq(layout_txn(l), 0);
		if (++txns % 256 == 0 && now_ns(CLOCK_MONOTONIC) > deadline)
			break;
	}
	atomic_store(&sh->stop, 1);
	return txns;
}

/* Writes until reader idx has made min_progress more iterations (bounded by time). */
static uint64_t write_until_progress(struct layout *l, struct shared *sh, unsigned idx,
				     uint64_t min_progress, uint64_t time_ns)
{
	uint64_t start = atomic_load(&sh->progress[idx]);
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + time_ns, txns = 0;

	while (atomic_load(&sh->progress[idx]) - start < min_progress) {
		ck_assert_int_eq(layout_txn(l), 0);
		if (++txns % 64 == 0) {
			ck_assert_msg(now_ns(CLOCK_MONOTONIC) < deadline,
				      "reader %u made no progress", idx);
			usleep(100); /* let a reader on the same core run */
		}
	}
	return txns;
}

static void sum_results(const struct shared *sh, unsigned n, struct reader_result *ret)
{
	*ret = (struct reader_result){};
	for (unsigned i = 0; i < n; i++) {
		const struct reader_result *r = &sh->res[i];

		ret->group_reads += r->group_reads;
		ret->table_reads += r->table_reads;
		ret->violations += r->violations;
		ret->regressions += r->regressions;
		ret->busy += r->busy;
		ret->errors += r->errors;
		if (!ret->first_error)
			ret->first_error = r->first_error;
		ret->blob_reads += r->blob_reads;
		ret->blob_stale += r->blob_stale;
		ret->blob_mismatch += r->blob_mismatch;
		ret->restarts += r->restarts;
	}
}

/* Runs N_READERS readers with the given debug flags against a writer at full speed. */
static void invariant_run(unsigned debug, const char *label, struct reader_result *ret)
{
	struct shared *sh = shared_new(sizeof(*sh));
	struct layout l;
	pid_t pids[N_READERS];
	uint64_t t0, txns;

	layout_init(&l, MAX_GROUPS, MAX_MEMBERS, false, 256);
	ck_assert_int_eq(layout_txn(&l), 0);
	for (unsigned i = 0; i < N_READERS; i++)
		pids[i] = spawn_reader(&l, sh, i, debug, READS_MAX, READ_TIME_NS);
	t0 = now_ns(CLOCK_MONOTONIC);
	txns = write_until_readers_done(&l, sh, N_READERS, 4 * READ_TIME_NS);
	for (unsigned i = 0; i < N_READERS; i++)
		reap(pids[i], 0);
	sum_results(sh, N_READERS, ret);
	printf("%-18s %8" PRIu64 " txns (%u records each) in %.2f s; reads: %" PRIu64
	       " group + %" PRIu64 " table, violations %" PRIu64 ", regressions %" PRIu64
	       ", restarts %" PRIu64 ", -EBUSY %" PRIu64 ", errors %" PRIu64 " (first %d)\n",
	       label, txns, MAX_GROUPS * (MAX_MEMBERS + 1),
	       (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e9, ret->group_reads, ret->table_reads,
	       ret->violations, ret->regressions, ret->restarts, ret->busy, ret->errors,
	       ret->first_error);
	fflush(stdout);
	ck_assert_uint_gt(txns, 0);
	layout_done(&l);
	shared_free(sh, sizeof(*sh));
}

/* ============================== invariant tests ============================== */

/*
 * Claim (§5.2, §5.7.2): a reader never sees a mix of two transactions: in
 * every group read all 16 members carry the group's counter, in every table
 * read all 34 objects carry one counter, and a reader's counters never go
 * backwards, while the writer commits at full speed.
 */
START_TEST(test_invariant_holds)
{
	struct reader_result r;

	invariant_run(0, "validated", &r);
	ck_assert_uint_gt(r.group_reads, 0);
	ck_assert_uint_gt(r.table_reads, 0);
	ck_assert_uint_eq(r.violations, 0);
	ck_assert_uint_eq(r.regressions, 0);
	ck_assert_msg(r.errors == 0, "%" PRIu64 " errors, first %d", r.errors, r.first_error);
}
END_TEST

/*
 * Negative control: the same readers without the commit-stamp check must see
 * violations, or the test above proves nothing about that check.
 */
START_TEST(test_invariant_breaks_without_txn)
{
	struct reader_result r;

	invariant_run(SHM_DEBUG_NO_TXN, "NO_TXN", &r);
	ck_assert_uint_gt(r.group_reads + r.table_reads, 0);
	ck_assert_uint_gt(r.violations, 0);
}
END_TEST

/* Negative control: without the seqcount/generation check either, torn copies get through. */
START_TEST(test_invariant_breaks_without_seq)
{
	struct reader_result r;

	invariant_run(SHM_DEBUG_NO_SEQ | SHM_DEBUG_NO_TXN, "NO_SEQ|NO_TXN", &r);
	ck_assert_uint_gt(r.group_reads + r.table_reads, 0);
	ck_assert_uint_gt(r.violations, 0);
}
END_TEST

/* ============================ stopped and dead readers ============================ */

/*
 * Claim (§5.7.3): a reader SIGSTOPped in the middle of its loop holds
 * nothing: the writer completes 10^6 transactions that each republish a
 * blob, the blob heap stays flat (a small heap, so any pinning would run
 * out), and after SIGCONT the reader's reads are consistent again and reach
 * the newest state.
 */
START_TEST(test_sigstopped_reader)
{
	struct shared *sh = shared_new(sizeof(*sh));
	uint32_t used0, peak, chunks = 0;
	struct reader_result r;
	struct layout l;
	uint64_t t0, p0;
	int status;
	pid_t pid;

	/* One group of two members; a heap of 32 chunks (what 4 versions need, twice). */
	layout_init(&l, 1, 2, true, 32);
	for (unsigned k = 0; k < SHM_VERSIONS + 1; k++)
		ck_assert_int_eq(layout_txn(&l), 0);
	pid = spawn_reader(&l, sh, 0, 0, UINT64_MAX, 50 * NSEC_PER_SEC);
	write_until_progress(&l, sh, 0, 2000, 20 * NSEC_PER_SEC);

	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(status));
	p0 = atomic_load(&sh->progress[0]);

	used0 = peak = shm_writer_blob_chunks_used(l.w);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (uint32_t k = 0; k < SMALL_TXNS; k++) {
		ck_assert_int_eq(layout_txn(&l), 0);
		chunks = shm_writer_blob_chunks_used(l.w);
		if (chunks > peak)
			peak = chunks;
	}
	printf("stopped reader: %d txns in %.2f s, blob chunks %u before, %u after, peak %u\n",
	       SMALL_TXNS, (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e9, used0, chunks, peak);
	ck_assert_uint_eq(atomic_load(&sh->progress[0]), p0); /* it really was stopped */
	ck_assert_uint_eq(chunks, used0);
	ck_assert_uint_eq(peak, used0); /* after every single transaction */

	/* Resumed: it goes on reading while the writer goes on writing ... */
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	write_until_progress(&l, sh, 0, 2000, 20 * NSEC_PER_SEC);
	/* ... and once the writer is idle, it reaches the newest state. */
	p0 = atomic_load(&sh->progress[0]);
	for (unsigned k = 0; k < 2000 && atomic_load(&sh->progress[0]) - p0 < 100; k++)
		usleep(1000);
	atomic_store(&sh->stop, 1);
	reap(pid, 0);

	r = sh->res[0];
	printf("stopped reader: %" PRIu64 " reads, %" PRIu64 " blobs read, %" PRIu64
	       " stale, violations %" PRIu64 ", blob mismatches %" PRIu64 ", restarts %" PRIu64
	       ", last %u of %u\n",
	       r.group_reads + r.table_reads, r.blob_reads, r.blob_stale, r.violations,
	       r.blob_mismatch, r.restarts, r.last_seq, l.seq);
	ck_assert_uint_eq(r.violations, 0);
	ck_assert_uint_eq(r.regressions, 0);
	ck_assert_uint_eq(r.blob_mismatch, 0);
	ck_assert_msg(r.errors == 0, "%" PRIu64 " errors, first %d", r.errors, r.first_error);
	ck_assert_uint_gt(r.blob_reads, 0);
	ck_assert_uint_eq(r.last_seq, l.seq);
	layout_done(&l);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/*
 * Claim: a reader SIGKILLed in the middle of its loop (again and again)
 * leaves nothing behind: the writer completes its transactions, its heap
 * does not grow, and a new reader reads the newest state.
 */
START_TEST(test_killed_reader)
{
	struct shared *sh = shared_new(sizeof(*sh));
	struct hagent_resource m[MAX_MEMBERS];
	struct hagent_group g;
	hagent_shm *s = NULL;
	struct layout l;
	uint32_t used0;
	int status;
	size_t n;

	layout_init(&l, 1, 4, true, 32);
	for (unsigned k = 0; k < SHM_VERSIONS + 1; k++)
		ck_assert_int_eq(layout_txn(&l), 0);
	used0 = shm_writer_blob_chunks_used(l.w);
	for (unsigned round = 0; round < 5; round++) {
		pid_t pid;

		memset(sh, 0, sizeof(*sh));
		pid = spawn_reader(&l, sh, 0, 0, UINT64_MAX, 50 * NSEC_PER_SEC);
		write_until_progress(&l, sh, 0, 1000, 20 * NSEC_PER_SEC);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		ck_assert_uint_eq(sh->res[0].violations, 0);
		for (unsigned k = 0; k < 100000; k++)
			ck_assert_int_eq(layout_txn(&l), 0);
		ck_assert_uint_eq(shm_writer_blob_chunks_used(l.w), used0);
	}

	ck_assert_int_eq(hagent_shm_open_fd(shm_writer_fd(l.w), &s), 0);
	ck_assert_int_eq(hagent_shm_read_group(s, l.grp[0], &g, m, MAX_MEMBERS, &n), 0);
	ck_assert_uint_eq(g.state_seq, l.seq);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(m[i].state_seq, l.seq);
	hagent_shm_unref(s);
	layout_done(&l);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/* ================================ new segment ================================ */

struct follow_result {
	int r_first, r_second; /* hagent_shm_open() results */
	uint8_t inc_first[16], inc_second[16];
	int saw_superseded;
	int old_still_readable; /* the superseded mapping still reads its last state */
	char old_name[HAGENT_NAME_MAX], new_name[HAGENT_NAME_MAX];
	int done;
};

/* Connects like a real client: an agent that is starting may not listen yet. */
static int open_retry(const char *dir, hagent_shm **ret)
{
	int r = -ENOENT;

	for (unsigned i = 0; i < 1000; i++) {
		r = hagent_shm_open(dir, ret);
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		usleep(10000);
	}
	return r;
}

/* In the follower: attaches, notes the incarnation and resource 0's name; exit 1 on failure. */
static hagent_shm *follower_attach(const char *dir, int *ret_r, uint8_t inc[16],
				   char name[HAGENT_NAME_MAX])
{
	struct hagent_shm_info info;
	struct hagent_resource r;
	hagent_shm *s = NULL;

	*ret_r = open_retry(dir, &s);
	if (*ret_r < 0)
		_exit(1);
	(void) hagent_shm_get_info(s, &info);
	memcpy(inc, info.incarnation, sizeof(info.incarnation));
	if (hagent_shm_read_resource(s, 0, &r) == 0)
		memcpy(name, r.name, sizeof(r.name));
	return s;
}

static _Noreturn void follower_main(const char *dir, struct follow_result *res)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 30 * NSEC_PER_SEC;
	struct hagent_shm_info info;
	struct hagent_resource r;
	hagent_shm *s;

	s = follower_attach(dir, &res->r_first, res->inc_first, res->old_name);
	__atomic_store_n(&res->done, 1, __ATOMIC_RELEASE);

	/* What a client does: poll the superseded flag (e.g. on its heartbeat check). */
	while (hagent_shm_get_info(s, &info) == 0 && !info.superseded &&
	       now_ns(CLOCK_MONOTONIC) < deadline)
		usleep(1000);
	res->saw_superseded = info.superseded;
	res->old_still_readable =
		hagent_shm_read_resource(s, 0, &r) == 0 && strcmp(r.name, res->old_name) == 0;
	s = hagent_shm_unref(s);

	s = follower_attach(dir, &res->r_second, res->inc_second, res->new_name);
	hagent_shm_unref(s);
	__atomic_store_n(&res->done, 2, __ATOMIC_RELEASE);
	_exit(0);
}

static struct shm_writer *writer_with(const char *name)
{
	struct shm_params p = {.max_resources = 4, .max_groups = 1, .event_capacity = 4};
	struct shm_object o = {.kind = SHM_KIND_RESOURCE};
	struct shm_writer *w = NULL;

	snprintf(o.name, sizeof(o.name), "%s", name);
	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	ck_assert_int_eq(shm_writer_put(w, 0, &o), 0);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	return w;
}

static void serve_one(int lfd, int seg_fd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_eq(shm_socket_serve_one(lfd, seg_fd, NULL, NULL), 0);
}

/*
 * Claim (§5.1.6, §5.7.6): when the agent publishes a new segment (it grows:
 * new segment first, then "superseded" on the old one, whose writer then
 * goes away), a reader sees "superseded" on the old mapping, which stays
 * readable, and re-attaches through the socket to a segment with another
 * incarnation.
 */
START_TEST(test_reader_follows_new_segment)
{
	struct follow_result *res;
	struct shm_writer *w1, *w2;
	uint8_t inc1[16], inc2[16];
	char dir[64], path[128], cmd[128];
	int lfd;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/tmp/test-shm-torture-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, HAGENT_SHM_SOCKET);
	res = shared_new(sizeof(*res));

	/* Forked before any segment exists: the child only ever has what the socket gives it. */
	pid = fork_child();
	if (pid == 0)
		follower_main(dir, res);

	w1 = writer_with("first");
	memcpy(inc1, shm_writer_header(w1)->incarnation, sizeof(inc1));
	lfd = shm_socket_listen(path, 0600);
	ck_assert_int_ge(lfd, 0);
	serve_one(lfd, shm_writer_fd(w1));
	for (unsigned i = 0; i < 20000 && __atomic_load_n(&res->done, __ATOMIC_ACQUIRE) < 1; i++)
		usleep(1000);
	ck_assert_int_eq(__atomic_load_n(&res->done, __ATOMIC_ACQUIRE), 1);

	/* The new segment is ready before the old one says so; then the old writer goes away. */
	w2 = writer_with("second");
	memcpy(inc2, shm_writer_header(w2)->incarnation, sizeof(inc2));
	shm_writer_supersede(w1);
	w1 = shm_writer_free(w1);
	serve_one(lfd, shm_writer_fd(w2));
	reap(pid, 0);

	ck_assert_int_eq(res->done, 2);
	ck_assert_int_eq(res->r_first, 0);
	ck_assert_int_eq(res->r_second, 0);
	ck_assert_mem_eq(res->inc_first, inc1, sizeof(inc1));
	ck_assert_mem_eq(res->inc_second, inc2, sizeof(inc2));
	ck_assert_mem_ne(inc1, inc2, sizeof(inc1));
	ck_assert(res->saw_superseded);
	ck_assert(res->old_still_readable);
	ck_assert_str_eq(res->old_name, "first");
	ck_assert_str_eq(res->new_name, "second");

	safe_close(lfd);
	shm_writer_free(w2);
	shared_free(res, sizeof(*res));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void) !system(cmd); /* best effort: the directory only holds our socket */
}
END_TEST

static Suite *shm_torture_suite(void)
{
	Suite *su = suite_create("shm-torture");
	TCase *tc;

	tc = tcase_create("invariant");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_invariant_holds);
	tcase_add_test(tc, test_invariant_breaks_without_txn);
	tcase_add_test(tc, test_invariant_breaks_without_seq);
	suite_add_tcase(su, tc);

	tc = tcase_create("reader-faults");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sigstopped_reader);
	tcase_add_test(tc, test_killed_reader);
	suite_add_tcase(su, tc);

	tc = tcase_create("new-segment");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reader_follows_new_segment);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return test_run_suite(shm_torture_suite());
}
