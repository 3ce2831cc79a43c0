/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon-test: GarbageAfter.  This process's own producer page of the
 * channel, reached around libhamon: main() maps the memfds named in
 * HAGENT_CHANNEL_FDS before hamon_run() (which may close them), and the
 * forgers below write into it as a corrupt or hostile monitor would, to test
 * the agent's validation.  They race with libhamon's own posts (nothing can
 * take libhamon's lock from here): scripts use them while the resource is
 * quiet.  hamon-test.c documents what each kind writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel-layout.h"
#include "hamon-test.h"
#include "macro.h"
#include "time-util.h"

static struct {
	struct chan_producer_page *prod;    /* read-write, as libhamon maps it */
	const struct chan_agent_page *page; /* read-only */
	int mon_bell;
	pthread_mutex_t lock; /* one forger at a time */
} chan = {
	.mon_bell = -EBADF,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void *map_fd(int fd, size_t size, int prot)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || (size_t) st.st_size != size)
		return NULL;
	p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Maps the producer and agent pages named in HAGENT_CHANNEL_FDS ("p,a,m,b"),
 * before hamon_run() may close them.  Best effort: without them,
 * GarbageAfter makes open fail with -ENXIO.
 */
void channel_map(void)
{
	const char *e = getenv("HAGENT_CHANNEL_FDS");
	int fds[4];

	if (!e)
		return;
	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v;

		if (*e < '0' || *e > '9')
			return;
		errno = 0;
		v = strtoul(e, &end, 10);
		if (errno != 0 || v > INT32_MAX || *end != (i < 3 ? ',' : '\0'))
			return;
		fds[i] = (int) v;
		e = end + 1;
	}
	chan.prod = map_fd(fds[0], sizeof(*chan.prod), PROT_READ | PROT_WRITE);
	chan.page = map_fd(fds[1], sizeof(*chan.page), PROT_READ);
	chan.mon_bell = fcntl(fds[2], F_DUPFD_CLOEXEC, 3);
	if (!chan.prod || !chan.page || chan.mon_bell < 0) {
		if (chan.prod)
			(void) munmap(chan.prod, sizeof(*chan.prod));
		if (chan.page)
			(void) munmap((void *) chan.page, sizeof(*chan.page));
		chan.prod = NULL;
		chan.page = NULL;
		chan.mon_bell = safe_close(chan.mon_bell);
	}
}

static void channel_ring_agent(void)
{
	uint64_t one = 1;

	/* As chan_monitor_post(): full fence, then ring only a sleeping agent. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&chan.page->armed, memory_order_relaxed))
		(void) !write(chan.mon_bell, &one, sizeof(one));
}

/* count committed ring entries at libhamon's next position, each invalid in one way. */
static int forge_ring(uint32_t count)
{
	uint64_t head, pos, now = now_ns(CLOCK_MONOTONIC);

	head = atomic_load_explicit(&chan.page->head, memory_order_acquire);
	/* libhamon writes next at the first position at or after head not yet committed. */
	for (pos = head; pos < head + CHAN_RING_SIZE; pos++)
		if (atomic_load_explicit(&chan.prod->ring[pos & (CHAN_RING_SIZE - 1)].seq,
					 memory_order_acquire) != pos + 1)
			break;
	if (pos + count > head + CHAN_RING_SIZE)
		return -ENOBUFS;

	for (uint32_t i = 0; i < count; i++, pos++) {
		struct chan_status_entry *e = &chan.prod->ring[pos & (CHAN_RING_SIZE - 1)];
		struct chan_status_body b = {
			.type = CHAN_ST_DONE,
			.cls = CHAN_CLASS_TRANSITION,
			.cmd_id = 1,
			.mono_ns = now,
		};
		uint64_t seq = pos + 1;

		switch (i % 5) {
		case 0:
			seq ^= UINT64_C(0x5a5a5a5a00000000); /* neither "next" nor "empty" */
			break;
		case 1:
			b.type = 0x7fff;
			break;
		case 2:
			b.res = UINT32_MAX;
			break;
		case 3:
			b.detail_len = UINT16_MAX;
			break;
		default:
			b.cmd_id = UINT64_MAX; /* newer than anything outstanding: not stale */
			break;
		}
		e->b = b;
		/* Pairs with the acquire load of seq in chan_agent_drain(). */
		atomic_store_explicit(&e->seq, seq, memory_order_release);
	}
	channel_ring_agent();
	return (int) count;
}

/* Resource 0's latest-status register, naming a position a producer cannot be blocked at. */
static int forge_register(void)
{
	struct chan_status_reg *reg = &chan.prod->regs[0];
	uint32_t seq = atomic_load_explicit(&reg->seq, memory_order_relaxed) | 1u;
	uint64_t head = atomic_load_explicit(&chan.page->head, memory_order_acquire);

	atomic_store_explicit(&reg->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	reg->pos = head + 2 * CHAN_RING_SIZE;
	reg->b = (struct chan_status_body){
		.type = CHAN_ST_DONE,
		.mono_ns = now_ns(CLOCK_MONOTONIC),
	};
	atomic_store_explicit(&reg->seq, seq + 1, memory_order_release);
	atomic_fetch_add_explicit(&chan.prod->reg_dirty, 1, memory_order_release);
	channel_ring_agent();
	return 1;
}

bool channel_mapped(void)
{
	return chan.prod != NULL;
}

int channel_forge(enum script_garbage kind, uint32_t count)
{
	int r;

	if (!chan.prod)
		return -ENXIO;
	(void) pthread_mutex_lock(&chan.lock);
	r = kind == GARBAGE_RING ? forge_ring(count) : forge_register();
	(void) pthread_mutex_unlock(&chan.lock);
	return r;
}
