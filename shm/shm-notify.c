/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Notification ports (include/hagent/shm.h, semantics.md §7; the model and
 * the decisions are in docs/notifications.md).
 *
 * A port is private to its process: it reads the segment's event log
 * through its own reader handle and keeps, in a FIFO queue, one
 * notification per (event, matching registration).  The agent never knows
 * it exists.  "Sync" is the one place where the log is read: at every add,
 * re-add, add_all and get, under the port mutex, from the port's position
 * to the event head.
 *
 * Waiting: a get sleeps, without the mutex, on two futex words at once
 * (futex_waitv, Linux 5.16): the low half of event_head in the segment
 * (shared; the writer's waker wakes it after each commit with events) and
 * the port's own word (private; unblock, close and rebind bump it and wake
 * it).  Without futex_waitv a get sleeps on the shared word alone, and
 * unblock and close wake that word for every watcher of the segment.
 *
 * Rebind (a new incarnation of the segment after an agent restart) swaps
 * the port's reader handle under the mutex and re-adds every registration
 * on the new segment; a get asleep on the old segment's head word is woken
 * through the port word, which is why a get takes the words to sleep on
 * under the mutex, never from the port outside it.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-notify-internal.h"
#include "shm-reader-internal.h"
#include "time-util.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

#define QUEUE_PER_EVENT	  4u  /* queue bound: this many times the log's capacity */
#define QUEUE_INITIAL	  16u /* notifications */
#define FALLBACK_SLICE_NS (20 * NSEC_PER_MSEC)
#define STATE_BITS	  (HAGENT_CHANGE_RESOURCE_STATE | HAGENT_CHANGE_GROUP_STATE)

struct notify_reg {
	uint8_t id[HAGENT_ID_SIZE];
	uint32_t kind; /* enum shm_kind */
	uint32_t filter;
	uint64_t key;
	uint64_t from_pos;	    /* events before this log position are not for it */
	uint32_t last_seq;	    /* STATE events not newer than this are skipped */
	uint32_t slot;		    /* where the object lives: the first guess of the next lookup */
	int32_t last_state;	    /* with last_seq, and the name: for a rebind's *_DELETED */
	char name[HAGENT_NAME_MAX]; /* the latest name seen (add, events) */
};

/* A queued notification, and whether an object registration made it (a re-add takes those back). */
struct queued {
	struct hagent_notification n;
	bool by_object;
};

struct notify_port {
	_Atomic unsigned refs;
	_Atomic uint32_t word;	  /* bumped by unblock, close and rebind; private futex */
	_Atomic uint32_t cancels; /* bumped by unblock (before word): what a get compares */
	pthread_mutex_t lock;	  /* everything below */
	hagent_shm *s;		  /* the port's own handle on the mapping */
	const uint32_t *head_word;
	uint64_t pos; /* next log position to read */
	bool closed;
	struct notify_reg *regs; /* sorted by (id, key) */
	size_t n_regs, cap_regs;
	bool has_all;
	uint32_t all_filter;
	uint64_t all_key, all_from;
	struct queued *q; /* ring: q_len entries from q_first */
	size_t q_first, q_len, q_cap, q_max;
};

static unsigned debug_flags;
static _Atomic bool waitv_missing;

void shm_notify_set_debug(unsigned flags)
{
	debug_flags = flags;
}

static bool use_waitv(void)
{
	return !(debug_flags & SHM_NOTIFY_DEBUG_NO_WAITV) &&
	       !atomic_load_explicit(&waitv_missing, memory_order_relaxed);
}

void notify_port_ref(struct notify_port *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

struct notify_port *notify_port_unref(struct notify_port *p)
{
	if (!p)
		return NULL;
	/* acq_rel: the last one sees every other user done with the port. */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	pthread_mutex_destroy(&p->lock);
	hagent_shm_unref(p->s);
	free(p->regs);
	free(p->q);
	free(p);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct notify_port *, notify_port_unref);

/* ---- the queue ---- */

static void queue_clear(struct notify_port *p)
{
	p->q_first = p->q_len = 0;
}

static int queue_grow(struct notify_port *p)
{
	size_t n = p->q_cap * 2 < p->q_max ? p->q_cap * 2 : p->q_max;
	struct queued *q = reallocarray(NULL, n, sizeof(*q));

	if (!q)
		return -ENOMEM;
	/* Unroll the ring into the new array. */
	for (size_t i = 0; i < p->q_len; i++)
		q[i] = p->q[(p->q_first + i) % p->q_cap];
	free(p->q);
	p->q = q;
	p->q_cap = n;
	p->q_first = 0;
	return 0;
}

static void queue_append(struct notify_port *p, const struct hagent_notification *n, bool by_object)
{
	p->q[(p->q_first + p->q_len) % p->q_cap] = (struct queued){.n = *n, .by_object = by_object};
	p->q_len++;
}

static struct hagent_notification *queue_last(struct notify_port *p)
{
	return p->q_len ? &p->q[(p->q_first + p->q_len - 1) % p->q_cap].n : NULL;
}

static void reconnect_make(struct hagent_notification *n)
{
	*n = (struct hagent_notification){
		.change = HAGENT_CHANGE_RECONNECT,
		.position = UINT64_MAX,
		.time_ns = now_ns(CLOCK_REALTIME),
	};
}

/*
 * Appends n.  A queue at its bound (or without memory to grow) is dropped
 * whole and starts again with one RECONNECT: the client re-reads anyway, and
 * the queue of a client that stopped reading cannot grow without end.
 */
static void queue_push(struct notify_port *p, const struct hagent_notification *n, bool by_object)
{
	struct hagent_notification rc;

	if (p->q_len == p->q_cap && (p->q_cap == p->q_max || queue_grow(p) < 0)) {
		queue_clear(p);
		reconnect_make(&rc);
		queue_append(p, &rc, false);
	}
	queue_append(p, n, by_object);
}

/* A RECONNECT after what is queued; one stands for any number of losses in a row. */
static void queue_reconnect(struct notify_port *p)
{
	struct hagent_notification *last = queue_last(p), rc;

	if (last && last->change == HAGENT_CHANGE_RECONNECT)
		return;
	reconnect_make(&rc);
	queue_push(p, &rc, false);
}

/* Drops the queued STATE notifications of registration (id, key), keeping the order of the rest. */
static void queue_drop_state(struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE], uint64_t key)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->q_len; i++) {
		struct queued *e = &p->q[(p->q_first + i) % p->q_cap];

		if (e->by_object && (e->n.change & STATE_BITS) && e->n.key == key &&
		    memcmp(e->n.id, id, HAGENT_ID_SIZE) == 0)
			continue;
		p->q[(p->q_first + kept++) % p->q_cap] = *e;
	}
	p->q_len = kept;
}

/* ---- registrations ---- */

static int reg_cmp(const uint8_t id[HAGENT_ID_SIZE], uint64_t key, const struct notify_reg *r)
{
	int c = memcmp(id, r->id, HAGENT_ID_SIZE);

	if (c != 0)
		return c;
	return key < r->key ? -1 : key > r->key;
}

/* Index of the first registration not below (id, key). */
static size_t reg_lower(const struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE], uint64_t key)
{
	size_t lo = 0, hi = p->n_regs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reg_cmp(id, key, &p->regs[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct notify_reg *reg_find(struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE],
				   uint64_t key)
{
	size_t i = reg_lower(p, id, key);

	return i < p->n_regs && reg_cmp(id, key, &p->regs[i]) == 0 ? &p->regs[i] : NULL;
}

static int reg_insert(struct notify_port *p, const struct notify_reg *r)
{
	size_t i = reg_lower(p, r->id, r->key);

	if (p->n_regs == p->cap_regs) {
		size_t n = p->cap_regs ? p->cap_regs * 2 : 8;
		struct notify_reg *regs = reallocarray(p->regs, n, sizeof(*regs));

		if (!regs)
			return -ENOMEM;
		p->regs = regs;
		p->cap_regs = n;
	}
	memmove(&p->regs[i + 1], &p->regs[i], (p->n_regs - i) * sizeof(*r));
	p->regs[i] = *r;
	p->n_regs++;
	return 0;
}

/* Removes every registration bound to the object id (it was deleted). */
static void regs_drop_id(struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE])
{
	size_t i = reg_lower(p, id, 0), j = i;

	while (j < p->n_regs && memcmp(p->regs[j].id, id, HAGENT_ID_SIZE) == 0)
		j++;
	memmove(&p->regs[i], &p->regs[j], (p->n_regs - j) * sizeof(p->regs[0]));
	p->n_regs -= j - i;
}

/* ---- reading the log ---- */

static void note_from_event(const struct hagent_event *ev, uint64_t key,
			    struct hagent_notification *n)
{
	*n = (struct hagent_notification){
		.change = ev->change,
		.kind = ev->kind,
		.key = key,
		.state = ev->state,
		.state_seq = ev->state_seq,
		.position = ev->position,
		.time_ns = ev->time_ns,
	};
	memcpy(n->id, ev->id, sizeof(n->id));
	memcpy(n->name, ev->name, sizeof(n->name));
}

/* One bit, of the class of the event's kind: anything else from the segment is ignored. */
static bool event_valid(const struct hagent_event *ev)
{
	uint32_t class = ev->kind == SHM_KIND_RESOURCE ? HAGENT_CHANGE_RESOURCE_ALL
			 : ev->kind == SHM_KIND_GROUP  ? HAGENT_CHANGE_GROUP_ALL
						       : 0;

	return (ev->change & class) != 0 && (ev->change & (ev->change - 1)) == 0;
}

/*
 * The notifications of one event: the object's registrations in key order,
 * then the all-objects registration.  A DELETED event is queued and then
 * unbinds the object's registrations.
 */
static void port_dispatch(struct notify_port *p, const struct hagent_event *ev)
{
	bool added = ev->change & (HAGENT_CHANGE_RESOURCE_ADDED | HAGENT_CHANGE_GROUP_ADDED);
	bool deleted = ev->change & (HAGENT_CHANGE_RESOURCE_DELETED | HAGENT_CHANGE_GROUP_DELETED);
	struct hagent_notification n;

	if (!event_valid(ev))
		return;
	/* ADDED names an object nobody could register yet: only "all" wants it. */
	for (size_t i = added ? p->n_regs : reg_lower(p, ev->id, 0);
	     i < p->n_regs && memcmp(p->regs[i].id, ev->id, HAGENT_ID_SIZE) == 0; i++) {
		struct notify_reg *r = &p->regs[i];

		if (r->kind != ev->kind || ev->position < r->from_pos)
			continue;
		memcpy(r->name, ev->name, sizeof(r->name)); /* a rename is a property event */
		if (ev->change & STATE_BITS) {
			/* Serial-number order: survives wrap-around of the sequence. */
			if ((int32_t) (ev->state_seq - r->last_seq) <= 0)
				continue;
			r->last_seq = ev->state_seq;
			r->last_state = ev->state;
		}
		if (!(r->filter & ev->change))
			continue;
		note_from_event(ev, r->key, &n);
		queue_push(p, &n, true);
	}
	if (p->has_all && (p->all_filter & ev->change) && ev->position >= p->all_from) {
		note_from_event(ev, p->all_key, &n);
		queue_push(p, &n, false);
	}
	if (deleted)
		regs_drop_id(p, ev->id);
}

/*
 * Reads the log from pos up to the head.  A port that fell behind the log's
 * capacity queues a RECONNECT after what it has and goes on from the head.
 */
static void port_sync(struct notify_port *p)
{
	uint64_t head = shm_reader_event_head(p->s);
	struct hagent_event ev;
	int r;

	if (p->n_regs == 0 && !p->has_all) {
		p->pos = head; /* nothing registered: nothing to keep (scenario 71) */
		return;
	}
	while (p->pos < head) {
		r = hagent_shm_read_event(p->s, p->pos, &ev);
		if (r == -ESTALE) {
			queue_reconnect(p);
			p->pos = shm_reader_event_head(p->s);
			return;
		}
		if (r < 0)
			return; /* -EAGAIN cannot happen below the head we loaded */
		port_dispatch(p, &ev);
		p->pos++;
	}
}

/* ---- the API ---- */

_public_ int hagent_notify_new(hagent_shm *s, hagent_notify_t *ret)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = NULL;
	int r;

	assert_return(s && ret, -EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->refs = 1;
	r = -pthread_mutex_init(&p->lock, NULL);
	if (r < 0) {
		free(TAKE_PTR(p));
		return r;
	}
	r = shm_reader_clone(s, &p->s);
	if (r < 0)
		return r;
	p->head_word = shm_reader_event_head_word(p->s);
	p->pos = shm_reader_event_head(p->s);
	p->q_max = (size_t) QUEUE_PER_EVENT * shm_reader_event_capacity(p->s);
	p->q_cap = QUEUE_INITIAL < p->q_max ? QUEUE_INITIAL : p->q_max;
	p->q = calloc(p->q_cap, sizeof(*p->q));
	if (!p->q)
		return -ENOMEM;
	return notify_handle_new(p, ret);
}

/* The object class of an add's filter: SHM_KIND_*, or -EINVAL. */
static int filter_kind(uint32_t filter)
{
	if (filter == 0)
		return -EINVAL;
	if ((filter & ~HAGENT_CHANGE_RESOURCE_ALL) == 0)
		return SHM_KIND_RESOURCE;
	if ((filter & ~HAGENT_CHANGE_GROUP_ALL) == 0)
		return SHM_KIND_GROUP;
	return -EINVAL;
}

/* The live object id of kind; -EINVAL if it is an object of the other kind (scenario 74). */
static int object_find(struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE], unsigned kind,
		       uint32_t hint, struct shm_reader_object *ret)
{
	struct shm_reader_object other;
	unsigned other_kind = kind == SHM_KIND_RESOURCE ? SHM_KIND_GROUP : SHM_KIND_RESOURCE;
	int r;

	r = shm_reader_find_id(p->s, kind, id, hint, ret);
	if (r != -ENOENT)
		return r;
	if (shm_reader_find_id(p->s, other_kind, id, UINT32_MAX, &other) == 0)
		return -EINVAL;
	return -ENOENT;
}

/* The synthetic STATE notification of a re-add: the current state standing for all missed. */
static void note_current(const uint8_t id[HAGENT_ID_SIZE], uint64_t key,
			 const struct shm_reader_object *o, struct hagent_notification *n)
{
	*n = (struct hagent_notification){
		.change = o->kind == SHM_KIND_RESOURCE ? HAGENT_CHANGE_RESOURCE_STATE
						       : HAGENT_CHANGE_GROUP_STATE,
		.kind = o->kind,
		.key = key,
		.state = o->state,
		.state_seq = o->state_seq,
		.position = UINT64_MAX,
		.time_ns = now_ns(CLOCK_REALTIME),
	};
	memcpy(n->id, id, sizeof(n->id));
	memcpy(n->name, o->name, sizeof(n->name));
}

/*
 * add and re-add, under the port mutex.  Sync first, so that everything
 * before the add is queued before anything after it; then the object as of
 * one commit at or after the head we synced to.  Events between the two
 * that the client already knows from the returned sequence are skipped by
 * last_seq.  A re-add also takes back the STATE notifications of this
 * registration still queued (they are not newer than the current state it
 * reports), so the client never sees a state again after the re-add's one.
 */
static int port_add(struct notify_port *p, const uint8_t id[HAGENT_ID_SIZE], uint32_t filter,
		    uint64_t key, bool readd, uint32_t last_state_seq, uint32_t *ret_seq)
{
	struct shm_reader_object o;
	struct notify_reg *reg;
	struct hagent_notification n;
	int kind = filter_kind(filter), r;

	if (kind < 0)
		return kind;
	if (p->closed)
		return -EBADF;
	port_sync(p);
	reg = reg_find(p, id, key);
	r = object_find(p, id, (unsigned) kind, reg ? reg->slot : UINT32_MAX, &o);
	if (r < 0)
		return r;
	if (reg) {
		reg->filter = filter; /* the same object and key again: one registration */
		reg->kind = o.kind;
		reg->last_seq = o.state_seq;
		reg->last_state = o.state;
		reg->slot = o.slot;
		memcpy(reg->name, o.name, sizeof(reg->name));
	} else {
		struct notify_reg nr = {
			.kind = o.kind,
			.filter = filter,
			.key = key,
			.from_pos = p->pos,
			.last_seq = o.state_seq,
			.slot = o.slot,
			.last_state = o.state,
		};

		memcpy(nr.id, id, sizeof(nr.id));
		memcpy(nr.name, o.name, sizeof(nr.name));
		r = reg_insert(p, &nr);
		if (r < 0)
			return r;
	}
	if (readd) {
		queue_drop_state(p, id, key);
		if (last_state_seq != o.state_seq && (filter & STATE_BITS)) {
			note_current(id, key, &o, &n);
			queue_push(p, &n, true);
		}
	}
	if (ret_seq)
		*ret_seq = o.state_seq;
	return 0;
}

static int notify_add(hagent_notify_t port, const uint8_t id[HAGENT_ID_SIZE], uint32_t filter,
		      uint64_t key, bool readd, uint32_t last_state_seq, uint32_t *ret_seq)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = notify_handle_get(port);
	int r;

	if (!p)
		return -EBADF;
	assert_return(id, -EINVAL);
	pthread_mutex_lock(&p->lock);
	r = port_add(p, id, filter, key, readd, last_state_seq, ret_seq);
	pthread_mutex_unlock(&p->lock);
	return r;
}

_public_ int hagent_notify_add(hagent_notify_t port, const uint8_t id[HAGENT_ID_SIZE],
			       uint32_t filter, uint64_t key, uint32_t *ret_state_seq)
{
	return notify_add(port, id, filter, key, false, 0, ret_state_seq);
}

_public_ int hagent_notify_readd(hagent_notify_t port, const uint8_t id[HAGENT_ID_SIZE],
				 uint32_t filter, uint64_t key, uint32_t last_state_seq)
{
	return notify_add(port, id, filter, key, true, last_state_seq, NULL);
}

_public_ int hagent_notify_add_all(hagent_notify_t port, uint32_t filter, uint64_t key)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = notify_handle_get(port);
	int r = 0;

	if (!p)
		return -EBADF;
	assert_return(filter != 0, -EINVAL);
	assert_return((filter & ~(HAGENT_CHANGE_RESOURCE_ALL | HAGENT_CHANGE_GROUP_ALL)) == 0,
		      -EINVAL);
	pthread_mutex_lock(&p->lock);
	if (p->closed)
		r = -EBADF;
	else {
		port_sync(p);
		if (!p->has_all)
			p->all_from = p->pos;
		p->has_all = true;
		p->all_filter = filter;
		p->all_key = key;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * Wakes the getters of p: its own word, and in the fallback the segment's
 * word, which is read under the mutex (a rebind changes it).  A word of a
 * segment unmapped meanwhile gets EFAULT or wakes somebody for nothing:
 * both harmless, a woken get looks again.
 */
static void port_wake(struct notify_port *p)
{
	const uint32_t *head_word;

	/* Pairs with the acquire load of the word in port_take(), and the futex's own check. */
	atomic_fetch_add_explicit(&p->word, 1, memory_order_release);
	(void) syscall(SYS_futex, &p->word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	if (!use_waitv()) {
		pthread_mutex_lock(&p->lock);
		head_word = p->head_word;
		pthread_mutex_unlock(&p->lock);
		(void) syscall(SYS_futex, head_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

static void timespec_from_ns(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t) (ns / NSEC_PER_SEC);
	ts->tv_nsec = (long) (ns % NSEC_PER_SEC);
}

/* What a get sleeps on, taken under the mutex by port_take(). */
struct port_sleep {
	const uint32_t *head_word; /* the segment's, as of the take */
	uint32_t head;		   /* its value: everything up to it is read */
	uint32_t word;		   /* the port word's value at the take */
};

/*
 * Sleeps until the head word is no longer ps->head, the port word no longer
 * ps->word, or deadline (CLOCK_MONOTONIC ns, UINT64_MAX: none).  0: look
 * again (woken, spurious, EINTR, EAGAIN, EFAULT: a segment a rebind
 * unmapped); -ETIMEDOUT.
 */
static int port_wait(struct notify_port *p, const struct port_sleep *ps, uint64_t deadline)
{
	struct futex_waitv w[2] = {
		{.val = ps->head, .uaddr = (uintptr_t) ps->head_word, .flags = FUTEX_32},
		{.val = ps->word,
		 .uaddr = (uintptr_t) &p->word,
		 .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
	};
	struct timespec ts;
	uint64_t until;

	if (use_waitv()) {
		timespec_from_ns(deadline, &ts);
		if (syscall(SYS_futex_waitv, w, 2, 0, deadline == UINT64_MAX ? NULL : &ts,
			    CLOCK_MONOTONIC) >= 0)
			return 0;
		if (errno == ETIMEDOUT)
			return -ETIMEDOUT;
		if (errno != ENOSYS)
			return 0;
		atomic_store_explicit(&waitv_missing, true, memory_order_relaxed);
	}
	/*
	 * The fallback compares the shared word only: an unblock between our
	 * check of the port word and the sleep would be missed, so sleep in
	 * slices and look at the port word between them.
	 */
	until = now_ns(CLOCK_MONOTONIC) + FALLBACK_SLICE_NS;
	if (until > deadline)
		until = deadline;
	timespec_from_ns(until, &ts);
	if (syscall(SYS_futex, ps->head_word, FUTEX_WAIT_BITSET, ps->head, &ts, NULL,
		    FUTEX_BITSET_MATCH_ANY) >= 0 ||
	    errno != ETIMEDOUT)
		return 0;
	return until == deadline ? -ETIMEDOUT : 0;
}

/*
 * One look under the mutex: 0 and *ret, -EBADF, -ECANCELED (unblocked since
 * the get began with cancels), or -EAGAIN with *ret_sleep: what to sleep on.
 */
static int port_take(struct notify_port *p, uint32_t cancels, struct hagent_notification *ret,
		     struct port_sleep *ret_sleep)
{
	/*
	 * The word before cancels: an unblock bumps cancels, then the word.
	 * Seeing its word means seeing its cancel (release/acquire on the
	 * word); not seeing its word means sleeping on the old value, which
	 * its bump then makes the kernel refuse or wake.
	 */
	uint32_t word = atomic_load_explicit(&p->word, memory_order_acquire);
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->closed)
		r = -EBADF;
	else if (atomic_load_explicit(&p->cancels, memory_order_relaxed) != cancels)
		r = -ECANCELED;
	else {
		port_sync(p);
		if (p->q_len > 0) {
			*ret = p->q[p->q_first].n;
			p->q_first = (p->q_first + 1) % p->q_cap;
			p->q_len--;
		} else {
			/* All up to pos is read: the head moving past it wakes us. */
			*ret_sleep = (struct port_sleep){
				.head_word = p->head_word,
				.head = (uint32_t) p->pos,
				.word = word,
			};
			r = -EAGAIN;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

_public_ int hagent_notify_get(hagent_notify_t port, struct hagent_notification *ret,
			       int timeout_ms)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = notify_handle_get(port);
	uint64_t deadline = UINT64_MAX;
	struct port_sleep ps;
	uint32_t cancels;
	int r;

	if (!p)
		return -EBADF;
	assert_return(ret, -EINVAL);
	if (timeout_ms >= 0)
		deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t) timeout_ms * NSEC_PER_MSEC;
	/* An unblock after this moment releases this get. */
	cancels = atomic_load_explicit(&p->cancels, memory_order_acquire);
	for (;;) {
		r = port_take(p, cancels, ret, &ps);
		if (r != -EAGAIN)
			return r;
		if (timeout_ms == 0)
			return -ETIMEDOUT;
		r = port_wait(p, &ps, deadline);
		if (r < 0)
			return r;
	}
}

/* ---- rebind ---- */

/* A rebind's notification for a registration whose object the new segment no longer has. */
static void note_gone(const struct notify_reg *r, struct hagent_notification *n)
{
	*n = (struct hagent_notification){
		.change = r->kind == SHM_KIND_RESOURCE ? HAGENT_CHANGE_RESOURCE_DELETED
						       : HAGENT_CHANGE_GROUP_DELETED,
		.kind = r->kind,
		.key = r->key,
		.state = r->last_state,
		.state_seq = r->last_seq,
		.position = UINT64_MAX,
		.time_ns = now_ns(CLOCK_REALTIME),
	};
	memcpy(n->id, r->id, sizeof(n->id));
	memcpy(n->name, r->name, sizeof(n->name));
}

/*
 * Under the mutex.  The old log first, so that what it still held comes
 * before anything the rebind makes.  Then everything that can fail (the
 * new handle, the lookups), before anything changes: a failed rebind leaves
 * the port on its old segment.  As in port_add(), the new head is taken
 * before the objects are read, and last_seq skips the STATE events between
 * the two that the lookup already reports.
 */
static int port_rebind(struct notify_port *p, hagent_shm *s)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *ns = NULL;
	_cleanup_free_ struct shm_reader_object *look = NULL;
	_cleanup_free_ bool *gone = NULL;
	struct hagent_notification n;
	hagent_shm *old;
	size_t kept = 0, bound;
	uint64_t pos;
	int r;

	if (p->closed)
		return -EBADF;
	port_sync(p);
	r = shm_reader_clone(s, &ns);
	if (r < 0)
		return r;
	if (p->n_regs > 0) {
		look = calloc(p->n_regs, sizeof(*look));
		gone = calloc(p->n_regs, sizeof(*gone));
		if (!look || !gone)
			return -ENOMEM;
	}
	pos = shm_reader_event_head(ns);
	for (size_t i = 0; i < p->n_regs; i++) {
		struct notify_reg *reg = &p->regs[i];

		r = shm_reader_find_id(ns, reg->kind, reg->id, reg->slot, &look[i]);
		if (r == -ENOENT)
			gone[i] = true;
		else if (r < 0)
			return r;
	}

	/* From here on nothing fails.  ns takes the old handle away. */
	old = p->s;
	p->s = TAKE_PTR(ns);
	ns = old;
	p->head_word = shm_reader_event_head_word(p->s);
	p->pos = pos;
	/* Never below what the queue holds: queue_grow() relies on it. */
	bound = (size_t) QUEUE_PER_EVENT * shm_reader_event_capacity(p->s);
	p->q_max = bound > p->q_cap ? bound : p->q_cap;
	if (p->has_all) {
		p->all_from = pos;
		queue_reconnect(p);
	}
	for (size_t i = 0; i < p->n_regs; i++) {
		struct notify_reg reg = p->regs[i];

		if (gone[i]) {
			if (reg.filter &
			    (HAGENT_CHANGE_RESOURCE_DELETED | HAGENT_CHANGE_GROUP_DELETED)) {
				note_gone(&reg, &n);
				queue_push(p, &n, true);
			}
			continue; /* unbound, as after a DELETED event */
		}
		if (look[i].state_seq != reg.last_seq && (reg.filter & STATE_BITS)) {
			note_current(reg.id, reg.key, &look[i], &n);
			queue_push(p, &n, true);
		}
		reg.from_pos = pos;
		reg.last_seq = look[i].state_seq;
		reg.last_state = look[i].state;
		reg.slot = look[i].slot;
		memcpy(reg.name, look[i].name, sizeof(reg.name));
		p->regs[kept++] = reg; /* the order (id, key) stays */
	}
	p->n_regs = kept;
	return 0;
}

_public_ int hagent_notify_rebind(hagent_notify_t port, hagent_shm *s)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = notify_handle_get(port);
	int r;

	if (!p)
		return -EBADF;
	assert_return(s, -EINVAL);
	pthread_mutex_lock(&p->lock);
	r = port_rebind(p, s);
	pthread_mutex_unlock(&p->lock);
	if (r == 0)
		port_wake(p); /* gets asleep on the old segment's word look again, at the new one */
	return r;
}

_public_ int hagent_notify_unblock(hagent_notify_t port)
{
	_cleanup_(notify_port_unrefp) struct notify_port *p = notify_handle_get(port);

	if (!p)
		return -EBADF;
	/* Before the word's bump in port_wake(): see port_take(). */
	atomic_fetch_add_explicit(&p->cancels, 1, memory_order_release);
	port_wake(p);
	return 0;
}

void notify_port_close(struct notify_port *p)
{
	pthread_mutex_lock(&p->lock);
	p->closed = true;
	queue_clear(p);
	p->n_regs = 0;
	p->has_all = false;
	pthread_mutex_unlock(&p->lock);
	port_wake(p);
}

_public_ int hagent_notify_close(hagent_notify_t port)
{
	struct notify_port *p = notify_handle_remove(port);

	if (!p)
		return -EBADF;
	notify_port_close(p);
	notify_port_unref(p); /* the table's reference; waiting gets hold their own */
	return 0;
}
