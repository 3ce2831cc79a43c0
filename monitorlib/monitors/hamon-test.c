/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon-test: the scriptable monitor program (resource type "test"), for
 * tests and demos.  Each resource's private properties script what its entry
 * points do.  Every value is validated in open; an invalid one (or an
 * unparsable number, an unknown word) makes open fail with -EINVAL, and the
 * agent shows the resource Failed with that code.  Unknown keys cannot be
 * detected (libhamon looks properties up by name) and are ignored.
 *
 * Numbers are decimal digits only.  ms: 0..86400000.  errno: 1..4095.
 * bool: 1/0, true/false, yes/no.  "After Online" times count from the
 * moment the resource last reached Online (returned 0 from online, or
 * reported Online); they restart with every Online and stop when the
 * resource leaves it (offline, terminate, close).
 *
 *   OpenError=errno         open fails with -errno.
 *   OnlineDelay=ms          0 (default): online finishes in the call.  >0:
 *                           online returns HAMON_PENDING and a thread of
 *                           this program reports the result after ms.
 *   OnlineResult=ok|fail|hang|wrong
 *                           ok (default); fail: synchronously -OnlineError,
 *                           pending: report Failed; hang: return
 *                           HAMON_PENDING (whatever the delay) and never
 *                           report the outcome, until terminated; wrong:
 *                           pending, report Offline (a protocol violation:
 *                           libhamon refuses it with -EINVAL and posts
 *                           nothing) after the delay, then as hang.
 *   OnlineError=errno       errno of a synchronous fail (default 5, EIO).
 *   OfflineDelay=ms, OfflineResult=ok|fail|hang|wrong, OfflineError=errno
 *                           the same for offline (wrong reports Online).
 *   ProgressInterval=ms     while pending, report online-pending /
 *                           offline-pending at this cadence (0: never).
 *   ProgressCheckpoint=increasing|constant|decreasing|stall:N
 *                           checkpoints of those reports: 1, 2, 3, ...
 *                           (default); 1, 1, ...; 1000000, 999999, ...;
 *                           1, 2, ..., N, N, N, ...
 *   ProgressWaitHint=ms     wait hint of those reports (default 0).
 *   Hang=POINT[,POINT...]   these entry points never return (POINT: open,
 *                           online, offline, terminate, looks_alive,
 *                           is_alive, close).
 *   Crash=POINT[,POINT...]  crash on entering these entry points; also
 *                           "pending" (the pending thread, when it would
 *                           report the outcome) and "after:MS" (MS after
 *                           Online).
 *   CrashSignal=abort|segv  abort() (SIGABRT, default) or SIGSEGV (raised
 *                           with the default action, so that sanitizers'
 *                           handlers do not turn it into an exit).
 *   IgnoreTerminate=bool    terminate returns at once and changes nothing:
 *                           pending work goes on, ignores HAMON_TERMINATE
 *                           and reports late; the after-Online timers keep
 *                           running.  Close still stops everything.  A
 *                           "hang" outcome ends at terminate regardless.
 *                           A new online/offline waits (in the entry point)
 *                           for such late work to finish.
 *   IsAlive=true|false|after:MS
 *                           is_alive's answer; after:MS: alive until MS
 *                           after Online, then not (alive before any Online).
 *   LooksAlive=true|false|after:MS   the same for looks_alive.
 *   FailAfter=ms            signal hamon_failure_fd() ms after Online
 *                           (IsAlive then confirms or denies the failure).
 *                           Declares the failure fd with each Online, so
 *                           the agent does not poll looks_alive.
 *   Locked=bool             locked mode on when the resource reaches Online
 *                           (before the Online answer), off when it reaches
 *                           Offline (before that answer) or is terminated.
 *   LockAfter=ms, UnlockAfter=ms   locked mode on / off ms after Online.
 *   LockReason=u32          the reason passed with locked mode (default 0).
 *   GarbageAfter=ms         ms after Online, write garbage into this
 *                           process's own producer page of the channel.
 *                           This deliberately bypasses libhamon (main()
 *                           maps the memfd named in HAGENT_CHANNEL_FDS
 *                           before hamon_run()) to test the agent's
 *                           validation: see GarbageKind.
 *   GarbageKind=ring|register
 *                           ring (default): GarbageCount committed ring
 *                           entries at libhamon's next write position, each
 *                           invalid in one way, cycling through: bad
 *                           sequence word, unknown type, resource out of
 *                           range, bad detail length, unknown command id.
 *                           The agent consumes them, so its head passes
 *                           libhamon's write position: libhamon then posts
 *                           everything through its latest-status register
 *                           (coalesced) for the rest of the process's life,
 *                           as it would after any corruption of its page.
 *                           register: one forged "latest status" register
 *                           (resource index 0) naming an impossible ring
 *                           position (a bad-sequence reject); harmless to
 *                           the honest stream.
 *                           Either races with libhamon's own posts: script
 *                           it while the resource is quiet.
 *   GarbageCount=1..256     ring entries per GarbageKind=ring (default 1).
 *   RecordFile=/abs/path    append one line per event (O_APPEND, one
 *                           write each, created 0644):
 *                             <CLOCK_MONOTONIC ns> <name> <what>
 *                           <name> has bytes outside '!'..'~' and '\' as
 *                           \xHH.  <what>: open, online, terminate,
 *                           looks_alive, is_alive, close (on entry),
 *                           "offline <params in hex, or ->" (on entry),
 *                           "report <state> <checkpoint>" (just before
 *                           each report), "status <state> <checkpoint> <continue|
 *                           terminate|-errno>" (each report and what
 *                           libhamon answered), "locked 1|0", "fail",
 *                           "garbage <kind> <count|-errno>", "hang <point>",
 *                           "crash <point|after>".
 *
 * Threads: libhamon runs the entry points on its workers; each resource
 * also has one thread of ours (started in open, joined in close) that runs
 * the pending work and the after-Online timers.  Everything they share is
 * under the resource's mutex, held only for a few stores: waits are
 * condition-variable waits, and no library call is made with it held.
 * Terminate asks the pending work to stop and waits for it to notice
 * (microseconds: it wakes on the same condition variable).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel-layout.h"
#include "hagent/hamon.h"
#include "hamon-test.h"
#include "macro.h"
#include "time-util.h"

/* The longest line: timestamp, the escaped name (struct tres), "offline ", every params byte in
 * hex. */
#define RECORD_LINE_MAX	 (2 * CHAN_ARGS_MAX + 4 * 256 + 64)
#define CANCEL_POLL_NS	 (100 * NSEC_PER_MSEC) /* re-check hamon_terminate_requested() */
#define DECREASING_START 1000000u

/* ---- resources ---- */

enum job {
	JOB_NONE,
	JOB_ONLINE,
	JOB_OFFLINE,
};

/* Things that happen a set time after Online, in the order they fire when due together. */
enum timer {
	TIMER_LOCK,
	TIMER_UNLOCK,
	TIMER_FAIL,
	TIMER_GARBAGE,
	TIMER_CRASH,
	_TIMER_MAX,
};

struct tres {
	hamon_resource *r;
	struct script s;
	int64_t timer_ms[_TIMER_MAX]; /* SCRIPT_UNSET: not scripted */
	int record_fd;
	char name[4 * 256]; /* escaped for the record file */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on any change below */
	pthread_t thread;
	bool thread_started;

	/* Under lock. */
	enum job job;  /* requested or running; JOB_NONE: the thread is free */
	bool job_stop; /* terminate asked the running job to stop */
	bool closing;
	bool armed;	    /* Online: the timers run */
	uint64_t online_ns; /* when it last reached Online; 0: never */
	bool fired[_TIMER_MAX];

	pthread_mutex_t mode_lock; /* orders locked-mode changes with their posts */
	bool locked;		   /* under mode_lock */
};

static void record(struct tres *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void record(struct tres *t, const char *fmt, ...)
{
	char line[RECORD_LINE_MAX];
	va_list ap;
	int n, m;

	if (t->record_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%llu %s ", (unsigned long long) now_ns(CLOCK_MONOTONIC),
		     t->name);
	if (n < 0 || (size_t) n >= sizeof(line) - 1)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t) n > sizeof(line) - 2)
		n = (int) sizeof(line) - 2;
	line[n++] = '\n';
	/* One write to an O_APPEND fd: lines of concurrent threads never interleave. */
	(void) !write(t->record_fd, line, (size_t) n);
}

static void escape_name(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char) *s;

		if (c > ' ' && c < 0x7f && c != '\\')
			out[o++] = (char) c;
		else
			o += (size_t) snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

_Noreturn static void crash(struct tres *t, const char *where)
{
	record(t, "crash %s", where);
	if (t->s.crash_segv) {
		sigset_t ss;

		/* Default action and unblocked, whatever libhamon or a sanitizer installed. */
		(void) signal(SIGSEGV, SIG_DFL);
		sigemptyset(&ss);
		sigaddset(&ss, SIGSEGV);
		(void) pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
		(void) raise(SIGSEGV);
	}
	abort();
}

_Noreturn static void hang(struct tres *t, const char *where)
{
	record(t, "hang %s", where);
	for (;;)
		(void) pause();
}

/* What every entry point does first. */
static void enter(struct tres *t, enum script_point p)
{
	const char *name = script_point_to_string(p);

	if (p != POINT_OFFLINE)
		record(t, "%s", name);
	if (t->s.hang[p])
		hang(t, name);
	if (t->s.crash[p])
		crash(t, name);
}

static void wait_until(struct tres *t, uint64_t deadline_ns)
{
	struct timespec ts;

	if (deadline_ns == UINT64_MAX) {
		(void) pthread_cond_wait(&t->cond, &t->lock);
		return;
	}
	ts.tv_sec = (time_t) (deadline_ns / NSEC_PER_SEC);
	ts.tv_nsec = (long) (deadline_ns % NSEC_PER_SEC);
	(void) pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

static void set_locked(struct tres *t, bool on)
{
	int r;

	(void) pthread_mutex_lock(&t->mode_lock);
	if (t->locked != on) {
		r = hamon_set_locked_mode(t->r, on, t->s.lock_reason);
		if (r >= 0)
			t->locked = on;
		record(t, "locked %d%s", on, r < 0 ? " failed" : "");
	}
	(void) pthread_mutex_unlock(&t->mode_lock);
}

/* The resource reaches Online (before the Online answer): start the timers. */
static void went_online(struct tres *t)
{
	if (t->s.locked)
		set_locked(t, true);
	/* FailAfter: failures come on the failure fd; declared before the Online answer. */
	if (t->s.fail_after_ms != SCRIPT_UNSET)
		(void) hamon_failure_fd(t->r);
	(void) pthread_mutex_lock(&t->lock);
	t->online_ns = now_ns(CLOCK_MONOTONIC);
	t->armed = true;
	memset(t->fired, 0, sizeof(t->fired));
	(void) pthread_cond_broadcast(&t->cond);
	(void) pthread_mutex_unlock(&t->lock);
}

static void disarm(struct tres *t)
{
	(void) pthread_mutex_lock(&t->lock);
	t->armed = false;
	(void) pthread_mutex_unlock(&t->lock);
}

static const char *state_to_string(enum hamon_state s)
{
	switch (s) {
	case HAMON_STATE_ONLINE:
		return "online";
	case HAMON_STATE_OFFLINE:
		return "offline";
	case HAMON_STATE_FAILED:
		return "failed";
	case HAMON_STATE_ONLINE_PENDING:
		return "online-pending";
	case HAMON_STATE_OFFLINE_PENDING:
		return "offline-pending";
	}
	return "?";
}

static int report(struct tres *t, enum hamon_state state, uint32_t checkpoint)
{
	int r;

	/* Before the report: what the agent does about it comes later in the file. */
	record(t, "report %s %u", state_to_string(state), checkpoint);
	r = hamon_set_resource_status(t->r, state, checkpoint, t->s.progress_wait_hint_ms);
	if (r == HAMON_CONTINUE)
		record(t, "status %s %u continue", state_to_string(state), checkpoint);
	else if (r == HAMON_TERMINATE)
		record(t, "status %s %u terminate", state_to_string(state), checkpoint);
	else
		record(t, "status %s %u %d", state_to_string(state), checkpoint, r);
	return r;
}

/* Whether the running job must stop now; hard: also when ignoring terminate. */
static bool job_cancelled(struct tres *t, bool hard)
{
	bool ignore = t->s.ignore_terminate && !hard;
	bool c;

	(void) pthread_mutex_lock(&t->lock);
	c = t->closing || (t->job_stop && !ignore);
	(void) pthread_mutex_unlock(&t->lock);
	return c || (!ignore && hamon_terminate_requested(t->r));
}

/* Sleeps until deadline or a change (terminate, close), at most CANCEL_POLL_NS. */
static void job_sleep(struct tres *t, uint64_t deadline_ns)
{
	uint64_t poll = now_ns(CLOCK_MONOTONIC) + CANCEL_POLL_NS;

	(void) pthread_mutex_lock(&t->lock);
	if (!t->closing && !t->job_stop)
		wait_until(t, deadline_ns < poll ? deadline_ns : poll);
	(void) pthread_mutex_unlock(&t->lock);
}

static uint32_t next_checkpoint(const struct script *s, uint32_t *n)
{
	uint32_t i = ++*n; /* 1, 2, 3, ... */

	switch (s->progress_cp) {
	case CP_CONSTANT:
		return 1;
	case CP_DECREASING:
		return i <= DECREASING_START ? DECREASING_START - i + 1 : 0;
	case CP_STALL:
		return i < s->progress_stall ? i : s->progress_stall;
	case CP_INCREASING:
		break;
	}
	return i;
}

/* A pending online or offline, on our thread: progress until the delay ends, then the outcome. */
static void run_job(struct tres *t, enum job job)
{
	bool on = job == JOB_ONLINE;
	const struct script_transition *tr = on ? &t->s.online : &t->s.offline;
	enum hamon_state pending = on ? HAMON_STATE_ONLINE_PENDING : HAMON_STATE_OFFLINE_PENDING;
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	uint64_t end = start + tr->delay_ms * NSEC_PER_MSEC;
	uint64_t interval = t->s.progress_interval_ms * NSEC_PER_MSEC;
	uint64_t next = start + interval;
	uint32_t n = 0;

	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		if (job_cancelled(t, false))
			return;
		if (now >= end)
			break;
		if (interval > 0 && now >= next) {
			if (report(t, pending, next_checkpoint(&t->s, &n)) == HAMON_TERMINATE &&
			    !t->s.ignore_terminate)
				return;
			next += interval;
			if (next <= now)
				next = now + interval; /* we overslept: keep the cadence from now */
			continue;
		}
		job_sleep(t, interval > 0 && next < end ? next : end);
	}

	if (t->s.crash[POINT_PENDING])
		crash(t, "pending");
	switch (tr->result) {
	case RESULT_OK:
		if (on) {
			went_online(t);
			if (report(t, HAMON_STATE_ONLINE, 0) != HAMON_CONTINUE &&
			    !t->s.ignore_terminate)
				disarm(t);
		} else {
			set_locked(t, false);
			(void) report(t, HAMON_STATE_OFFLINE, 0);
		}
		return;
	case RESULT_FAIL:
		(void) report(t, HAMON_STATE_FAILED, 0);
		return;
	case RESULT_WRONG:
		(void) report(t, on ? HAMON_STATE_OFFLINE : HAMON_STATE_ONLINE, 0);
		break;
	case RESULT_HANG:
		break;
	}
	/* Silent until terminated (even with IgnoreTerminate: there is no work to go on with). */
	while (!job_cancelled(t, true))
		job_sleep(t, UINT64_MAX);
}

static void fire(struct tres *t, enum timer timer)
{
	int r;

	switch (timer) {
	case TIMER_LOCK:
		set_locked(t, true);
		break;
	case TIMER_UNLOCK:
		set_locked(t, false);
		break;
	case TIMER_FAIL: {
		uint64_t one = 1;

		r = hamon_failure_fd(t->r);
		if (r < 0) {
			record(t, "fail %d", r);
			break;
		}
		/* Recorded before the signal: the is_alive it sets off comes later in the file. */
		record(t, "fail");
		if (write(r, &one, sizeof(one)) < 0)
			record(t, "fail %d", negative_errno());
		break;
	}
	case TIMER_GARBAGE: {
		const char *kind = t->s.garbage_kind == GARBAGE_RING ? "ring" : "register";

		r = channel_forge(t->s.garbage_kind, t->s.garbage_count);
		record(t, "garbage %s %d", kind, r);
		break;
	}
	case TIMER_CRASH:
		crash(t, "after");
	case _TIMER_MAX:
		break;
	}
}

/* The resource's own thread: pending jobs, and the timers while Online. */
static void *resource_thread(void *userdata)
{
	struct tres *t = userdata;

	(void) pthread_mutex_lock(&t->lock);
	while (!t->closing) {
		uint64_t now, due = UINT64_MAX;
		int timer = -1;

		if (t->job != JOB_NONE) {
			enum job job = t->job;

			(void) pthread_mutex_unlock(&t->lock);
			run_job(t, job);
			(void) pthread_mutex_lock(&t->lock);
			t->job = JOB_NONE;
			(void) pthread_cond_broadcast(&t->cond);
			continue;
		}

		now = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; t->armed && timer < 0 && i < _TIMER_MAX; i++) {
			uint64_t at;

			if (t->timer_ms[i] == SCRIPT_UNSET || t->fired[i])
				continue;
			at = t->online_ns + (uint64_t) t->timer_ms[i] * NSEC_PER_MSEC;
			if (at <= now)
				timer = i;
			else if (at < due)
				due = at;
		}
		if (timer >= 0) {
			t->fired[timer] = true;
			(void) pthread_mutex_unlock(&t->lock);
			fire(t, (enum timer) timer);
			(void) pthread_mutex_lock(&t->lock);
			continue;
		}
		wait_until(t, due);
	}
	(void) pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Hands a pending online or offline to our thread, after a previous one that ignored terminate. */
static int job_start(struct tres *t, enum job job)
{
	int r = HAMON_PENDING;

	(void) pthread_mutex_lock(&t->lock);
	while (t->job != JOB_NONE && !t->closing)
		(void) pthread_cond_wait(&t->cond, &t->lock);
	if (t->closing)
		r = -ECANCELED;
	else {
		t->job = job;
		t->job_stop = false;
		(void) pthread_cond_broadcast(&t->cond);
	}
	(void) pthread_mutex_unlock(&t->lock);
	return r;
}

static bool is_pending(const struct script_transition *tr)
{
	return tr->delay_ms > 0 || tr->result == RESULT_HANG || tr->result == RESULT_WRONG;
}

static struct tres *tres_free(struct tres *t)
{
	if (!t)
		return NULL;
	if (t->thread_started) {
		(void) pthread_mutex_lock(&t->lock);
		t->closing = true;
		(void) pthread_cond_broadcast(&t->cond);
		(void) pthread_mutex_unlock(&t->lock);
		(void) pthread_join(t->thread, NULL);
	}
	safe_close(t->record_fd);
	script_done(&t->s);
	(void) pthread_mutex_destroy(&t->mode_lock);
	(void) pthread_cond_destroy(&t->cond);
	(void) pthread_mutex_destroy(&t->lock);
	free(t);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tres *, tres_free);

static const char *lookup(void *userdata, const char *key)
{
	return hamon_resource_property(userdata, key);
}

static struct tres *tres_new(hamon_resource *r)
{
	struct tres *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	const char *name;

	if (!t)
		return NULL;
	t->r = r;
	t->record_fd = -EBADF;
	name = hamon_resource_name(r);
	escape_name(name ? name : "", t->name, sizeof(t->name));
	(void) pthread_mutex_init(&t->lock, NULL);
	(void) pthread_mutex_init(&t->mode_lock, NULL);
	(void) pthread_condattr_init(&ca);
	(void) pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void) pthread_cond_init(&t->cond, &ca);
	(void) pthread_condattr_destroy(&ca);
	return t;
}

static int test_open(hamon_resource *r, void **ret_instance)
{
	_cleanup_(tres_freep) struct tres *t = NULL;
	const char *key = NULL;
	int k;

	t = tres_new(r);
	if (!t)
		return -ENOMEM;
	k = script_parse(&t->s, lookup, r, &key);
	if (k < 0) {
		if (key)
			fprintf(stderr, "hamon-test: %s: invalid property %s=%s\n", t->name, key,
				hamon_resource_property(r, key));
		return k;
	}
	t->timer_ms[TIMER_LOCK] = t->s.lock_after_ms;
	t->timer_ms[TIMER_UNLOCK] = t->s.unlock_after_ms;
	t->timer_ms[TIMER_FAIL] = t->s.fail_after_ms;
	t->timer_ms[TIMER_GARBAGE] = t->s.garbage_after_ms;
	t->timer_ms[TIMER_CRASH] = t->s.crash_after_ms;

	if (t->s.record_file) {
		t->record_fd = open(t->s.record_file,
				    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
		if (t->record_fd < 0) {
			k = negative_errno();
			fprintf(stderr, "hamon-test: %s: RecordFile=%s: %s\n", t->name,
				t->s.record_file, strerror(-k));
			return k;
		}
	}
	enter(t, POINT_OPEN);
	if (t->s.open_error > 0)
		return -(int) t->s.open_error;
	if (t->s.garbage_after_ms != SCRIPT_UNSET && !channel_mapped()) {
		fprintf(stderr, "hamon-test: %s: GarbageAfter: channel pages not mapped\n",
			t->name);
		return -ENXIO;
	}

	k = pthread_create(&t->thread, NULL, resource_thread, t);
	if (k != 0)
		return -k;
	t->thread_started = true;
	*ret_instance = TAKE_PTR(t);
	return 0;
}

static void test_close(hamon_resource *r _unused_, void *instance)
{
	struct tres *t = instance;

	enter(t, POINT_CLOSE);
	tres_free(t);
}

static int test_online(hamon_resource *r _unused_, void *instance)
{
	struct tres *t = instance;

	enter(t, POINT_ONLINE);
	if (is_pending(&t->s.online))
		return job_start(t, JOB_ONLINE);
	if (t->s.online.result == RESULT_FAIL)
		return -(int) t->s.online.error;
	went_online(t);
	return 0;
}

static int test_offline(hamon_resource *r _unused_, void *instance, const void *params,
			size_t params_len)
{
	struct tres *t = instance;
	char hex[2 * CHAN_ARGS_MAX + 1];
	size_t n = params_len < CHAN_ARGS_MAX ? params_len : CHAN_ARGS_MAX;

	for (size_t i = 0; i < n; i++)
		(void) snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *) params)[i]);
	hex[2 * n] = '\0';
	record(t, "offline %s", n > 0 ? hex : "-");
	enter(t, POINT_OFFLINE);

	disarm(t);
	if (is_pending(&t->s.offline))
		return job_start(t, JOB_OFFLINE);
	if (t->s.offline.result == RESULT_FAIL)
		return -(int) t->s.offline.error;
	set_locked(t, false);
	return 0;
}

static void test_terminate(hamon_resource *r _unused_, void *instance)
{
	struct tres *t = instance;

	enter(t, POINT_TERMINATE);
	if (t->s.ignore_terminate)
		return;

	(void) pthread_mutex_lock(&t->lock);
	t->armed = false;
	t->job_stop = true;
	(void) pthread_cond_broadcast(&t->cond);
	/* The job wakes on the same condition variable: this waits for microseconds. */
	while (t->job != JOB_NONE)
		(void) pthread_cond_wait(&t->cond, &t->lock);
	(void) pthread_mutex_unlock(&t->lock);
	set_locked(t, false);
}

static int probe(struct tres *t, const struct script_probe *p)
{
	uint64_t online_ns;

	if (p->after_ms == SCRIPT_UNSET)
		return p->alive;
	(void) pthread_mutex_lock(&t->lock);
	online_ns = t->online_ns;
	(void) pthread_mutex_unlock(&t->lock);
	return online_ns == 0 ||
	       now_ns(CLOCK_MONOTONIC) < online_ns + (uint64_t) p->after_ms * NSEC_PER_MSEC;
}

static int test_looks_alive(hamon_resource *r _unused_, void *instance)
{
	struct tres *t = instance;

	enter(t, POINT_LOOKS_ALIVE);
	return probe(t, &t->s.looks_alive);
}

static int test_is_alive(hamon_resource *r _unused_, void *instance)
{
	struct tres *t = instance;

	enter(t, POINT_IS_ALIVE);
	return probe(t, &t->s.is_alive);
}

/*
 * HAMON_TEST_CONTROL_ECHO answers its input (at most out_size bytes); every
 * other code is left to libhamon's default handling (-EOPNOTSUPP).
 */
#define HAMON_TEST_CONTROL_ECHO 0x100u

static int test_control(hamon_resource *r _unused_, void *instance, uint32_t code, const void *in,
			size_t in_len, void *out, size_t out_size)
{
	struct tres *t = instance;
	size_t n = in_len < out_size ? in_len : out_size;

	record(t, "control 0x%x", code);
	if (code != HAMON_TEST_CONTROL_ECHO)
		return -EOPNOTSUPP;
	memcpy(out, in, n);
	return (int) n;
}

static const struct hamon_ops ops = {
	.size = sizeof(struct hamon_ops),
	.open = test_open,
	.close = test_close,
	.online = test_online,
	.offline = test_offline,
	.terminate = test_terminate,
	.looks_alive = test_looks_alive,
	.is_alive = test_is_alive,
	.control = test_control,
};

int main(int argc, char *argv[])
{
	int r;

	if (argc > 1) {
		fprintf(stderr,
			"Usage: %s\n"
			"The scriptable monitor of resource type \"test\": hagentd starts it with\n"
			"HAGENT_CHANNEL_FDS set; resource properties script it (see README.md).\n",
			argv[0]);
		return strcmp(argv[1], "--help") == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	channel_map();
	r = hamon_run(&ops, NULL);
	if (r < 0) {
		fprintf(stderr, "hamon-test: %s\n",
			r == -ENXIO ? "not started by hagentd (HAGENT_CHANNEL_FDS)" : strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
