/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libhamon (monitorlib/) driven in-process: the test plays hagentd with the
 * agent end of a channel (chan_agent_*) and runs hamon_run_fds() in a
 * thread, or in a forked child where a signal must reach it, with scripted
 * entry points.  Each test says which claim of docs/monitor-protocol.md or
 * include/hagent/hamon.h it checks; every scenario is honest, so the agent
 * must reject nothing.  Every wait is bounded.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "hagent/hamon.h"
#include "test-channel-util.h"
#include "test-util.h"
#include "time-util.h"

#define WAIT_MS	 5000 /* bound on anything that should happen at once */
#define QUIET_MS 200  /* how long "nothing more arrives" is watched */
#define LOG_MAX	 1024 /* statuses one test receives at most */
#define ID	 "0123456789abcdef0123456789ABCDEF"

/* A record literal with its explicit trailing NUL: (pointer, length). */
#define REC(s) s, (uint32_t) (sizeof(s) - 1)

/* ---- the scripted implementation ---- */

enum mode {
	M_OK,		    /* return 0 */
	M_PENDING,	    /* return HAMON_PENDING; the test reports */
	M_FAIL,		    /* return -EIO */
	M_BLOCK,	    /* wait until released or terminate() ran, then see the terminate */
	M_PENDING_PROGRESS, /* report online-pending checkpoint 1, then return HAMON_PENDING */
	M_PENDING_ANSWERED, /* report Online, then return HAMON_PENDING all the same */
};

/* What the entry points do and saw; shared with forked monitors. */
struct script {
	atomic_int online_mode, offline_mode, open_ret, looks_ret, is_ret;
	atomic_bool probe_block, release_online, release_probe;
	atomic_int n_open, n_close, n_online, n_offline, n_terminate, n_looks, n_is, n_control;
	atomic_bool online_running, probe_running;
	atomic_bool terminate_saw_online, online_saw_terminate;
	atomic_int online_status_ret;
	atomic_bool declare_fd;	       /* online() calls hamon_failure_fd() */
	atomic_bool block_ret_pending; /* M_BLOCK: return HAMON_PENDING once terminated */
	atomic_int n_events;
	char events[64]; /* o open, n online, f offline, t terminate, c close */
	hamon_resource *_Atomic res[CHAN_MAX_RESOURCES];
	int instance[CHAN_MAX_RESOURCES];
	atomic_bool bad_instance;
	/* What open() read through the accessors (resource 0). */
	char name[64], type[64], id[64], color[64], empty[8];
	bool missing_null, dot_name_null;
	void *userdata;
	char params[64];
	atomic_int params_len;
};

static struct script *S;
static int userdata_marker;

static void event(char c)
{
	int i = atomic_fetch_add(&S->n_events, 1);

	if (i < (int) sizeof(S->events) - 1)
		S->events[i] = c;
}

/* Polls *flag until it is set; false after WAIT_MS. */
static bool wait_flag(atomic_bool *flag)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;

	while (!atomic_load(flag)) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		(void) usleep(500);
	}
	return true;
}

/* Polls *v until it reaches want; false after WAIT_MS. */
static bool wait_count(atomic_int *v, int want)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;

	while (atomic_load(v) < want) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		(void) usleep(500);
	}
	return true;
}

static void check_instance(hamon_resource *r, void *instance)
{
	const char *name = hamon_resource_name(r);
	int i = name ? atoi(name + 1) : -1;

	if (i < 0 || i >= CHAN_MAX_RESOURCES || instance != &S->instance[i])
		S->bad_instance = true;
}

static void copy_str(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "(null)");
}

static int t_open(hamon_resource *r, void **ret_instance)
{
	const char *name = hamon_resource_name(r);
	int i = atoi(name + 1); /* names are "r<index>" */

	atomic_fetch_add(&S->n_open, 1);
	event('o');
	if (i == 0) {
		copy_str(S->name, sizeof(S->name), name);
		copy_str(S->type, sizeof(S->type), hamon_resource_type(r));
		copy_str(S->id, sizeof(S->id), hamon_resource_id(r));
		copy_str(S->color, sizeof(S->color), hamon_resource_property(r, "color"));
		copy_str(S->empty, sizeof(S->empty), hamon_resource_property(r, "empty"));
		S->missing_null = !hamon_resource_property(r, "missing");
		S->dot_name_null = !hamon_resource_property(r, ".name");
		S->userdata = hamon_resource_userdata(r);
	}
	S->res[i] = r;
	*ret_instance = &S->instance[i];
	return S->open_ret;
}

static void t_close(hamon_resource *r, void *instance)
{
	check_instance(r, instance);
	atomic_fetch_add(&S->n_close, 1);
	event('c');
}

/* M_BLOCK: until the test releases it or terminate() ran; then reports as a worker would. */
static int block_until_released(hamon_resource *r)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;

	while (!S->release_online && S->n_terminate == 0 && now_ns(CLOCK_MONOTONIC) < end)
		(void) usleep(500);
	if (!hamon_terminate_requested(r))
		return 0;
	S->online_saw_terminate = true;
	S->online_status_ret = hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 0);
	return S->block_ret_pending ? HAMON_PENDING : -ECANCELED;
}

static int t_online(hamon_resource *r, void *instance)
{
	int k = 0;

	check_instance(r, instance);
	atomic_fetch_add(&S->n_online, 1);
	event('n');
	S->online_running = true;
	if (S->declare_fd)
		(void) hamon_failure_fd(r);
	switch (S->online_mode) {
	case M_PENDING:
		k = HAMON_PENDING;
		break;
	case M_PENDING_PROGRESS:
		S->online_status_ret =
			hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 0);
		k = HAMON_PENDING;
		break;
	case M_PENDING_ANSWERED:
		S->online_status_ret = hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0);
		k = HAMON_PENDING;
		break;
	case M_FAIL:
		k = -EIO;
		break;
	case M_BLOCK:
		k = block_until_released(r);
		break;
	}
	S->online_running = false;
	return k;
}

static int t_offline(hamon_resource *r, void *instance, const void *params, size_t params_len)
{
	check_instance(r, instance);
	atomic_fetch_add(&S->n_offline, 1);
	event('f');
	if (params_len <= sizeof(S->params)) {
		memcpy(S->params, params, params_len);
		S->params_len = (int) params_len;
	}
	switch (S->offline_mode) {
	case M_PENDING:
		return HAMON_PENDING;
	case M_FAIL:
		return -EIO;
	}
	return 0;
}

static void t_terminate(hamon_resource *r, void *instance)
{
	check_instance(r, instance);
	if (S->online_running)
		S->terminate_saw_online = true;
	event('t');
	atomic_fetch_add(&S->n_terminate, 1);
}

static int probe(atomic_int *count, int ret)
{
	atomic_fetch_add(count, 1);
	if (S->probe_block) {
		S->probe_running = true;
		(void) wait_flag(&S->release_probe);
		S->probe_running = false;
	}
	return ret;
}

static int t_looks_alive(hamon_resource *r, void *instance)
{
	check_instance(r, instance);
	return probe(&S->n_looks, S->looks_ret);
}

static int t_is_alive(hamon_resource *r, void *instance)
{
	check_instance(r, instance);
	return probe(&S->n_is, S->is_ret);
}

static int t_control(hamon_resource *r, void *instance, uint32_t code, const void *in,
		     size_t in_len, void *out, size_t out_size)
{
	check_instance(r, instance);
	atomic_fetch_add(&S->n_control, 1);
	switch (code) {
	case 42: /* a fixed answer */
		memcpy(out, "xyz!", 4);
		return 4;
	case 43: /* echo */
		if (in_len > out_size)
			return -ENOBUFS;
		memcpy(out, in, in_len);
		return (int) in_len;
	case 44: /* claims more than the channel carries */
		memset(out, 'z', out_size);
		return (int) out_size + 8;
	}
	return -EOPNOTSUPP;
}

static const struct hamon_ops full_ops = {
	.size = sizeof(struct hamon_ops),
	.open = t_open,
	.close = t_close,
	.online = t_online,
	.offline = t_offline,
	.terminate = t_terminate,
	.looks_alive = t_looks_alive,
	.is_alive = t_is_alive,
	.control = t_control,
};

/* Only what is mandatory, plus open (to learn the resource pointer). */
static const struct hamon_ops min_ops = {
	.size = sizeof(struct hamon_ops),
	.open = t_open,
	.online = t_online,
	.offline = t_offline,
};

/* ---- the agent side ---- */

static struct {
	struct chan_agent *a;
	int fds[4];
	const struct hamon_ops *ops;
	pthread_t thread;
	bool threaded;
	atomic_bool finished;
	atomic_int ret;
	bool opened[CHAN_MAX_RESOURCES];
	struct chan_status_body log[LOG_MAX];
	size_t n_log;
} H;

static void setup(void)
{
	S = shared_new(sizeof(*S));
	memset(&H, 0, sizeof(H));
	H.ops = &full_ops;
}

static void teardown(void)
{
	shared_free(S, sizeof(*S));
	S = NULL;
}

static void agent_setup(uint32_t n_res)
{
	struct chan_fds f;

	H.a = agent_new(n_res);
	chan_agent_fds(H.a, &f);
	H.fds[0] = f.producer;
	H.fds[1] = f.agent;
	H.fds[2] = f.mon_bell;
	H.fds[3] = f.agent_bell;
}

static void *run_thread(void *arg)
{
	(void) arg;
	H.ret = hamon_run_fds(H.ops, &userdata_marker, H.fds);
	H.finished = true;
	return NULL;
}

/* A channel for n_res resources with hamon_run_fds() serving it in a thread. */
static void start(uint32_t n_res)
{
	agent_setup(n_res);
	ck_assert_int_eq(pthread_create(&H.thread, NULL, run_thread, NULL), 0);
	H.threaded = true;
}

/* Pulls statuses into the log; false if none arrived within timeout_ms. */
static bool pull(int timeout_ms)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t) timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		struct pollfd p = {.fd = chan_agent_bell_fd(H.a), .events = POLLIN};
		uint64_t now;
		size_t n = 0;

		ck_assert_uint_lt(H.n_log, LOG_MAX);
		(void) chan_agent_drain(H.a, H.log + H.n_log, LOG_MAX - H.n_log, &n);
		H.n_log += n;
		if (n > 0)
			return true;
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= end)
			return false;
		if (chan_agent_prepare_sleep(H.a) == 0) {
			ck_assert_int_ge(poll(&p, 1, (int) DIV_ROUND_UP(end - now, NSEC_PER_MSEC)),
					 0);
			chan_agent_woken(H.a);
		}
	}
}

static bool matches(const struct chan_status_body *b, uint16_t type, uint32_t res, uint64_t cmd)
{
	return b->type == type && b->res == res && b->cmd_id == cmd;
}

/* The PROGRESS libhamon posts when online/offline returned HAMON_PENDING. */
static bool is_marker(const struct chan_status_body *b)
{
	return b->type == CHAN_ST_PROGRESS && (b->flags & CHAN_F_ENTRY_PENDING);
}

/* Which statuses of a type a wait or count considers. */
enum which {
	ANY,
	REPORT, /* no marker: a PROGRESS the implementation reported (or another type) */
	MARKER, /* only markers */
};

static bool selected(const struct chan_status_body *b, enum which w)
{
	return w == ANY || (w == MARKER) == is_marker(b);
}

/* The log index of the first status from index from on matching; fails after WAIT_MS. */
static size_t wait_which(size_t from, uint16_t type, uint32_t res, uint64_t cmd_id, enum which w)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;
	size_t i = from;

	for (;;) {
		for (; i < H.n_log; i++)
			if (matches(&H.log[i], type, res, cmd_id) && selected(&H.log[i], w))
				return i;
		ck_assert_msg(now_ns(CLOCK_MONOTONIC) < end,
			      "no status type %u (%d) for resource %u command %llu", type, w, res,
			      (unsigned long long) cmd_id);
		(void) pull(50);
	}
}

static size_t wait_for(size_t from, uint16_t type, uint32_t res, uint64_t cmd_id)
{
	return wait_which(from, type, res, cmd_id, ANY);
}

static size_t count_which(uint16_t type, uint32_t res, enum which w)
{
	size_t n = 0;

	for (size_t i = 0; i < H.n_log; i++)
		n += H.log[i].type == type && H.log[i].res == res && selected(&H.log[i], w);
	return n;
}

static size_t count(uint16_t type, uint32_t res)
{
	return count_which(type, res, ANY);
}

/* Nothing more arrives within QUIET_MS. */
static void expect_quiet(void)
{
	size_t n = H.n_log;

	(void) pull(QUIET_MS);
	ck_assert_msg(H.n_log == n, "unexpected status type %u (resource %u, command %llu)",
		      H.log[n].type, H.log[n].res, (unsigned long long) H.log[n].cmd_id);
}

static uint64_t post(uint32_t res, enum chan_cmd_class cls, enum chan_op op, const void *args,
		     uint32_t len)
{
	uint64_t id = 0;

	ck_assert_int_eq(chan_agent_post(H.a, res, cls, op,
					 now_ns(CLOCK_MONOTONIC) + 60 * NSEC_PER_SEC, args, len,
					 &id),
			 0);
	return id;
}

/* Posts a command, checks ACCEPTED comes first, returns its DONE. */
static struct chan_status_body command(uint32_t res, enum chan_cmd_class cls, enum chan_op op,
				       const void *args, uint32_t len)
{
	size_t from = H.n_log;
	uint64_t id = post(res, cls, op, args, len);
	size_t acc = wait_for(from, CHAN_ST_ACCEPTED, res, id);
	size_t done = wait_for(from, CHAN_ST_DONE, res, id);

	ck_assert_uint_lt(acc, done);
	ck_assert_uint_eq(H.log[done].cls, cls);
	return H.log[done];
}

/* "r<res>" of type test with two private properties. */
static uint32_t record(char *buf, uint32_t res)
{
	int n = snprintf(buf, CHAN_ARGS_MAX,
			 ".name=r%u%c.type=test%c.id=" ID "%ccolor=blue%cempty=", res, 0, 0, 0, 0);

	ck_assert_int_gt(n, 0);
	return (uint32_t) n + 1;
}

static hamon_resource *open_res(uint32_t res)
{
	char rec[CHAN_ARGS_MAX];
	uint32_t len = record(rec, res);
	struct chan_status_body b = command(res, CHAN_CLASS_TRANSITION, CHAN_OP_OPEN, rec, len);

	ck_assert_int_eq(b.code, 0);
	ck_assert_int_eq(b.state, HAMON_STATE_OFFLINE);
	ck_assert_ptr_nonnull(S->res[res]);
	H.opened[res] = true;
	return S->res[res];
}

static void close_res(uint32_t res)
{
	struct chan_status_body b = command(res, CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE, NULL, 0);

	ck_assert_int_eq(b.code, 0);
	H.opened[res] = false;
}

static struct chan_status_body online(uint32_t res)
{
	return command(res, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
}

static void expect_no_rejects(void)
{
	struct chan_agent_stats st;

	chan_agent_get_stats(H.a, &st);
	for (int i = 0; i < _CHAN_REJ_MAX; i++)
		ck_assert_msg(st.rejected[i] == 0, "agent rejected %llu statuses: %s",
			      (unsigned long long) st.rejected[i], chan_reject_to_string(i));
}

static void join_run(void)
{
	struct timespec ts;

	if (!H.threaded)
		return;
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += WAIT_MS / 1000;
	ck_assert_int_eq(pthread_timedjoin_np(H.thread, NULL, &ts), 0);
	H.threaded = false;
	ck_assert_int_eq(H.ret, 0);
}

/* Closes whatever is open, checks hamon_run returned 0 and the agent rejected nothing. */
static void finish(void)
{
	for (uint32_t i = 0; i < CHAN_MAX_RESOURCES; i++)
		if (H.opened[i])
			close_res(i);
	join_run();
	ck_assert(!S->bad_instance);
	expect_no_rejects();
	H.a = chan_agent_free(H.a);
}

/* ============================== tests ============================== */

/* Claim: OPEN's record reaches open() through the accessors; CLOSE of the last ends hamon_run. */
START_TEST(test_open_record)
{
	start(1);
	(void) open_res(0);
	ck_assert_str_eq(S->name, "r0");
	ck_assert_str_eq(S->type, "test");
	ck_assert_str_eq(S->id, ID);
	ck_assert_str_eq(S->color, "blue");
	ck_assert_str_eq(S->empty, "");
	ck_assert(S->missing_null);
	ck_assert(S->dot_name_null); /* the identity is not a private property */
	ck_assert_ptr_eq(S->userdata, &userdata_marker);
	ck_assert_int_eq(S->n_open, 1);
	close_res(0);
	join_run();
	ck_assert_int_eq(S->n_close, 1);
	ck_assert_int_eq(S->n_terminate, 0); /* it was offline */
	finish();
}
END_TEST

/* Claim: the three identity keys may come in any order, as long as they come first. */
START_TEST(test_open_record_order)
{
	struct chan_status_body b;

	start(1);
	b = command(0, CHAN_CLASS_TRANSITION, CHAN_OP_OPEN,
		    REC(".id=" ID "\0.type=x\0.name=r0\0k=v\0"));
	ck_assert_int_eq(b.code, 0);
	H.opened[0] = true;
	ck_assert_str_eq(S->name, "r0");
	ck_assert_str_eq(S->type, "x");
	finish();
}
END_TEST

static const struct {
	const char *rec;
	uint32_t len;
} malformed[] = {
	{"", 0},
	{REC(".name=r0\0.type=t\0.id=" ID)},	/* last string not terminated */
	{REC(".name=r0\0.type=t\0")},		/* no id */
	{REC(".name=r0\0.type=t\0.id=0123\0")}, /* id too short */
	{REC(".name=r0\0.type=t\0.id=0123456789abcdef0123456789abcdeg\0")}, /* not hex */
	{REC(".name=r0\0color=x\0.type=t\0.id=" ID "\0")},  /* private key among the first */
	{REC(".name=r0\0.type=t\0.id=" ID "\0a=1\0a=2\0")}, /* duplicate key */
	{REC(".name=r0\0.name=r1\0.id=" ID "\0")},	    /* duplicate identity key */
	{REC(".name=r0\0.type=t\0.id=" ID "\0junk\0")},	    /* no '=' */
	{REC(".name=r0\0.type=t\0.id=" ID "\0\0a=1\0")},    /* empty string */
	{REC(".name=r0\0.type=t\0.id=" ID "\0=v\0")},	    /* empty key */
	{REC(".name=\0.type=t\0.id=" ID "\0")},		    /* empty name */
	{REC(".name=r0\0.type=\0.id=" ID "\0")},	    /* empty type */
};

/* Claim: a malformed record fails the OPEN with -EINVAL and open() is never called. */
START_TEST(test_open_malformed)
{
	start(1);
	for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
		struct chan_status_body b = command(0, CHAN_CLASS_TRANSITION, CHAN_OP_OPEN,
						    malformed[i].rec, malformed[i].len);

		ck_assert_msg(b.code == -EINVAL, "record %zu: code %d", i, b.code);
		ck_assert_int_eq(b.state, HAMON_STATE_FAILED);
	}
	ck_assert_int_eq(S->n_open, 0);
	/* The slot is still free: a good record opens it. */
	(void) open_res(0);
	finish();
	ck_assert_int_eq(S->n_open, 1);
	ck_assert_int_eq(S->n_close, 1);
}
END_TEST

/* Claim: a failed open() fails the OPEN with its errno; close() is then not called. */
START_TEST(test_open_fails)
{
	char rec[CHAN_ARGS_MAX];
	uint32_t len;
	struct chan_status_body b;

	start(1);
	S->open_ret = -ENOENT;
	len = record(rec, 0);
	b = command(0, CHAN_CLASS_TRANSITION, CHAN_OP_OPEN, rec, len);
	ck_assert_int_eq(b.code, -ENOENT);
	ck_assert_int_eq(b.state, HAMON_STATE_FAILED);
	/* Nothing to bring online. */
	b = online(0);
	ck_assert_int_eq(b.code, -ENODEV);
	close_res(0);
	finish();
	ck_assert_int_eq(S->n_online, 0);
	ck_assert_int_eq(S->n_close, 0);
	ck_assert_int_eq(S->n_terminate, 0);
}
END_TEST

/* Claim: commands for a slot with no resource are answered at once, without resource code. */
START_TEST(test_no_resource)
{
	start(2);
	(void) open_res(0);
	ck_assert_int_eq(online(1).code, -ENODEV);
	ck_assert_int_eq(command(1, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0).code, 0);
	ck_assert_int_eq(command(1, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0).code, 0);
	ck_assert_int_eq(command(1, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\0\0\0\0")).code,
			 -ENODEV);
	/* An op that does not belong to the mailbox's class. */
	ck_assert_int_eq(command(0, CHAN_CLASS_TRANSITION, CHAN_OP_IS_ALIVE, NULL, 0).code,
			 -EINVAL);
	finish();
	ck_assert_int_eq(S->n_online + S->n_terminate + S->n_is + S->n_control, 0);
}
END_TEST

/* Claim: a synchronous online is answered ACCEPTED, then DONE online. */
START_TEST(test_online_sync)
{
	struct chan_status_body b;

	start(1);
	(void) open_res(0);
	b = online(0);
	ck_assert_int_eq(b.code, 0);
	ck_assert_int_eq(b.state, HAMON_STATE_ONLINE);
	ck_assert_int_eq(count(CHAN_ST_PROGRESS, 0), 0);
	/* Offline with parameters: they reach offline() byte for byte. */
	b = command(0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, REC("why=test\0"));
	ck_assert_int_eq(b.code, 0);
	ck_assert_int_eq(b.state, HAMON_STATE_OFFLINE);
	ck_assert_int_eq(S->params_len, 9);
	ck_assert_mem_eq(S->params, "why=test", 9);
	close_res(0);
	ck_assert_int_eq(S->n_terminate, 0); /* offline: close does not terminate */
	finish();
}
END_TEST

/* Claim: ACCEPTED reaches the agent while online() is still running. */
START_TEST(test_accepted_before_online_returns)
{
	uint64_t id;
	size_t done;

	start(1);
	(void) open_res(0);
	S->online_mode = M_BLOCK;
	id = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, id);
	ck_assert(wait_flag(&S->online_running));
	expect_quiet();
	ck_assert_int_eq(count(CHAN_ST_DONE, 0), 1); /* the OPEN's: online has not returned */
	S->release_online = true;
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].code, 0);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_ONLINE);
	finish();
	ck_assert_int_eq(S->n_terminate, 1); /* close of an online resource */
	ck_assert_str_eq(S->events, "ontc");
}
END_TEST

/* Claim: a pending online reports PROGRESS with increasing checkpoints, then DONE. */
START_TEST(test_online_pending)
{
	hamon_resource *r;
	uint64_t id;
	size_t i, done;

	start(1);
	r = open_res(0);
	S->online_mode = M_PENDING;
	id = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, id);
	/* The test reports as the implementation would: once online() was called. */
	ck_assert(wait_count(&S->n_online, 1));
	for (uint32_t cp = 1; cp <= 3; cp++)
		ck_assert_int_eq(
			hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, cp, 100 * cp),
			HAMON_CONTINUE);
	/* Not new: ignored, nothing posted. */
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 2, 0),
			 HAMON_CONTINUE);
	/* Not a state of a pending online, or no state at all. */
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_OFFLINE, 0, 0), -EINVAL);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_OFFLINE_PENDING, 9, 0), -EINVAL);
	ck_assert_int_eq(hamon_set_resource_status(r, (enum hamon_state) 77, 9, 0), -EINVAL);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_CONTINUE);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_ONLINE);
	ck_assert_int_eq(H.log[done].code, 0);
	ck_assert_uint_eq(H.log[done].flags, 0); /* no hamon_failure_fd(): no declaration */

	i = 0;
	for (uint32_t cp = 1; cp <= 3; cp++) {
		i = wait_which(i, CHAN_ST_PROGRESS, 0, id, REPORT);
		ck_assert_uint_lt(i, done);
		ck_assert_uint_eq(H.log[i].checkpoint, cp);
		ck_assert_uint_eq(H.log[i].wait_hint_ms, 100 * cp);
		ck_assert_int_eq(H.log[i].state, HAMON_STATE_ONLINE_PENDING);
		ck_assert_uint_eq(H.log[i].flags, 0);
		i++;
	}
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, REPORT), 3);
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, MARKER), 1); /* online returned pending */
	/* The operation is over: a stray report is told to stop, and nothing is posted. */
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_TERMINATE);
	expect_quiet();
	finish();
}
END_TEST

/* Claim: a pending offline works the same way, with its own states. */
START_TEST(test_offline_pending)
{
	hamon_resource *r;
	uint64_t id;
	size_t i, done;

	start(1);
	r = open_res(0);
	ck_assert_int_eq(online(0).code, 0);
	S->offline_mode = M_PENDING;
	id = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, id);
	ck_assert(wait_count(&S->n_offline, 1));
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_OFFLINE_PENDING, 0, 5),
			 HAMON_CONTINUE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 0), -EINVAL);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), -EINVAL);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_OFFLINE, 0, 0), HAMON_CONTINUE);
	i = wait_which(0, CHAN_ST_PROGRESS, 0, id, REPORT);
	ck_assert_uint_eq(H.log[i].checkpoint, 0); /* the first report may be 0 */
	ck_assert_int_eq(H.log[i].state, HAMON_STATE_OFFLINE_PENDING);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_uint_lt(i, done);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_OFFLINE);
	ck_assert_uint_eq(H.log[done].flags, 0);
	i = wait_which(0, CHAN_ST_PROGRESS, 0, id, MARKER);
	ck_assert_int_eq(H.log[i].state, HAMON_STATE_OFFLINE_PENDING);
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, MARKER), 1);
	ck_assert_int_eq(S->params_len, 0);
	close_res(0);
	ck_assert_int_eq(S->n_terminate, 0);
	finish();
}
END_TEST

/* Claim: online failing returns DONE failed with its errno; a failed report asks to stop. */
START_TEST(test_online_failed)
{
	struct chan_status_body b;
	hamon_resource *r;
	uint64_t id;
	size_t done;

	start(1);
	r = open_res(0);
	S->online_mode = M_FAIL;
	b = online(0);
	ck_assert_int_eq(b.code, -EIO);
	ck_assert_int_eq(b.state, HAMON_STATE_FAILED);

	S->online_mode = M_PENDING;
	id = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, id);
	ck_assert(wait_count(&S->n_online, 2));
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_FAILED, 0, 0), HAMON_TERMINATE);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_FAILED);
	ck_assert_int_lt(H.log[done].code, 0);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_TERMINATE);
	/* The agent then terminates; terminate() runs even though nothing is running. */
	ck_assert_int_eq(command(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0).code, 0);
	ck_assert_int_eq(S->n_terminate, 1);
	close_res(0);
	ck_assert_int_eq(S->n_terminate, 1); /* terminated: offline */
	finish();
}
END_TEST

/*
 * Claim: outside a pending operation a report (any valid state) is answered
 * HAMON_TERMINATE and posts nothing (semantics.md 3.3, scenarios 13 and
 * 14): before any online, while Online with no operation, and through the
 * handle of a closed resource.  Invalid arguments stay -EINVAL.
 */
static const enum hamon_state all_states[] = {
	HAMON_STATE_ONLINE,	    HAMON_STATE_OFFLINE,	 HAMON_STATE_FAILED,
	HAMON_STATE_ONLINE_PENDING, HAMON_STATE_OFFLINE_PENDING,
};

/* invalid: the answer to an unknown state (-EINVAL, HAMON_TERMINATE once terminate was decided). */
static void expect_stray_refused(hamon_resource *r, int invalid)
{
	size_t n = H.n_log;

	for (size_t i = 0; i < ELEMENTSOF(all_states); i++)
		ck_assert_int_eq(hamon_set_resource_status(r, all_states[i], 7, 0),
				 HAMON_TERMINATE);
	ck_assert_int_eq(hamon_set_resource_status(r, (enum hamon_state) 77, 0, 0), invalid);
	expect_quiet();
	ck_assert_uint_eq(H.n_log, n);
}

START_TEST(test_status_outside_pending)
{
	hamon_resource *r;

	start(2);
	r = open_res(0);
	(void) open_res(1); /* keeps hamon_run (and r's memory) alive after 0's close */
	expect_stray_refused(r, -EINVAL); /* Offline, never brought online */
	ck_assert_int_eq(online(0).code, 0);
	expect_stray_refused(r, -EINVAL); /* scenario 13: Online, no pending operation */
	ck_assert_int_eq(hamon_set_resource_status(NULL, HAMON_STATE_ONLINE, 0, 0), -EINVAL);
	/* Still Online for the agent: a probe answers alive, nothing else changed. */
	S->is_ret = 1;
	ck_assert_int_eq(command(0, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0).code, 1);
	close_res(0);
	expect_stray_refused(r, HAMON_TERMINATE); /* scenario 14: a closed resource's handle */
	finish();
}
END_TEST

static struct chan_status_body offline(uint32_t res)
{
	return command(res, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, NULL, 0);
}

/* Posts an online, waits until online() was entered for the n-th time; the command id. */
static uint64_t online_entered(uint32_t res, int n)
{
	uint64_t id = post(res, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);

	(void) wait_for(0, CHAN_ST_ACCEPTED, res, id);
	ck_assert(wait_count(&S->n_online, n));
	return id;
}

/*
 * Claim (scenario 10): the DONE that brings the resource Online carries
 * CHAN_F_FAILURE_FD when hamon_failure_fd() was called during that online
 * (in online(), or from another thread before the Online report), and only
 * then: each online starts undeclared; no other answer carries it.
 */
START_TEST(test_failure_fd_declared)
{
	struct chan_status_body b;
	hamon_resource *r;
	uint64_t id;
	size_t done;

	start(1);
	r = open_res(0);
	ck_assert_int_ge(hamon_failure_fd(r), 0); /* outside any online: declares nothing */
	b = online(0);
	ck_assert_int_eq(b.state, HAMON_STATE_ONLINE);
	ck_assert_uint_eq(b.flags, 0);
	ck_assert_uint_eq(offline(0).flags, 0);

	/* Synchronous: online() calls it before returning 0. */
	S->declare_fd = true;
	b = online(0);
	ck_assert_int_eq(b.code, 0);
	ck_assert_int_eq(b.state, HAMON_STATE_ONLINE);
	ck_assert_uint_eq(b.flags, CHAN_F_FAILURE_FD);
	b = offline(0);
	ck_assert_int_eq(b.state, HAMON_STATE_OFFLINE);
	ck_assert_uint_eq(b.flags, 0);

	/* The next online does not call it: undeclared again. */
	S->declare_fd = false;
	ck_assert_uint_eq(online(0).flags, 0);
	ck_assert_uint_eq(offline(0).flags, 0);

	/* Pending, declared by another thread (the test) before it reports Online. */
	S->online_mode = M_PENDING;
	id = online_entered(0, 4);
	ck_assert_int_ge(hamon_failure_fd(r), 0);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 0),
			 HAMON_CONTINUE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_CONTINUE);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_ONLINE);
	ck_assert_uint_eq(H.log[done].flags, CHAN_F_FAILURE_FD);
	ck_assert_uint_eq(H.log[wait_which(0, CHAN_ST_PROGRESS, 0, id, REPORT)].flags, 0);
	ck_assert_uint_eq(offline(0).flags, 0);

	/* Pending, not declared. */
	id = online_entered(0, 5);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_CONTINUE);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_ONLINE);
	ck_assert_uint_eq(H.log[done].flags, 0);
	ck_assert_uint_eq(offline(0).flags, 0);

	/* Declared, but the online fails: nothing to watch. */
	S->declare_fd = true;
	id = online_entered(0, 6);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_FAILED, 0, 0), HAMON_TERMINATE);
	done = wait_for(0, CHAN_ST_DONE, 0, id);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_FAILED);
	ck_assert_uint_eq(H.log[done].flags, 0);
	ck_assert_int_eq(command(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0).code, 0);
	S->online_mode = M_FAIL;
	b = online(0);
	ck_assert_int_eq(b.code, -EIO);
	ck_assert_uint_eq(b.flags, 0);
	finish();
}
END_TEST

/*
 * Claim: online or offline returning HAMON_PENDING with its operation
 * unanswered is marked to the agent at once, by one PROGRESS with
 * CHAN_F_ENTRY_PENDING, the pending state and no checkpoint (which is not
 * taken as one: a report of checkpoint 0 still follows); every report made
 * after the return comes after it, one made during online() before it.
 */
START_TEST(test_entry_pending_marker)
{
	hamon_resource *r;
	uint64_t on, off;
	size_t m, p0, p1, done;

	start(1);
	r = open_res(0);
	S->online_mode = M_PENDING;
	on = online_entered(0, 1);
	/* Nothing reported yet: the marker comes from the return alone. */
	m = wait_which(0, CHAN_ST_PROGRESS, 0, on, MARKER);
	ck_assert_uint_lt(wait_for(0, CHAN_ST_ACCEPTED, 0, on), m);
	ck_assert_uint_eq(H.log[m].cls, CHAN_CLASS_TRANSITION);
	ck_assert_uint_eq(H.log[m].flags, CHAN_F_ENTRY_PENDING);
	ck_assert_int_eq(H.log[m].state, HAMON_STATE_ONLINE_PENDING);
	ck_assert_uint_eq(H.log[m].checkpoint, 0);
	ck_assert_uint_eq(H.log[m].wait_hint_ms, 0);
	ck_assert_int_eq(H.log[m].code, 0);
	expect_quiet(); /* once */
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 0, 9),
			 HAMON_CONTINUE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 9),
			 HAMON_CONTINUE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_CONTINUE);
	p0 = wait_which(0, CHAN_ST_PROGRESS, 0, on, REPORT);
	p1 = wait_which(p0 + 1, CHAN_ST_PROGRESS, 0, on, REPORT);
	done = wait_for(0, CHAN_ST_DONE, 0, on);
	ck_assert_uint_lt(m, p0);
	ck_assert_uint_eq(H.log[p0].checkpoint, 0);
	ck_assert_uint_eq(H.log[p1].checkpoint, 1);
	ck_assert_uint_lt(p1, done);
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, MARKER), 1);

	/* A pending offline: its own marker. */
	S->offline_mode = M_PENDING;
	off = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_OFFLINE, NULL, 0);
	m = wait_which(0, CHAN_ST_PROGRESS, 0, off, MARKER);
	ck_assert_int_eq(H.log[m].state, HAMON_STATE_OFFLINE_PENDING);
	ck_assert_uint_eq(H.log[m].checkpoint, 0);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_OFFLINE, 0, 0), HAMON_CONTINUE);
	ck_assert_uint_lt(m, wait_for(0, CHAN_ST_DONE, 0, off));
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, MARKER), 2);

	/* A report during online() precedes the marker, which still comes once. */
	S->online_mode = M_PENDING_PROGRESS;
	on = online_entered(0, 2);
	m = wait_which(0, CHAN_ST_PROGRESS, 0, on, MARKER);
	p1 = wait_which(0, CHAN_ST_PROGRESS, 0, on, REPORT);
	ck_assert_int_eq(S->online_status_ret, HAMON_CONTINUE);
	ck_assert_uint_eq(H.log[p1].checkpoint, 1);
	ck_assert_uint_lt(p1, m);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 2, 0),
			 HAMON_CONTINUE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_CONTINUE);
	ck_assert_uint_lt(m, wait_which(p1 + 1, CHAN_ST_PROGRESS, 0, on, REPORT));
	ck_assert_uint_lt(m, wait_for(0, CHAN_ST_DONE, 0, on));
	expect_quiet();
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, MARKER), 3);
	finish();
}
END_TEST

/*
 * Claim: no marker when the entry point finishes the operation (0), when
 * its outcome was reported before it returned HAMON_PENDING, or when
 * terminate was decided before it returned HAMON_PENDING.
 */
START_TEST(test_entry_pending_no_marker)
{
	struct chan_status_body b;
	uint64_t on, term;
	size_t done;

	start(1);
	(void) open_res(0);
	ck_assert_int_eq(online(0).code, 0);
	ck_assert_int_eq(offline(0).code, 0);

	S->online_mode = M_PENDING_ANSWERED;
	b = online(0);
	ck_assert_int_eq(b.code, 0);
	ck_assert_int_eq(b.state, HAMON_STATE_ONLINE);
	ck_assert_int_eq(S->online_status_ret, HAMON_CONTINUE);
	expect_quiet();
	ck_assert_int_eq(offline(0).code, 0);

	S->online_mode = M_BLOCK;
	S->block_ret_pending = true;
	on = online_entered(0, 3);
	ck_assert(wait_flag(&S->online_running));
	term = post(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	(void) wait_for(0, CHAN_ST_DONE, 0, term);
	done = wait_for(0, CHAN_ST_DONE, 0, on);
	ck_assert(S->online_saw_terminate);
	ck_assert_int_eq(H.log[done].code, -ECANCELED);
	ck_assert_int_eq(H.log[done].state, HAMON_STATE_FAILED);
	expect_quiet();
	ck_assert_int_eq(count(CHAN_ST_PROGRESS, 0), 0);
	finish();
}
END_TEST

/*
 * Claim: terminate runs concurrently with a running online, which sees
 * hamon_terminate_requested() and HAMON_TERMINATE; nothing it reports
 * afterwards is posted, and the online is answered failed.
 */
START_TEST(test_terminate_during_online)
{
	uint64_t on, term;
	size_t d_on, d_term;

	start(1);
	(void) open_res(0);
	S->online_mode = M_BLOCK;
	on = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	ck_assert(wait_flag(&S->online_running));
	term = post(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	d_term = wait_for(0, CHAN_ST_DONE, 0, term);
	d_on = wait_for(0, CHAN_ST_DONE, 0, on);
	ck_assert_uint_lt(wait_for(0, CHAN_ST_ACCEPTED, 0, term), d_term);
	ck_assert(S->terminate_saw_online); /* online was still running */
	ck_assert(S->online_saw_terminate);
	ck_assert_int_eq(S->online_status_ret, HAMON_TERMINATE);
	ck_assert_int_eq(H.log[d_on].state, HAMON_STATE_FAILED);
	ck_assert_int_eq(H.log[d_on].code, -ECANCELED);
	ck_assert_int_eq(H.log[d_term].code, 0);
	ck_assert_int_eq(count(CHAN_ST_PROGRESS, 0), 0);
	expect_quiet();
	finish();
}
END_TEST

/* Claim: after terminate, reports return HAMON_TERMINATE and post nothing; a new online resets. */
START_TEST(test_terminate_pending)
{
	hamon_resource *r;
	uint64_t on;
	size_t d_on;
	struct chan_status_body b;

	start(1);
	r = open_res(0);
	S->online_mode = M_PENDING;
	on = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, on);
	ck_assert(wait_count(&S->n_online, 1));
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 1, 0),
			 HAMON_CONTINUE);
	ck_assert(!hamon_terminate_requested(r));
	b = command(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	ck_assert_int_eq(b.code, 0);
	ck_assert(hamon_terminate_requested(r));
	/* The pending online is over: answered failed when terminate finished. */
	d_on = wait_for(0, CHAN_ST_DONE, 0, on);
	ck_assert_int_eq(H.log[d_on].state, HAMON_STATE_FAILED);
	expect_quiet();
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, 2, 0),
			 HAMON_TERMINATE);
	ck_assert_int_eq(hamon_set_resource_status(r, HAMON_STATE_ONLINE, 0, 0), HAMON_TERMINATE);
	ck_assert_int_eq(hamon_set_resource_status(r, (enum hamon_state) 77, 0, 0),
			 HAMON_TERMINATE);
	expect_quiet();
	ck_assert_int_eq(count_which(CHAN_ST_PROGRESS, 0, REPORT), 1);
	/* The marker, unless the terminate was seen before online() returned. */
	ck_assert_int_le(count_which(CHAN_ST_PROGRESS, 0, MARKER), 1);

	/* A restart: a new online is not terminated. */
	S->online_mode = M_OK;
	b = online(0);
	ck_assert_int_eq(b.code, 0);
	ck_assert(!hamon_terminate_requested(r));
	finish();
}
END_TEST

/* Claim: a slow probe delays neither a terminate nor the dispatcher. */
START_TEST(test_slow_probe_terminate)
{
	uint64_t probe, t0;
	struct chan_status_body b;
	size_t d;

	start(1);
	(void) open_res(0);
	ck_assert_int_eq(online(0).code, 0);
	S->probe_block = true;
	S->is_ret = 1;
	probe = post(0, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0);
	ck_assert(wait_flag(&S->probe_running));
	t0 = now_ns(CLOCK_MONOTONIC);
	b = command(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0);
	ck_assert_int_eq(b.code, 0);
	ck_assert_uint_lt(now_ns(CLOCK_MONOTONIC) - t0, 1000 * NSEC_PER_MSEC);
	ck_assert(S->probe_running);
	S->release_probe = true;
	d = wait_for(0, CHAN_ST_DONE, 0, probe);
	ck_assert_int_eq(H.log[d].code, 1);
	finish();
}
END_TEST

/* Claim: a probe arriving while one runs replaces the queued one (latest wins). */
START_TEST(test_probe_latest_wins)
{
	uint64_t p1, p3;
	struct chan_agent_stats st;
	size_t d;

	start(1);
	(void) open_res(0);
	S->probe_block = true;
	S->looks_ret = 1;
	p1 = post(0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE, NULL, 0);
	ck_assert(wait_flag(&S->probe_running));
	(void) post(0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE, NULL, 0);
	p3 = post(0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, p3);
	/* The dispatcher still serves the other classes. */
	ck_assert_int_eq(command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2a\0\0\0")).code,
			 4);
	S->release_probe = true;
	d = wait_for(0, CHAN_ST_DONE, 0, p3);
	ck_assert_int_eq(H.log[d].code, 1);
	ck_assert_int_eq(S->n_looks, 2); /* the first and the last */
	expect_quiet();
	chan_agent_get_stats(H.a, &st);
	ck_assert_uint_ge(st.stale, 1); /* the first probe's answer */
	(void) p1;
	finish();
}
END_TEST

/* Claim: probes answer 1 (alive) or 0; an error counts as not alive; none given means alive. */
START_TEST(test_probes)
{
	static const int rets[] = {1, 0, -EIO, 5};
	static const int codes[] = {1, 0, 0, 1};

	start(1);
	(void) open_res(0);
	for (size_t i = 0; i < ELEMENTSOF(rets); i++) {
		S->looks_ret = rets[i];
		S->is_ret = rets[(i + 1) % ELEMENTSOF(rets)];
		ck_assert_int_eq(
			command(0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE, NULL, 0).code,
			codes[i]);
		ck_assert_int_eq(command(0, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0).code,
				 codes[(i + 1) % ELEMENTSOF(rets)]);
	}
	ck_assert_int_eq(S->n_looks, 4);
	ck_assert_int_eq(S->n_is, 4);
	finish();
}
END_TEST

START_TEST(test_probes_absent)
{
	H.ops = &min_ops;
	start(1);
	(void) open_res(0);
	ck_assert_int_eq(command(0, CHAN_CLASS_LOOKS_ALIVE, CHAN_OP_LOOKS_ALIVE, NULL, 0).code, 1);
	ck_assert_int_eq(command(0, CHAN_CLASS_IS_ALIVE, CHAN_OP_IS_ALIVE, NULL, 0).code, 1);
	ck_assert_int_eq(command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2a\0\0\0")).code,
			 -EOPNOTSUPP);
	ck_assert_int_eq(command(0, CHAN_CLASS_TERMINATE, CHAN_OP_TERMINATE, NULL, 0).code, 0);
	finish();
}
END_TEST

/* Claim: control gets code and input; the answer carries the result and up to 12 bytes. */
START_TEST(test_control)
{
	struct chan_status_body b;

	start(1);
	(void) open_res(0);
	b = command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2a\0\0\0"));
	ck_assert_int_eq(b.code, 4);
	ck_assert_uint_eq(b.detail_len, 4);
	ck_assert_mem_eq(b.detail, "xyz!", 4);
	b = command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2b\0\0\0hello"));
	ck_assert_int_eq(b.code, 5);
	ck_assert_uint_eq(b.detail_len, 5);
	ck_assert_mem_eq(b.detail, "hello", 5);
	b = command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2c\0\0\0"));
	ck_assert_int_eq(b.code, CHAN_DETAIL_MAX + 8);
	ck_assert_uint_eq(b.detail_len, CHAN_DETAIL_MAX);
	b = command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x07\0\0\0"));
	ck_assert_int_eq(b.code, -EOPNOTSUPP);
	ck_assert_uint_eq(b.detail_len, 0);
	b = command(0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, REC("\x2a\0"));
	ck_assert_int_eq(b.code, -EINVAL); /* no room for the code */
	ck_assert_int_eq(S->n_control, 4);
	finish();
}
END_TEST

/* Claim: writing the failure fd posts one FAILURE per wake-up, for that resource only. */
START_TEST(test_failure_fd)
{
	hamon_resource *r;
	uint64_t one = 1;
	size_t i;
	int fd;

	start(2);
	(void) open_res(0);
	r = open_res(1);
	fd = hamon_failure_fd(r);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fd, hamon_failure_fd(S->res[0]));
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	i = wait_for(0, CHAN_ST_FAILURE, 1, 0);
	ck_assert_uint_eq(H.log[i].cls, 0);
	expect_quiet();
	ck_assert_int_eq(count(CHAN_ST_FAILURE, 1), 1);
	ck_assert_int_eq(count(CHAN_ST_FAILURE, 0), 0);
	/* Again: the fd was drained and re-armed. */
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	(void) wait_for(i + 1, CHAN_ST_FAILURE, 1, 0);
	expect_quiet();
	ck_assert_int_eq(count(CHAN_ST_FAILURE, 1), 2);
	finish();
}
END_TEST

/* Claim: locked mode on/off posts LOCKED with code 1/0 and the reason in the detail. */
START_TEST(test_locked_mode)
{
	hamon_resource *r;
	uint32_t reason;
	size_t i;

	start(1);
	r = open_res(0);
	ck_assert_int_eq(hamon_set_locked_mode(r, true, 7), 0);
	ck_assert_int_eq(hamon_set_locked_mode(r, false, 0), 0);
	ck_assert_int_eq(hamon_set_locked_mode(NULL, true, 0), -EINVAL);
	i = wait_for(0, CHAN_ST_LOCKED, 0, 0);
	ck_assert_int_eq(H.log[i].code, 1);
	ck_assert_uint_eq(H.log[i].detail_len, sizeof(reason));
	memcpy(&reason, H.log[i].detail, sizeof(reason));
	ck_assert_uint_eq(reason, 7);
	i = wait_for(i + 1, CHAN_ST_LOCKED, 0, 0);
	ck_assert_int_eq(H.log[i].code, 0);
	finish();
}
END_TEST

/* Claim: close terminates first when the resource is not offline, then closes. */
START_TEST(test_close_terminates)
{
	start(1);
	(void) open_res(0);
	ck_assert_int_eq(online(0).code, 0);
	close_res(0);
	ck_assert_int_eq(S->n_terminate, 1);
	ck_assert_int_eq(S->n_close, 1);
	ck_assert_str_eq(S->events, "ontc");
	finish();
}
END_TEST

/*
 * Claim: CLOSE during a running online terminates it concurrently (the
 * online would otherwise never return), then closes; hamon_run ends.
 */
START_TEST(test_close_during_online)
{
	struct chan_agent_stats st;
	uint64_t on, cl;

	start(1);
	(void) open_res(0);
	S->online_mode = M_BLOCK;
	on = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	(void) wait_for(0, CHAN_ST_ACCEPTED, 0, on);
	ck_assert(wait_flag(&S->online_running));
	cl = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_CLOSE, NULL, 0);
	ck_assert_int_eq(H.log[wait_for(0, CHAN_ST_DONE, 0, cl)].code, 0);
	H.opened[0] = false;
	join_run();
	ck_assert(S->terminate_saw_online);
	ck_assert(S->online_saw_terminate);
	ck_assert_int_eq(S->online_status_ret, HAMON_TERMINATE);
	ck_assert_int_eq(S->n_close, 1);
	ck_assert_int_eq(S->events[S->n_events - 1], 'c');
	/* The online's answer went out, but CLOSE had replaced it in the mailbox: stale. */
	for (size_t i = 0; i < H.n_log; i++)
		ck_assert(!matches(&H.log[i], CHAN_ST_DONE, 0, on));
	chan_agent_get_stats(H.a, &st);
	ck_assert_uint_eq(st.stale, 1);
	finish();
}
END_TEST

/* Claim: hamon_run returns after the CLOSE of the last resource, not before. */
START_TEST(test_close_last_ends_run)
{
	start(3);
	(void) open_res(0);
	(void) open_res(2);
	close_res(0);
	expect_quiet();
	ck_assert(!H.finished);
	/* A slot may be reopened after its close. */
	(void) open_res(0);
	close_res(2);
	expect_quiet();
	ck_assert(!H.finished);
	close_res(0);
	join_run();
	finish();
	ck_assert_int_eq(S->n_open, 3);
	ck_assert_int_eq(S->n_close, 3);
}
END_TEST

/*
 * Claim: the dispatcher beats the heartbeat every HAMON_HEARTBEAT_MS (1 s),
 * even with nothing to do, and no more often than that while idle (an idle
 * monitor costs the machine one wake-up a second).
 */
START_TEST(test_heartbeat)
{
	uint64_t h0, h, last;
	unsigned beats = 0;

	start(1);
	(void) open_res(0);
	h0 = last = chan_agent_monitor_heartbeat(H.a);
	ck_assert_uint_gt(h0, 0);
	for (int i = 0; i < 250; i++) { /* 2.5 s */
		(void) usleep(10 * 1000);
		h = chan_agent_monitor_heartbeat(H.a);
		beats += h != last;
		last = h;
	}
	ck_assert_uint_ge(last - h0, 1000 * NSEC_PER_MSEC); /* it beats while idle */
	ck_assert_uint_le(beats, 3);			    /* about once a second, no more */
	finish();
}
END_TEST

/* Claim: bad arguments and a missing channel are refused with the documented errnos. */
START_TEST(test_run_errors)
{
	struct hamon_ops ops = full_ops;
	int bad[4] = {-1, -1, -1, -1};

	agent_setup(1);
	ck_assert_int_eq(hamon_run_fds(NULL, NULL, H.fds), -EINVAL);
	ck_assert_int_eq(hamon_run_fds(&full_ops, NULL, NULL), -EINVAL);
	ops.online = NULL;
	ck_assert_int_eq(hamon_run_fds(&ops, NULL, H.fds), -EINVAL);
	ops = full_ops;
	ops.size = offsetof(struct hamon_ops, online);
	ck_assert_int_eq(hamon_run_fds(&ops, NULL, H.fds), -EINVAL);
	ck_assert_int_eq(hamon_run_fds(&full_ops, NULL, bad), -EBADF);
	/* The producer page where the agent page belongs: not the channel's ABI. */
	bad[0] = H.fds[1];
	bad[1] = H.fds[0];
	bad[2] = H.fds[2];
	bad[3] = H.fds[3];
	ck_assert_int_lt(hamon_run_fds(&full_ops, NULL, bad), 0);

	ck_assert_int_eq(unsetenv("HAGENT_CHANNEL_FDS"), 0);
	ck_assert_int_eq(hamon_run(&full_ops, NULL), -ENXIO);
	ck_assert_int_eq(setenv("HAGENT_CHANNEL_FDS", "3,4,5", 1), 0);
	ck_assert_int_eq(hamon_run(&full_ops, NULL), -EINVAL);
	ck_assert_int_eq(setenv("HAGENT_CHANNEL_FDS", "3,4,5,6,7", 1), 0);
	ck_assert_int_eq(hamon_run(&full_ops, NULL), -EINVAL);
	ck_assert_int_eq(setenv("HAGENT_CHANNEL_FDS", "3,x,5,6", 1), 0);
	ck_assert_int_eq(hamon_run(&full_ops, NULL), -EINVAL);
	ck_assert_int_eq(unsetenv("HAGENT_CHANNEL_FDS"), 0);
	/* A ring nobody answered: the agent saw nothing at all. */
	expect_no_rejects();
	H.a = chan_agent_free(H.a);
}
END_TEST

/* ---- signals: the monitor in a forked child ---- */

/* Runs the monitor in a child; via_env: through hamon_run() and HAGENT_CHANNEL_FDS. */
static pid_t fork_monitor(bool via_env)
{
	pid_t pid = fork();
	char env[64];
	int k;

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (via_env) {
		snprintf(env, sizeof(env), "%d,%d,%d,%d", H.fds[0], H.fds[1], H.fds[2], H.fds[3]);
		(void) setenv("HAGENT_CHANNEL_FDS", env, 1);
		k = hamon_run(&full_ops, &userdata_marker);
	} else {
		k = hamon_run_fds(&full_ops, &userdata_marker, H.fds);
	}
	_exit(k == 0 ? 0 : 64 + (-k & 63));
}

/* The child's exit status, within WAIT_MS. */
static int wait_child(pid_t pid)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;
	int status;
	pid_t p;

	while ((p = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ns(CLOCK_MONOTONIC) > end) {
			(void) kill(pid, SIGKILL);
			(void) waitpid(pid, &status, 0);
			ck_abort_msg("the monitor did not exit");
		}
		(void) usleep(1000);
	}
	ck_assert_int_eq(p, pid);
	ck_assert_msg(WIFEXITED(status), "monitor killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* Claim: SIGTERM terminates and closes every resource that is not offline, then exits 0. */
START_TEST(test_sigterm)
{
	pid_t pid;

	agent_setup(2);
	pid = fork_monitor(true);
	(void) open_res(0);
	(void) open_res(1);
	ck_assert_int_eq(online(0).code, 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_int_eq(S->n_terminate, 1); /* resource 1 was offline */
	ck_assert_int_eq(S->n_close, 2);
	ck_assert(!S->bad_instance);
	ck_assert_ptr_nonnull(strstr(S->events, "tc"));
	expect_no_rejects();
	H.a = chan_agent_free(H.a);
}
END_TEST

/* Claim: SIGTERM during a running online terminates it (it returns), closes, exits 0. */
START_TEST(test_sigterm_during_online)
{
	uint64_t on;
	pid_t pid;

	agent_setup(1);
	pid = fork_monitor(false);
	(void) open_res(0);
	S->online_mode = M_BLOCK;
	on = post(0, CHAN_CLASS_TRANSITION, CHAN_OP_ONLINE, NULL, 0);
	ck_assert(wait_flag(&S->online_running));
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_msg(S->terminate_saw_online, "events %s", S->events);
	ck_assert(S->online_saw_terminate);
	ck_assert_int_eq(S->online_status_ret, HAMON_TERMINATE);
	ck_assert_int_eq(S->n_close, 1);
	ck_assert_int_eq(S->events[S->n_events - 1], 'c');
	/* The online is still answered (failed) before the monitor exits. */
	ck_assert_int_eq(H.log[wait_for(0, CHAN_ST_DONE, 0, on)].state, HAMON_STATE_FAILED);
	expect_no_rejects();
	H.a = chan_agent_free(H.a);
}
END_TEST

/* Claim: SIGINT with nothing open ends the monitor at once, with 0. */
START_TEST(test_sigint_idle)
{
	pid_t pid;

	agent_setup(1);
	pid = fork_monitor(false);
	/* Wait until the dispatcher runs (signals blocked): it beats the heartbeat first. */
	for (int i = 0; i < WAIT_MS && chan_agent_monitor_heartbeat(H.a) == 0; i++)
		(void) usleep(1000);
	ck_assert_uint_gt(chan_agent_monitor_heartbeat(H.a), 0);
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_int_eq(S->n_open + S->n_close + S->n_terminate, 0);
	H.a = chan_agent_free(H.a);
}
END_TEST

static Suite *hamon_suite(void)
{
	Suite *s = suite_create("hamon");
	struct {
		const char *name;
		const TTest *tests[8];
	} cases[] = {
		{"open",
		 {test_open_record, test_open_record_order, test_open_malformed, test_open_fails,
		  test_no_resource}},
		{"online",
		 {test_online_sync, test_accepted_before_online_returns, test_online_pending,
		  test_offline_pending, test_online_failed, test_status_outside_pending}},
		{"flags",
		 {test_failure_fd_declared, test_entry_pending_marker,
		  test_entry_pending_no_marker}},
		{"terminate",
		 {test_terminate_during_online, test_terminate_pending, test_slow_probe_terminate}},
		{"probe", {test_probe_latest_wins, test_probes, test_probes_absent, test_control}},
		{"unsolicited", {test_failure_fd, test_locked_mode, test_heartbeat}},
		{"close",
		 {test_close_terminates, test_close_during_online, test_close_last_ends_run}},
		{"run",
		 {test_run_errors, test_sigterm, test_sigterm_during_online, test_sigint_idle}},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 30);
		for (size_t j = 0; j < ELEMENTSOF(cases[i].tests) && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return test_run_suite(hamon_suite());
}
