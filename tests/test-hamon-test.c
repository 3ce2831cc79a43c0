/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scriptable monitor program, hamon-test (monitorlib/monitors/), seen
 * from the agent's end of a real channel: each test forks and execs the
 * program as hagentd does (the channel's fds at 3-6, HAGENT_CHANNEL_FDS),
 * posts commands with chan_agent_post() and checks what
 * chan_agent_drain() returns, that each property does what
 * monitorlib/monitors/README.md says.  Every wait is bounded; the fixture
 * kills and reaps the child whatever happens.  HAMON_TEST_BIN names the
 * program (meson sets it); without it the suite is skipped.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "test-monitor-prog.h"
#include "test-util.h"
#include "time-util.h"

#define QUIET_MS 400 /* for what must not happen */

#define ST_ONLINE_PENDING  129
#define ST_OFFLINE_PENDING 130

/* The fixture's own state, beside the monitor under test (M): one per test. */
static struct {
	char dir[64]; /* for record files */
	char record[128];
} F;

static void setup(void)
{
	memset(&M, 0, sizeof(M));
	memset(&F, 0, sizeof(F));
	/* Two slots: test_invalid keeps the program alive with slot 0 while it fails slot 1. */
	ck_assert_int_eq(chan_agent_new(2, 7, &M.a), 0);
	snprintf(F.dir, sizeof(F.dir), "/tmp/test-hamon-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.dir));
	snprintf(F.record, sizeof(F.record), "%s/record", F.dir);
}

static void teardown(void)
{
	if (M.pid > 0) {
		(void) kill(M.pid, SIGKILL);
		(void) waitpid(M.pid, NULL, 0);
		M.pid = 0;
	}
	(void) unlink(F.record);
	(void) rmdir(F.dir);
	M.a = chan_agent_free(M.a);
}

static void expect_no_done(int cls, uint64_t cmd_id, unsigned ms)
{
	ck_assert_msg(wait_for(0, CHAN_ST_DONE, cls, cmd_id, ms) < 0,
		      "command %" PRIu64 " answered, expected it to hang", cmd_id);
}

static void expect_alive(void)
{
	ck_assert_int_eq(wait_exit(0), -1);
	ck_assert_int_eq(kill(M.pid, 0), 0);
}

static void expect_signal(int sig)
{
	int status = wait_exit(WAIT_MS);

	ck_assert_msg(status != -1, "did not die");
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig,
		      "wait status 0x%x, expected death by signal %d", status, sig);
}

static uint64_t rejected_total(void)
{
	struct chan_agent_stats st;
	uint64_t n = 0;

	chan_agent_get_stats(M.a, &st);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		n += st.rejected[i];
	return n;
}

/* The record file's lines after "<ns> r1 ", with their timestamps; returns the count. */
static size_t read_record(char lines[][256], uint64_t *ns, size_t max)
{
	char buf[256];
	uint64_t last = 0;
	size_t n = 0;
	FILE *f = fopen(F.record, "re");

	ck_assert_ptr_nonnull(f);
	while (n < max && fgets(buf, sizeof(buf), f)) {
		unsigned long long t;
		int off = 0;

		buf[strcspn(buf, "\n")] = '\0';
		ck_assert_msg(sscanf(buf, "%llu r1 %n", &t, &off) == 1 && off > 0, "line '%s'",
			      buf);
		ck_assert_uint_ge(t, last); /* one clock, appended in order */
		last = t;
		ns[n] = t;
		snprintf(lines[n++], 256, "%s", buf + off);
	}
	fclose(f);
	return n;
}

/* Waits up to WAIT_MS for a record line equal to want; its index. */
static size_t wait_record_line(const char *want)
{
	static char lines[256][256];
	static uint64_t ns[256];
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	for (;;) {
		size_t n = read_record(lines, ns, 256);

		for (size_t i = 0; i < n; i++)
			if (strcmp(lines[i], want) == 0)
				return i;
		ck_assert_msg(ms_since(t0) < WAIT_MS, "no record line '%s'", want);
		sleep_ms(10);
	}
}

/* The PROGRESS libhamon posts when online/offline returned HAMON_PENDING. */
static bool is_marker(const struct chan_status_body *b)
{
	return b->type == CHAN_ST_PROGRESS && (b->flags & CHAN_F_ENTRY_PENDING);
}

/* Index of the first PROGRESS of cmd_id from from on that the program reported, or -1. */
static long find_report(size_t from, uint64_t cmd_id)
{
	for (long i = find(from, CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, cmd_id); i >= 0;
	     i = find((size_t) i + 1, CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, cmd_id))
		if (!is_marker(&M.log[i]))
			return i;
	return -1;
}

static long wait_report(uint64_t cmd_id, unsigned ms)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	long i;

	while ((i = find_report(0, cmd_id)) < 0 && ms_since(t0) < ms)
		pump(20);
	return i;
}

/* How many markers command cmd_id got (in the log so far). */
static unsigned count_markers(uint64_t cmd_id)
{
	unsigned n = 0;

	for (size_t i = 0; i < M.n_log; i++)
		n += is_marker(&M.log[i]) && M.log[i].cmd_id == cmd_id;
	return n;
}

static char rec_prop[160];

static const char *record_prop(void)
{
	snprintf(rec_prop, sizeof(rec_prop), "RecordFile=%s", F.record);
	return rec_prop;
}

/* ---- transitions ---- */

START_TEST(test_sync)
{
	const struct chan_status_body *d;
	uint64_t id;

	start(PROPS("Comment=unknown keys are ignored")); /* everything succeeds at once */
	id = post_transition(CHAN_OP_ONLINE);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_ONLINE);
	ck_assert_uint_eq(d->flags, 0); /* no FailAfter: the failure fd is not declared */
	ck_assert_int_lt(find(0, CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id), d - M.log);
	ck_assert_int_eq(find(0, CHAN_ST_PROGRESS, -1, UINT64_MAX), -1); /* not even a marker */
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	ck_assert_int_eq(probe(CHAN_CLASS_LOOKS_ALIVE), 1);
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
	close_and_exit();
	ck_assert_uint_eq(rejected_total(), 0);
}
END_TEST

/* OnlineDelay + ProgressInterval: pending, increasing checkpoints at the cadence, then Online. */
START_TEST(test_pending_progress)
{
	const struct chan_status_body *acc, *d;
	uint64_t id, prev_ns = 0;
	uint32_t prev_cp = 0, n = 0;

	start(PROPS("OnlineDelay=400", "ProgressInterval=50", "ProgressWaitHint=777",
		    "OfflineDelay=150", "OfflineResult=ok"));
	id = post_transition(CHAN_OP_ONLINE);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_ONLINE);
	acc = &M.log[find(0, CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id)];
	ck_assert_uint_ge(d->mono_ns - acc->mono_ns, 400 * NSEC_PER_MSEC);

	ck_assert_uint_eq(count_markers(id), 1); /* online returned HAMON_PENDING */
	prev_ns = acc->mono_ns;
	for (long i = find_report(0, id); i >= 0 && i < d - M.log;
	     i = find_report((size_t) i + 1, id)) {
		const struct chan_status_body *p = &M.log[i];

		ck_assert_int_eq(p->state, ST_ONLINE_PENDING);
		ck_assert_uint_eq(p->checkpoint, prev_cp + 1);
		ck_assert_uint_eq(p->wait_hint_ms, 777);
		/* Never faster than the cadence (one oversleep may shorten the next gap). */
		ck_assert_uint_ge(p->mono_ns - prev_ns, 25 * NSEC_PER_MSEC);
		prev_cp = p->checkpoint;
		prev_ns = p->mono_ns;
		n++;
	}
	/* 50, 100, ..., 350 ms: 7, fewer if the thread was held up. */
	ck_assert_uint_ge(n, 3);
	ck_assert_uint_le(n, 7);

	id = post_transition(CHAN_OP_OFFLINE);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
	acc = &M.log[find(0, CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id)];
	ck_assert_uint_ge(d->mono_ns - acc->mono_ns, 150 * NSEC_PER_MSEC);
	ck_assert_int_ge(find_report(0, id), 0);
	ck_assert_int_eq(M.log[find_report(0, id)].state, ST_OFFLINE_PENDING);
	ck_assert_uint_eq(count_markers(id), 1);
	ck_assert_int_eq(M.log[find(0, CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, id)].state,
			 ST_OFFLINE_PENDING); /* the marker too */
	close_and_exit();
}
END_TEST

/*
 * ProgressCheckpoint: libhamon forwards only new (greater) checkpoints, so
 * the agent sees the distinct increasing prefix; the record file shows
 * every report the program made.
 */
static const struct {
	const char *mode;
	uint32_t agent_sees[4]; /* 0-terminated */
	const char *reported;	/* a record line that must appear */
} cp_cases[] = {
	{"ProgressCheckpoint=constant", {1}, "status online-pending 1 continue"},
	{"ProgressCheckpoint=decreasing", {1000000}, "status online-pending 999998 continue"},
	{"ProgressCheckpoint=stall:3", {1, 2, 3}, "status online-pending 3 continue"},
};

START_TEST(test_checkpoints)
{
	const struct chan_status_body *d;
	uint64_t id;
	size_t k = 0;
	char lines[256][256];
	uint64_t ns[256];
	size_t n, same = 0;

	start(PROPS(cp_cases[_i].mode, "OnlineDelay=300", "ProgressInterval=30", record_prop()));
	id = post_transition(CHAN_OP_ONLINE);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->state, ST_ONLINE);
	for (long i = find_report(0, id); i >= 0; i = find_report((size_t) i + 1, id)) {
		ck_assert_uint_lt(k, 3);
		ck_assert_uint_eq(M.log[i].checkpoint, cp_cases[_i].agent_sees[k]);
		k++;
	}
	ck_assert_uint_eq(cp_cases[_i].agent_sees[k], 0);

	/* The program did report more than the agent saw. */
	(void) wait_record_line(cp_cases[_i].reported);
	n = read_record(lines, ns, 256);
	for (size_t i = 0; i < n; i++)
		same += strncmp(lines[i], "status online-pending", 21) == 0;
	ck_assert_uint_gt(same, k);
	close_and_exit();
}
END_TEST

START_TEST(test_fail)
{
	const struct chan_status_body *d;

	/* Synchronous: the errno scripted. */
	start(PROPS("OnlineResult=fail", "OnlineError=13"));
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	ck_assert_int_eq(d->code, -13);
	ck_assert_int_eq(d->state, ST_FAILED);
	close_and_exit();

	/* Pending: a Failed report (libhamon gives it -EIO). */
	teardown();
	setup();
	start(PROPS("OnlineDelay=50", "OnlineResult=fail"));
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	ck_assert_int_eq(d->code, -EIO);
	ck_assert_int_eq(d->state, ST_FAILED);
	close_and_exit();

	/* Offline, synchronous. */
	teardown();
	setup();
	start(PROPS("OfflineResult=fail", "OfflineError=16"));
	online_ok();
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
	ck_assert_int_eq(d->code, -16);
	ck_assert_int_eq(d->state, ST_FAILED);
	close_and_exit();
}
END_TEST

START_TEST(test_open_error)
{
	const struct chan_status_body *d;

	spawn();
	d = expect_done(CHAN_CLASS_TRANSITION, post_open_named("r1", PROPS("OpenError=2")));
	ck_assert_int_eq(d->code, -ENOENT);
	ck_assert_int_eq(d->state, ST_FAILED);
	expect_alive();
	/* libhamon keeps the failed slot until the agent closes it (close() is not called). */
	close_and_exit();
}
END_TEST

/* ---- hangs, terminate ---- */

START_TEST(test_hang_entry_point)
{
	uint64_t id;

	start(PROPS("Hang=online,is_alive"));
	id = post_transition(CHAN_OP_ONLINE);
	(void) expect(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id);
	expect_no_done(CHAN_CLASS_TRANSITION, id, QUIET_MS);

	id = post(CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0);
	(void) expect(CHAN_ST_ACCEPTED, CHAN_CLASS_IS_ALIVE, id);
	expect_no_done(CHAN_CLASS_IS_ALIVE, id, QUIET_MS);
	/* Not dead: the terminate worker still answers. */
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	expect_alive();
}
END_TEST

/* OnlineResult=hang: pending and silent until terminated, then cancelled at once. */
START_TEST(test_hang_result)
{
	const struct chan_status_body *d, *acc;
	uint64_t id, tid;

	start(PROPS("OnlineResult=hang", record_prop()));
	id = post_transition(CHAN_OP_ONLINE);
	(void) expect(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id);
	expect_no_done(CHAN_CLASS_TRANSITION, id, QUIET_MS);

	tid = post(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	d = expect_done(CHAN_CLASS_TERMINATE, tid);
	acc = &M.log[find(0, CHAN_ST_ACCEPTED, CHAN_CLASS_TERMINATE, tid)];
	ck_assert_uint_lt(d->mono_ns - acc->mono_ns, 1000 * NSEC_PER_MSEC);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->code, -ECANCELED);
	ck_assert_int_eq(d->state, ST_FAILED);
	close_and_exit();
}
END_TEST

/* OnlineResult=wrong: an Offline report during a pending online; libhamon refuses it. */
START_TEST(test_wrong_result)
{
	uint64_t id;

	start(PROPS("OnlineDelay=50", "OnlineResult=wrong", record_prop()));
	id = post_transition(CHAN_OP_ONLINE);
	(void) wait_record_line("status offline 0 -22");
	expect_no_done(CHAN_CLASS_TRANSITION, id, QUIET_MS);
	ck_assert_int_eq(run(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE)->code, 0);
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, id)->code, -ECANCELED);
	close_and_exit();
}
END_TEST

/* Terminate stops the pending work: no report gets through after it. */
START_TEST(test_terminate_pending)
{
	char lines[256][256];
	uint64_t ns[256];
	uint64_t id, tid;
	size_t n, term = SIZE_MAX, after = 0;

	start(PROPS("OnlineDelay=60000", "ProgressInterval=20", record_prop()));
	id = post_transition(CHAN_OP_ONLINE);
	ck_assert_int_ge(wait_report(id, WAIT_MS), 0);
	tid = post(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	ck_assert_int_eq(expect_done(CHAN_CLASS_TERMINATE, tid)->code, 0);
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, id)->code, -ECANCELED);
	sleep_ms(100); /* five more periods */
	pump(0);
	/* libhamon lets no report through once the terminate is ACCEPTED... */
	ck_assert_int_eq(find((size_t) find(0, CHAN_ST_ACCEPTED, CHAN_CLASS_TERMINATE, tid),
			      CHAN_ST_PROGRESS, -1, UINT64_MAX),
			 -1);

	/* ...and the work stopped (one report may have been in flight at the terminate). */
	n = read_record(lines, ns, 256);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(lines[i], "terminate") == 0)
			term = i;
		else if (term != SIZE_MAX && strncmp(lines[i], "status", 6) == 0)
			after++;
	}
	ck_assert_uint_ne(term, SIZE_MAX);
	ck_assert_uint_le(after, 1);
	close_and_exit();
}
END_TEST

/* IgnoreTerminate: terminate returns at once, the work goes on and reports late. */
START_TEST(test_ignore_terminate)
{
	char lines[256][256];
	uint64_t ns[256];
	uint64_t id, tid;
	size_t term, late;

	start(PROPS("OnlineDelay=500", "IgnoreTerminate=1", record_prop()));
	id = post_transition(CHAN_OP_ONLINE);
	(void) expect(CHAN_ST_ACCEPTED, CHAN_CLASS_TRANSITION, id);
	tid = post(CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	ck_assert_int_eq(expect_done(CHAN_CLASS_TERMINATE, tid)->code, 0);
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, id)->code, -ECANCELED);

	late = wait_record_line("status online 0 terminate");
	term = wait_record_line("terminate");
	ck_assert_uint_gt(late, term);
	(void) read_record(lines, ns, 256);
	ck_assert_uint_ge(ns[late] - ns[term], 200 * NSEC_PER_MSEC);
	close_and_exit();
}
END_TEST

/* ---- crashes ---- */

static const struct {
	const char *props[3];
	int sig;
	enum chan_op op; /* what to post after OPEN (NONE: the OPEN crashes) */
} crash_cases[] = {
	{{"Crash=open"}, SIGABRT, CHAN_OP_NONE},
	{{"Crash=online"}, SIGABRT, CHAN_OP_ONLINE},
	{{"Crash=is_alive", "CrashSignal=segv"}, SIGSEGV, CHAN_OP_IS_ALIVE},
	{{"Crash=pending", "OnlineDelay=50"}, SIGABRT, CHAN_OP_ONLINE},
	{{"Crash=after:100", "CrashSignal=segv"}, SIGSEGV, CHAN_OP_ONLINE},
	{{"Crash=terminate"}, SIGABRT, CHAN_OP_TERMINATE},
};

START_TEST(test_crash)
{
	const char *props[4] = {crash_cases[_i].props[0], crash_cases[_i].props[1]};
	enum chan_op op = crash_cases[_i].op;
	uint64_t t0, id;

	spawn();
	if (op == CHAN_OP_NONE) {
		(void) post_open_named("r1", props);
		expect_signal(crash_cases[_i].sig);
		return;
	}
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, post_open_named("r1", props))->code, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	if (op == CHAN_OP_ONLINE)
		id = post_transition(CHAN_OP_ONLINE);
	else if (op == CHAN_OP_IS_ALIVE)
		id = post(CHAN_CLASS_IS_ALIVE, op, NULL, 0);
	else
		id = post(CHAN_CLASS_TERMINATE, op, NULL, 0);
	expect_signal(crash_cases[_i].sig);
	if (strncmp(props[0], "Crash=after:", 12) == 0) {
		ck_assert_uint_ge(ms_since(t0), 100);
		/* It was Online first. */
		long d = wait_for(0, CHAN_ST_DONE, CHAN_CLASS_TRANSITION, id, WAIT_MS);

		ck_assert_int_ge(d, 0);
		ck_assert_int_eq(M.log[d].state, ST_ONLINE);
	}
}
END_TEST

/* ---- health, failure, locked mode ---- */

START_TEST(test_probes)
{
	uint64_t t0;

	start(PROPS("IsAlive=false", "LooksAlive=false"));
	online_ok();
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	ck_assert_int_eq(probe(CHAN_CLASS_LOOKS_ALIVE), 0);
	close_and_exit();

	teardown();
	setup();
	start(PROPS("IsAlive=after:300", "LooksAlive=true"));
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1); /* never Online yet */
	t0 = now_ns(CLOCK_MONOTONIC);
	online_ok();
	if (ms_since(t0) < 250) /* not checkable on a machine this slow */
		ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	sleep_ms(320);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	ck_assert_int_eq(probe(CHAN_CLASS_LOOKS_ALIVE), 1);
	/* A new Online restarts the clock. */
	ck_assert_int_eq(run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE)->code, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	online_ok();
	if (ms_since(t0) < 250)
		ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	close_and_exit();
}
END_TEST

/* FailAfter: the failure fd fires after the delay; IsAlive confirms. */
START_TEST(test_failure_fd)
{
	const struct chan_status_body *d;
	long f;

	start(PROPS("FailAfter=150", "IsAlive=after:150"));
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	ck_assert_int_eq(d->state, ST_ONLINE);
	ck_assert_uint_eq(d->flags, CHAN_F_FAILURE_FD); /* declared: no looks_alive needed */
	f = wait_for(0, CHAN_ST_FAILURE, -1, UINT64_MAX, WAIT_MS);
	ck_assert_int_ge(f, 0);
	ck_assert_uint_eq(M.log[f].cmd_id, 0);
	ck_assert_uint_ge(M.log[f].mono_ns - d->mono_ns, 140 * NSEC_PER_MSEC);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);
	/* Once per Online. */
	sleep_ms(200);
	pump(0);
	ck_assert_int_eq(find((size_t) f + 1, CHAN_ST_FAILURE, -1, UINT64_MAX), -1);
	close_and_exit();
}
END_TEST

/* FailAfter with a pending online: the reported Online declares the fd too, each time. */
START_TEST(test_failure_fd_pending)
{
	const struct chan_status_body *d;
	uint64_t id;

	start(PROPS("FailAfter=60000", "OnlineDelay=100"));
	for (int n = 0; n < 2; n++) {
		id = post_transition(CHAN_OP_ONLINE);
		d = expect_done(CHAN_CLASS_TRANSITION, id);
		ck_assert_int_eq(d->code, 0);
		ck_assert_int_eq(d->state, ST_ONLINE);
		ck_assert_uint_eq(d->flags, CHAN_F_FAILURE_FD);
		ck_assert_uint_eq(count_markers(id), 1);
		ck_assert_int_lt(find(0, CHAN_ST_PROGRESS, CHAN_CLASS_TRANSITION, id), d - M.log);
		d = run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
		ck_assert_int_eq(d->state, ST_OFFLINE);
		ck_assert_uint_eq(d->flags, 0);
	}
	close_and_exit();
	ck_assert_uint_eq(rejected_total(), 0);
}
END_TEST

START_TEST(test_locked)
{
	const struct chan_status_body *d;
	uint32_t reason;
	long l;

	/* Locked=1: on before the Online answer, off before the Offline one. */
	start(PROPS("Locked=1", "LockReason=7"));
	ck_assert_int_eq(find(0, CHAN_ST_LOCKED, -1, UINT64_MAX), -1);
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	l = find(0, CHAN_ST_LOCKED, -1, UINT64_MAX);
	ck_assert_int_ge(l, 0);
	ck_assert_int_lt(l, d - M.log);
	ck_assert_int_eq(M.log[l].code, 1);
	ck_assert_uint_eq(M.log[l].detail_len, sizeof(reason));
	memcpy(&reason, M.log[l].detail, sizeof(reason));
	ck_assert_uint_eq(reason, 7);
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
	l = find((size_t) l + 1, CHAN_ST_LOCKED, -1, UINT64_MAX);
	ck_assert_int_ge(l, 0);
	ck_assert_int_lt(l, d - M.log);
	ck_assert_int_eq(M.log[l].code, 0);
	close_and_exit();

	/* LockAfter / UnlockAfter. */
	teardown();
	setup();
	start(PROPS("LockAfter=100", "UnlockAfter=250"));
	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE);
	{
		uint64_t online_ns = d->mono_ns;

		l = wait_for(0, CHAN_ST_LOCKED, -1, UINT64_MAX, WAIT_MS);
		ck_assert_int_ge(l, 0);
		ck_assert_int_eq(M.log[l].code, 1);
		ck_assert_uint_ge(M.log[l].mono_ns - online_ns, 90 * NSEC_PER_MSEC);
		l = wait_for((size_t) l + 1, CHAN_ST_LOCKED, -1, UINT64_MAX, WAIT_MS);
		ck_assert_int_ge(l, 0);
		ck_assert_int_eq(M.log[l].code, 0);
		ck_assert_uint_ge(M.log[l].mono_ns - online_ns, 240 * NSEC_PER_MSEC);
	}
	close_and_exit();
}
END_TEST

/* ---- garbage ---- */

START_TEST(test_garbage_ring)
{
	struct chan_agent_stats st;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	const struct chan_status_body *d;

	start(PROPS("GarbageAfter=50", "GarbageCount=10", record_prop()));
	online_ok();
	while (rejected_total() < 10 && ms_since(t0) < WAIT_MS)
		pump(20);
	chan_agent_get_stats(M.a, &st);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_SEQ], 2);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_TYPE], 2);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_RESOURCE], 2);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_LENGTH], 2);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_CMD], 2);
	(void) wait_record_line("garbage ring 10");

	/* libhamon goes on through the ring, from the agent's position. */
	d = run(CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE);
	ck_assert_int_eq(d->code, 1);
	ck_assert(!(d->flags & CHAN_F_COALESCED));
	close_and_exit();
	ck_assert_uint_eq(rejected_total(), 10);
}
END_TEST

START_TEST(test_garbage_register)
{
	struct chan_agent_stats st;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	const struct chan_status_body *d;

	start(PROPS("GarbageAfter=50", "GarbageKind=register", record_prop()));
	online_ok();
	(void) wait_record_line("garbage register 1");
	while (rejected_total() < 1 && ms_since(t0) < WAIT_MS)
		pump(20);
	chan_agent_get_stats(M.a, &st);
	ck_assert_uint_eq(st.rejected[CHAN_REJ_SEQ], 1);
	ck_assert_uint_eq(rejected_total(), 1);

	/* The honest stream is untouched. */
	d = run(CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE);
	ck_assert_int_eq(d->code, 1);
	ck_assert(!(d->flags & CHAN_F_COALESCED));
	close_and_exit();
	ck_assert_uint_eq(rejected_total(), 1);
}
END_TEST

/* ---- record file ---- */

START_TEST(test_record)
{
	static const uint8_t params[] = {0x01, 0xab, 0x00, 0xff};
	static const char *const want[] = {
		"open",	  "online",    "is_alive", "looks_alive", "offline 01ab00ff",
		"online", "offline -", "close",
	};
	char lines[256][256];
	uint64_t ns[256];
	size_t n;
	uint64_t id;
	const char *props[] = {record_prop(), NULL};

	spawn();
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, post_open_named("r1", props))->code, 0);
	online_ok();
	(void) probe(CHAN_CLASS_IS_ALIVE);
	(void) probe(CHAN_CLASS_LOOKS_ALIVE);
	id = post(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, params, sizeof(params));
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, id)->code, 0);
	online_ok();
	ck_assert_int_eq(run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE)->code, 0);
	close_and_exit();

	n = read_record(lines, ns, 256);
	ck_assert_uint_eq(n, ELEMENTSOF(want));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(lines[i], want[i]);
}
END_TEST

START_TEST(test_record_name_escaped)
{
	char buf[256];
	FILE *f;
	const char *props[] = {record_prop(), NULL};

	spawn();
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, post_open_named("a b\\c", props))->code,
			 0);
	close_and_exit();
	f = fopen(F.record, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, " a\\x20b\\x5cc open\n"));
}
END_TEST

/* The longest offline line: a name escaped to 4 bytes per byte, CHAN_ARGS_MAX params; never cut. */
START_TEST(test_record_offline_long)
{
	char name[401], want[2 * CHAN_ARGS_MAX + 16];
	uint8_t params[CHAN_ARGS_MAX];
	_cleanup_free_ char *line = NULL;
	size_t size = 0, n = 0;
	ssize_t l;
	FILE *f;
	uint64_t id;
	const char *props[] = {record_prop(), NULL};

	for (size_t i = 0; i < 200; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2); /* é: "\xc3\xa9" in the file */
	name[400] = '\0';
	n = (size_t) snprintf(want, sizeof(want), " offline ");
	for (size_t i = 0; i < sizeof(params); i++) {
		params[i] = (uint8_t) (i * 7 + 1);
		n += (size_t) snprintf(want + n, sizeof(want) - n, "%02x", params[i]);
	}
	snprintf(want + n, sizeof(want) - n, "\n");

	spawn();
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, post_open_named(name, props))->code, 0);
	online_ok();
	id = post(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, params, sizeof(params));
	ck_assert_int_eq(expect_done(CHAN_CLASS_TRANSITION, id)->code, 0);
	close_and_exit();

	f = fopen(F.record, "re");
	ck_assert_ptr_nonnull(f);
	n = 0;
	while ((l = getline(&line, &size, f)) > 0)
		if (strstr(line, " offline ")) {
			n++;
			ck_assert_uint_ge((size_t) l, strlen(want));
			ck_assert_str_eq(line + l - strlen(want), want);
			ck_assert_ptr_nonnull(strstr(line, " \\xc3\\xa9\\xc3\\xa9"));
		}
	fclose(f);
	ck_assert_uint_eq(n, 1);
}
END_TEST

/* ---- validation ---- */

static const char *const invalid[] = {
	"OnlineDelay=abc",
	"OnlineDelay=",
	"OnlineDelay=-1",
	"OnlineDelay=+5",
	"OnlineDelay= 5",
	"OnlineDelay=5ms",
	"OnlineDelay=86400001",
	"OnlineDelay=99999999999999999999999",
	"OfflineDelay=0x10",
	"OnlineResult=maybe",
	"OfflineResult=OK",
	"OnlineError=0",
	"OfflineError=4096",
	"OpenError=-2",
	"ProgressInterval=1.5",
	"ProgressCheckpoint=sideways",
	"ProgressCheckpoint=stall:0",
	"ProgressCheckpoint=stall:",
	"ProgressWaitHint=x",
	"Hang=online,online",
	"Hang=pending",
	"Hang=",
	"Hang=online,",
	"Hang=after:5",
	"Crash=after:5,after:6",
	"Crash=after:",
	"Crash=explode",
	"CrashSignal=kill",
	"IgnoreTerminate=2",
	"IsAlive=maybe",
	"IsAlive=after:-1",
	"LooksAlive=after:1x",
	"FailAfter=",
	"Locked=on",
	"LockAfter=-5",
	"UnlockAfter=1e3",
	"LockReason=4294967296",
	"GarbageAfter=soon",
	"GarbageKind=heap",
	"GarbageCount=0",
	"GarbageCount=257",
	"RecordFile=relative/path",
	"RecordFile=",
};

/* Opens slot 1 with props; closes it again if the open failed.  The open's code. */
static int open_slot1(const char *const *props)
{
	int code = expect_done(CHAN_CLASS_TRANSITION, post_open_res(1, "r2", props))->code;

	if (code < 0)
		(void) expect_done(CHAN_CLASS_TRANSITION,
				   post_res(1, CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE, NULL, 0));
	return code;
}

/* Every invalid value fails open with -EINVAL (slot 1; slot 0 keeps the program running). */
START_TEST(test_invalid)
{
	start(PROPS("Comment=keeps the program running"));
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		int code = open_slot1((const char *const[]){invalid[i], NULL});

		ck_assert_msg(code == -EINVAL, "%s: open answered %d", invalid[i], code);
	}
	/* A RecordFile that cannot be opened: its errno. */
	ck_assert_int_eq(open_slot1(PROPS("RecordFile=/nonexistent-dir/x")), -ENOENT);
	/* Valid edge values of the same keys. */
	ck_assert_int_eq(
		open_slot1(PROPS("OnlineDelay=86400000", "OfflineDelay=0", "OnlineResult=wrong",
				 "OfflineResult=hang", "OnlineError=4095", "OfflineError=1",
				 "ProgressInterval=0", "ProgressCheckpoint=stall:1000000000",
				 "ProgressWaitHint=86400000",
				 "Hang=online,offline,terminate,looks_alive,is_alive",
				 "Crash=after:0,pending,close", "CrashSignal=segv",
				 "IgnoreTerminate=yes", "IsAlive=0", "LooksAlive=after:0",
				 "FailAfter=0", "Locked=false", "LockAfter=86400000",
				 "UnlockAfter=0", "LockReason=4294967295", "GarbageAfter=0",
				 "GarbageKind=register", "GarbageCount=256",
				 "RecordFile=/dev/null")),
		0);
	expect_alive();
}
END_TEST

/*
 * Claim: the example monitor of the README (monitorlib/examples/) works as
 * the README says: open needs an absolute Path, online reports checkpoints
 * 1-3 then creates the file, is_alive follows the file, offline removes it.
 */
START_TEST(test_readme_example)
{
	const char *example = getenv("HAMON_EXAMPLE_BIN");
	const char *saved = prog_bin;
	const struct chan_status_body *d;
	char path[128], prop[160];
	uint32_t next = 1;
	uint64_t id;

	ck_assert_msg(example && access(example, X_OK) == 0, "HAMON_EXAMPLE_BIN not executable");
	prog_bin = example;
	snprintf(path, sizeof(path), "%s/file", F.dir);
	snprintf(prop, sizeof(prop), "Path=%s", path);

	spawn();
	d = expect_done(CHAN_CLASS_TRANSITION, post_open_res(1, "bad", PROPS("Path=relative")));
	ck_assert_int_eq(d->code, -EINVAL);
	d = expect_done(CHAN_CLASS_TRANSITION, post_open_named("r1", PROPS(prop)));
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);

	id = post_transition(CHAN_OP_ONLINE);
	d = expect_done(CHAN_CLASS_TRANSITION, id);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_ONLINE);
	for (size_t i = 0; i < M.n_log; i++)
		if (M.log[i].type == CHAN_ST_PROGRESS && M.log[i].cmd_id == id) {
			ck_assert_int_eq(M.log[i].state, ST_ONLINE_PENDING);
			ck_assert_uint_eq(M.log[i].checkpoint, next++);
		}
	ck_assert_uint_eq(next, 4);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 1);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(probe(CHAN_CLASS_IS_ALIVE), 0);

	d = run(CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE);
	ck_assert_int_eq(d->code, 0);
	ck_assert_int_eq(d->state, ST_OFFLINE);
	ck_assert_uint_eq(rejected_total(), 0);
	/* The failed slot 1 stays taken until its CLOSE; then r1's CLOSE ends the program. */
	d = expect_done(CHAN_CLASS_TRANSITION,
			post_res(1, CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE, NULL, 0));
	ck_assert_int_eq(d->code, 0);
	close_and_exit();
	prog_bin = saved;
}
END_TEST

Suite *hamon_test_suite(void);

Suite *hamon_test_suite(void)
{
	Suite *s = suite_create("hamon-test");
	TCase *tc;

	tc = tcase_create("transitions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sync);
	tcase_add_test(tc, test_pending_progress);
	tcase_add_loop_test(tc, test_checkpoints, 0, ELEMENTSOF(cp_cases));
	tcase_add_test(tc, test_fail);
	tcase_add_test(tc, test_open_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("terminate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hang_entry_point);
	tcase_add_test(tc, test_hang_result);
	tcase_add_test(tc, test_wrong_result);
	tcase_add_test(tc, test_terminate_pending);
	tcase_add_test(tc, test_ignore_terminate);
	tcase_add_loop_test(tc, test_crash, 0, ELEMENTSOF(crash_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("health");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_probes);
	tcase_add_test(tc, test_failure_fd);
	tcase_add_test(tc, test_failure_fd_pending);
	tcase_add_test(tc, test_locked);
	suite_add_tcase(s, tc);

	tc = tcase_create("garbage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_garbage_ring);
	tcase_add_test(tc, test_garbage_register);
	suite_add_tcase(s, tc);

	tc = tcase_create("example");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_readme_example);
	suite_add_tcase(s, tc);

	tc = tcase_create("script");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_record_name_escaped);
	tcase_add_test(tc, test_record_offline_long);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	prog_bin = getenv("HAMON_TEST_BIN");
	prog_name = "hamon-test";
	open_type = "test";
	if (!prog_bin || access(prog_bin, X_OK) < 0) {
		fprintf(stderr, "HAMON_TEST_BIN not set or not executable: skipped\n");
		return 77;
	}
	return test_run_suite(hamon_test_suite());
}
