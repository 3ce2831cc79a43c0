/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl watch: prints every change of the named groups and resources
 * (or of every object) as it happens, one line per change, read through a
 * notification port of the state segment (include/hagent/shm.h).  The port
 * reads the agent's event log itself, so a watcher costs hagentd nothing,
 * and a stopped watcher cannot slow it down: it falls behind instead, gets a
 * reconnect, and catches up by printing the current state of what it
 * watches (semantics.md §7.4).
 *
 * An agent restart is the same to the watcher: the old segment dies
 * (superseded, or its heartbeat stops), the new agent serves a new
 * incarnation on the same state.sock, hagent_shm_follow() finds it and
 * hagent_notify_rebind() moves the port there; a reconnect line, then the
 * current state of what changed meanwhile, as after a reconnect.  Only
 * when no agent serves a live segment within --reconnect-timeout does the
 * watch end (exit 7).
 *
 * Threads: main runs the port; a second thread only waits for SIGINT and
 * SIGTERM (blocked everywhere else, so no handler runs and nothing
 * async-signal-unsafe is needed) and then releases main's blocking get.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hagent/shm.h"
#include "json-writer.h"
#include "macro.h"
#include "monitorctl-output.h"
#include "monitorctl.h"
#include "time-util.h"

#define KIND_RESOURCE 1u
#define KIND_GROUP    2u

/* A silent watch looks this often whether hagentd still runs. */
#define WATCH_CHECK_MS 1000

/*
 * A heartbeat this old (it beats every 100 ms) makes the watch ask
 * state.sock who serves: the same segment (a busy agent) or a new one.
 * Short, so that a restart after a SIGKILL is followed within a second or
 * two; asking costs the agent one accept.
 */
#define WATCH_STALE_NS NSEC_PER_SEC

/* While no agent serves: the first retry, doubled up to WATCH_CHECK_MS. */
#define WATCH_RETRY_MIN_MS 50

/* --reconnect-timeout's default. */
#define WATCH_RECONNECT_TIMEOUT_NS (30 * NSEC_PER_SEC)

/* Finding a name retries when the object is removed or its slot reused between two reads. */
#define FIND_ATTEMPTS 16

#define CHANGE_STATE	(HAGENT_CHANGE_RESOURCE_STATE | HAGENT_CHANGE_GROUP_STATE)
#define CHANGE_DELETED	(HAGENT_CHANGE_RESOURCE_DELETED | HAGENT_CHANGE_GROUP_DELETED)
#define CHANGE_ADDED	(HAGENT_CHANGE_RESOURCE_ADDED | HAGENT_CHANGE_GROUP_ADDED)
#define CHANGE_PROPERTY (HAGENT_CHANGE_RESOURCE_PROPERTY | HAGENT_CHANGE_GROUP_PROPERTY)
#define CHANGE_ALL	(HAGENT_CHANGE_RESOURCE_ALL | HAGENT_CHANGE_GROUP_ALL)

/* A named object being watched; its notify key is its index. */
struct target {
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX]; /* the latest name seen */
	uint32_t kind;
	uint32_t filter;   /* the registration's bits: of this kind only */
	uint32_t last_seq; /* the latest state sequence seen, for the re-add */
	int32_t last_state;
	bool gone; /* deleted: its registration is dropped */
};

/*
 * Without NAME: every object's latest state sequence, so that after a
 * reconnect exactly the objects that changed get a line.  A plain array
 * searched linearly: a segment holds a few thousand objects at most, and
 * a lookup costs less than printing the line.
 */
struct seen {
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX]; /* the latest name seen */
	uint32_t kind;
	uint32_t seq;
	int32_t state;
	bool live; /* in the table just read (resync's mark) */
};

struct watch {
	const struct args *a;
	hagent_shm *shm;
	hagent_notify_t port;
	uint32_t filter; /* what --filter prints */
	struct target *targets;
	size_t n_targets;
	struct seen *seen;
	size_t n_seen, cap_seen;
	uint64_t printed, count; /* count 0: no limit */
	uint64_t reconnect_ns;	 /* --reconnect-timeout; 0: no limit */
	uint64_t dead_since;	 /* CLOCK_MONOTONIC when no agent served any more; 0: one does */
	int retry_ms;		 /* the next wait while dead_since */
};

/* ================================= the filter ================================= */

int watch_filter_parse(const char *s, uint32_t *ret)
{
	static const struct {
		const char *word;
		uint32_t bits;
	} words[] = {
		{"add", CHANGE_ADDED},
		{"delete", CHANGE_DELETED},
		{"state", CHANGE_STATE},
		{"property", CHANGE_PROPERTY},
	};
	uint32_t bits = 0;
	const char *p = s;

	for (;;) {
		size_t len = strcspn(p, ",");
		bool known = false;

		for (size_t i = 0; i < ELEMENTSOF(words); i++)
			if (len == strlen(words[i].word) && strncmp(p, words[i].word, len) == 0) {
				bits |= words[i].bits;
				known = true;
			}
		if (!known) {
			fprintf(stderr,
				"monitorctl: invalid --filter word '%.*s': want a comma-separated "
				"list of add, delete, state, property\n",
				(int) len, p);
			return -EINVAL;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	*ret = bits;
	return 0;
}

/* ================================= the output ================================= */

/* CLOCK_REALTIME ns as UTC with milliseconds: 2026-11-22T10:15:03.123Z. */
static void time_format(uint64_t ns, char buf[32])
{
	time_t t = (time_t) (ns / NSEC_PER_SEC);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm) || (n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, 32, "-");
		return;
	}
	snprintf(buf + n, 32 - n, ".%03uZ", (unsigned) (ns / NSEC_PER_MSEC % 1000u));
}

/* Control characters as \xHH, as show does: a name cannot move the cursor. */
static void name_put(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
}

static const char *change_word(uint32_t change)
{
	if (change & CHANGE_STATE)
		return "state";
	if (change & CHANGE_PROPERTY)
		return "property";
	if (change & CHANGE_ADDED)
		return "added";
	if (change & CHANGE_DELETED)
		return "deleted";
	return "reconnect";
}

static const char *state_word(uint32_t kind, int32_t state)
{
	return kind == KIND_GROUP ? group_state_name(state) : resource_state_name(state);
}

static void line_json(const struct hagent_notification *n, const char *time, bool synthetic)
{
	bool object = n->change != HAGENT_CHANGE_RECONNECT;
	struct json_writer j;
	char id[ID_HEX_SIZE];

	json_init(&j, stdout);
	json_object_begin(&j);
	json_key(&j, "time");
	json_string(&j, time);
	json_key(&j, "change");
	json_string(&j, change_word(n->change));
	/* The same keys on every line; a reconnect has no object. */
	json_key(&j, "kind");
	if (object)
		json_string(&j, n->kind == KIND_GROUP ? "group" : "resource");
	else
		json_null(&j);
	json_key(&j, "name");
	if (object)
		json_string_len(&j, n->name, strnlen(n->name, sizeof(n->name)));
	else
		json_null(&j);
	json_key(&j, "id");
	if (object) {
		id_to_hex(n->id, id);
		json_string(&j, id);
	} else {
		json_null(&j);
	}
	json_key(&j, "state");
	if (object)
		json_string(&j, state_word(n->kind, n->state));
	else
		json_null(&j);
	json_key(&j, "state_seq");
	if (object)
		json_uint(&j, n->state_seq);
	else
		json_null(&j);
	json_key(&j, "synthetic");
	json_bool(&j, synthetic);
	json_object_end(&j);
	fputc('\n', stdout);
}

static void line_text(const struct hagent_notification *n, const char *time)
{
	if (n->change == HAGENT_CHANGE_RECONNECT) {
		printf("%s reconnect: events were lost, re-reading state\n", time);
		return;
	}
	printf("%s %s ", time, n->kind == KIND_GROUP ? "group" : "resource");
	name_put(stdout, n->name);
	if (n->change & CHANGE_STATE)
		printf(" state %s seq %" PRIu32 "\n", state_word(n->kind, n->state), n->state_seq);
	else
		printf(" %s\n", change_word(n->change));
}

/*
 * One line, flushed.  EXIT_OK when --count is reached, -1 to go on, else
 * the exit code (the output failed).
 */
static int line_print(struct watch *w, const struct hagent_notification *n, bool synthetic)
{
	char time[32];
	int r;

	time_format(n->time_ns ? n->time_ns : now_ns(CLOCK_REALTIME), time);
	if (w->a->json)
		line_json(n, time, synthetic);
	else
		line_text(n, time);
	r = output_flush();
	if (r != EXIT_OK)
		return r;
	return w->count && ++w->printed >= w->count ? EXIT_OK : -1;
}

/* A line made here rather than by the port (after a reconnect, without NAME). */
static int synthetic_print(struct watch *w, uint32_t change, uint32_t kind, const uint8_t *id,
			   const char *name, int32_t state, uint32_t seq)
{
	struct hagent_notification n = {
		.change = change,
		.kind = kind,
		.state = state,
		.state_seq = seq,
		.position = UINT64_MAX,
		.time_ns = now_ns(CLOCK_REALTIME),
	};

	memcpy(n.id, id, HAGENT_ID_SIZE);
	snprintf(n.name, sizeof(n.name), "%s", name);
	return line_print(w, &n, true);
}

static uint32_t kind_bits(uint32_t kind)
{
	return kind == KIND_GROUP ? HAGENT_CHANGE_GROUP_ALL : HAGENT_CHANGE_RESOURCE_ALL;
}

static int port_failed(const char *what, int r)
{
	fprintf(stderr, "monitorctl: %s: %s\n", what, hagent_shm_strerror(r));
	return EXIT_FAIL;
}

/* ================================ named objects ================================ */

/* The live object of that kind and name: its id, name and state sequence. */
static int object_find(hagent_shm *s, uint32_t kind, const char *name, struct target *ret)
{
	for (int attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
		struct hagent_resource res;
		struct hagent_group grp;
		const uint8_t *id;
		const char *found;
		int32_t state;
		uint32_t slot;
		size_t n;
		int r;

		r = hagent_shm_find(s, kind, name, &slot);
		if (r < 0)
			return r;
		if (kind == KIND_GROUP) {
			r = hagent_shm_read_group(s, slot, &grp, NULL, 0, &n);
			id = grp.id;
			found = grp.name;
			state = grp.state;
		} else {
			r = hagent_shm_read_resource(s, slot, &res);
			id = res.id;
			found = res.name;
			state = res.state;
		}
		if (r == -ENOENT)
			continue; /* removed between the two reads */
		if (r < 0)
			return r;
		if (strcasecmp(found, name) != 0)
			continue; /* the slot was reused meanwhile */
		*ret = (struct target){.kind = kind, .last_state = state};
		memcpy(ret->id, id, HAGENT_ID_SIZE);
		snprintf(ret->name, sizeof(ret->name), "%s", found);
		return 0;
	}
	return -ENOENT;
}

/* Adds the objects called name (a group, a resource, or both) to w->targets. */
static int targets_add(struct watch *w, const char *name)
{
	static const uint32_t kinds[] = {KIND_GROUP, KIND_RESOURCE};
	bool any = false;

	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		struct target t, *n;
		bool dup = false;
		int r;

		r = object_find(w->shm, kinds[k], name, &t);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			fprintf(stderr, "monitorctl: cannot read '%s': %s\n", name,
				hagent_shm_strerror(r));
			return EXIT_FAIL;
		}
		any = true;
		for (size_t i = 0; i < w->n_targets; i++)
			dup = dup || (w->targets[i].kind == t.kind &&
				      memcmp(w->targets[i].id, t.id, HAGENT_ID_SIZE) == 0);
		if (dup)
			continue; /* named twice: one line per change all the same */
		n = realloc(w->targets, (w->n_targets + 1) * sizeof(*n));
		if (!n) {
			fputs("monitorctl: out of memory\n", stderr);
			return EXIT_FAIL;
		}
		t.filter = w->filter & kind_bits(t.kind);
		w->targets = n;
		w->targets[w->n_targets++] = t;
	}
	if (!any) {
		fprintf(stderr, "monitorctl: No resource or group '%s'.\n", name);
		return EXIT_NOT_FOUND;
	}
	return EXIT_OK;
}

static int targets_register(struct watch *w)
{
	for (size_t i = 0; i < w->n_targets; i++) {
		struct target *t = &w->targets[i];
		int r = hagent_notify_add(w->port, t->id, t->filter, i, &t->last_seq);

		if (r == -ENOENT) {
			fprintf(stderr, "monitorctl: No resource or group '%s'.\n", t->name);
			return EXIT_NOT_FOUND;
		}
		if (r < 0)
			return port_failed("cannot watch", r);
	}
	return EXIT_OK;
}

/*
 * After a reconnect: each registration again with the latest sequence seen;
 * the port queues one state line (marked synthetic) for each that changed
 * meanwhile.  One deleted meanwhile gets its deleted line here.
 */
static int targets_resync(struct watch *w)
{
	for (size_t i = 0; i < w->n_targets; i++) {
		struct target *t = &w->targets[i];
		int r;

		if (t->gone)
			continue;
		r = hagent_notify_readd(w->port, t->id, t->filter, i, t->last_seq);
		if (r == -ENOENT) {
			t->gone = true;
			if (!(t->filter & CHANGE_DELETED))
				continue;
			r = synthetic_print(w, kind_bits(t->kind) & CHANGE_DELETED, t->kind, t->id,
					    t->name, t->last_state, t->last_seq);
			if (r >= 0)
				return r;
			continue;
		}
		if (r < 0)
			return port_failed("cannot watch again after a reconnect", r);
	}
	return -1;
}

/* A notification of a named watch: -1 to go on, else the exit code. */
static int targets_handle(struct watch *w, const struct hagent_notification *n)
{
	struct target *t;

	if (n->change == HAGENT_CHANGE_RECONNECT) {
		int r = line_print(w, n, false);

		return r >= 0 ? r : targets_resync(w);
	}
	if (n->key >= w->n_targets)
		return -1; /* not a key of ours: cannot happen */
	t = &w->targets[n->key];
	snprintf(t->name, sizeof(t->name), "%s", n->name); /* renamed: the new name */
	t->last_state = n->state;
	if (n->change & CHANGE_STATE)
		t->last_seq = n->state_seq;
	if (n->change & CHANGE_DELETED)
		t->gone = true;
	return line_print(w, n, n->position == UINT64_MAX);
}

/* =============================== every object =============================== */

static struct seen *seen_find(struct watch *w, uint32_t kind, const uint8_t *id)
{
	for (size_t i = 0; i < w->n_seen; i++)
		if (w->seen[i].kind == kind && memcmp(w->seen[i].id, id, HAGENT_ID_SIZE) == 0)
			return &w->seen[i];
	return NULL;
}

/* Adds or updates the object's entry; NULL: out of memory. */
static struct seen *seen_add(struct watch *w, uint32_t kind, const uint8_t *id, const char *name,
			     int32_t state, uint32_t seq)
{
	struct seen *e = seen_find(w, kind, id);

	if (!e) {
		if (w->n_seen == w->cap_seen) {
			size_t cap = w->cap_seen ? w->cap_seen * 2 : 64;
			struct seen *n = realloc(w->seen, cap * sizeof(*n));

			if (!n)
				return NULL;
			w->seen = n;
			w->cap_seen = cap;
		}
		e = &w->seen[w->n_seen++];
		*e = (struct seen){.kind = kind};
		memcpy(e->id, id, HAGENT_ID_SIZE);
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->state = state;
	e->seq = seq;
	e->live = true;
	return e;
}

static void seen_remove(struct watch *w, struct seen *e)
{
	*e = w->seen[--w->n_seen];
}

static int seen_oom(void)
{
	fputs("monitorctl: out of memory\n", stderr);
	return EXIT_FAIL;
}

/*
 * Reads the whole table into w->seen.  print: after a reconnect, a state
 * line for each object that is new or whose sequence differs from the one
 * seen, and a deleted line for each seen object that is gone.
 */
static void table_freep(struct hagent_shm_table **t)
{
	if (*t)
		hagent_shm_table_free(*t);
}

static int seen_sync(struct watch *w, bool print)
{
	_cleanup_(table_freep) struct hagent_shm_table *t = NULL;
	int r;

	r = hagent_shm_read_table(w->shm, &t);
	if (r < 0) {
		fprintf(stderr, "monitorctl: cannot read the state: %s\n", hagent_shm_strerror(r));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < w->n_seen; i++)
		w->seen[i].live = false;
	for (size_t i = 0; i < t->n_groups + t->n_resources; i++) {
		bool grp = i < t->n_groups;
		const struct hagent_group *g = grp ? &t->groups[i] : NULL;
		const struct hagent_resource *res = grp ? NULL : &t->resources[i - t->n_groups];
		uint32_t kind = grp ? KIND_GROUP : KIND_RESOURCE;
		uint32_t seq = grp ? g->state_seq : res->state_seq;
		int32_t state = grp ? g->state : res->state;
		const uint8_t *id = grp ? g->id : res->id;
		const char *name = grp ? g->name : res->name;
		struct seen *e = seen_find(w, kind, id);
		bool changed = !e || e->seq != seq;

		if (!seen_add(w, kind, id, name, state, seq))
			return seen_oom();
		if (!print || !changed || !(w->filter & kind_bits(kind) & CHANGE_STATE))
			continue;
		r = synthetic_print(w, kind_bits(kind) & CHANGE_STATE, kind, id, name, state, seq);
		if (r >= 0)
			return r;
	}
	for (size_t i = 0; i < w->n_seen;) {
		struct seen e = w->seen[i];

		if (e.live) {
			i++;
			continue;
		}
		seen_remove(w, &w->seen[i]);
		if (!print || !(w->filter & kind_bits(e.kind) & CHANGE_DELETED))
			continue;
		r = synthetic_print(w, kind_bits(e.kind) & CHANGE_DELETED, e.kind, e.id, e.name,
				    e.state, e.seq);
		if (r >= 0)
			return r;
	}
	return -1;
}

/*
 * A notification of the all-objects registration: -1 to go on, else the
 * exit code.  The registration takes every change, so that w->seen follows
 * every add and delete; --filter decides what is printed.  After a resync
 * the port still delivers what happened between the reconnect and the read
 * of the table: what the table already showed is not printed again.
 */
static int all_handle(struct watch *w, const struct hagent_notification *n)
{
	struct seen *e;
	int r;

	if (n->change == HAGENT_CHANGE_RECONNECT) {
		r = line_print(w, n, false);
		if (r >= 0)
			return r;
		r = seen_sync(w, true);
		if (r >= 0)
			return r;
		r = hagent_notify_add_all(w->port, CHANGE_ALL, 0);
		return r < 0 ? port_failed("cannot watch again after a reconnect", r) : -1;
	}
	e = seen_find(w, n->kind, n->id);
	if (n->change & CHANGE_DELETED) {
		if (!e)
			return -1; /* already said by a resync */
		seen_remove(w, e);
	} else if (n->change & CHANGE_ADDED) {
		if (e)
			return -1; /* already said by a resync */
		if (!seen_add(w, n->kind, n->id, n->name, n->state, n->state_seq))
			return seen_oom();
	} else if (n->change & CHANGE_STATE) {
		if (e && (int32_t) (n->state_seq - e->seq) <= 0)
			return -1; /* not newer than a state already printed */
		if (!seen_add(w, n->kind, n->id, n->name, n->state, n->state_seq))
			return seen_oom();
	} else if (e) {
		/* A rename comes as a property change. */
		snprintf(e->name, sizeof(e->name), "%s", n->name);
	}
	if (!(n->change & w->filter))
		return -1;
	return line_print(w, n, n->position == UINT64_MAX);
}

/* ================================== signals ================================== */

static atomic_bool watch_stop;
static _Atomic hagent_notify_t watch_port;

/*
 * Waits for SIGINT or SIGTERM, then releases main: the unblock ends the get
 * it waits in now, the close makes any later call fail at once (a get that
 * began just after the unblock would otherwise wait on).  Main checks
 * watch_stop after every failed get, and after publishing the port (the
 * seq_cst pair: either main sees the flag or this thread sees the port).
 */
static void *signal_thread(void *userdata)
{
	sigset_t *set = userdata;
	hagent_notify_t port;
	int sig;

	while (sigwait(set, &sig) != 0)
		;
	atomic_store(&watch_stop, true);
	port = atomic_load(&watch_port);
	if (port) {
		(void) hagent_notify_unblock(port);
		(void) hagent_notify_close(port);
	}
	return NULL;
}

static int signals_start(void)
{
	static sigset_t set;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r == 0)
		r = pthread_attr_init(&attr);
	if (r == 0) {
		(void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&t, &attr, signal_thread, &set);
		(void) pthread_attr_destroy(&attr);
	}
	if (r != 0) {
		fprintf(stderr, "monitorctl: cannot wait for signals: %s\n", strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* ================================== the loop ================================== */

/* The reconnect line of a named watch that followed a new agent (the port made the rest). */
static int reconnect_print(struct watch *w)
{
	struct hagent_notification n = {
		.change = HAGENT_CHANGE_RECONNECT,
		.position = UINT64_MAX,
		.time_ns = now_ns(CLOCK_REALTIME),
	};

	return line_print(w, &n, false);
}

/*
 * After a silent while: is the segment's agent alive, or a new one there?
 * -1 to go on, else the exit code.  A new agent: the port moves to its
 * segment.  A named watch prints the reconnect line here, and the port
 * then delivers the current state of each target that changed (or its
 * deleted); the all-objects registration gets a RECONNECT from the port,
 * and all_handle() re-reads the new table as after a reconnect.
 */
static int watch_follow(struct watch *w)
{
	uint64_t now;
	int r;

	r = hagent_shm_follow(&w->shm, w->a->runtime_dir, WATCH_STALE_NS);
	if (atomic_load(&watch_stop))
		return EXIT_OK;
	if (r >= 0)
		w->dead_since = 0;
	if (r == 0)
		return -1;
	if (r == 1) {
		r = hagent_notify_rebind(w->port, w->shm);
		if (r < 0)
			return atomic_load(&watch_stop)
				       ? EXIT_OK
				       : port_failed("cannot watch the restarted hagentd", r);
		return w->n_targets ? reconnect_print(w) : -1;
	}
	if (r != -EAGAIN) {
		fprintf(stderr, "monitorctl: cannot read the restarted hagentd's state: %s\n",
			hagent_shm_strerror(r));
		return r == -EACCES || r == -EPERM || r == -ECONNRESET ? EXIT_ACCESS_DENIED
								       : EXIT_FAIL;
	}
	now = now_ns(CLOCK_MONOTONIC);
	if (!w->dead_since) {
		w->dead_since = now;
		w->retry_ms = WATCH_RETRY_MIN_MS;
	} else if (w->retry_ms < WATCH_CHECK_MS) {
		w->retry_ms = w->retry_ms * 2 < WATCH_CHECK_MS ? w->retry_ms * 2 : WATCH_CHECK_MS;
	}
	if (w->reconnect_ns && now - w->dead_since >= w->reconnect_ns) {
		fputs("monitorctl: hagentd stopped\n", stderr);
		return EXIT_NOT_RUNNING;
	}
	return -1;
}

static int watch_loop(struct watch *w)
{
	struct hagent_notification n;
	int r;

	for (;;) {
		r = hagent_notify_get(w->port, &n, w->dead_since ? w->retry_ms : WATCH_CHECK_MS);
		if (atomic_load(&watch_stop))
			return EXIT_OK;
		if (r == -ETIMEDOUT) {
			r = watch_follow(w);
			if (r >= 0)
				return r;
			continue;
		}
		if (r == -ECANCELED)
			continue;
		if (r < 0)
			return port_failed("cannot read notifications", r);
		r = w->n_targets ? targets_handle(w, &n) : all_handle(w, &n);
		if (r >= 0)
			return r;
	}
}

static void watch_done(struct watch *w)
{
	hagent_notify_t port = atomic_exchange(&watch_port, 0);

	if (port)
		(void) hagent_notify_close(port); /* -EBADF if a signal closed it */
	free(w->targets);
	free(w->seen);
	w->shm = hagent_shm_unref(w->shm);
}

int cmd_watch(const struct args *a)
{
	_cleanup_(watch_done) struct watch w = {.a = a, .filter = CHANGE_ALL, .count = a->count};
	int r;

	if ((a->given & OPT_FILTER) && watch_filter_parse(a->filter, &w.filter) < 0)
		return EXIT_INVALID_ARGUMENT;
	w.reconnect_ns = a->given & OPT_RECONNECT_TIMEOUT ? a->reconnect_timeout_ns
							  : WATCH_RECONNECT_TIMEOUT_NS;
	/* First: a SIGTERM from now on ends the watch with exit 0, not by the signal. */
	r = signals_start();
	if (r != EXIT_OK)
		return r;
	r = state_open(a->runtime_dir, &w.shm);
	if (r > 0)
		return r;
	for (int i = 1; i < a->n_cmd; i++) {
		r = targets_add(&w, a->cmd[i]);
		if (r != EXIT_OK)
			return r;
	}
	r = hagent_notify_new(w.shm, &w.port);
	if (r < 0)
		return port_failed("cannot create a notification port", r);
	atomic_store(&watch_port, w.port);
	if (atomic_load(&watch_stop))
		return EXIT_OK;
	if (w.n_targets) {
		r = targets_register(&w);
		if (r != EXIT_OK)
			return atomic_load(&watch_stop) ? EXIT_OK : r;
	} else {
		/* The table first: what changes between it and the registration is not printed. */
		r = seen_sync(&w, false);
		if (r >= 0)
			return r;
		r = hagent_notify_add_all(w.port, CHANGE_ALL, 0);
		if (r < 0)
			return atomic_load(&watch_stop) ? EXIT_OK : port_failed("cannot watch", r);
	}
	return watch_loop(&w);
}
