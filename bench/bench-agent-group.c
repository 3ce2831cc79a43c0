/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Item 8: a group online and offline through the control API, beside the
 * same count of single-resource requests, all in one hagentd.  For each size
 * N (5 and 100; quick: 5) one agent gets three groups of N instant `test`
 * resources (OnlineDelay and OfflineDelay 0: the entry points finish in the
 * call, so what is left is hagent's own cost), added with AddResource:
 *
 *   flat   f1..fN, no dependencies: the group layer onlines them all at once;
 *   chain  c1 <- c2 <- ... <- cN (c2 depends on c1): one at a time, each a
 *          round trip agent → monitor → agent before the next may start;
 *   base   b1..bN, no dependencies, driven one resource at a time.
 *
 * A group figure runs from just before OnlineGroup (OfflineGroup) to the
 * writer's timestamp (state_change_ns, CLOCK_REALTIME) of the group record
 * once it shows Online (Offline).  The floors, from group base in the same
 * repetition: N OnlineResource calls one by one, each waiting for Online in
 * the segment before the next (what a client without groups does for a
 * chain), and N calls back to back, then a wait for all (the same for a flat
 * group); likewise OfflineResource.  The end is the latest state_change_ns
 * of the N records.  Every OnlineResource commits to SQLite on its own;
 * OnlineGroup stores every member's target in one transaction.
 *
 * The segment is polled every POLL_NS with the timer slack at 1 ns, so a
 * floor's one-by-one wait costs a few tens of µs per step on top of the
 * agent's work.  The run also checks what it measures: every member Online
 * after the group online, and the chain's members online in dependency
 * order and offline in the reverse order.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "bench-agent.h"
#include "control-api.h"
#include "macro.h"

#define GROUP_WAIT_NS (60 * NSEC_PER_SEC)
#define POLL_NS	      (20 * NSEC_PER_USEC)
#define REPS_PER_RUN  4u /* repetitions per --runs: each is cheap */
#define MAX_REPS      (REPS_PER_RUN * MAX_RUNS)
#define MAX_N	      100u

enum { K_FLAT, K_CHAIN, K_BASE, _K_MAX };

static const char *const kind_group[_K_MAX] = {"flat", "chain", "base"};
static const char kind_prefix[_K_MAX] = {'f', 'c', 'b'};

enum {
	M_FLAT_ON,
	M_FLAT_OFF,
	M_CHAIN_ON,
	M_CHAIN_OFF,
	M_SEQ_ON, /* base, one by one */
	M_SEQ_OFF,
	M_PAR_ON, /* base, back to back */
	M_PAR_OFF,
	_M_MAX
};

static const char *const measure_name[_M_MAX] = {
	[M_FLAT_ON] = "flat OnlineGroup",     [M_FLAT_OFF] = "flat OfflineGroup",
	[M_CHAIN_ON] = "chain OnlineGroup",   [M_CHAIN_OFF] = "chain OfflineGroup",
	[M_SEQ_ON] = "OnlineResource 1-by-1", [M_SEQ_OFF] = "OfflineResource 1-by-1",
	[M_PAR_ON] = "OnlineResource b2b",    [M_PAR_OFF] = "OfflineResource b2b",
};

struct group_run {
	uint32_t n;
	uint32_t group_slot[_K_MAX];
	uint32_t slot[_K_MAX][MAX_N];
	double v[_M_MAX][MAX_REPS]; /* ms */
	unsigned n_v[_M_MAX];
};

static void sample_add(struct group_run *g, unsigned m, uint64_t ns)
{
	if (g->n_v[m] < MAX_REPS)
		g->v[m][g->n_v[m]++] = (double) ns / 1e6;
}

static void member_name(char buf[16], unsigned kind, uint32_t i)
{
	(void) snprintf(buf, 16, "%c%u", kind_prefix[kind], i + 1);
}

/* ---- the calls ---- */

static int check_call(int r, const char *method, const char *name, const sd_bus_error *err)
{
	if (r < 0)
		fprintf(stderr, "hagent-bench-agent: %s(%s): %s: %s\n", method, name,
			err->name ?: "-", err->message ?: strerror(-r));
	return r;
}

static int add_group(sd_bus *bus, const char *name)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, "AddGroup", &err,
			       &reply, "s", name);
	sd_bus_message_unref(reply);
	return check_call(r, "AddGroup", name, &err);
}

/* provider NULL: no dependency. */
static int add_resource(sd_bus *bus, const char *name, const char *group, const char *provider)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, "AddResource",
			       &err, &reply, "sssa(ss)as", name, group, "test", 2u, "OnlineDelay",
			       "0", "OfflineDelay", "0", provider ? 1u : 0u, provider);
	sd_bus_message_unref(reply);
	return check_call(r, "AddResource", name, &err);
}

/*
 * OnlineResource/OfflineResource/OnlineGroup/OfflineGroup on name.  A group
 * request must be pending (CONTROL_RESULT_IO_PENDING): success means the
 * group was already there, so the benchmark lost track of the state
 * (-EALREADY).  A resource request may be either: hagentd holds the reply of
 * an entry point that finishes in the call until it has finished.
 */
static int request(sd_bus *bus, const char *method, const char *name)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	uint32_t result = 0, seq;
	int32_t state;
	int r;

	if (strcmp(method, "OnlineResource") == 0)
		r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, method,
				       &err, &reply, "s", name);
	else if (strcmp(method, "OfflineGroup") == 0)
		r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, method,
				       &err, &reply, "suay", name, UINT32_C(0), 0u);
	else
		r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, method,
				       &err, &reply, "su", name, UINT32_C(0));
	if (r >= 0)
		r = sd_bus_message_read(reply, "uiu", &result, &state, &seq);
	sd_bus_message_unref(reply);
	if (r >= 0 && strstr(method, "Group") && result != CONTROL_RESULT_IO_PENDING) {
		fprintf(stderr, "hagent-bench-agent: %s(%s): result %u, state %d: nothing to do\n",
			method, name, result, state);
		return -EALREADY;
	}
	return check_call(r, method, name, &err);
}

/*
 * The back-to-back floor: n calls of method on base's members, all sent
 * before any reply is read (hagentd holds the reply of a synchronous entry
 * point until it has finished, so calls made one after the other would be
 * one by one again), then every reply collected.
 */
struct pipeline {
	unsigned replies;
	int error;
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct pipeline *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void) ret_error;
	p->replies++;
	if (e && !p->error) {
		fprintf(stderr, "hagent-bench-agent: back-to-back call: %s: %s\n", e->name,
			e->message ?: "-");
		p->error = -EIO;
	}
	return 0;
}

static int request_all(sd_bus *bus, const char *method, uint32_t n)
{
	uint64_t deadline = now() + GROUP_WAIT_NS;
	struct pipeline p = {};
	char name[16];
	int r;

	for (uint32_t i = 0; i < n; i++) {
		member_name(name, K_BASE, i);
		if (strcmp(method, "OnlineResource") == 0)
			r = sd_bus_call_method_async(bus, NULL, NULL, CONTROL_OBJECT_PATH,
						     CONTROL_INTERFACE, method, on_reply, &p, "s",
						     name);
		else
			r = sd_bus_call_method_async(bus, NULL, NULL, CONTROL_OBJECT_PATH,
						     CONTROL_INTERFACE, method, on_reply, &p, "su",
						     name, UINT32_C(0));
		if (r < 0)
			return r;
	}
	while (p.replies < n) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (bench_interrupted)
			return -EINTR;
		if (now() >= deadline)
			return -ETIMEDOUT;
		r = sd_bus_wait(bus, 100 * NSEC_PER_MSEC / NSEC_PER_USEC);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return p.error;
}

/* ---- waiting on the segment ---- */

static uint64_t since(uint64_t t, uint64_t t0)
{
	return t > t0 ? t - t0 : 0;
}

/* Polls group kind's record until it shows want; *ret: its state_change_ns minus t0. */
static int wait_group(hagent_shm *s, const struct group_run *g, unsigned kind, int32_t want,
		      uint64_t t0, uint64_t *ret)
{
	uint64_t deadline = now() + GROUP_WAIT_NS;
	struct hagent_group grp;
	size_t n_members;
	int r;

	for (;;) {
		r = hagent_shm_read_group(s, g->group_slot[kind], &grp, NULL, 0, &n_members);
		if (r < 0)
			return r;
		if (grp.state == want) {
			*ret = since(grp.state_change_ns, t0);
			return 0;
		}
		if (grp.state == HAGENT_GROUP_FAILED) {
			fprintf(stderr, "hagent-bench-agent: group %s is Failed\n",
				kind_group[kind]);
			return -EIO;
		}
		if (now() >= deadline) {
			fprintf(stderr, "hagent-bench-agent: group %s: still %s, waiting for %s\n",
				kind_group[kind], hagent_group_state_to_string(grp.state),
				hagent_group_state_to_string(want));
			return -ETIMEDOUT;
		}
		r = bench_sleep(POLL_NS);
		if (r < 0)
			return r;
	}
}

/* Member i of kind in state want; *ret (may be NULL): its state_change_ns minus t0. */
static int wait_member(hagent_shm *s, const struct group_run *g, unsigned kind, uint32_t i,
		       int32_t want, uint64_t t0, uint64_t *ret)
{
	uint64_t deadline = now() + GROUP_WAIT_NS;
	struct hagent_resource res;
	char name[16];
	int r;

	for (;;) {
		r = hagent_shm_read_resource(s, g->slot[kind][i], &res);
		if (r < 0)
			return r;
		if (res.state == want) {
			if (ret)
				*ret = since(res.state_change_ns, t0);
			return 0;
		}
		member_name(name, kind, i);
		if (res.state == HAGENT_RESOURCE_FAILED) {
			fprintf(stderr, "hagent-bench-agent: %s is Failed (error %d)\n", name,
				res.last_error);
			return -EIO;
		}
		if (now() >= deadline) {
			fprintf(stderr, "hagent-bench-agent: %s: still %s, waiting for %s\n", name,
				hagent_resource_state_to_string(res.state),
				hagent_resource_state_to_string(want));
			return -ETIMEDOUT;
		}
		r = bench_sleep(POLL_NS);
		if (r < 0)
			return r;
	}
}

/* Every member of kind in state want; *ret: the latest state_change_ns minus t0. */
static int wait_members(hagent_shm *s, const struct group_run *g, unsigned kind, int32_t want,
			uint64_t t0, uint64_t *ret)
{
	uint64_t last = 0, t;
	int r;

	for (uint32_t i = 0; i < g->n; i++) {
		r = wait_member(s, g, kind, i, want, t0, &t);
		if (r < 0)
			return r;
		if (t > last)
			last = t;
	}
	*ret = last;
	return 0;
}

/*
 * After a group online (offline): every member Online (Offline), and in the
 * chain each member's change is no earlier (online) or no later (offline)
 * than that of the member it depends on.
 */
static int check_members(hagent_shm *s, const struct group_run *g, unsigned kind, bool online)
{
	int32_t want = online ? HAGENT_RESOURCE_ONLINE : HAGENT_RESOURCE_OFFLINE;
	uint64_t prev = 0;
	char name[16];

	for (uint32_t i = 0; i < g->n; i++) {
		struct hagent_resource res;
		int r = hagent_shm_read_resource(s, g->slot[kind][i], &res);

		if (r < 0)
			return r;
		member_name(name, kind, i);
		if (res.state != want) {
			fprintf(stderr, "hagent-bench-agent: group %s is %s but %s is %s\n",
				kind_group[kind], online ? "Online" : "Offline", name,
				hagent_resource_state_to_string(res.state));
			return -EPROTO;
		}
		if (kind == K_CHAIN && i > 0 &&
		    (online ? res.state_change_ns < prev : res.state_change_ns > prev)) {
			fprintf(stderr,
				"hagent-bench-agent: chain: %s went %s before the member it "
				"depends on\n",
				name, online ? "online" : "offline");
			return -EPROTO;
		}
		prev = res.state_change_ns;
	}
	return 0;
}

/* ---- one repetition ---- */

static int group_cycle(sd_bus *bus, hagent_shm *s, struct group_run *g, unsigned kind)
{
	unsigned m_on = kind == K_FLAT ? M_FLAT_ON : M_CHAIN_ON;
	uint64_t t0, t;
	int r;

	t0 = now_ns(CLOCK_REALTIME);
	r = request(bus, "OnlineGroup", kind_group[kind]);
	if (r >= 0)
		r = wait_group(s, g, kind, HAGENT_GROUP_ONLINE, t0, &t);
	if (r >= 0)
		r = check_members(s, g, kind, true);
	if (r < 0)
		return r;
	sample_add(g, m_on, t);
	t0 = now_ns(CLOCK_REALTIME);
	r = request(bus, "OfflineGroup", kind_group[kind]);
	if (r >= 0)
		r = wait_group(s, g, kind, HAGENT_GROUP_OFFLINE, t0, &t);
	if (r >= 0)
		r = check_members(s, g, kind, false);
	if (r < 0)
		return r;
	sample_add(g, m_on + 1, t);
	return 0;
}

/* Group base's members, one by one (each waited for) or back to back. */
static int base_cycle(sd_bus *bus, hagent_shm *s, struct group_run *g, bool one_by_one)
{
	static const struct {
		const char *method;
		int32_t state;
	} step[2] = {
		{"OnlineResource", HAGENT_RESOURCE_ONLINE},
		{"OfflineResource", HAGENT_RESOURCE_OFFLINE},
	};
	unsigned m = one_by_one ? M_SEQ_ON : M_PAR_ON;
	char name[16];
	int r;

	for (unsigned k = 0; k < 2; k++) {
		uint64_t t0 = now_ns(CLOCK_REALTIME), t = 0, last = 0;

		for (uint32_t i = 0; one_by_one && i < g->n; i++) {
			member_name(name, K_BASE, i);
			r = request(bus, step[k].method, name);
			if (r >= 0)
				r = wait_member(s, g, K_BASE, i, step[k].state, t0, &t);
			if (r < 0)
				return r;
			if (t > last)
				last = t;
		}
		if (!one_by_one) {
			r = request_all(bus, step[k].method, g->n);
			if (r >= 0)
				r = wait_members(s, g, K_BASE, step[k].state, t0, &last);
			if (r < 0)
				return r;
		}
		sample_add(g, m + k, last);
	}
	return 0;
}

/* ---- one agent per size ---- */

static int populate(sd_bus *bus, hagent_shm *s, struct group_run *g)
{
	char name[16], provider[16];
	uint64_t ignored;
	int r;

	for (unsigned k = 0; k < _K_MAX; k++) {
		r = add_group(bus, kind_group[k]);
		for (uint32_t i = 0; r >= 0 && i < g->n; i++) {
			bool depends = k == K_CHAIN && i > 0;

			member_name(name, k, i);
			if (depends)
				member_name(provider, k, i - 1);
			r = add_resource(bus, name, kind_group[k], depends ? provider : NULL);
			if (r >= 0)
				r = hagent_shm_find(s, 1, name, &g->slot[k][i]);
		}
		if (r >= 0)
			r = hagent_shm_find(s, 2, kind_group[k], &g->group_slot[k]);
		if (r < 0)
			return r;
	}
	/* Monitors open: each resource leaves Initializing for Offline. */
	for (unsigned k = 0; k < _K_MAX; k++) {
		r = wait_members(s, g, k, HAGENT_RESOURCE_OFFLINE, 0, &ignored);
		if (r < 0)
			return r;
	}
	return 0;
}

static int group_run_once(const struct bench_env *env, unsigned reps, struct group_run *g)
{
	_cleanup_(bench_bus_closep) sd_bus *bus = NULL;
	char statedir[BENCH_PATH_MAX];
	struct agent a;
	int r;

	r = bench_mkdir(env->base, "group-state", statedir);
	if (r < 0)
		return r;
	r = agent_start(env, statedir, env->max_resources, env->max_groups, &a);
	if (r >= 0)
		r = agent_attach(&a, GROUP_WAIT_NS);
	if (r >= 0 && !bench_wait_socket(&a))
		r = bench_interrupted ? -EINTR : -ENOTCONN;
	if (r >= 0)
		r = bench_bus_connect(a.rundir, &bus);
	if (r >= 0)
		r = populate(bus, a.shm, g);
	/* Interleaved, so that the machine's noise hits the figures and their floors alike. */
	for (unsigned rep = 0; r >= 0 && rep < reps; rep++) {
		r = base_cycle(bus, a.shm, g, true);
		if (r >= 0)
			r = group_cycle(bus, a.shm, g, K_CHAIN);
		if (r >= 0)
			r = base_cycle(bus, a.shm, g, false);
		if (r >= 0)
			r = group_cycle(bus, a.shm, g, K_FLAT);
	}
	if (r < 0 && r != -EINTR)
		agent_log_tail(&a, 15);
	agent_stop(&a);
	return r;
}

/* ---- the figures ---- */

static double pct(struct group_run *g, unsigned m, double p)
{
	double v[MAX_REPS];

	memcpy(v, g->v[m], g->n_v[m] * sizeof(double)); /* percentile() sorts */
	return percentile(v, g->n_v[m], p);
}

static void group_report(struct group_run *g, unsigned reps, struct report *rep)
{
	static const struct {
		unsigned m, floor, other;
	} rows[] = {
		{M_FLAT_ON, M_PAR_ON, M_SEQ_ON},
		{M_CHAIN_ON, M_SEQ_ON, M_PAR_ON},
		{M_FLAT_OFF, M_PAR_OFF, M_SEQ_OFF},
		{M_CHAIN_OFF, M_SEQ_OFF, M_PAR_OFF},
	};
	char metric[72], note[600];
	int k = 0;

	printf("group %u: %u repetitions, ms (p50 / p90):\n", g->n, reps);
	for (unsigned m = 0; m < _M_MAX; m++)
		printf("  %-24s %9.3f / %9.3f\n", measure_name[m], pct(g, m, 50), pct(g, m, 90));
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		bool online = rows[i].m == M_FLAT_ON || rows[i].m == M_CHAIN_ON;
		double v = pct(g, rows[i].m, 50);

		printf("  %-24s ×%.3g of %s, ×%.3g of %s\n", measure_name[rows[i].m],
		       v / pct(g, rows[i].floor, 50), measure_name[rows[i].floor],
		       v / pct(g, rows[i].other, 50), measure_name[rows[i].other]);
		(void) snprintf(metric, sizeof(metric), "group %u %s → %s", g->n,
				measure_name[rows[i].m], online ? "Online" : "Offline");
		report_row(rep, metric, UNIT_MS, v, pct(g, rows[i].floor, 50), NULL);
		if (k >= 0 && (size_t) k < sizeof(note))
			k += snprintf(note + k, sizeof(note) - k, "%s%s %.3g (×%.3g of %s)",
				      i ? "; " : "", measure_name[rows[i].m], pct(g, rows[i].m, 90),
				      v / pct(g, rows[i].other, 50), measure_name[rows[i].other]);
	}
	report_note(rep,
		    "group %u: p90 in ms over %u repetitions, and the median against the other "
		    "floor: %s. Floors (p50/p90 ms): 1-by-1 online %.3g/%.3g, back-to-back "
		    "online %.3g/%.3g.",
		    g->n, reps, note, pct(g, M_SEQ_ON, 50), pct(g, M_SEQ_ON, 90),
		    pct(g, M_PAR_ON, 50), pct(g, M_PAR_ON, 90));
	(void) fflush(stdout);
}

int bench_group(const struct bench_env *env, struct report *rep)
{
	static const uint32_t sizes[] = {5, MAX_N};
	_cleanup_free_ struct group_run *g = malloc(sizeof(*g));
	unsigned reps = env->quick ? 1 : REPS_PER_RUN * env->runs;
	size_t n_sizes = env->quick ? 1 : ELEMENTSOF(sizes);
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	int r = 0;

	if (!g)
		return -ENOMEM;
	/* The polls sleep POLL_NS; the default slack of 50 µs would be most of each. */
	(void) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (size_t i = 0; r >= 0 && i < n_sizes; i++) {
		memset(g, 0, sizeof(*g));
		g->n = sizes[i];
		r = group_run_once(env, reps, g);
		if (r >= 0)
			group_report(g, reps, rep);
	}
	if (slack > 0)
		(void) prctl(PR_SET_TIMERSLACK, (unsigned long) slack, 0, 0, 0);
	if (r >= 0)
		report_note(rep,
			    "group: one hagentd per size with groups flat, chain (c1 <- c2 <- "
			    "...) and base of instant test resources, state dir on %s. A figure "
			    "runs from the call to the group record's Online/Offline; its floor "
			    "is the same count of OnlineResource/OfflineResource calls on base, "
			    "back to back (flat) or each waited for (chain).",
			    env->base);
	return r;
}
