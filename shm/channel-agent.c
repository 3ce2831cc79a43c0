/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Agent end of a monitor channel.  The producer page belongs to the monitor,
 * which may be buggy or hostile: it is mapped read-only here, every entry
 * is copied out once and only the copy is looked at (no double fetch), and
 * the agent never waits for anything the monitor does.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "channel.h"
#include "memfd-util.h"
#include "time-util.h"

/* The command each mailbox holds, and what the monitor has said about it. */
struct outstanding {
	uint64_t cmd_id;
	bool accepted, done;
};

struct chan_agent {
	struct chan_agent_page *page;	       /* ours, read-write */
	const struct chan_producer_page *prod; /* the monitor's, read-only */
	int producer_fd, agent_fd, mon_bell, agent_bell;
	uint32_t n_res;
	uint64_t head; /* next position to consume */
	uint64_t next_cmd_id;
	uint64_t last_mono; /* newest accepted timestamp */
	uint64_t reg_dirty_seen;
	uint64_t reg_wait_pos; /* a register waits for head to reach this; UINT64_MAX: none */
	uint32_t reg_seen[CHAN_MAX_RESOURCES];
	/* Private mirror of the mailboxes: validation never reads shared memory twice. */
	struct outstanding out[CHAN_MAX_RESOURCES][_CHAN_CLASS_MAX];
	struct chan_agent_stats stats;
};

static const char *const reject_names[_CHAN_REJ_MAX] = {
	[CHAN_REJ_SEQ] = "bad-sequence",    [CHAN_REJ_TORN] = "torn",
	[CHAN_REJ_TYPE] = "unknown-type",   [CHAN_REJ_RESOURCE] = "resource-out-of-range",
	[CHAN_REJ_CMD] = "unknown-command", [CHAN_REJ_REPLAY] = "replayed",
	[CHAN_REJ_TIME] = "bad-timestamp",  [CHAN_REJ_LENGTH] = "bad-length",
};

const char *chan_reject_to_string(enum chan_reject r)
{
	return r >= 0 && r < _CHAN_REJ_MAX ? reject_names[r] : NULL;
}

int chan_agent_new(uint32_t n_resources, uint64_t channel_id, struct chan_agent **ret)
{
	_cleanup_(chan_agent_freep) struct chan_agent *a = NULL;
	void *map;
	int r;

	if (n_resources == 0 || n_resources > CHAN_MAX_RESOURCES)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->producer_fd = a->agent_fd = a->mon_bell = a->agent_bell = -EBADF;
	a->n_res = n_resources;
	a->next_cmd_id = 1;
	a->reg_wait_pos = UINT64_MAX;

	/* The monitor's page: size-sealed before the monitor ever sees it. */
	r = memfd_new_sealed("hagent-chan-producer", sizeof(struct chan_producer_page), 0, false,
			     NULL);
	if (r < 0)
		return r;
	a->producer_fd = r;
	map = mmap(NULL, sizeof(struct chan_producer_page), PROT_READ, MAP_SHARED, a->producer_fd,
		   0);
	if (map == MAP_FAILED)
		return -errno;
	a->prod = map;

	/* Our page: initialised through our mapping, then sealed against other writers. */
	/* Only the mailboxes of its n_resources are ever written: the rest stays unallocated. */
	r = memfd_new_sealed("hagent-chan-agent", sizeof(struct chan_agent_page),
			     offsetof(struct chan_agent_page, cmds) +
				     n_resources * sizeof(struct chan_res_cmds),
			     true, &map);
	if (r < 0)
		return r;
	a->agent_fd = r;
	a->page = map;
	a->page->magic = CHAN_MAGIC;
	a->page->abi_version = CHAN_ABI_VERSION;
	a->page->page_size = sizeof(struct chan_agent_page);
	a->page->ring_size = CHAN_RING_SIZE;
	a->page->n_resources = n_resources;
	a->page->channel_id = channel_id;

	a->mon_bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->mon_bell < 0)
		return -errno;
	a->agent_bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->agent_bell < 0)
		return -errno;

	*ret = TAKE_PTR(a);
	return 0;
}

struct chan_agent *chan_agent_free(struct chan_agent *a)
{
	if (!a)
		return NULL;
	if (a->prod)
		(void) munmap((void *) a->prod, sizeof(struct chan_producer_page));
	if (a->page)
		(void) munmap(a->page, sizeof(struct chan_agent_page));
	safe_close(a->producer_fd);
	safe_close(a->agent_fd);
	safe_close(a->mon_bell);
	safe_close(a->agent_bell);
	free(a);
	return NULL;
}

int chan_agent_fds(const struct chan_agent *a, struct chan_fds *ret)
{
	assert_return(a && ret, -EINVAL);
	if (a->producer_fd < 0)
		return -EBADF; /* chan_agent_release_memfds() was called */
	*ret = (struct chan_fds){
		.producer = a->producer_fd,
		.agent = a->agent_fd,
		.mon_bell = a->mon_bell,
		.agent_bell = a->agent_bell,
	};
	return 0;
}

int chan_agent_release_memfds(struct chan_agent *a)
{
	assert_return(a, -EINVAL);
	if (a->producer_fd < 0)
		return -EBADF;
	/* Our mappings hold the pages: nothing of ours needs the fds any more. */
	a->producer_fd = safe_close(a->producer_fd);
	a->agent_fd = safe_close(a->agent_fd);
	return 0;
}

int chan_agent_bell_fd(const struct chan_agent *a)
{
	return a->mon_bell;
}

static void ring_bell(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the peer is woken anyway. */
	(void) !write(fd, &one, sizeof(one));
}

int chan_agent_post(struct chan_agent *a, uint32_t res, enum chan_cmd_class cls, enum chan_op op,
		    uint64_t deadline_ns, const void *args, uint32_t args_len, uint64_t *ret_cmd_id)
{
	struct chan_cmd_box *box;
	uint64_t id;
	uint32_t seq;

	if (res >= a->n_res || cls < 0 || cls >= _CHAN_CLASS_MAX || op <= CHAN_OP_NONE ||
	    op >= _CHAN_OP_MAX)
		return -EINVAL;
	if (args_len > CHAN_ARGS_MAX || (args_len > 0 && !args))
		return -E2BIG;

	box = &a->page->cmds[res].box[cls];
	id = a->next_cmd_id++;
	seq = atomic_load_explicit(&box->seq, memory_order_relaxed);
	atomic_store_explicit(&box->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd seq before the new contents */
	box->op = op;
	box->cmd_id = id;
	box->deadline_ns = deadline_ns;
	box->args_len = args_len;
	box->flags = 0;
	if (args_len > 0)
		memcpy(box->args, args, args_len);
	/* Pairs with the acquire load in chan_monitor_read_command(). */
	atomic_store_explicit(&box->seq, seq + 2, memory_order_release);

	a->out[res][cls].cmd_id = id;
	a->out[res][cls].accepted = false;
	a->out[res][cls].done = false;
	ring_bell(a->agent_bell);
	if (ret_cmd_id)
		*ret_cmd_id = id;
	return 0;
}

int chan_agent_restore(struct chan_agent *a, uint32_t res, enum chan_cmd_class cls, enum chan_op op,
		       uint64_t cmd_id, uint64_t deadline_ns)
{
	struct chan_cmd_box *box;
	uint32_t seq;

	if (res >= a->n_res || cls < 0 || cls >= _CHAN_CLASS_MAX || op <= CHAN_OP_NONE ||
	    op >= _CHAN_OP_MAX || cmd_id == 0 || cmd_id == UINT64_MAX)
		return -EINVAL;

	box = &a->page->cmds[res].box[cls];
	seq = atomic_load_explicit(&box->seq, memory_order_relaxed);
	atomic_store_explicit(&box->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	box->op = op;
	box->cmd_id = cmd_id;
	box->deadline_ns = deadline_ns;
	box->args_len = 0; /* the monitor has them: it read this command from the old channel */
	box->flags = 0;
	atomic_store_explicit(&box->seq, seq + 2, memory_order_release);

	a->out[res][cls] = (struct outstanding){.cmd_id = cmd_id};
	if (a->next_cmd_id <= cmd_id)
		a->next_cmd_id = cmd_id + 1;
	return 0;
}

/* validate(): an honest answer to a command replaced since; dropped, not a violation. */
#define VALIDATE_STALE _CHAN_REJ_MAX

/* Validates a copied status; on success records what it answers.  -1: valid. */
static int validate(struct chan_agent *a, const struct chan_status_body *b, uint64_t now)
{
	struct outstanding *o;

	if (b->type == 0 || b->type >= _CHAN_ST_MAX)
		return CHAN_REJ_TYPE;
	if (b->res >= a->n_res)
		return CHAN_REJ_RESOURCE;
	if (b->detail_len > CHAN_DETAIL_MAX)
		return CHAN_REJ_LENGTH;
	if (b->mono_ns < a->last_mono)
		return CHAN_REJ_TIME;
	/* now was taken when the drain began: an entry posted since is not from the future. */
	if (b->mono_ns > now && b->mono_ns > now_ns(CLOCK_MONOTONIC))
		return CHAN_REJ_TIME;

	if (b->type == CHAN_ST_FAILURE || b->type == CHAN_ST_LOCKED) {
		if (b->cmd_id != 0)
			return CHAN_REJ_CMD;
	} else {
		if (b->cls >= _CHAN_CLASS_MAX)
			return CHAN_REJ_TYPE;
		o = &a->out[b->res][b->cls];
		if (b->cmd_id != 0 && b->cmd_id < o->cmd_id) {
			a->last_mono = b->mono_ns;
			return VALIDATE_STALE;
		}
		if (b->cmd_id == 0 || b->cmd_id != o->cmd_id)
			return CHAN_REJ_CMD;
		if (o->done || (b->type == CHAN_ST_ACCEPTED && o->accepted))
			return CHAN_REJ_REPLAY;
		if (b->type == CHAN_ST_ACCEPTED)
			o->accepted = true;
		else if (b->type == CHAN_ST_DONE)
			o->done = true;
	}
	a->last_mono = b->mono_ns;
	return -1;
}

static bool accept_copy(struct chan_agent *a, const struct chan_status_body *b, uint64_t now)
{
	int why = validate(a, b, now);

	if (why == VALIDATE_STALE) {
		a->stats.stale++;
		return false;
	}
	if (why >= 0) {
		a->stats.rejected[why]++;
		return false;
	}
	a->stats.accepted++;
	return true;
}

/*
 * Registers written while the ring was full, whose place in the order has
 * come (pos <= head).  Returns how many statuses went into out.  Several
 * can be due at once (one per resource, all stamped with the same
 * position): they are delivered oldest first, as the producer wrote them.
 * A register caught mid-write is skipped without retrying: the producer
 * bumps reg_dirty after finishing it, which brings us back here.
 */
static size_t drain_registers(struct chan_agent *a, struct chan_status_body *out, size_t max,
			      uint64_t now)
{
	/* Pairs with the release increment of reg_dirty in chan_monitor_post(). */
	uint64_t dirty = atomic_load_explicit(&a->prod->reg_dirty, memory_order_acquire);
	uint64_t wait_pos = UINT64_MAX;
	struct {
		struct chan_status_body b;
		uint32_t res, seq;
	} due[CHAN_MAX_RESOURCES];
	size_t n_due = 0, n = 0;

	if (dirty == a->reg_dirty_seen && a->head < a->reg_wait_pos)
		return 0;
	for (uint32_t res = 0; res < a->n_res; res++) {
		const struct chan_status_reg *reg = &a->prod->regs[res];
		struct chan_status_reg copy;
		uint32_t s1, s2;
		size_t i;

		s1 = atomic_load_explicit(&reg->seq, memory_order_acquire);
		if (s1 == a->reg_seen[res])
			continue;
		memcpy(&copy, (const void *) reg, sizeof(copy));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&reg->seq, memory_order_relaxed);
		if ((s1 & 1u) || s1 != s2)
			continue;
		if (copy.pos > a->head + CHAN_RING_SIZE || copy.b.res != res) {
			a->reg_seen[res] = s1;
			a->stats.rejected[CHAN_REJ_SEQ]++;
			continue;
		}
		if (copy.pos > a->head) {
			/* Older ring entries come first. */
			if (copy.pos < wait_pos)
				wait_pos = copy.pos;
			continue;
		}
		/* Insertion by timestamp: at most CHAN_MAX_RESOURCES of them. */
		for (i = n_due; i > 0 && due[i - 1].b.mono_ns > copy.b.mono_ns; i--)
			due[i] = due[i - 1];
		due[i].b = copy.b;
		due[i].res = res;
		due[i].seq = s1;
		n_due++;
	}
	for (size_t i = 0; i < n_due; i++) {
		if (n == max) {
			wait_pos = a->head; /* no room: come back at once */
			break;
		}
		a->reg_seen[due[i].res] = due[i].seq;
		if (accept_copy(a, &due[i].b, now)) {
			out[n] = due[i].b;
			out[n].flags |= CHAN_F_COALESCED;
			n++;
			a->stats.coalesced++;
		}
	}
	a->reg_dirty_seen = dirty;
	a->reg_wait_pos = wait_pos;
	return n;
}

/* The sequence word of the slot for position pos when it holds nothing new. */
static uint64_t empty_seq(uint64_t pos)
{
	return pos < CHAN_RING_SIZE ? 0 : pos + 1 - CHAN_RING_SIZE;
}

int chan_agent_drain(struct chan_agent *a, struct chan_status_body *out, size_t max, size_t *ret_n)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC), start = a->head;
	size_t n = 0;
	int r = 0;

	while (n < max) {
		const struct chan_status_entry *e = &a->prod->ring[a->head & (CHAN_RING_SIZE - 1)];
		struct chan_status_entry copy;
		uint64_t s1, s2;

		/* Pairs with the release store of seq in chan_monitor_post(). */
		s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		/* Registers stamped at or before head precede this entry. */
		n += drain_registers(a, out + n, max - n, now);
		if (n == max)
			break;
		if (s1 == empty_seq(a->head))
			break;
		/*
		 * The producer may only write up to a lap past the head we
		 * published when this call began.  More means it keeps
		 * refilling (or filled the ring with garbage, which never looks
		 * empty): stop, so that it cannot keep us here.
		 */
		if (a->head - start >= CHAN_RING_SIZE) {
			r = 1;
			break;
		}
		if (s1 != a->head + 1) {
			a->stats.rejected[CHAN_REJ_SEQ]++;
			a->head++;
			continue;
		}
		memcpy(&copy, (const void *) e, sizeof(copy));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
		a->head++;
		if (s2 != s1) {
			a->stats.rejected[CHAN_REJ_TORN]++;
			continue;
		}
		if (accept_copy(a, &copy.b, now))
			out[n++] = copy.b;
	}
	if (n == max)
		r = 1;
	/* Pairs with the acquire load of head in chan_monitor_post() (ring space). */
	atomic_store_explicit(&a->page->head, a->head, memory_order_release);
	*ret_n = n;
	return r;
}

int chan_agent_prepare_sleep(struct chan_agent *a)
{
	const struct chan_status_entry *e = &a->prod->ring[a->head & (CHAN_RING_SIZE - 1)];
	uint64_t s;

	atomic_store_explicit(&a->page->armed, 1, memory_order_relaxed);
	/* Dekker: our store of armed vs. the producer's store of seq; pairs with its fence. */
	atomic_thread_fence(memory_order_seq_cst);
	s = atomic_load_explicit(&e->seq, memory_order_acquire);
	if (s == empty_seq(a->head) && a->head < a->reg_wait_pos &&
	    atomic_load_explicit(&a->prod->reg_dirty, memory_order_acquire) == a->reg_dirty_seen)
		return 0;
	atomic_store_explicit(&a->page->armed, 0, memory_order_relaxed);
	return 1;
}

void chan_agent_woken(struct chan_agent *a)
{
	uint64_t v;

	atomic_store_explicit(&a->page->armed, 0, memory_order_relaxed);
	(void) !read(a->mon_bell, &v, sizeof(v)); /* non-blocking; EAGAIN is fine */
}

void chan_agent_get_stats(const struct chan_agent *a, struct chan_agent_stats *ret)
{
	*ret = a->stats;
}

uint64_t chan_agent_monitor_heartbeat(const struct chan_agent *a)
{
	return atomic_load_explicit(&a->prod->heartbeat_ns, memory_order_relaxed);
}
