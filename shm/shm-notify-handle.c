/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The process-wide table of notification port handles.  hagent_notify_t is
 * handed out like a file descriptor, but unlike an fd number it is not
 * reused at once: each slot carries a generation that changes when the slot
 * is used again, so a call with an old handle is -EBADF instead of acting
 * on someone else's port.  Lookup and reference happen under one mutex, so
 * a port cannot be freed between being found and being referenced; the
 * calls themselves run outside it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "shm-notify-internal.h"

#define TABLE_MAX (UINT32_C(1) << 24) /* ports per process; far more than anyone needs */

struct handle_slot {
	struct notify_port *port; /* NULL: free */
	uint32_t gen;		  /* of the current or the last handle in this slot */
	uint32_t next_free;	  /* index + 1 of the next free slot, 0: none */
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle_slot *table;
static uint32_t table_size, first_free, last_free; /* free list: index + 1, FIFO */

static uint32_t handle_index(hagent_notify_t h)
{
	return (uint32_t) h - 1; /* UINT32_MAX for 0: never a valid index */
}

/* Doubles the table; the new slots go onto the free list. */
static int table_grow(void)
{
	uint32_t n = table_size ? table_size * 2 : 16;
	struct handle_slot *t;

	if (table_size >= TABLE_MAX)
		return -EMFILE;
	t = reallocarray(table, n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	table = t;
	for (uint32_t i = table_size; i < n; i++)
		table[i] = (struct handle_slot){.next_free = i + 1 < n ? i + 2 : 0};
	if (last_free)
		table[last_free - 1].next_free = table_size + 1;
	else
		first_free = table_size + 1;
	last_free = n;
	table_size = n;
	return 0;
}

int notify_handle_new(struct notify_port *p, hagent_notify_t *ret)
{
	struct handle_slot *slot;
	uint32_t i;
	int r = 0;

	pthread_mutex_lock(&table_lock);
	if (!first_free)
		r = table_grow();
	if (r < 0) {
		pthread_mutex_unlock(&table_lock);
		return r;
	}
	/* FIFO reuse: a slot comes back as late as possible, on top of the generation. */
	i = first_free - 1;
	slot = &table[i];
	first_free = slot->next_free;
	if (!first_free)
		last_free = 0;
	slot->gen = slot->gen + 1 ?: 1; /* never 0: handle 0 is never a port */
	slot->port = p;
	slot->next_free = 0;
	notify_port_ref(p);
	*ret = (uint64_t) slot->gen << 32 | (uint64_t) (i + 1);
	pthread_mutex_unlock(&table_lock);
	return 0;
}

/* The slot of h if h is live, under table_lock. */
static struct handle_slot *slot_of(hagent_notify_t h)
{
	uint32_t i = handle_index(h);

	if (i >= table_size || !table[i].port || table[i].gen != (uint32_t) (h >> 32))
		return NULL;
	return &table[i];
}

struct notify_port *notify_handle_get(hagent_notify_t h)
{
	struct handle_slot *slot;
	struct notify_port *p = NULL;

	pthread_mutex_lock(&table_lock);
	slot = slot_of(h);
	if (slot) {
		p = slot->port;
		notify_port_ref(p);
	}
	pthread_mutex_unlock(&table_lock);
	return p;
}

struct notify_port *notify_handle_remove(hagent_notify_t h)
{
	struct handle_slot *slot;
	struct notify_port *p = NULL;

	pthread_mutex_lock(&table_lock);
	slot = slot_of(h);
	if (slot) {
		p = slot->port;
		slot->port = NULL;
		if (last_free)
			table[last_free - 1].next_free = handle_index(h) + 1;
		else
			first_free = handle_index(h) + 1;
		last_free = handle_index(h) + 1;
	}
	pthread_mutex_unlock(&table_lock);
	return p;
}
