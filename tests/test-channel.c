/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Single-process tests of the monitor channel (shm/channel-agent.c and
 * shm/channel-monitor.c): both ends live in this process, and a read-write
 * mapping of the producer page plays a dying or hostile monitor one store at
 * a time.  Each test says which claim of docs/shm.md (5.3-5.5) it tries to
 * break.  Multi-process torture is in test-channel-torture.c.
 */
#include <check.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "memfd-util.h"
#include "test-channel-util.h"
#include "test-util.h"
#include "time-util.h"

#define OUT_MAX 4096 /* statuses one test collects at most */

/* ---- helpers ---- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* xorshift64: deterministic, so a failing sequence can be replayed */
	return xorshift64(&rnd_state);
}

/* The monitor's own page, read-write: what a buggy or dying monitor writes through. */
static struct chan_producer_page *producer_map(const struct chan_agent *a)
{
	struct chan_fds fds;
	void *p;

	chan_agent_fds(a, &fds);
	p = mmap(NULL, sizeof(struct chan_producer_page), PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds.producer, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static void producer_unmap(struct chan_producer_page *p)
{
	ck_assert_int_eq(munmap(p, sizeof(*p)), 0);
}

static struct chan_status_body mk(uint16_t type, uint8_t cls, uint32_t res, uint64_t cmd_id,
				  uint32_t checkpoint)
{
	return (struct chan_status_body){
		.type = type,
		.cls = cls,
		.res = res,
		.cmd_id = cmd_id,
		.checkpoint = checkpoint,
	};
}

static struct chan_status_body failure(uint32_t res, uint32_t checkpoint)
{
	return mk(CHAN_ST_FAILURE, 0, res, 0, checkpoint);
}

static void post(struct chan_monitor *m, struct chan_status_body b, int want)
{
	ck_assert_int_eq(chan_monitor_post(m, &b), want);
}

/* Drains until the agent says "drained", chunk statuses per call; returns the total. */
static size_t drain_chunked(struct chan_agent *a, struct chan_status_body *out, size_t cap,
			    size_t chunk)
{
	size_t total = 0;

	for (;;) {
		size_t want = chunk < cap - total ? chunk : cap - total;
		size_t n = SIZE_MAX;
		int r;

		ck_assert_uint_gt(want, 0);
		r = chan_agent_drain(a, out + total, want, &n);
		ck_assert_msg(r == 0 || r == 1, "drain returned %d", r);
		ck_assert_uint_le(n, want);
		total += n;
		if (r == 0)
			return total;
	}
}

static size_t drain_all(struct chan_agent *a, struct chan_status_body *out)
{
	return drain_chunked(a, out, OUT_MAX, OUT_MAX);
}

static void expect_stats(const struct chan_agent *a, uint64_t accepted,
			 const uint64_t rejected[_CHAN_REJ_MAX])
{
	struct chan_agent_stats st;

	chan_agent_get_stats(a, &st);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		fast_assert_msg(st.rejected[i] == (rejected ? rejected[i] : 0),
				"rejected[%s] = %llu, expected %llu", chan_reject_to_string(i),
				(unsigned long long) st.rejected[i],
				(unsigned long long) (rejected ? rejected[i] : 0));
	fast_assert_msg(st.accepted == accepted, "%llu accepted, expected %llu",
			(unsigned long long) st.accepted, (unsigned long long) accepted);
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, 0);

	fast_assert(r >= 0);
	return r > 0;
}

/* Writes an entry the way a monitor commits one: body, then the sequence word (release). */
static void forge(struct chan_producer_page *p, uint64_t pos, uint64_t seq,
		  const struct chan_status_body *b)
{
	struct chan_status_entry *e = &p->ring[pos % CHAN_RING_SIZE];

	e->b = *b;
	atomic_store_explicit(&e->seq, seq, memory_order_release);
}

/* Writes a complete register and announces it, as a monitor does when its ring is full. */
static void forge_register(struct chan_producer_page *p, uint32_t slot, uint64_t pos,
			   const struct chan_status_body *b)
{
	struct chan_status_reg *reg = &p->regs[slot];
	uint32_t seq = atomic_load_explicit(&reg->seq, memory_order_relaxed) & ~1u;

	atomic_store_explicit(&reg->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	reg->pos = pos;
	reg->b = *b;
	atomic_store_explicit(&reg->seq, seq + 2, memory_order_release);
	atomic_fetch_add_explicit(&p->reg_dirty, 1, memory_order_release);
}

/* ---- commands ---- */

static const enum chan_op class_op[_CHAN_CLASS_MAX] = {
	[CHAN_CLASS_TRANSITION] = CHAN_OP_ONLINE,	[CHAN_CLASS_TERMINATE] = CHAN_OP_TERMINATE,
	[CHAN_CLASS_LOOKS_ALIVE] = CHAN_OP_LOOKS_ALIVE, [CHAN_CLASS_IS_ALIVE] = CHAN_OP_IS_ALIVE,
	[CHAN_CLASS_CONTROL] = CHAN_OP_CONTROL,
};

static uint32_t args_len_for(uint32_t res, uint32_t cls)
{
	/* Spread over 0 .. CHAN_ARGS_MAX, including both ends. */
	if (res == 0 && cls == 0)
		return 0;
	if (res == 2 && cls == _CHAN_CLASS_MAX - 1)
		return CHAN_ARGS_MAX;
	return (res * _CHAN_CLASS_MAX + cls) * 131 % (CHAN_ARGS_MAX + 1);
}

static void args_fill(uint8_t *args, uint32_t res, uint32_t cls)
{
	for (uint32_t i = 0; i < CHAN_ARGS_MAX; i++)
		args[i] = (uint8_t) (i * 7 + res * 31 + cls * 101 + 1);
}

/*
 * Claim: every command is read exactly once (1, then 0) from its own
 * mailbox, with op, deadline and argument bytes intact and ids increasing;
 * a mailbox never shows another's command; a newer command replaces an
 * unread older one; bad arguments are refused with the documented errno
 * and leave *ret_cmd_id alone.
 */
START_TEST(test_command_round_trip)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(3);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	uint64_t ids[3][_CHAN_CLASS_MAX], last = 0, id;
	uint8_t args[CHAN_ARGS_MAX];
	struct chan_command cmd;

	ck_assert_uint_eq(chan_monitor_n_resources(m), 3);
	for (uint32_t res = 0; res < 3; res++)
		for (uint32_t cls = 0; cls < _CHAN_CLASS_MAX; cls++)
			ck_assert_int_eq(chan_monitor_read_command(m, res, cls, &cmd), 0);
	ck_assert(!readable(chan_monitor_bell_fd(m)));

	for (uint32_t res = 0; res < 3; res++)
		for (uint32_t cls = 0; cls < _CHAN_CLASS_MAX; cls++) {
			args_fill(args, res, cls);
			ck_assert_int_eq(chan_agent_post(a, res, cls, class_op[cls],
							 1000 + res * 10 + cls, args,
							 args_len_for(res, cls), &id),
					 0);
			ck_assert_uint_gt(id, last);
			last = ids[res][cls] = id;
		}
	ck_assert(readable(chan_monitor_bell_fd(m)));
	chan_monitor_woken(m);
	ck_assert(!readable(chan_monitor_bell_fd(m)));

	/* Read in the reverse order of posting: the boxes are independent. */
	for (int res = 2; res >= 0; res--)
		for (int cls = _CHAN_CLASS_MAX - 1; cls >= 0; cls--) {
			memset(&cmd, 0xa5, sizeof(cmd));
			ck_assert_int_eq(chan_monitor_read_command(m, res, cls, &cmd), 1);
			ck_assert_uint_eq(cmd.op, class_op[cls]);
			ck_assert_uint_eq(cmd.cmd_id, ids[res][cls]);
			ck_assert_uint_eq(cmd.deadline_ns, 1000 + res * 10 + cls);
			ck_assert_uint_eq(cmd.flags, 0);
			ck_assert_uint_eq(cmd.args_len, args_len_for(res, cls));
			args_fill(args, res, cls);
			ck_assert_mem_eq(cmd.args, args, cmd.args_len);
			ck_assert_int_eq(chan_monitor_read_command(m, res, cls, &cmd), 0);
		}

	/* A newer transition replaces the unread one: only the newest is read, once. */
	ck_assert_int_eq(
		chan_agent_post(a, 1, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &id), 0);
	ck_assert_int_eq(
		chan_agent_post(a, 1, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, 0, "x", 1, &id), 0);
	ck_assert_int_eq(chan_monitor_read_command(m, 1, CHAN_CLASS_TRANSITION, &cmd), 1);
	ck_assert_uint_eq(cmd.op, CHAN_OP_OFFLINE);
	ck_assert_uint_eq(cmd.cmd_id, id);
	ck_assert_uint_eq(cmd.args_len, 1);
	ck_assert_int_eq(chan_monitor_read_command(m, 1, CHAN_CLASS_TRANSITION, &cmd), 0);
	for (uint32_t cls = 1; cls < _CHAN_CLASS_MAX; cls++)
		ck_assert_int_eq(chan_monitor_read_command(m, 1, cls, &cmd), 0);

	/* Refusals: exact errno, *ret_cmd_id untouched, no command appears. */
	id = 777;
	ck_assert_int_eq(
		chan_agent_post(a, 3, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &id),
		-EINVAL);
	ck_assert_int_eq(chan_agent_post(a, 0, _CHAN_CLASS_MAX, CHAN_OP_ONLINE, 0, NULL, 0, &id),
			 -EINVAL);
	ck_assert_int_eq(chan_agent_post(a, 0, CHAN_CLASS_CONTROL, CHAN_OP_NONE, 0, NULL, 0, &id),
			 -EINVAL);
	ck_assert_int_eq(chan_agent_post(a, 0, CHAN_CLASS_CONTROL, _CHAN_OP_MAX, 0, NULL, 0, &id),
			 -EINVAL);
	ck_assert_int_eq(chan_agent_post(a, 0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, 0, args,
					 CHAN_ARGS_MAX + 1, &id),
			 -E2BIG);
	ck_assert_uint_eq(id, 777);
	for (uint32_t cls = 0; cls < _CHAN_CLASS_MAX; cls++)
		ck_assert_int_eq(chan_monitor_read_command(m, 0, cls, &cmd), 0);
	ck_assert_int_eq(chan_monitor_read_command(m, 3, CHAN_CLASS_TRANSITION, &cmd), -EINVAL);
	ck_assert_int_eq(chan_monitor_read_command(m, 0, _CHAN_CLASS_MAX, &cmd), -EINVAL);
}
END_TEST

/*
 * Claim: terminate never waits behind a transition.  An Online is running
 * (read, accepted, not done) and a newer Offline sits unread in the
 * transition box; a terminate posted now is readable at once, and its
 * answers are accepted while the transition is still unanswered.
 */
START_TEST(test_terminate_independent)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct chan_status_body out[16];
	uint64_t on, off, term;
	struct chan_command cmd;
	size_t n;

	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &on), 0);
	ck_assert_int_eq(chan_monitor_read_command(m, 0, CHAN_CLASS_TRANSITION, &cmd), 1);
	ck_assert_uint_eq(cmd.cmd_id, on);
	post(m, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, on, 0), 0);
	ck_assert_uint_eq(drain_all(a, out), 1);

	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, 0, NULL, 0, &off), 0);
	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, 0, NULL, 0, &term),
		0);
	ck_assert_int_eq(chan_monitor_read_command(m, 0, CHAN_CLASS_TERMINATE, &cmd), 1);
	ck_assert_uint_eq(cmd.op, CHAN_OP_TERMINATE);
	ck_assert_uint_eq(cmd.cmd_id, term);
	post(m, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TERMINATE, 0, term, 0), 0);
	post(m, mk(CHAN_ST_DONE, CHAN_CLASS_TERMINATE, 0, term, 0), 0);

	n = drain_all(a, out);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0].type, CHAN_ST_ACCEPTED);
	ck_assert_uint_eq(out[0].cmd_id, term);
	ck_assert_uint_eq(out[1].type, CHAN_ST_DONE);
	ck_assert_uint_eq(out[1].cmd_id, term);

	/* The transition box still holds the Offline, unread until the worker gets to it. */
	ck_assert_int_eq(chan_monitor_read_command(m, 0, CHAN_CLASS_TRANSITION, &cmd), 1);
	ck_assert_uint_eq(cmd.op, CHAN_OP_OFFLINE);
	ck_assert_uint_eq(cmd.cmd_id, off);
	post(m, mk(CHAN_ST_DONE, CHAN_CLASS_TRANSITION, 0, off, 0), 0);
	n = drain_all(a, out);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0].cmd_id, off);
	expect_stats(a, 4, NULL);
}
END_TEST

/* ---- statuses ---- */

/*
 * Claim: statuses for the outstanding command come out of drain in posting
 * order with every field intact (the timestamp is the monitor's clock at
 * posting), also across calls when out is smaller than the backlog; bad
 * posts are refused with the documented errno.
 */
START_TEST(test_status_round_trip)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct chan_status_body in[6], out[8], b;
	uint64_t id, t0, t1, prev = 0;
	size_t n;
	int r;

	ck_assert_int_eq(
		chan_agent_post(a, 1, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, 0, NULL, 0, &id), 0);
	in[0] = mk(CHAN_ST_ACCEPTED, CHAN_CLASS_IS_ALIVE, 1, id, 0);
	in[1] = mk(CHAN_ST_PROGRESS, CHAN_CLASS_IS_ALIVE, 1, id, 7);
	in[1].state = 2;
	in[1].wait_hint_ms = 1500;
	in[1].detail_len = 4;
	memcpy(in[1].detail, "half", 4);
	in[2] = mk(CHAN_ST_PROGRESS, CHAN_CLASS_IS_ALIVE, 1, id, 8);
	in[3] = mk(CHAN_ST_DONE, CHAN_CLASS_IS_ALIVE, 1, id, 9);
	in[3].code = -ETIMEDOUT;
	in[3].state = 3;
	in[3].detail_len = CHAN_DETAIL_MAX;
	memcpy(in[3].detail, "abcdefghijkl", CHAN_DETAIL_MAX);
	in[4] = failure(0, 0);
	in[4].code = -EIO;
	in[5] = mk(CHAN_ST_LOCKED, 0, 0, 0, 0);
	in[5].code = 1;

	t0 = now_ns(CLOCK_MONOTONIC);
	for (size_t i = 0; i < ELEMENTSOF(in); i++)
		post(m, in[i], 0);
	t1 = now_ns(CLOCK_MONOTONIC);

	r = chan_agent_drain(a, out, 4, &n);
	ck_assert_int_eq(r, 1);
	ck_assert_uint_eq(n, 4);
	r = chan_agent_drain(a, out + 4, 4, &n);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < ELEMENTSOF(in); i++) {
		ck_assert_uint_ge(out[i].mono_ns, t0);
		ck_assert_uint_le(out[i].mono_ns, t1);
		ck_assert_uint_ge(out[i].mono_ns, prev);
		prev = out[i].mono_ns;
		in[i].mono_ns = out[i].mono_ns;
		ck_assert_mem_eq(&out[i], &in[i], sizeof(in[i]));
	}
	expect_stats(a, 6, NULL);

	r = chan_agent_drain(a, out, 8, &n);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(n, 0);

	b = failure(2, 0);
	ck_assert_int_eq(chan_monitor_post(m, &b), -EINVAL);
	b = failure(0, 0);
	b.detail_len = CHAN_DETAIL_MAX + 1;
	ck_assert_int_eq(chan_monitor_post(m, &b), -E2BIG);
	ck_assert_uint_eq(drain_all(a, out), 0);

	ck_assert_uint_eq(chan_agent_monitor_heartbeat(a), 0);
	chan_monitor_heartbeat(m);
	ck_assert_uint_ge(chan_agent_monitor_heartbeat(a), t1);
}
END_TEST

/* ---- fault injection: a monitor dying inside a write ---- */

/* Monitor posts count FAILUREs and the agent consumes them: moves the ring to a position. */
static void advance(struct chan_agent *a, struct chan_monitor *m, uint64_t count)
{
	struct chan_status_body out[CHAN_RING_SIZE];

	while (count > 0) {
		uint64_t k = count < 200 ? count : 200;

		for (uint64_t i = 0; i < k; i++)
			post(m, failure(0, (uint32_t) i), 0);
		ck_assert_uint_eq(drain_chunked(a, out, ELEMENTSOF(out), ELEMENTSOF(out)), k);
		count -= k;
	}
}

/*
 * A monitor posts three entries (checkpoints 1001-1003) at base, then dies
 * writing the fourth (9999): the body word by word, then, as its last
 * store, the sequence word; "stores" of these 8 stores happen.
 */
static void die_mid_entry(struct chan_agent *a, struct chan_producer_page *p, uint64_t base,
			  unsigned stores)
{
	struct chan_monitor *m = monitor_attach(a);
	struct chan_status_body victim = failure(0, 9999);
	struct chan_status_entry *e = &p->ring[(base + 3) % CHAN_RING_SIZE];
	uint64_t words[sizeof(victim) / 8];

	advance(a, m, base);
	for (uint32_t i = 1; i <= 3; i++)
		post(m, failure(0, 1000 + i), 0);
	victim.code = 77;
	victim.mono_ns = now_ns(CLOCK_MONOTONIC);
	memcpy(words, &victim, sizeof(words));
	for (unsigned w = 0; w < stores && w < ELEMENTSOF(words); w++)
		memcpy((uint8_t *) &e->b + 8 * w, &words[w], 8);
	if (stores > ELEMENTSOF(words))
		atomic_store_explicit(&e->seq, base + 3 + 1, memory_order_release);
	chan_monitor_free(m);
}

/* Checks that out holds 1001-1003, 9999 if it was committed, then what follows. */
static void expect_dead_entries(const struct chan_status_body *out, size_t n, bool committed,
				size_t n_after)
{
	ck_assert_uint_eq(n, 3 + committed + n_after);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_uint_eq(out[i].checkpoint, 1001 + i);
	if (committed)
		ck_assert_uint_eq(out[3].checkpoint, 9999);
}

static void run_entry_fault(uint64_t base, unsigned stores, bool successor_first)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	struct chan_producer_page *p = producer_map(a);
	bool committed = stores == 8;
	struct chan_status_body out[8];
	struct chan_monitor *m;
	size_t n;

	die_mid_entry(a, p, base, stores);
	if (!successor_first) {
		expect_dead_entries(out, drain_all(a, out), committed, 0);
		ck_assert_uint_eq(drain_all(a, out), 0);
		if (!committed) {
			/* The half-written slot does not look like an entry: safe to sleep. */
			ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
			chan_agent_woken(a);
		}
		expect_stats(a, base + 3 + committed, NULL);
	}

	/* The successor resumes at the hole (behind any unread entries); its entry is whole. */
	m = monitor_attach(a);
	post(m, failure(0, 2000), 0);
	n = drain_all(a, out);
	if (successor_first) {
		expect_dead_entries(out, n, committed, 1);
		n -= 3 + committed;
		memmove(out, out + 3 + committed, sizeof(out[0]));
	}
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0].checkpoint, 2000);
	ck_assert_int_eq(out[0].code, 0);
	expect_stats(a, base + 4 + committed, NULL);
	m = chan_monitor_free(m);
	producer_unmap(p);
}

/*
 * Claim: a monitor killed at any store of an entry write (0..7 body words,
 * sequence word not stored) loses nothing committed before it, leaks
 * nothing of the partial entry, blocks nothing and counts no violation;
 * the next complete entry at that position is delivered, whether the
 * successor attaches after the agent drained or before (then it resumes
 * behind the unread entries).  Killed after the sequence store, the entry
 * is delivered.  Position 3 is in the first lap (empty slot = 0), position
 * 300 in the second (the slot still holds the consumed entry of position
 * 44).
 */
START_TEST(test_fault_entry_write)
{
	static const uint64_t bases[] = {0, 297};

	for (size_t i = 0; i < ELEMENTSOF(bases); i++)
		for (unsigned stores = 0; stores <= 8; stores++) {
			run_entry_fault(bases[i], stores, false);
			run_entry_fault(bases[i], stores, true);
		}
}
END_TEST

/* The stores of a register write, in the monitor's order; a death after the first "stores". */
static void partial_register(struct chan_producer_page *p, uint32_t res, uint64_t pos,
			     const struct chan_status_body *b, unsigned stores)
{
	struct chan_status_reg *reg = &p->regs[res];
	uint32_t seq = atomic_load_explicit(&reg->seq, memory_order_relaxed);

	if (stores >= 1)
		atomic_store_explicit(&reg->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	if (stores >= 2)
		reg->pos = pos;
	if (stores >= 3)
		reg->b = *b;
	if (stores >= 4)
		atomic_store_explicit(&reg->seq, seq + 2, memory_order_release);
	if (stores >= 5)
		atomic_fetch_add_explicit(&p->overflows, 1, memory_order_relaxed);
	if (stores >= 6)
		atomic_fetch_add_explicit(&p->reg_dirty, 1, memory_order_release);
}

/*
 * A monitor fills the ring (resource 1, checkpoints 1-256) and dies writing
 * the register of resource 0 (checkpoint 5000) after "stores" of its stores.
 */
static void die_mid_register(struct chan_agent *a, struct chan_producer_page *p, unsigned stores)
{
	struct chan_monitor *m = monitor_attach(a);
	struct chan_status_body y = failure(0, 5000);

	for (uint32_t i = 1; i <= CHAN_RING_SIZE; i++)
		post(m, failure(1, i), 0);
	y.mono_ns = now_ns(CLOCK_MONOTONIC);
	partial_register(p, 0, CHAN_RING_SIZE, &y, stores);
	chan_monitor_free(m);
}

/* The ring is full; the monitor dies inside a register write; a successor overflows too. */
static void run_register_fault_overwritten(unsigned stores)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	struct chan_producer_page *p = producer_map(a);
	_cleanup_free_ struct chan_status_body *out = calloc(OUT_MAX, sizeof(*out));
	struct chan_monitor *m;
	size_t n;

	ck_assert_ptr_nonnull(out);
	die_mid_register(a, p, stores);

	m = monitor_attach(a);
	post(m, failure(0, 6000), 1);
	post(m, failure(1, 6001), 1);
	n = drain_all(a, out);
	ck_assert_msg(n == CHAN_RING_SIZE + 2, "%u stores: %zu statuses", stores, n);
	for (uint32_t i = 0; i < CHAN_RING_SIZE; i++) {
		ck_assert_uint_eq(out[i].checkpoint, i + 1);
		ck_assert_uint_eq(out[i].flags, 0);
	}
	ck_assert_uint_eq(out[CHAN_RING_SIZE].checkpoint, 6000);
	ck_assert_uint_eq(out[CHAN_RING_SIZE].flags, CHAN_F_COALESCED);
	ck_assert_uint_eq(out[CHAN_RING_SIZE + 1].checkpoint, 6001);
	ck_assert_uint_eq(out[CHAN_RING_SIZE + 1].flags, CHAN_F_COALESCED);
	expect_stats(a, CHAN_RING_SIZE + 2, NULL);
	m = chan_monitor_free(m);
	producer_unmap(p);
}

/*
 * The monitor dies inside a register write; the agent catches up; a
 * successor fills the ring twice and overflows, so that the agent is well
 * past the dead register's position when the next register is announced.
 */
static void run_register_fault_caught_up(unsigned stores)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	struct chan_producer_page *p = producer_map(a);
	_cleanup_free_ struct chan_status_body *out = calloc(OUT_MAX, sizeof(*out));
	struct chan_monitor *m;
	size_t n, k = 0, n_y = 0;

	ck_assert_ptr_nonnull(out);
	die_mid_register(a, p, stores);
	n = drain_all(a, out);

	m = monitor_attach(a);
	for (uint32_t i = 0; i < CHAN_RING_SIZE; i++)
		post(m, failure(1, 6000 + i), 0);
	n += drain_all(a, out + n);
	for (uint32_t i = CHAN_RING_SIZE; i < 2 * CHAN_RING_SIZE; i++)
		post(m, failure(1, 6000 + i), 0);
	post(m, failure(1, 7000), 1);
	n += drain_all(a, out + n);

	/*
	 * Expected: 1..256, then the dead monitor's status at most once and
	 * only if it was complete (required if its post had returned), then
	 * the successor's 512 entries, then its register.
	 */
	for (uint32_t i = 1; i <= CHAN_RING_SIZE; i++)
		ck_assert_uint_eq(out[k++].checkpoint, i);
	if (k < n && out[k].checkpoint == 5000) {
		ck_assert_uint_eq(out[k].flags, CHAN_F_COALESCED);
		n_y = 1;
		k++;
	}
	ck_assert_msg(stores >= 4 || n_y == 0, "%u stores: torn register delivered", stores);
	ck_assert_msg(stores < 6 || n_y == 1, "%u stores: posted register lost", stores);
	for (uint32_t i = 0; i < 2 * CHAN_RING_SIZE; i++) {
		ck_assert_uint_lt(k, n);
		ck_assert_msg(out[k].checkpoint == 6000 + i, "%u stores: #%zu is %u", stores, k,
			      out[k].checkpoint);
		k++;
	}
	ck_assert_uint_lt(k, n);
	ck_assert_uint_eq(out[k].checkpoint, 7000);
	ck_assert_uint_eq(out[k].flags, CHAN_F_COALESCED);
	ck_assert_uint_eq(k + 1, n);
	expect_stats(a, n, NULL);
	m = chan_monitor_free(m);
	producer_unmap(p);
}

/*
 * Claim: a monitor killed at any store of a register write (seq odd, pos,
 * body, seq even, overflow count, dirty announcement) leaves a channel on
 * which a successor's statuses are all delivered in place, the dead one's
 * status at most once and only whole, and no violation is counted against
 * the successor.
 */
START_TEST(test_fault_register_write)
{
	for (unsigned stores = 0; stores <= 6; stores++) {
		run_register_fault_overwritten(stores);
		run_register_fault_caught_up(stores);
	}
}
END_TEST

/* ---- forged entries ---- */

struct forger {
	struct chan_agent *a;
	struct chan_producer_page *p;
	uint64_t pos;
	uint64_t accepted;
	uint64_t rej[_CHAN_REJ_MAX];
};

/* Forges the entry at the next position with sequence word seq; expects why (-1: accepted). */
static void forge_expect_seq(struct forger *f, uint64_t seq, struct chan_status_body b, int why,
			     int line)
{
	struct chan_status_body out[4];
	size_t n;

	if (b.mono_ns == 0)
		b.mono_ns = now_ns(CLOCK_MONOTONIC);
	else if (b.mono_ns == UINT64_MAX)
		b.mono_ns = 0;
	forge(f->p, f->pos, seq, &b);
	f->pos++;
	n = drain_all(f->a, out);
	if (why < 0) {
		ck_assert_msg(n == 1, "line %d: %zu statuses", line, n);
		ck_assert_mem_eq(&out[0], &b, sizeof(b));
		f->accepted++;
	} else {
		ck_assert_msg(n == 0, "line %d: rejected entry returned", line);
		f->rej[why]++;
	}
	expect_stats(f->a, f->accepted, f->rej);
}

#define FORGE(f, b, why)     forge_expect_seq((f), (f)->pos + 1, (b), (why), __LINE__)
#define FORGE_SEQ(f, seq, b) forge_expect_seq((f), (seq), (b), CHAN_REJ_SEQ, __LINE__)

static struct chan_status_body with_type(uint16_t type)
{
	return mk(type, 0, 0, 0, 0);
}

/*
 * Claim: the agent returns nothing that fails validation, and counts every
 * forged entry exactly once under its reason: sequence word garbage, far
 * ahead, a lap ahead or rewound (SEQ); unknown type or class (TYPE);
 * resource out of range (RESOURCE); command id not outstanding for that
 * resource and class, 0 for an answer, or non-zero for an unsolicited status
 * (CMD); a second ACCEPTED or anything after DONE (REPLAY);
 * timestamp in the future, going backwards or zero (TIME); detail too long
 * (LENGTH).  Valid entries in between are still returned.  The forged
 * entries are committed exactly as the monitor would (seq last, release).
 */
START_TEST(test_forged_entries)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	struct forger f = {.a = a, .p = producer_map(a)};
	struct chan_status_body out[4], b;
	struct chan_agent_stats st;
	uint64_t c1, c2, c3, last;

	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &c1), 0);
	ck_assert_int_eq(
		chan_agent_post(a, 1, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, 0, NULL, 0, &c2), 0);

	FORGE(&f, failure(0, 1), -1);
	FORGE_SEQ(&f, UINT64_C(0xdeadbeefcafef00d), failure(0, 2));
	FORGE_SEQ(&f, f.pos + 1 + 1000, failure(0, 3));
	FORGE_SEQ(&f, f.pos + 1 + CHAN_RING_SIZE, failure(0, 4));
	FORGE_SEQ(&f, f.pos, failure(0, 5)); /* rewound by one */

	/* A slot still "empty" is no entry and no violation, whatever its body says. */
	b = with_type(0xffff);
	forge(f.p, f.pos, 0, &b);
	ck_assert_uint_eq(drain_all(a, out), 0);
	expect_stats(a, f.accepted, f.rej);

	FORGE(&f, with_type(0), CHAN_REJ_TYPE);
	FORGE(&f, with_type(_CHAN_ST_MAX), CHAN_REJ_TYPE);
	FORGE(&f, with_type(0xffff), CHAN_REJ_TYPE);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, _CHAN_CLASS_MAX, 0, c1, 0), CHAN_REJ_TYPE);
	FORGE(&f, mk(CHAN_ST_PROGRESS, 0xff, 0, c1, 0), CHAN_REJ_TYPE);

	FORGE(&f, failure(2, 0), CHAN_REJ_RESOURCE);
	FORGE(&f, failure(UINT32_MAX, 0), CHAN_REJ_RESOURCE);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, CHAN_MAX_RESOURCES, c1, 0),
	      CHAN_REJ_RESOURCE);

	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, 0, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c1 + 100, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TERMINATE, 0, c1, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 1, c1, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_DONE, CHAN_CLASS_TERMINATE, 0, c2, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_FAILURE, 0, 0, c1, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_LOCKED, 0, 0, 5, 0), CHAN_REJ_CMD);

	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c1, 0), -1);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c1, 0), CHAN_REJ_REPLAY);
	FORGE(&f, mk(CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, 0, c1, 1), -1);
	FORGE(&f, mk(CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, 0, c1, 2), -1);
	FORGE(&f, mk(CHAN_ST_DONE, CHAN_CLASS_TRANSITION, 0, c1, 3), -1);
	FORGE(&f, mk(CHAN_ST_DONE, CHAN_CLASS_TRANSITION, 0, c1, 4), CHAN_REJ_REPLAY);
	FORGE(&f, mk(CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, 0, c1, 5), CHAN_REJ_REPLAY);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c1, 6), CHAN_REJ_REPLAY);
	FORGE(&f, mk(CHAN_ST_DONE, CHAN_CLASS_TERMINATE, 1, c2, 0), -1); /* DONE without ACCEPTED */
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TERMINATE, 1, c2, 0), CHAN_REJ_REPLAY);

	b = failure(0, 0);
	b.mono_ns = now_ns(CLOCK_MONOTONIC) + 10 * NSEC_PER_SEC;
	FORGE(&f, b, CHAN_REJ_TIME);
	FORGE(&f, failure(0, 0), -1);
	last = f.p->ring[(f.pos - 1) % CHAN_RING_SIZE].b.mono_ns;
	b.mono_ns = last - 1;
	FORGE(&f, b, CHAN_REJ_TIME);
	b.mono_ns = UINT64_MAX; /* forge_expect_seq() turns this into 0 */
	FORGE(&f, b, CHAN_REJ_TIME);
	b.mono_ns = last; /* equal is not backwards */
	FORGE(&f, b, -1);

	b = failure(0, 0);
	b.detail_len = CHAN_DETAIL_MAX + 1;
	FORGE(&f, b, CHAN_REJ_LENGTH);
	b.detail_len = 0xffff;
	FORGE(&f, b, CHAN_REJ_LENGTH);
	b.detail_len = CHAN_DETAIL_MAX;
	FORGE(&f, b, -1);

	/*
	 * A superseded command can no longer be answered; its successor can.
	 * The late answer is dropped as stale, not counted as a violation: an
	 * honest monitor may have posted it before it could see the new command.
	 */
	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, 0, NULL, 0, &c3), 0);
	b = mk(CHAN_ST_DONE, CHAN_CLASS_TRANSITION, 0, c1, 7);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge(f.p, f.pos, f.pos + 1, &b);
	f.pos++;
	ck_assert_uint_eq(drain_all(a, out), 0);
	expect_stats(a, f.accepted, f.rej);
	chan_agent_get_stats(a, &st);
	ck_assert_uint_eq(st.stale, 1);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c1 + 100, 0), CHAN_REJ_CMD);
	FORGE(&f, mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, c3, 0), -1);
	FORGE(&f, failure(1, 99), -1);

	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		ck_assert_ptr_nonnull(chan_reject_to_string(i));
	ck_assert_ptr_null(chan_reject_to_string(_CHAN_REJ_MAX));
	producer_unmap(f.p);
}
END_TEST

/*
 * Claim: when the agent has consumed positions the monitor never wrote
 * (entries forged into its page), the monitor goes on through the ring from
 * the agent's position instead of falling back to the register for good.
 */
START_TEST(test_monitor_catches_up)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct chan_producer_page *p = producer_map(a);
	struct chan_status_body out[8], b = failure(0, 0);

	for (uint64_t pos = 0; pos < 3; pos++) {
		b.mono_ns = now_ns(CLOCK_MONOTONIC);
		forge(p, pos, pos + 1, &b);
	}
	ck_assert_uint_eq(drain_all(a, out), 3);
	ck_assert_int_eq(chan_monitor_post(m, &b), 0); /* 0: the ring, 1 would be the register */
	ck_assert_uint_eq(drain_all(a, out), 1);
	ck_assert(!(out[0].flags & CHAN_F_COALESCED));
	expect_stats(a, 4, NULL);
	producer_unmap(p);
}
END_TEST

/*
 * Claim: forged registers are validated like entries: stamped beyond a
 * lap ahead or filed under another resource (SEQ), invalid body (its
 * reason); a register caught mid-write (odd) is not read; an announced
 * register is delivered once, in its place, flagged coalesced.
 */
START_TEST(test_forged_registers)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct chan_producer_page *p = producer_map(a);
	struct chan_status_body out[8], b;
	uint64_t rej[_CHAN_REJ_MAX] = {0}, accepted = 0;
	size_t n;

	post(m, failure(0, 1), 0);
	ck_assert_uint_eq(drain_all(a, out), 1);
	accepted++;

	b = failure(0, 10);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge_register(p, 0, 1 + CHAN_RING_SIZE + 1, &b);
	ck_assert_uint_eq(drain_all(a, out), 0);
	rej[CHAN_REJ_SEQ]++;
	expect_stats(a, accepted, rej);

	b = failure(0, 11);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge_register(p, 1, 1, &b);
	ck_assert_uint_eq(drain_all(a, out), 0);
	rej[CHAN_REJ_SEQ]++;
	expect_stats(a, accepted, rej);

	b = mk(0, 0, 1, 0, 12);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge_register(p, 1, 1, &b);
	ck_assert_uint_eq(drain_all(a, out), 0);
	rej[CHAN_REJ_TYPE]++;
	expect_stats(a, accepted, rej);

	/* Odd: a write in progress, never read however often it is announced. */
	b = failure(1, 13);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge_register(p, 1, 1, &b);
	atomic_fetch_add_explicit(&p->regs[1].seq, 1, memory_order_release);
	atomic_fetch_add_explicit(&p->reg_dirty, 1, memory_order_release);
	ck_assert_uint_eq(drain_all(a, out), 0);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
	chan_agent_woken(a);
	expect_stats(a, accepted, rej);

	/* Valid, stamped at the head: delivered once, flagged, before the next entry. */
	b = failure(1, 14);
	b.mono_ns = now_ns(CLOCK_MONOTONIC);
	forge_register(p, 1, 1, &b);
	post(m, failure(0, 15), 0);
	n = drain_all(a, out);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0].checkpoint, 14);
	ck_assert_uint_eq(out[0].flags, CHAN_F_COALESCED);
	ck_assert_uint_eq(out[1].checkpoint, 15);
	ck_assert_uint_eq(out[1].flags, 0);
	accepted += 2;
	atomic_fetch_add_explicit(&p->reg_dirty, 1, memory_order_release);
	ck_assert_uint_eq(drain_all(a, out), 0);
	expect_stats(a, accepted, rej);
	producer_unmap(p);
}
END_TEST

/*
 * Claim: a ring full of garbage sequence words cannot keep drain from
 * returning (every slot is a violation, and after the last one the first
 * is still garbage), and each call does bounded work: at most one lap.
 * Without that bound this test hangs until its timeout.
 */
START_TEST(test_forged_ring_of_garbage)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	struct chan_producer_page *p = producer_map(a);
	struct chan_status_body out[8], b = failure(0, 0);
	struct chan_agent_stats st;
	uint64_t before = 0;
	size_t n;

	for (uint64_t i = 0; i < CHAN_RING_SIZE; i++)
		forge(p, i, UINT64_C(0xdeadbeef00000000) + i, &b);
	for (int call = 0; call < 3; call++) {
		int r = chan_agent_drain(a, out, ELEMENTSOF(out), &n);

		ck_assert_int_ge(r, 0);
		ck_assert_uint_eq(n, 0);
		chan_agent_get_stats(a, &st);
		ck_assert_uint_gt(st.rejected[CHAN_REJ_SEQ], before);
		ck_assert_uint_le(st.rejected[CHAN_REJ_SEQ], before + CHAN_RING_SIZE);
		ck_assert_uint_eq(st.accepted, 0);
		before = st.rejected[CHAN_REJ_SEQ];
	}
	producer_unmap(p);
}
END_TEST

/* ---- torn entries ---- */

struct flipper {
	struct chan_producer_page *p;
	const struct chan_agent_page *ap;
	struct chan_status_body good;
	atomic_bool stop;
};

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		uint64_t head = atomic_load_explicit(&f->ap->head, memory_order_acquire);
		struct chan_status_entry *e = &f->p->ring[head % CHAN_RING_SIZE];

		e->b = f->good;
		for (int i = 0; i < 64; i++) {
			atomic_store_explicit(&e->seq, head + 1, memory_order_release);
			atomic_store_explicit(&e->seq, head + 1 + CHAN_RING_SIZE,
					      memory_order_release);
		}
		atomic_store_explicit(&e->seq, head + 1, memory_order_release);
	}
	return NULL;
}

/*
 * Claim: an entry whose sequence word changes while the agent copies it is
 * rejected as torn and never returned.  A thread flips the head slot's
 * sequence word between "next" and "a lap ahead" while the agent drains;
 * whatever the agent returns is the one valid body, and TORN is counted.
 */
START_TEST(test_torn_entry)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	struct chan_fds fds;
	struct flipper f = {.p = producer_map(a)};
	struct chan_status_body out[8];
	struct chan_agent_stats st;
	uint64_t returned = 0, deadline;
	pthread_t t;

	chan_agent_fds(a, &fds);
	f.ap = mmap(NULL, sizeof(struct chan_agent_page), PROT_READ, MAP_SHARED, fds.agent, 0);
	ck_assert_ptr_ne(f.ap, MAP_FAILED);
	f.good = failure(0, 42);
	f.good.mono_ns = now_ns(CLOCK_MONOTONIC);
	ck_assert_int_eq(pthread_create(&t, NULL, flip_thread, &f), 0);

	deadline = now_ns(CLOCK_MONOTONIC) + 20 * NSEC_PER_SEC;
	do {
		size_t n;

		fast_assert(chan_agent_drain(a, out, ELEMENTSOF(out), &n) >= 0);
		for (size_t i = 0; i < n; i++)
			fast_assert(memcmp(&out[i], &f.good, sizeof(f.good)) == 0);
		returned += n;
		chan_agent_get_stats(a, &st);
	} while (st.rejected[CHAN_REJ_TORN] == 0 && now_ns(CLOCK_MONOTONIC) < deadline);

	atomic_store(&f.stop, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	chan_agent_get_stats(a, &st);
	ck_assert_uint_gt(st.rejected[CHAN_REJ_TORN], 0);
	ck_assert_uint_eq(st.accepted, returned);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		if (i != CHAN_REJ_TORN && i != CHAN_REJ_SEQ)
			ck_assert_uint_eq(st.rejected[i], 0);
	ck_assert_int_eq(munmap((void *) f.ap, sizeof(struct chan_agent_page)), 0);
	producer_unmap(f.p);
}
END_TEST

/* ---- full ring ---- */

/*
 * Claim: a full ring never blocks the monitor: the extra statuses go to
 * the per-resource registers (post returns 1).  The agent delivers the
 * ring in order, then each register once (flagged coalesced) in its place,
 * oldest first across resources, then what was posted after space freed;
 * nothing older comes after anything newer, and nothing is rejected.  The
 * registers are filled so that index order is not time order (resource 1
 * older than resource 0).
 */
START_TEST(test_full_ring)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	_cleanup_free_ struct chan_status_body *out = calloc(OUT_MAX, sizeof(*out));
	struct chan_producer_page *p = producer_map(a);
	static const uint32_t expect_reg[] = {263, 1263};
	struct chan_agent_stats st;
	uint32_t cp = 0;
	size_t n, k;

	ck_assert_ptr_nonnull(out);
	while (cp < CHAN_RING_SIZE)
		post(m, failure(0, ++cp), 0);
	while (cp < 260)
		post(m, failure(0, ++cp), 1);
	while (cp < 263)
		post(m, failure(1, ++cp), 1);
	while (cp < 1263)
		post(m, failure(0, ++cp), 1);
	ck_assert_uint_eq(atomic_load(&p->overflows), 1263 - CHAN_RING_SIZE);

	/* Some space: the agent takes 10, the monitor posts 4 more into the ring. */
	ck_assert_int_eq(chan_agent_drain(a, out, 10, &n), 1);
	ck_assert_uint_eq(n, 10);
	for (uint32_t i = 0; i < 4; i++)
		post(m, failure(i % 2, 2000 + i), 0);

	/* One status per call, so the registers also come out one at a time. */
	n += drain_chunked(a, out + n, OUT_MAX - n, 1);
	expect_stats(a, n, NULL);
	ck_assert_uint_eq(n, CHAN_RING_SIZE + 2 + 4);
	for (k = 0; k < CHAN_RING_SIZE; k++) {
		ck_assert_uint_eq(out[k].checkpoint, k + 1);
		ck_assert_uint_eq(out[k].flags, 0);
	}
	for (size_t i = 0; i < ELEMENTSOF(expect_reg); i++, k++) {
		ck_assert_msg(out[k].checkpoint == expect_reg[i], "#%zu is %u", k,
			      out[k].checkpoint);
		ck_assert_uint_eq(out[k].flags, CHAN_F_COALESCED);
	}
	for (uint32_t i = 0; i < 4; i++, k++) {
		ck_assert_uint_eq(out[k].checkpoint, 2000 + i);
		ck_assert_uint_eq(out[k].flags, 0);
	}
	for (k = 1; k < n; k++)
		ck_assert_uint_ge(out[k].mono_ns, out[k - 1].mono_ns);
	chan_agent_get_stats(a, &st);
	ck_assert_uint_eq(st.coalesced, 2);
	producer_unmap(p);
}
END_TEST

struct model_post {
	uint32_t res;
	int ret;
	uint32_t next_reg; /* the next register post for the same resource, 0: none */
	bool delivered;
};

struct model {
	struct chan_agent *a;
	struct chan_monitor *m;
	struct model_post *posts;
	uint32_t cap, n_posts, last_cp, last_reg[3];
	uint64_t delivered;
	bool armed, rang;
	uint64_t seed;
};

static void model_post_burst(struct model *md, unsigned burst)
{
	for (unsigned i = 0; i < burst && md->n_posts + 1 < md->cap; i++) {
		uint32_t cp = ++md->n_posts;
		struct model_post *mp = &md->posts[cp];

		mp->res = (uint32_t) (rnd() % 3);
		mp->ret = chan_monitor_post(
			md->m, &(struct chan_status_body){
				       .type = CHAN_ST_FAILURE, .res = mp->res, .checkpoint = cp});
		fast_assert(mp->ret == 0 || mp->ret == 1);
		if (mp->ret == 1) {
			md->posts[md->last_reg[mp->res]].next_reg = cp;
			md->last_reg[mp->res] = cp;
		}
		md->rang |= md->armed;
	}
}

static int model_drain(struct model *md, size_t want)
{
	struct chan_status_body out[64];
	size_t n;
	int r;

	fast_assert(want <= ELEMENTSOF(out));
	r = chan_agent_drain(md->a, out, want, &n);
	fast_assert(r == 0 || r == 1);
	md->delivered += n;
	expect_stats(md->a, md->delivered, NULL);
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = out[i].checkpoint;

		fast_assert(cp > md->last_cp);
		fast_assert(cp <= md->n_posts);
		/* Skipped only: a register status overwritten by a newer one of its resource. */
		for (uint32_t c = md->last_cp + 1; c < cp; c++)
			fast_assert_msg(md->posts[c].ret == 1 && md->posts[c].next_reg != 0,
					"seed %llu: %u skipped before %u",
					(unsigned long long) md->seed, c, cp);
		fast_assert(out[i].res == md->posts[cp].res);
		fast_assert(out[i].flags == (md->posts[cp].ret ? CHAN_F_COALESCED : 0));
		md->posts[cp].delivered = true;
		md->last_cp = cp;
	}
	return r;
}

static void model_run(uint64_t seed, unsigned ops)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(3);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct model md = {.a = a, .m = m, .cap = ops * 32, .seed = seed};
	_cleanup_free_ struct model_post *posts = calloc(md.cap, sizeof(*posts));
	int bell = chan_agent_bell_fd(a);

	ck_assert_ptr_nonnull(posts);
	md.posts = posts;
	rnd_state = seed;
	for (unsigned op = 0; op < ops; op++) {
		uint64_t x = rnd();

		if (x % 3 == 0) {
			/* A burst of posts, sometimes long enough to overflow. */
			model_post_burst(&md, (x >> 8) % (x % 7 == 0 ? 300 : 8));
			fast_assert_msg(readable(bell) == md.rang, "seed %llu op %u: bell %d",
					(unsigned long long) seed, op, !md.rang);
		} else if (x % 3 == 1) {
			model_drain(&md, 1 + (x >> 8) % 64);
		} else if (x % 9 == 2) {
			int r = chan_agent_prepare_sleep(a);

			fast_assert(r == 0 || r == 1);
			md.armed = r == 0;
			if (r == 0) {
				/* "Safe to sleep" means drain has nothing to give. */
				size_t before = md.delivered;

				fast_assert(model_drain(&md, 64) == 0);
				fast_assert(md.delivered == before);
			}
		} else {
			chan_agent_woken(a);
			fast_assert(!readable(bell));
			md.armed = md.rang = false;
		}
	}

	/* Finally every ring entry, and each resource's last status, has been delivered. */
	while (model_drain(&md, 64) == 1)
		;
	for (uint32_t c = 1; c <= md.n_posts; c++)
		ck_assert_msg(posts[c].delivered || (posts[c].ret == 1 && posts[c].next_reg != 0),
			      "seed %llu: %u lost", (unsigned long long) seed, c);
	for (int res = 0; res < 3; res++)
		ck_assert(md.last_reg[res] == 0 || posts[md.last_reg[res]].delivered);
	expect_stats(a, md.delivered, NULL);
}

/*
 * Claim (model check of 5.3 and 5.5, single process): under random
 * interleavings of posting bursts (overflowing or not), partial drains,
 * prepare_sleep and wake-ups, delivery is in posting order, never skips a
 * ring entry, delivers each resource's last status, flags exactly the
 * register deliveries, rejects nothing; "safe to sleep" only when drain has
 * nothing; and the bell rings iff a post happened while armed.
 */
START_TEST(test_random_model)
{
	static const uint64_t seeds[] = {1, 0x9e3779b97f4a7c15, 12345, 0xdecafbad};

	for (size_t i = 0; i < ELEMENTSOF(seeds); i++)
		model_run(seeds[i], 20000);
}
END_TEST

/* ---- doorbell ---- */

/*
 * Claim: the bell rings iff the agent is armed: prepare_sleep returns 0
 * and arms only when nothing is there (an entry at the head, or a register
 * whose turn has come, makes it return 1 and disarm); a post while armed
 * makes mon_bell readable, woken clears both; posts while not armed leave
 * it silent.  A monitor spamming its bell wakes the agent to nothing.
 */
START_TEST(test_doorbell)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	_cleanup_free_ struct chan_status_body *out = calloc(OUT_MAX, sizeof(*out));
	int bell = chan_agent_bell_fd(a);
	struct chan_fds fds;
	uint64_t one = 1;
	size_t n;

	ck_assert_ptr_nonnull(out);
	chan_agent_fds(a, &fds);
	ck_assert_int_eq(bell, fds.mon_bell);

	post(m, failure(0, 1), 0);
	ck_assert(!readable(bell));
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 1);
	post(m, failure(0, 2), 0);
	ck_assert(!readable(bell));
	ck_assert_uint_eq(drain_all(a, out), 2);

	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
	ck_assert(!readable(bell));
	post(m, failure(0, 3), 0);
	ck_assert(readable(bell));
	chan_agent_woken(a);
	ck_assert(!readable(bell));
	post(m, failure(0, 4), 0);
	ck_assert(!readable(bell));
	ck_assert_uint_eq(drain_all(a, out), 2);

	/* A full ring plus a register: the register's turn keeps the agent awake. */
	for (uint32_t i = 0; i < CHAN_RING_SIZE; i++)
		post(m, failure(0, 10 + i), 0);
	post(m, failure(0, 9999), 1);
	ck_assert(!readable(bell));
	ck_assert_int_eq(chan_agent_drain(a, out, CHAN_RING_SIZE, &n), 1);
	ck_assert_uint_eq(n, CHAN_RING_SIZE);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 1);
	ck_assert_int_eq(chan_agent_drain(a, out, OUT_MAX, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0].checkpoint, 9999);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);

	/* Armed across a burst: rung; then a full ring is never "safe to sleep". */
	for (uint32_t i = 0; i < CHAN_RING_SIZE; i++)
		post(m, failure(0, 20000 + i), 0);
	ck_assert(readable(bell));
	chan_agent_woken(a);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 1); /* the ring is full, not safe */
	ck_assert_int_eq(chan_agent_drain(a, out, 5, &n), 1);
	for (uint32_t i = 0; i < 6; i++)
		post(m, failure(0, 30000 + i), i < 5 ? 0 : 1);
	ck_assert(!readable(bell));
	ck_assert_uint_eq(drain_all(a, out), CHAN_RING_SIZE - 5 + 5 + 1);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
	post(m, failure(0, 40000), 0);
	ck_assert(readable(bell));
	chan_agent_woken(a);
	ck_assert_uint_eq(drain_all(a, out), 1);

	/* Bell spam: readable, but nothing to drain, and nothing counted. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(write(fds.mon_bell, &one, sizeof(one)), (ssize_t) sizeof(one));
	ck_assert(readable(bell));
	chan_agent_woken(a);
	ck_assert(!readable(bell));
	ck_assert_uint_eq(drain_all(a, out), 0);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
	chan_agent_woken(a);
	expect_stats(a, 2 + 2 + CHAN_RING_SIZE + 1 + CHAN_RING_SIZE + 5 + 1 + 1, NULL);
}
END_TEST

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef NATIVE_AUDIT_ARCH
/*
 * Adds a seccomp filter that kills the process on any syscall but the
 * clock, signal return, exit, prctl (to add the next filter) and, if
 * allow_write, write.  Filters stack: a later one can only forbid more.
 */
static int forbid_syscalls(bool allow_write)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0, 7),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allow_write ? __NR_write : UINT32_MAX, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = ELEMENTSOF(f), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

/* Runs in a child: exit code 0, the number of the check that failed, or killed by SIGSYS. */
static int no_syscall_child(struct chan_agent *a, struct chan_monitor *m)
{
	struct chan_status_body b = failure(0, 0), out[4];
	size_t n;

	/* Armed: nothing but write(). */
	if (forbid_syscalls(true) < 0)
		return 1;
	while (chan_agent_drain(a, out, ELEMENTSOF(out), &n) == 1) /* catch up with the attach */
		;
	if (chan_agent_prepare_sleep(a) != 0)
		return 2;
	if (chan_monitor_post(m, &b) != 0)
		return 3;
	/* Disarm without a syscall: the entry is there. */
	if (chan_agent_prepare_sleep(a) != 1)
		return 4;

	/* Not armed: nothing at all, on either end. */
	if (forbid_syscalls(false) < 0)
		return 5;
	for (int i = 0; i < 100; i++)
		if (chan_monitor_post(m, &b) != 0)
			return 6;
	while (chan_agent_drain(a, out, ELEMENTSOF(out), &n) == 1)
		;
	if (chan_agent_prepare_sleep(a) != 0)
		return 7;
	return 0;
}

/*
 * Claim: a post while the agent is busy (not armed) makes no syscall at
 * all, and neither do drain and prepare_sleep; a post while it is armed
 * makes one bell write.  A child runs both ends under seccomp filters that
 * kill it on any syscall but clock_gettime (first also allowing write());
 * the bell must then hold exactly one ring.
 */
START_TEST(test_doorbell_no_syscall)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	uint64_t rings = 0;
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Not _exit(): ASan calls sigaltstack() before any noreturn call. */
		syscall(SYS_exit_group, no_syscall_child(a, m));
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS,
		      "the child made a forbidden syscall");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	ck_assert_int_eq(read(chan_agent_bell_fd(a), &rings, sizeof(rings)),
			 (ssize_t) sizeof(rings));
	ck_assert_uint_eq(rings, 1);
}
END_TEST
#endif

/* ---- seals ---- */

static void expect_size_sealed(int fd, size_t size)
{
	struct stat st;

	ck_assert_int_eq(ftruncate(fd, (off_t) size - 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, (off_t) size + 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(fd, 0, 0, (off_t) size + 65536), -1);
	ck_assert_int_eq(errno, EPERM);
	/* F_SEAL_SEAL: nobody can add seals (e.g. F_SEAL_WRITE against the other side). */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t) size);
}

/*
 * Claim (5.1, 5.7.4): no fd the monitor gets lets it resize a page under
 * the agent or add seals; the agent page cannot be written through any
 * path (write, pwrite, a re-open via /proc, a shared writable mapping, or
 * mprotect of a read-only one), a private writable mapping does not reach
 * the agent; and the agent's own mapping keeps working.  The producer page
 * IS writable by the monitor: it is the monitor's own page by design, and
 * the agent treats it as hostile input (see the forged and torn tests).
 */
START_TEST(test_seals)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	const size_t agent_size = sizeof(struct chan_agent_page);
	_cleanup_close_ int reopened = -EBADF;
	struct chan_status_body out[4];
	struct chan_producer_page *p;
	struct chan_command cmd;
	struct chan_fds fds;
	char path[64];
	uint8_t *map;
	uint64_t id;

	chan_agent_fds(a, &fds);
	expect_size_sealed(fds.producer, sizeof(struct chan_producer_page));
	expect_size_sealed(fds.agent, agent_size);

	ck_assert_int_eq(write(fds.agent, "x", 1), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(pwrite(fds.agent, "x", 1, 64), -1);
	ck_assert_int_eq(errno, EPERM);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds.agent);
	reopened = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(reopened, 0);
	ck_assert_int_eq(write(reopened, "x", 1), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(mmap(NULL, agent_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds.agent, 0),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(mmap(NULL, agent_size, PROT_WRITE, MAP_SHARED, reopened, 0), MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	map = mmap(NULL, agent_size, PROT_READ, MAP_SHARED, fds.agent, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	ck_assert_int_eq(mprotect(map, agent_size, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(munmap(map, agent_size), 0);

	/* Copy-on-write is allowed, and private: the agent's commands are unaffected. */
	map = mmap(NULL, agent_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds.agent, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	memset(map, 0xff, agent_size);
	ck_assert_int_eq(munmap(map, agent_size), 0);

	/* The agent's mapping still writes, the monitor still reads. */
	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, 5, "ab", 2, &id), 0);
	ck_assert_int_eq(chan_monitor_read_command(m, 0, CHAN_CLASS_TERMINATE, &cmd), 1);
	ck_assert_uint_eq(cmd.cmd_id, id);
	ck_assert_mem_eq(cmd.args, "ab", 2);

	/* The producer page: the monitor's own, writable through the fd it was given. */
	p = producer_map(a);
	atomic_store(&p->heartbeat_ns, 123);
	ck_assert_uint_eq(chan_agent_monitor_heartbeat(a), 123);
	producer_unmap(p);
	post(m, failure(0, 1), 0);
	ck_assert_uint_eq(drain_all(a, out), 1);
}
END_TEST

/* ---- ABI checks at attach ---- */

static int fake_page(size_t size, void (*edit)(struct chan_agent_page *))
{
	void *map;
	int fd = memfd_new_sealed("fake-agent", size, size, true, &map);

	ck_assert_int_ge(fd, 0);
	if (size >= sizeof(struct chan_agent_page)) {
		struct chan_agent_page *pg = map;

		pg->magic = CHAN_MAGIC;
		pg->abi_version = CHAN_ABI_VERSION;
		pg->page_size = sizeof(struct chan_agent_page);
		pg->ring_size = CHAN_RING_SIZE;
		pg->n_resources = 1;
		if (edit)
			edit(pg);
	}
	ck_assert_int_eq(munmap(map, size), 0);
	return fd;
}

static void bad_magic(struct chan_agent_page *pg)
{
	pg->magic ^= 1;
}

static void bad_abi(struct chan_agent_page *pg)
{
	pg->abi_version = CHAN_ABI_VERSION + 1;
}

static void bad_page_size(struct chan_agent_page *pg)
{
	pg->page_size -= 64;
}

static void bad_ring_size(struct chan_agent_page *pg)
{
	pg->ring_size = CHAN_RING_SIZE * 2;
}

static void no_resources(struct chan_agent_page *pg)
{
	pg->n_resources = 0;
}

static void too_many_resources(struct chan_agent_page *pg)
{
	pg->n_resources = CHAN_MAX_RESOURCES + 1;
}

static void expect_attach(const struct chan_fds *fds, int want, int line)
{
	struct chan_monitor *m = (struct chan_monitor *) &m; /* sentinel: must stay untouched */
	int r = chan_monitor_attach(fds, &m);

	ck_assert_msg(r == want, "line %d: attach returned %d, expected %d", line, r, want);
	if (want < 0)
		ck_assert_ptr_eq(m, (struct chan_monitor *) &m);
	else
		chan_monitor_free(m);
}

#define EXPECT_ATTACH(fds, want) expect_attach((fds), (want), __LINE__)

/*
 * Claim: a monitor refuses a channel it does not understand, with a
 * distinct errno per mismatch and *ret untouched: wrong magic (-EPROTO),
 * wrong ABI version (-EPROTONOSUPPORT), wrong page, ring or resource sizes
 * in the header, or a file of the wrong size (-EBADMSG), a memfd without
 * size seals (-EPERM), an fd that is no memfd (-EMEDIUMTYPE).  The same
 * fake page with correct fields attaches (the control).
 */
START_TEST(test_abi_mismatch)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	const size_t size = sizeof(struct chan_agent_page);
	struct chan_fds real, fds;
	static const struct {
		void (*edit)(struct chan_agent_page *);
		int want;
	} cases[] = {
		{NULL, 0},
		{bad_magic, -EPROTO},
		{bad_abi, -EPROTONOSUPPORT},
		{bad_page_size, -EBADMSG},
		{bad_ring_size, -EBADMSG},
		{no_resources, -EBADMSG},
		{too_many_resources, -EBADMSG},
	};
	int fd;

	chan_agent_fds(a, &real);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		fds = real;
		fds.agent = fake_page(size, cases[i].edit);
		EXPECT_ATTACH(&fds, cases[i].want);
		safe_close(fds.agent);
	}

	fds = real;
	fds.agent = fake_page(size + 4096, NULL);
	EXPECT_ATTACH(&fds, -EBADMSG);
	safe_close(fds.agent);
	fds.agent = fake_page(size - 64, NULL);
	EXPECT_ATTACH(&fds, -EBADMSG);
	safe_close(fds.agent);

	fds = real;
	fds.producer = memfd_new_sealed("fake-producer", sizeof(struct chan_producer_page) + 64, 0,
					false, NULL);
	ck_assert_int_ge(fds.producer, 0);
	EXPECT_ATTACH(&fds, -EBADMSG);
	safe_close(fds.producer);

	fds = real;
	fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t) size), 0);
	fds.agent = fd;
	EXPECT_ATTACH(&fds, -EPERM);
	fds = real;
	fds.producer = fd;
	EXPECT_ATTACH(&fds, -EPERM);
	safe_close(fd);

	fds = real;
	fds.agent = real.mon_bell;
	EXPECT_ATTACH(&fds, -EMEDIUMTYPE);
	fds = real;
	fds.producer = real.agent_bell;
	EXPECT_ATTACH(&fds, -EMEDIUMTYPE);

	EXPECT_ATTACH(&real, 0);
}
END_TEST

/*
 * Claim: once the monitor has its copies, the agent can close the channel's
 * memfds and keep working through its mappings.  After the release the two
 * memfds are closed and the eventfds are not; chan_agent_fds() and a second
 * release refuse with -EBADF (*ret untouched); commands and statuses still
 * go both ways, with the bells; and chan_agent_free() does not close the
 * released numbers again (here they belong to someone else).
 */
START_TEST(test_release_memfds)
{
	struct chan_agent *a = agent_new(1);
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = monitor_attach(a);
	struct chan_fds fds, after;
	struct chan_status_body out[4], b = mk(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, 0, 0, 0);
	struct chan_command cmd;
	int reuse[2], devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uint64_t id;
	size_t n;

	ck_assert_int_ge(devnull, 0);
	ck_assert_int_eq(chan_agent_fds(a, &fds), 0);
	ck_assert_int_eq(chan_agent_release_memfds(a), 0);
	ck_assert_int_eq(fcntl(fds.producer, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(fcntl(fds.agent, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_ge(fcntl(fds.mon_bell, F_GETFD), 0);
	ck_assert_int_ge(fcntl(fds.agent_bell, F_GETFD), 0);
	ck_assert_int_eq(chan_agent_bell_fd(a), fds.mon_bell);

	memset(&after, 0x5a, sizeof(after));
	ck_assert_int_eq(chan_agent_fds(a, &after), -EBADF);
	for (size_t i = 0; i < sizeof(after); i++)
		ck_assert_uint_eq(((const uint8_t *) &after)[i], 0x5a);
	ck_assert_int_eq(chan_agent_release_memfds(a), -EBADF);

	/* Both ways through the mappings. */
	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &id), 0);
	ck_assert(readable(chan_monitor_bell_fd(m)));
	ck_assert_int_eq(chan_monitor_read_command(m, 0, CHAN_CLASS_TRANSITION, &cmd), 1);
	ck_assert_uint_eq(cmd.cmd_id, id);
	ck_assert_uint_eq(cmd.op, CHAN_OP_ONLINE);
	b.cmd_id = id;
	ck_assert_int_eq(chan_agent_drain(a, out, ELEMENTSOF(out), &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
	ck_assert_int_eq(chan_monitor_post(m, &b), 0);
	ck_assert(readable(chan_agent_bell_fd(a)));
	chan_agent_woken(a);
	ck_assert_int_eq(chan_agent_drain(a, out, ELEMENTSOF(out), &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0].type, CHAN_ST_ACCEPTED);
	ck_assert_uint_eq(out[0].cmd_id, id);

	/* The released numbers go to new files; freeing the channel leaves those alone. */
	reuse[0] = dup3(devnull, fds.producer, O_CLOEXEC);
	reuse[1] = dup3(devnull, fds.agent, O_CLOEXEC);
	ck_assert_int_eq(reuse[0], fds.producer);
	ck_assert_int_eq(reuse[1], fds.agent);
	a = chan_agent_free(a);
	ck_assert_int_ge(fcntl(reuse[0], F_GETFD), 0);
	ck_assert_int_ge(fcntl(reuse[1], F_GETFD), 0);
	close(reuse[0]);
	close(reuse[1]);
	close(devnull);
}
END_TEST

/*
 * The agent page holds mailboxes for CHAN_MAX_RESOURCES, but a channel for
 * one resource allocates only the header and that resource's mailboxes: the
 * rest of the memfd stays unallocated (mincore), and a monitor still reads
 * every mailbox it may (zeroes).
 */
START_TEST(test_agent_page_allocated_for_its_resources)
{
	struct chan_agent *a = agent_new(1);
	long ps = sysconf(_SC_PAGESIZE);
	size_t size = sizeof(struct chan_agent_page), used, pages;
	unsigned char vec[64];
	struct chan_fds fds;
	void *map;

	ck_assert_int_gt(ps, 0);
	pages = (size + (size_t) ps - 1) / (size_t) ps;
	ck_assert_uint_le(pages, sizeof(vec));
	used = offsetof(struct chan_agent_page, cmds) + sizeof(struct chan_res_cmds);
	ck_assert_int_eq(chan_agent_fds(a, &fds), 0);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fds.agent, 0);
	ck_assert(map != MAP_FAILED);
	ck_assert_int_eq(mincore(map, size, vec), 0);
	for (size_t i = 0; i < pages; i++) {
		if (i * (size_t) ps < used)
			ck_assert_msg(vec[i] & 1, "page %zu of the used part is not allocated", i);
		else
			ck_assert_msg(!(vec[i] & 1), "page %zu past the used part is allocated", i);
	}
	ck_assert_uint_gt(pages * (size_t) ps, used + 8 * (size_t) ps); /* a real saving */
	munmap(map, size);
	chan_agent_free(a);
}
END_TEST

static Suite *channel_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_test(tc, test_command_round_trip);
	tcase_add_test(tc, test_terminate_independent);
	tcase_add_test(tc, test_release_memfds);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, test_status_round_trip);
	tcase_add_test(tc, test_full_ring);
	tcase_add_test(tc, test_random_model);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_add_test(tc, test_fault_entry_write);
	tcase_add_test(tc, test_fault_register_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("forged");
	tcase_add_test(tc, test_forged_entries);
	tcase_add_test(tc, test_forged_registers);
	tcase_add_test(tc, test_monitor_catches_up);
	tcase_add_test(tc, test_forged_ring_of_garbage);
	tcase_add_test(tc, test_torn_entry);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("doorbell");
	tcase_add_test(tc, test_doorbell);
#ifdef NATIVE_AUDIT_ARCH
	tcase_add_test(tc, test_doorbell_no_syscall);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("seals");
	tcase_add_test(tc, test_agent_page_allocated_for_its_resources);
	tcase_add_test(tc, test_seals);
	tcase_add_test(tc, test_abi_mismatch);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run_suite(channel_suite());
}
