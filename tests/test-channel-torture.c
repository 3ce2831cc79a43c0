/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Multi-process torture of the monitor channel (shm/channel-*.c): real
 * monitors in forked children, killed at random points, racing the agent's
 * sleep, overwriting their own ring under the agent's feet, or busy in a
 * long Online.  Each test says which claim of docs/shm.md (5.3-5.5) it
 * tries to break; liveness is checked with generous timeouts, speed never.
 * Children report through exit codes and shared anonymous memory, never
 * through Check.
 */
#include <check.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "test-channel-util.h"
#include "test-util.h"
#include "time-util.h"

#define LIVENESS_MS 5000 /* a wake-up later than this is lost */

/* ---- helpers ---- */

static uint64_t rnd_state = 0x2545f4914f6cdd1d;

static uint64_t rnd(void)
{
	/* xorshift64; children reseed so that they do not replay the parent */
	return xorshift64(&rnd_state);
}

/* In a child: die with the test process, start a fresh random sequence. */
static void child_init(uint64_t seed)
{
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	rnd_state = seed | 1;
}

static void spin_ns(uint64_t ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + ns;

	while (now_ns(CLOCK_MONOTONIC) < end)
		;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void expect_no_rejects(const struct chan_agent *a)
{
	struct chan_agent_stats st;

	chan_agent_get_stats(a, &st);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		fast_assert_msg(st.rejected[i] == 0, "rejected[%s] = %llu",
				chan_reject_to_string(i), (unsigned long long) st.rejected[i]);
}

static int wait_child(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_child_ok(pid_t pid)
{
	int status = wait_child(pid);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}

/* ---- producer killed at random points ---- */

#define KILL_ROUNDS 200
#define KILL_BASE   1000000u /* checkpoint = (round + 1) * KILL_BASE + index within the round */

struct kill_shared {
	_Atomic uint64_t posted; /* posts of the current child that have returned */
	_Atomic bool full;	 /* the child stopped: its last post went to a register */
};

static _Noreturn void kill_child(const struct chan_fds *fds, struct kill_shared *sh, uint32_t round,
				 uint64_t cmd_id)
{
	struct chan_monitor *m = NULL;

	child_init(round);
	if (chan_monitor_attach(fds, &m) < 0)
		_exit(10);
	for (uint32_t k = 0;; k++) {
		/* Answers to the long-running command on resource 0, failures on 1. */
		struct chan_status_body b = {
			.type = k % 2 ? CHAN_ST_FAILURE : CHAN_ST_PROGRESS,
			.cls = CHAN_CLASS_TRANSITION,
			.res = k % 2,
			.cmd_id = k % 2 ? 0 : cmd_id,
			.checkpoint = (round + 1) * KILL_BASE + k,
		};
		int r = chan_monitor_post(m, &b);

		if (r < 0)
			_exit(11);
		atomic_store_explicit(&sh->posted, k + 1, memory_order_release);
		if (r == 1) {
			/* Full: the next post would coalesce this one away; wait for the kill. */
			atomic_store(&sh->full, true);
			for (;;)
				pause();
		}
	}
}

struct kill_check {
	struct chan_agent *a;
	uint64_t cmd_id;
	uint32_t round; /* the child alive now */
	uint32_t received[KILL_ROUNDS];
	uint64_t posted[KILL_ROUNDS]; /* final counts of the rounds already over */
	uint64_t n_coalesced;
	uint32_t last_round;
};

/* Drains once; every status must be the next one of its child, children in order. */
static int kill_collect(struct kill_check *kc)
{
	struct chan_status_body out[64];
	size_t n;
	int r = chan_agent_drain(kc->a, out, ELEMENTSOF(out), &n);

	fast_assert(r == 0 || r == 1);
	expect_no_rejects(kc->a);
	for (size_t i = 0; i < n; i++) {
		uint32_t j = out[i].checkpoint / KILL_BASE - 1, k = out[i].checkpoint % KILL_BASE;

		fast_assert_msg(j <= kc->round && j >= kc->last_round,
				"round %u: status of child %u after child %u", kc->round, j,
				kc->last_round);
		fast_assert_msg(k == kc->received[j], "round %u: child %u status %u, expected %u",
				kc->round, j, k, kc->received[j]);
		fast_assert(out[i].res == k % 2);
		fast_assert(out[i].type == (k % 2 ? CHAN_ST_FAILURE : CHAN_ST_PROGRESS));
		fast_assert(out[i].cmd_id == (k % 2 ? 0 : kc->cmd_id));
		kc->received[j]++;
		if (j < kc->round) /* at most the one post that never returned */
			fast_assert(kc->received[j] <= kc->posted[j] + 1);
		kc->last_round = j;
		if (out[i].flags & CHAN_F_COALESCED)
			kc->n_coalesced++;
	}
	return r;
}

/*
 * Claim (5.3, 5.7.1): a monitor killed at any point loses nothing it had
 * posted, leaks nothing half-written, never blocks the agent and causes no
 * violation.  KILL_ROUNDS children, one channel: each re-attaches where
 * the agent is and posts numbered statuses (PROGRESS of one outstanding
 * command, FAILUREs) as fast as it can, recording after each post that
 * returned; it is SIGKILLed after a random 0-2 ms, or right when it
 * reaches a random count, while the agent drains concurrently, or not (the
 * ring then fills and the child stops after its first register post).
 * After the kill the agent must hold exactly the recorded posts, or one
 * more (the post in progress), each child's in order, and nothing else.
 * Now and then the next child attaches before the agent has drained what
 * the dead one left in the ring, so it must resume behind those entries.
 */
START_TEST(test_kill_producer)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	struct kill_shared *sh = shared_new(sizeof(*sh));
	struct kill_check *kc = calloc(1, sizeof(*kc));
	struct chan_monitor *m;
	struct chan_status_body out[4];
	struct chan_fds fds;
	unsigned modes[3] = {0}, deferred = 0;
	uint32_t checked = 0;
	size_t n;

	ck_assert_ptr_nonnull(kc);
	kc->a = a;
	chan_agent_fds(a, &fds);
	ck_assert_int_eq(chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0,
					 &kc->cmd_id),
			 0);
	m = monitor_attach(a);
	ck_assert_int_eq(chan_monitor_post(m, &(struct chan_status_body){.type = CHAN_ST_ACCEPTED,
									 .cmd_id = kc->cmd_id}),
			 0);
	m = chan_monitor_free(m);
	ck_assert_int_eq(chan_agent_drain(a, out, ELEMENTSOF(out), &n), 0);
	ck_assert_uint_eq(n, 1);

	for (uint32_t round = 0; round < KILL_ROUNDS; round++) {
		unsigned mode = rnd() % 3;
		uint64_t delay = rnd() % (2 * NSEC_PER_MSEC + 1), target = rnd() % 3000;
		uint64_t end = now_ns(CLOCK_MONOTONIC) + delay;
		pid_t pid;
		int status;

		kc->round = round;
		atomic_store(&sh->posted, 0);
		atomic_store(&sh->full, false);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			kill_child(&fds, sh, round, kc->cmd_id);
		modes[mode]++;
		if (mode == 0) { /* drain concurrently, kill after the delay */
			while (now_ns(CLOCK_MONOTONIC) < end)
				kill_collect(kc);
		} else if (mode == 1) { /* let the ring fill, kill after the delay */
			sleep_ns(delay);
		} else { /* drain concurrently, kill when the child reaches a count */
			end = now_ns(CLOCK_MONOTONIC) + LIVENESS_MS * NSEC_PER_MSEC;
			while (atomic_load(&sh->posted) < target && !atomic_load(&sh->full) &&
			       now_ns(CLOCK_MONOTONIC) < end)
				kill_collect(kc);
		}
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		status = wait_child(pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "round %u: child status 0x%x", round, status);
		kc->posted[round] = atomic_load(&sh->posted);

		/*
		 * Leave the dead child's entries to the next one now and
		 * then, unless its last post went to a register (which the
		 * next child could legitimately coalesce away).
		 */
		if (round + 1 < KILL_ROUNDS && !atomic_load(&sh->full) && rnd() % 4 == 0) {
			deferred++;
			continue;
		}
		/* Whatever the children left, draining terminates and finds all they posted. */
		while (kill_collect(kc) == 1)
			;
		for (; checked <= round; checked++) {
			ck_assert_msg(kc->received[checked] >= kc->posted[checked],
				      "round %u: %u received, %llu posted", checked,
				      kc->received[checked],
				      (unsigned long long) kc->posted[checked]);
			ck_assert_uint_le(kc->received[checked], kc->posted[checked] + 1);
		}
		ck_assert_int_eq(chan_agent_prepare_sleep(a), 0);
		chan_agent_woken(a);
		expect_no_rejects(a);
	}
	fprintf(stderr, "kill: %u rounds (modes %u/%u/%u, %u left undrained), %llu coalesced\n",
		KILL_ROUNDS, modes[0], modes[1], modes[2], deferred,
		(unsigned long long) kc->n_coalesced);
	free(kc);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/* ---- lost wake-ups ---- */

struct wake_run {
	unsigned cycles;
	int timeout_ms;
	uint64_t min_delay_ns; /* the producer waits at least this long before each post */
	bool decoy;	       /* negative control: the monitor's bell goes nowhere */
	struct wake_shared *sh;
};

struct wake_shared {
	_Atomic uint32_t go;	/* cycle + 1, stored by the agent just before prepare_sleep */
	_Atomic uint32_t acked; /* cycle + 1, stored by the agent when it got the entry */
};

static void spin_loops(unsigned n)
{
	for (volatile unsigned k = n; k > 0; k--)
		;
}

/*
 * The producer: waits a random while, posts, spins until the agent acks.
 * On odd cycles it lines its post up with the agent's prepare_sleep
 * instead (the store-load race the fences are for): it waits for the
 * agent's "go", spins a few random loops and posts.
 */
static _Noreturn void wake_producer(const struct chan_fds *fds, const struct wake_run *w)
{
	struct chan_monitor *m = NULL;

	child_init(getpid());
	if (chan_monitor_attach(fds, &m) < 0)
		_exit(10);
	for (unsigned i = 0; i < w->cycles; i++) {
		struct chan_status_body b = {.type = CHAN_ST_FAILURE, .checkpoint = i};
		uint64_t x = rnd();

		if (w->min_delay_ns > 0) {
			sleep_ns(w->min_delay_ns);
		} else if (i % 2) {
			while (atomic_load_explicit(&w->sh->go, memory_order_relaxed) != i + 1)
				;
			spin_loops((x >> 8) % 64);
		} else if (x % 8 >= 6)
			sleep_ns((x >> 8) % (100 * NSEC_PER_USEC));
		else if (x % 8 == 5)
			sched_yield();
		else if (x % 8 >= 3)
			spin_ns((x >> 8) % (20 * NSEC_PER_USEC));
		/* else at once: races the agent's drain and prepare_sleep */
		if (chan_monitor_post(m, &b) != 0)
			_exit(11);
		while (atomic_load_explicit(&w->sh->acked, memory_order_relaxed) != i + 1)
			;
	}
	chan_monitor_free(m);
	_exit(0);
}

/* Runs the ping-pong; returns how many sleeps timed out. */
static unsigned wake_run(const struct wake_run *w, unsigned *ret_slept)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	_cleanup_close_ int decoy = eventfd(0, EFD_CLOEXEC);
	struct chan_fds fds;
	unsigned timeouts = 0, slept = 0, caught = 0;
	pid_t pid;

	ck_assert_int_ge(decoy, 0);
	chan_agent_fds(a, &fds);
	if (w->decoy)
		fds.mon_bell = decoy;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		wake_producer(&fds, w);

	for (unsigned i = 0; i < w->cycles; i++) {
		struct pollfd p = {.fd = chan_agent_bell_fd(a), .events = POLLIN};
		struct chan_status_body out[4];
		size_t n;
		int r;

		for (;;) {
			fast_assert(chan_agent_drain(a, out, ELEMENTSOF(out), &n) == 0);
			if (n > 0)
				break;
			if (atomic_load_explicit(&w->sh->go, memory_order_relaxed) != i + 1) {
				atomic_store_explicit(&w->sh->go, i + 1, memory_order_relaxed);
				spin_loops(rnd() % 1024);
			}
			if (chan_agent_prepare_sleep(a) == 1) {
				caught++;
				continue;
			}
			slept++;
			r = poll(&p, 1, w->timeout_ms);
			fast_assert(r >= 0);
			if (r == 0) {
				fast_assert_msg(w->decoy, "lost wake-up at cycle %u", i);
				timeouts++;
			}
			chan_agent_woken(a);
		}
		fast_assert(n == 1);
		fast_assert_msg(out[0].checkpoint == i, "got %u", out[0].checkpoint);
		atomic_store_explicit(&w->sh->acked, i + 1, memory_order_relaxed);
	}
	expect_child_ok(pid);
	expect_no_rejects(a);
	fprintf(stderr, "wake-up: %u cycles, slept %u times, prepare_sleep saw the entry %u\n",
		w->cycles, slept, caught);
	*ret_slept = slept;
	return timeouts;
}

/*
 * Claim (5.5): the armed flag with its Dekker fences loses no wake-up.  A
 * producer process posts one entry at a time and spins until the agent
 * acks it; the agent drains, prepare_sleeps and polls its bell.  Even cycles
 * post at random moments (at once, after a short spin, a yield or a short
 * sleep); odd cycles line the post up with prepare_sleep to within a few
 * dozen loop iterations.  Any poll that times out with an entry posted is
 * a lost wake-up.  Nothing is rejected.
 */
START_TEST(test_no_lost_wakeup)
{
	struct wake_shared *sh = shared_new(sizeof(*sh));
	const struct wake_run w = {.cycles = 20000, .timeout_ms = LIVENESS_MS, .sh = sh};
	unsigned slept;

	ck_assert_uint_eq(wake_run(&w, &slept), 0);
	ck_assert_uint_gt(slept, 0);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/*
 * Negative control for test_no_lost_wakeup: the same loop with a monitor
 * that never rings the agent's bell (it was handed a decoy eventfd, as if
 * it skipped the fence and armed check) must time out; otherwise the
 * positive test could not detect a lost wake-up.
 */
START_TEST(test_no_lost_wakeup_control)
{
	struct wake_shared *sh = shared_new(sizeof(*sh));
	const struct wake_run w = {
		.cycles = 5,
		.timeout_ms = 20,
		.min_delay_ns = 2 * NSEC_PER_MSEC,
		.decoy = true,
		.sh = sh,
	};
	unsigned slept, timeouts = wake_run(&w, &slept);

	fprintf(stderr, "wake-up control: %u cycles, %u timed out\n", w.cycles, timeouts);
	ck_assert_uint_gt(timeouts, 0);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/* ---- hostile producer ---- */

#define HOSTILE_RES 4

struct hostile_ids {
	uint64_t id[HOSTILE_RES][_CHAN_CLASS_MAX];
};

static void hostile_body(struct chan_status_body *b, const struct hostile_ids *ids)
{
	uint64_t x = rnd();

	memset(b, 0, sizeof(*b));
	b->res = (uint32_t) (x % (HOSTILE_RES + 1));
	b->cls = (uint8_t) ((x >> 4) % (_CHAN_CLASS_MAX + 1));
	b->type = (uint16_t) ((x >> 8) % (_CHAN_ST_MAX + 1));
	if (b->type == CHAN_ST_FAILURE || b->type == CHAN_ST_LOCKED)
		b->cmd_id = (x >> 12) % 8 == 0 ? 1 : 0;
	else if (b->res < HOSTILE_RES && b->cls < _CHAN_CLASS_MAX)
		b->cmd_id = ids->id[b->res][b->cls] + ((x >> 12) % 8 == 0);
	b->mono_ns = now_ns(CLOCK_MONOTONIC) - ((x >> 16) % 16 == 0 ? NSEC_PER_SEC : 0);
	b->detail_len = (uint16_t) ((x >> 20) % (CHAN_DETAIL_MAX + 2));
	b->checkpoint = (uint32_t) (x >> 32);
}

/* Rewrites its own page at random, mostly around the agent's head, until killed. */
static _Noreturn void hostile_child(const struct chan_fds *fds, const struct hostile_ids *ids)
{
	struct chan_producer_page *p;
	const struct chan_agent_page *ap;
	uint64_t one = 1;

	child_init(getpid());
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED, fds->producer, 0);
	ap = mmap(NULL, sizeof(*ap), PROT_READ, MAP_SHARED, fds->agent, 0);
	if (p == MAP_FAILED || ap == MAP_FAILED)
		_exit(10);
	for (;;) {
		uint64_t head = atomic_load_explicit(&ap->head, memory_order_acquire), x = rnd();
		struct chan_status_entry *e = &p->ring[head % CHAN_RING_SIZE];
		struct chan_status_reg *reg = &p->regs[x % CHAN_MAX_RESOURCES];

		if (x % 65536 == 0) {
			/* Garbage everywhere, nothing that ever looks empty; quiet for 1 ms. */
			for (uint32_t i = 0; i < CHAN_RING_SIZE; i++)
				atomic_store_explicit(&p->ring[i].seq, rnd() | (UINT64_C(1) << 63),
						      memory_order_relaxed);
			sleep_ns(NSEC_PER_MSEC);
			continue;
		}
		switch ((x >> 8) % 10) {
		case 0 ... 2: /* a plausible entry at the head, or a few */
			for (uint64_t i = 0; i < 1 + (x >> 16) % 4; i++) {
				e = &p->ring[(head + i) % CHAN_RING_SIZE];
				hostile_body(&e->b, ids);
				atomic_store_explicit(&e->seq, head + i + 1, memory_order_release);
			}
			break;
		case 3 ... 4: /* flip the head slot's sequence word while rewriting its body */
			for (int i = 0; i < 32; i++) {
				head = atomic_load_explicit(&ap->head, memory_order_acquire);
				e = &p->ring[head % CHAN_RING_SIZE];
				atomic_store_explicit(&e->seq, head + 1, memory_order_release);
				hostile_body(&e->b, ids);
				atomic_store_explicit(&e->seq,
						      i % 2 ? rnd() : head + 1 + CHAN_RING_SIZE,
						      memory_order_release);
			}
			break;
		case 5: /* rewind or garbage anywhere */
			e = &p->ring[(x >> 16) % CHAN_RING_SIZE];
			atomic_store_explicit(&e->seq, (x >> 20) % 2 ? head : rnd(),
					      memory_order_relaxed);
			break;
		case 6: /* rewrite the body of a committed head entry, keeping its seq */
			hostile_body(&e->b, ids);
			break;
		case 7 ... 8: /* registers: any parity, any position, any body */
			atomic_store_explicit(&reg->seq, (uint32_t) rnd(), memory_order_relaxed);
			reg->pos = head + (x >> 16) % 3 - 1 + ((x >> 20) % 8 == 0 ? 1000 : 0);
			hostile_body(&reg->b, ids);
			if ((x >> 24) % 2)
				atomic_fetch_add_explicit(&reg->seq, 1, memory_order_release);
			atomic_fetch_add_explicit(&p->reg_dirty, 1, memory_order_release);
			break;
		default: /* heartbeat garbage and bell spam */
			atomic_store_explicit(&p->heartbeat_ns, rnd(), memory_order_relaxed);
			(void) !write(fds->mon_bell, &one, sizeof(one));
			break;
		}
	}
}

struct answer_state {
	bool accepted, done;
};

/* What the agent returned must satisfy the rules it claims to enforce, on our own copy. */
static void check_returned(const struct chan_status_body *b, const struct hostile_ids *ids,
			   struct answer_state st[HOSTILE_RES][_CHAN_CLASS_MAX],
			   uint64_t *last_mono, uint64_t now)
{
	fast_assert(b->type > 0 && b->type < _CHAN_ST_MAX);
	fast_assert(b->res < HOSTILE_RES);
	fast_assert(b->detail_len <= CHAN_DETAIL_MAX);
	fast_assert(b->mono_ns >= *last_mono);
	fast_assert(b->mono_ns <= now);
	fast_assert((b->flags & ~CHAN_F_COALESCED) == 0);
	*last_mono = b->mono_ns;
	if (b->type == CHAN_ST_FAILURE || b->type == CHAN_ST_LOCKED) {
		fast_assert(b->cmd_id == 0);
	} else {
		struct answer_state *s;

		fast_assert(b->cls < _CHAN_CLASS_MAX);
		fast_assert(b->cmd_id == ids->id[b->res][b->cls]);
		s = &st[b->res][b->cls];
		fast_assert(!s->done);
		fast_assert(b->type != CHAN_ST_ACCEPTED || !s->accepted);
		s->accepted |= b->type == CHAN_ST_ACCEPTED;
		s->done |= b->type == CHAN_ST_DONE;
	}
}

/*
 * Claim (5.3): a hostile monitor rewriting its own page (entries at and
 * ahead of the head, sequence words flipped during the agent's copy,
 * bodies changed under committed sequence words, rewinds, garbage, a ring
 * of nothing but garbage, registers of any parity, position and body,
 * bell spam) cannot crash or block the agent, and everything the agent
 * returns passes validation, re-checked here on the returned copy.  No
 * drain call consumes more than one lap of the ring, however the monitor
 * fills it.  Runs 2 s, then until a torn entry has been seen (at most
 * 20 s); rejects of several kinds are counted and the accepted count
 * matches what was returned.
 */
START_TEST(test_hostile_overwrite)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(HOSTILE_RES);
	struct answer_state st[HOSTILE_RES][_CHAN_CLASS_MAX] = {0};
	uint64_t last_mono = 0, returned = 0, drains = 0, start, now;
	static const enum chan_op ops[_CHAN_CLASS_MAX] = {
		CHAN_OP_ONLINE,	  CHAN_OP_TERMINATE, CHAN_OP_LOOKS_ALIVE,
		CHAN_OP_IS_ALIVE, CHAN_OP_CONTROL,
	};
	const struct chan_agent_page *ap;
	struct chan_agent_stats stats;
	struct hostile_ids ids;
	struct chan_fds fds;
	pid_t pid;

	for (uint32_t res = 0; res < HOSTILE_RES; res++)
		for (uint32_t cls = 0; cls < _CHAN_CLASS_MAX; cls++)
			ck_assert_int_eq(chan_agent_post(a, res, cls, ops[cls], 0, NULL, 0,
							 &ids.id[res][cls]),
					 0);
	chan_agent_fds(a, &fds);
	ap = mmap(NULL, sizeof(*ap), PROT_READ, MAP_SHARED, fds.agent, 0);
	ck_assert_ptr_ne(ap, MAP_FAILED);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		hostile_child(&fds, &ids);

	start = now_ns(CLOCK_MONOTONIC);
	do {
		struct chan_status_body out[64];
		size_t want = 1 + rnd() % ELEMENTSOF(out), n;
		uint64_t consumed = atomic_load(&ap->head);
		int r = chan_agent_drain(a, out, want, &n);

		fast_assert(r == 0 || r == 1);
		fast_assert(n <= want);
		consumed = atomic_load(&ap->head) - consumed;
		fast_assert_msg(consumed <= CHAN_RING_SIZE, "one drain consumed %llu slots",
				(unsigned long long) consumed);
		now = now_ns(CLOCK_MONOTONIC);
		for (size_t i = 0; i < n; i++)
			check_returned(&out[i], &ids, st, &last_mono, now);
		returned += n;
		drains++;
		if (rnd() % 16 == 0 && chan_agent_prepare_sleep(a) == 0)
			chan_agent_woken(a);
		chan_agent_get_stats(a, &stats);
	} while (now - start < 2 * NSEC_PER_SEC ||
		 (stats.rejected[CHAN_REJ_TORN] == 0 && now - start < 20 * NSEC_PER_SEC));

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	(void) wait_child(pid);
	ck_assert_int_eq(munmap((void *) ap, sizeof(*ap)), 0);
	chan_agent_get_stats(a, &stats);
	fprintf(stderr, "hostile: %llu drains, %llu accepted (%llu coalesced)",
		(unsigned long long) drains, (unsigned long long) stats.accepted,
		(unsigned long long) stats.coalesced);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		fprintf(stderr, ", %s %llu", chan_reject_to_string(i),
			(unsigned long long) stats.rejected[i]);
	fprintf(stderr, "\n");
	ck_assert_uint_eq(stats.accepted, returned);
	ck_assert_uint_gt(stats.accepted, 0);
	ck_assert_uint_gt(stats.rejected[CHAN_REJ_SEQ], 0);
	ck_assert_uint_gt(stats.rejected[CHAN_REJ_TORN], 0);
	ck_assert_uint_gt(stats.rejected[CHAN_REJ_TYPE], 0);
	ck_assert_uint_gt(stats.rejected[CHAN_REJ_CMD], 0);
}
END_TEST

/* ---- terminate during a long Online ---- */

/*
 * The monitor: a dispatcher that reads every mailbox on each wake-up, and
 * an Online "worker" that would take 60 s and only looks at the transition
 * box when it is done.  Terminate is handled by the dispatcher at once.
 */
static _Noreturn void online_monitor(const struct chan_fds *fds)
{
	struct chan_monitor *m = NULL;
	struct chan_command cmd;
	uint64_t online_id = 0, online_end = 0;

	child_init(getpid());
	if (chan_monitor_attach(fds, &m) < 0)
		_exit(10);
	for (;;) {
		struct pollfd p = {.fd = chan_monitor_bell_fd(m), .events = POLLIN};
		int r;

		if (poll(&p, 1, 50) < 0)
			_exit(11);
		chan_monitor_woken(m);
		if (online_id == 0) {
			r = chan_monitor_read_command(m, 0, CHAN_CLASS_TRANSITION, &cmd);
			if (r == 1 && cmd.op == CHAN_OP_ONLINE) {
				/* The worker starts; the transition box is its business now. */
				online_id = cmd.cmd_id;
				online_end = now_ns(CLOCK_MONOTONIC) + 60 * NSEC_PER_SEC;
				if (chan_monitor_post(m, &(struct chan_status_body){
								 .type = CHAN_ST_ACCEPTED,
								 .cmd_id = online_id}) != 0)
					_exit(14);
			}
		} else if (now_ns(CLOCK_MONOTONIC) > online_end) {
			_exit(12); /* the terminate never came through */
		}
		r = chan_monitor_read_command(m, 0, CHAN_CLASS_TERMINATE, &cmd);
		if (r == 1) {
			struct chan_status_body b = {
				.type = CHAN_ST_ACCEPTED,
				.cls = CHAN_CLASS_TERMINATE,
				.cmd_id = cmd.cmd_id,
			};

			/* Abort the worker, kill the resource, answer. */
			if (chan_monitor_post(m, &b) != 0)
				_exit(14);
			b.type = CHAN_ST_DONE;
			if (chan_monitor_post(m, &b) != 0)
				_exit(14);
			/* Only now does the transition box get read again: the newest command. */
			while ((r = chan_monitor_read_command(m, 0, CHAN_CLASS_TRANSITION, &cmd)) ==
			       -EAGAIN)
				;
			if (r != 1 || cmd.op != CHAN_OP_OFFLINE)
				_exit(13);
			b = (struct chan_status_body){.type = CHAN_ST_DONE, .cmd_id = cmd.cmd_id};
			if (chan_monitor_post(m, &b) != 0)
				_exit(14);
			chan_monitor_free(m);
			_exit(0);
		}
	}
}

/* Waits on the bell until a status arrives; fails after LIVENESS_MS of silence. */
static struct chan_status_body wait_status(struct chan_agent *a)
{
	struct chan_status_body b;
	size_t n;

	for (;;) {
		struct pollfd p = {.fd = chan_agent_bell_fd(a), .events = POLLIN};

		ck_assert_int_ge(chan_agent_drain(a, &b, 1, &n), 0);
		if (n == 1)
			return b;
		if (chan_agent_prepare_sleep(a) == 1)
			continue;
		ck_assert_msg(poll(&p, 1, LIVENESS_MS) == 1, "no status for %d ms", LIVENESS_MS);
		chan_agent_woken(a);
	}
}

/*
 * Claim (5.4, 5.7.5): terminate never waits behind a transition.  The
 * monitor child runs a 60 s Online and will not read the transition box
 * again before it finishes; the agent posts an Offline (unread) and then a
 * Terminate, which must be accepted and done long before the Online could
 * end (LIVENESS_MS); afterwards the monitor finds the Offline.
 */
START_TEST(test_terminate_during_online)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	struct chan_status_body b;
	uint64_t on, off, term;
	struct chan_fds fds;
	pid_t pid;

	chan_agent_fds(a, &fds);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		online_monitor(&fds);

	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, 0, NULL, 0, &on), 0);
	b = wait_status(a);
	ck_assert_uint_eq(b.type, CHAN_ST_ACCEPTED);
	ck_assert_uint_eq(b.cmd_id, on);

	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, 0, NULL, 0, &off), 0);
	ck_assert_int_eq(
		chan_agent_post(a, 0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, 0, NULL, 0, &term),
		0);
	b = wait_status(a);
	ck_assert_uint_eq(b.type, CHAN_ST_ACCEPTED);
	ck_assert_uint_eq(b.cls, CHAN_CLASS_TERMINATE);
	ck_assert_uint_eq(b.cmd_id, term);
	b = wait_status(a);
	ck_assert_uint_eq(b.type, CHAN_ST_DONE);
	ck_assert_uint_eq(b.cmd_id, term);
	b = wait_status(a);
	ck_assert_uint_eq(b.type, CHAN_ST_DONE);
	ck_assert_uint_eq(b.cls, CHAN_CLASS_TRANSITION);
	ck_assert_uint_eq(b.cmd_id, off);
	expect_child_ok(pid);
	expect_no_rejects(a);
}
END_TEST

/* ---- mailboxes under concurrent rewriting ---- */

#define MAILBOX_POSTS 100000u

static uint32_t mailbox_len(uint64_t id)
{
	return (uint32_t) (id * 37 % (CHAN_ARGS_MAX + 1));
}

static uint8_t mailbox_byte(uint64_t id, uint32_t i)
{
	return (uint8_t) (id * 31 + i);
}

struct mailbox_shared {
	_Atomic bool ready;
	_Atomic uint64_t reads, retries;
};

/* The dispatcher: reads one mailbox as fast as it can; exit 0 if every read was whole. */
static _Noreturn void mailbox_reader(const struct chan_fds *fds, struct mailbox_shared *sh)
{
	struct chan_monitor *m = NULL;
	struct chan_command cmd;
	uint64_t last = 0;

	child_init(getpid());
	if (chan_monitor_attach(fds, &m) < 0)
		_exit(10);
	atomic_store(&sh->ready, true);
	while (last < MAILBOX_POSTS) {
		int r = chan_monitor_read_command(m, 0, CHAN_CLASS_LOOKS_ALIVE, &cmd);

		if (r == -EAGAIN) {
			atomic_fetch_add(&sh->retries, 1);
			continue;
		}
		if (r == 0)
			continue;
		if (r != 1 || cmd.cmd_id <= last || cmd.op != CHAN_OP_LOOKS_ALIVE)
			_exit(11);
		if (cmd.deadline_ns != cmd.cmd_id * 3 || cmd.args_len != mailbox_len(cmd.cmd_id))
			_exit(12);
		for (uint32_t i = 0; i < cmd.args_len; i++)
			if (cmd.args[i] != mailbox_byte(cmd.cmd_id, i))
				_exit(13);
		last = cmd.cmd_id;
		atomic_fetch_add(&sh->reads, 1);
	}
	_exit(0);
}

/*
 * Claim (5.4): a mailbox read is never torn.  The agent rewrites one box
 * MAILBOX_POSTS times as fast as it can, each command's deadline, length
 * and argument bytes derived from its id; a monitor process reads the box
 * concurrently and must only ever get whole commands with increasing ids
 * (or -EAGAIN), ending with the last one.
 */
START_TEST(test_mailbox_never_torn)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(1);
	struct mailbox_shared *sh = shared_new(sizeof(*sh));
	uint8_t args[CHAN_ARGS_MAX];
	struct chan_fds fds;
	pid_t pid;

	chan_agent_fds(a, &fds);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		mailbox_reader(&fds, sh);
	while (!atomic_load(&sh->ready))
		sched_yield();
	for (uint64_t id = 1; id <= MAILBOX_POSTS; id++) {
		uint64_t got;

		for (uint32_t i = 0; i < mailbox_len(id); i++)
			args[i] = mailbox_byte(id, i);
		fast_assert(chan_agent_post(a, 0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE,
					    id * 3, args, mailbox_len(id), &got) == 0);
		fast_assert(got == id);
	}
	expect_child_ok(pid);
	fprintf(stderr, "mailbox: %u posts, %llu whole reads, %llu retries\n", MAILBOX_POSTS,
		(unsigned long long) sh->reads, (unsigned long long) sh->retries);
	shared_free(sh, sizeof(*sh));
}
END_TEST

/* ---- a fast producer against a sleeping and waking agent ---- */

#define STREAM_POSTS 300000u

struct stream_shared {
	_Atomic uint32_t posted;
	int8_t ret[STREAM_POSTS + 1]; /* what each post returned: 0 ring, 1 register */
};

static _Noreturn void stream_producer(const struct chan_fds *fds, struct stream_shared *sh)
{
	struct chan_monitor *m = NULL;

	child_init(getpid());
	if (chan_monitor_attach(fds, &m) < 0)
		_exit(10);
	for (uint32_t cp = 1; cp <= STREAM_POSTS; cp++) {
		struct chan_status_body b = {
			.type = CHAN_ST_FAILURE,
			.res = cp % 2,
			.checkpoint = cp,
		};
		uint64_t x = rnd();

		sh->ret[cp] = (int8_t) chan_monitor_post(m, &b);
		if (sh->ret[cp] < 0)
			_exit(11);
		atomic_store_explicit(&sh->posted, cp, memory_order_release);
		/*
		 * Bursts, some long enough to overflow the ring; between them
		 * short spins the agent can catch up in, and now and then a
		 * pause long enough for it to fall asleep.
		 */
		if (x % 2048 == 0)
			sleep_ns((x >> 16) % (200 * NSEC_PER_USEC));
		else if (x % 16 == 0)
			spin_ns((x >> 16) % (20 * NSEC_PER_USEC));
	}
	chan_monitor_free(m);
	_exit(0);
}

/*
 * Claim (5.3, 5.5): with a producer posting flat out (overflowing into
 * the registers whenever the agent lags) and an agent that drains, sleeps
 * and wakes, every ring entry is delivered once and in order, a register
 * status is delivered in its place or else was replaced by a newer one of
 * the same resource, each resource's last status arrives, no wake-up is
 * lost and nothing is rejected: timestamps taken while the agent is
 * draining are not "in the future", and registers of two resources come
 * out oldest first.
 */
START_TEST(test_stream)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = agent_new(2);
	struct stream_shared *sh = shared_new(sizeof(*sh));
	_cleanup_free_ bool *seen = calloc(STREAM_POSTS + 1, sizeof(bool));
	uint32_t last = 0, n_reg = 0, n_skipped = 0, next_reg[2] = {0};
	unsigned slept = 0;
	struct chan_fds fds;
	pid_t pid;

	ck_assert_ptr_nonnull(seen);
	chan_agent_fds(a, &fds);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		stream_producer(&fds, sh);

	while (last < STREAM_POSTS) {
		struct chan_status_body out[64];
		struct pollfd p = {.fd = chan_agent_bell_fd(a), .events = POLLIN};
		/* Pairs with the release store in stream_producer(): all its posts are visible. */
		bool done = atomic_load_explicit(&sh->posted, memory_order_acquire) == STREAM_POSTS;
		size_t n;
		int r = chan_agent_drain(a, out, 1 + rnd() % ELEMENTSOF(out), &n);

		fast_assert(r == 0 || r == 1);
		expect_no_rejects(a);
		for (size_t i = 0; i < n; i++) {
			fast_assert_msg(out[i].checkpoint > last, "%u after %u", out[i].checkpoint,
					last);
			last = out[i].checkpoint;
			seen[last] = true;
			fast_assert(out[i].res == last % 2);
		}
		if (n > 0 || r == 1)
			continue;
		/* Drained after the producer finished, and its last status is not there. */
		fast_assert_msg(!done, "status %u lost", STREAM_POSTS);
		if (chan_agent_prepare_sleep(a) == 1)
			continue;
		slept++;
		fast_assert_msg(poll(&p, 1, LIVENESS_MS) == 1, "lost wake-up after %u", last);
		chan_agent_woken(a);
	}
	expect_child_ok(pid);

	/* Ring entries all delivered; a register status skipped only if overwritten later. */
	for (uint32_t cp = STREAM_POSTS; cp >= 1; cp--) {
		uint32_t res = cp % 2;

		if (sh->ret[cp] == 0)
			fast_assert_msg(seen[cp], "ring entry %u lost", cp);
		else if (!seen[cp])
			fast_assert_msg(next_reg[res] != 0, "last register status %u lost", cp);
		if (sh->ret[cp] == 1) {
			next_reg[res] = cp;
			n_reg++;
			n_skipped += !seen[cp];
		}
	}
	fprintf(stderr, "stream: %u posts, %u to registers (%u replaced), agent slept %u times\n",
		STREAM_POSTS, n_reg, n_skipped, slept);
	expect_no_rejects(a);
	shared_free(sh, sizeof(*sh));
}
END_TEST

static Suite *channel_torture_suite(void)
{
	Suite *s = suite_create("channel-torture");
	TCase *tc;

	tc = tcase_create("kill");
	tcase_add_test(tc, test_kill_producer);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("wakeup");
	tcase_add_test(tc, test_no_lost_wakeup);
	tcase_add_test(tc, test_no_lost_wakeup_control);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_hostile_overwrite);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_add_test(tc, test_terminate_during_online);
	tcase_add_test(tc, test_mailbox_never_torn);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_test(tc, test_stream);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run_suite(channel_torture_suite());
}
