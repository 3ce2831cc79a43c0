/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Monitor end of a channel (used by libhamon).  The monitor writes only its
 * producer page; the agent page is mapped read-only and sealed against any
 * writer but the agent.  Posting never blocks and costs no syscall while the
 * agent is awake.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "channel.h"
#include "memfd-util.h"
#include "time-util.h"

struct chan_monitor {
	struct chan_producer_page *prod;    /* ours, read-write */
	const struct chan_agent_page *page; /* the agent's, read-only */
	int mon_bell, agent_bell;
	uint32_t n_res;
	uint64_t pos; /* next ring position to write */
	uint64_t last_mono;
	uint64_t seen[CHAN_MAX_RESOURCES][_CHAN_CLASS_MAX];
};

static int map_checked(int fd, size_t want, int prot, void **ret)
{
	size_t size;
	void *map;
	int r;

	r = memfd_check_sealed(fd, &size);
	if (r < 0)
		return r;
	if (size != want)
		return -EBADMSG;
	map = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	*ret = map;
	return 0;
}

static int page_check(const struct chan_agent_page *p)
{
	if (p->magic != CHAN_MAGIC)
		return -EPROTO;
	if (p->abi_version != CHAN_ABI_VERSION)
		return -EPROTONOSUPPORT;
	if (p->page_size != sizeof(struct chan_agent_page) || p->ring_size != CHAN_RING_SIZE ||
	    p->n_resources == 0 || p->n_resources > CHAN_MAX_RESOURCES)
		return -EBADMSG;
	return 0;
}

int chan_monitor_attach(const struct chan_fds *fds, struct chan_monitor **ret)
{
	_cleanup_(chan_monitor_freep) struct chan_monitor *m = NULL;
	void *map = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->mon_bell = m->agent_bell = -EBADF;

	r = map_checked(fds->agent, sizeof(struct chan_agent_page), PROT_READ, &map);
	if (r < 0)
		return r;
	m->page = map;
	r = page_check(m->page);
	if (r < 0)
		return r;
	m->n_res = m->page->n_resources;

	r = map_checked(fds->producer, sizeof(struct chan_producer_page), PROT_READ | PROT_WRITE,
			&map);
	if (r < 0)
		return r;
	m->prod = map;

	m->mon_bell = fcntl(fds->mon_bell, F_DUPFD_CLOEXEC, 3);
	if (m->mon_bell < 0)
		return -errno;
	m->agent_bell = fcntl(fds->agent_bell, F_DUPFD_CLOEXEC, 3);
	if (m->agent_bell < 0)
		return -errno;

	/* Resume where the agent is: after a re-attach the ring may hold unread entries. */
	m->pos = atomic_load_explicit(&m->page->head, memory_order_acquire);
	for (uint64_t p = m->pos; p < m->pos + CHAN_RING_SIZE; p++)
		if (atomic_load_explicit(&m->prod->ring[p & (CHAN_RING_SIZE - 1)].seq,
					 memory_order_relaxed) == p + 1)
			m->pos = p + 1;
		else
			break;
	/*
	 * A predecessor may have died between finishing a register and
	 * announcing it; announce it now, so that the agent delivers it in
	 * its place (pos) instead of after newer entries.  Pairs with the
	 * acquire load of reg_dirty in drain_registers().
	 */
	atomic_fetch_add_explicit(&m->prod->reg_dirty, 1, memory_order_release);
	*ret = TAKE_PTR(m);
	return 0;
}

struct chan_monitor *chan_monitor_free(struct chan_monitor *m)
{
	if (!m)
		return NULL;
	if (m->prod)
		(void) munmap(m->prod, sizeof(struct chan_producer_page));
	if (m->page)
		(void) munmap((void *) m->page, sizeof(struct chan_agent_page));
	safe_close(m->mon_bell);
	safe_close(m->agent_bell);
	free(m);
	return NULL;
}

uint32_t chan_monitor_n_resources(const struct chan_monitor *m)
{
	return m->n_res;
}

static void ring_agent_if_armed(struct chan_monitor *m)
{
	uint64_t one = 1;

	/* Dekker: our store of seq vs. the agent's store of armed; pairs with its fence. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&m->page->armed, memory_order_relaxed))
		(void) !write(m->mon_bell, &one, sizeof(one));
}

static int post_register(struct chan_monitor *m, const struct chan_status_body *b)
{
	struct chan_status_reg *reg = &m->prod->regs[b->res];
	/* Odd already if a predecessor died writing it: stay odd, end on the next even value. */
	uint32_t seq = atomic_load_explicit(&reg->seq, memory_order_relaxed) | 1u;

	atomic_store_explicit(&reg->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd seq before the new contents */
	reg->pos = m->pos;
	reg->b = *b;
	/* Pairs with the acquire load of seq in drain_registers(). */
	atomic_store_explicit(&reg->seq, seq + 1, memory_order_release);
	atomic_fetch_add_explicit(&m->prod->overflows, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->prod->reg_dirty, 1, memory_order_release);
	return 1;
}

int chan_monitor_post(struct chan_monitor *m, const struct chan_status_body *b)
{
	struct chan_status_entry *e;
	struct chan_status_body body = *b;
	uint64_t head, now;
	int r = 0;

	if (b->res >= m->n_res)
		return -EINVAL;
	if (b->detail_len > CHAN_DETAIL_MAX)
		return -E2BIG;

	now = now_ns(CLOCK_MONOTONIC);
	body.mono_ns = now > m->last_mono ? now : m->last_mono;
	m->last_mono = body.mono_ns;

	/* Pairs with the release store of head in chan_agent_drain(). */
	head = atomic_load_explicit(&m->page->head, memory_order_acquire);
	/*
	 * The agent consumed positions we never wrote: entries forged into our
	 * page (a bug, or a test).  Go on from there, or pos - head would wrap
	 * and every later status would take the register.
	 */
	if ((int64_t) (head - m->pos) > 0)
		m->pos = head;
	if (m->pos - head >= CHAN_RING_SIZE) {
		r = post_register(m, &body);
	} else {
		e = &m->prod->ring[m->pos & (CHAN_RING_SIZE - 1)];
		e->b = body;
		/* Pairs with the acquire load of seq in chan_agent_drain(). */
		atomic_store_explicit(&e->seq, m->pos + 1, memory_order_release);
		m->pos++;
	}
	ring_agent_if_armed(m);
	return r;
}

int chan_monitor_read_command(struct chan_monitor *m, uint32_t res, enum chan_cmd_class cls,
			      struct chan_command *ret)
{
	const struct chan_cmd_box *box;
	uint32_t s1, s2, len;
	uint64_t id;

	if (res >= m->n_res || cls < 0 || cls >= _CHAN_CLASS_MAX)
		return -EINVAL;
	box = &m->page->cmds[res].box[cls];

	/* Pairs with the release store of seq in chan_agent_post(). */
	s1 = atomic_load_explicit(&box->seq, memory_order_acquire);
	if (s1 & 1u)
		return -EAGAIN;
	id = box->cmd_id;
	if (id == m->seen[res][cls]) {
		atomic_thread_fence(memory_order_acquire);
		return atomic_load_explicit(&box->seq, memory_order_relaxed) == s1 ? 0 : -EAGAIN;
	}
	len = box->args_len;
	if (len > CHAN_ARGS_MAX)
		len = CHAN_ARGS_MAX;
	ret->op = box->op;
	ret->cmd_id = id;
	ret->deadline_ns = box->deadline_ns;
	ret->flags = box->flags;
	ret->args_len = len;
	memcpy(ret->args, (const void *) box->args, len);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&box->seq, memory_order_relaxed);
	if (s1 != s2)
		return -EAGAIN;
	m->seen[res][cls] = id;
	return 1;
}

int chan_monitor_bell_fd(const struct chan_monitor *m)
{
	return m->agent_bell;
}

void chan_monitor_woken(struct chan_monitor *m)
{
	uint64_t v;

	(void) !read(m->agent_bell, &v, sizeof(v)); /* the fd is non-blocking */
}

void chan_monitor_heartbeat(struct chan_monitor *m)
{
	atomic_store_explicit(&m->prod->heartbeat_ns, now_ns(CLOCK_MONOTONIC),
			      memory_order_relaxed);
}

uint64_t chan_monitor_channel_id(const struct chan_monitor *m)
{
	return m->page->channel_id;
}

/* Registers from holds that its agent has not delivered yet (pos at or past its head). */
static size_t pending_registers(const struct chan_monitor *from, uint64_t head,
				struct chan_status_reg *out)
{
	size_t n = 0;

	for (uint32_t res = 0; res < from->n_res; res++) {
		const struct chan_status_reg *reg = &from->prod->regs[res];
		uint32_t seq = atomic_load_explicit(&reg->seq, memory_order_acquire);

		/* Ours: nobody writes it concurrently, but a predecessor may have died mid-write. */
		if (seq == 0 || (seq & 1u) || reg->pos < head)
			continue;
		out[n++] = *reg;
	}
	return n;
}

int chan_monitor_carry_over(struct chan_monitor *to, const struct chan_monitor *from)
{
	struct chan_status_reg regs[CHAN_MAX_RESOURCES];
	uint64_t head;
	size_t n_regs;
	int n = 0;

	if (!to || !from || to->n_res != from->n_res)
		return -EINVAL;

	for (uint32_t res = 0; res < to->n_res; res++)
		for (int cls = 0; cls < _CHAN_CLASS_MAX; cls++) {
			uint64_t id = to->page->cmds[res].box[cls].cmd_id;

			/* The same id: seen.  Another one (a command the old agent posted that
			 * we never read): new.  None: nothing. */
			to->seen[res][cls] = id == 0 ? 0 : from->seen[res][cls];
		}

	head = atomic_load_explicit(&from->page->head, memory_order_acquire);
	n_regs = pending_registers(from, head, regs);
	for (uint64_t p = head; p < from->pos && p - head < CHAN_RING_SIZE; p++) {
		const struct chan_status_entry *e = &from->prod->ring[p & (CHAN_RING_SIZE - 1)];

		for (size_t i = 0; i < n_regs; i++)
			if (regs[i].pos == p && chan_monitor_post(to, &regs[i].b) >= 0)
				n++;
		if (atomic_load_explicit(&e->seq, memory_order_acquire) == p + 1 &&
		    chan_monitor_post(to, &e->b) >= 0)
			n++;
	}
	for (size_t i = 0; i < n_regs; i++)
		if (regs[i].pos >= from->pos && chan_monitor_post(to, &regs[i].b) >= 0)
			n++;
	return n;
}
