/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "memfd-util.h"
#include "shm-blob-heap.h"
#include "shm-waker.h"
#include "shm-writer.h"
#include "time-util.h"

struct shm_writer {
	int fd;
	size_t size;
	uint8_t *base;
	struct shm_header *hdr;
	struct shm_record *records;
	struct shm_event *events;
	struct blob_heap heap;
	uint64_t txn;	    /* open transaction, 0 if none */
	uint64_t event_pos; /* next event position (published at commit) */
	uint32_t res_high, grp_high;
	struct shm_waker *waker; /* NULL: commit wakes the watchers itself */
};

void shm_params_default(struct shm_params *ret)
{
	*ret = (struct shm_params){
		.max_resources = 4096,
		.max_groups = 1024,
		.blob_bytes = 4u << 20,
		.event_capacity = 4096,
	};
}

static int params_check(const struct shm_params *p)
{
	if (p->max_resources == 0 || p->max_groups == 0)
		return -EINVAL;
	if ((uint64_t) p->max_resources + p->max_groups > SHM_MAX_RECORDS)
		return -E2BIG;
	if (p->event_capacity == 0 || (p->event_capacity & (p->event_capacity - 1)) != 0)
		return -EINVAL;
	if (p->event_capacity > (1u << 24) || p->blob_bytes > (1u << 30))
		return -E2BIG;
	return 0;
}

static void header_init(struct shm_writer *w, const struct shm_params *p, uint64_t records_off,
			uint64_t blob_off, uint64_t events_off)
{
	struct shm_header *h = w->hdr;

	h->magic = SHM_MAGIC;
	h->abi_version = SHM_ABI_VERSION;
	h->header_size = sizeof(struct shm_header);
	h->segment_size = w->size;
	h->n_versions = SHM_VERSIONS;
	h->version_size = sizeof(struct shm_version);
	h->record_size = sizeof(struct shm_record);
	h->max_resources = p->max_resources;
	h->max_groups = p->max_groups;
	h->blob_chunk_size = SHM_BLOB_CHUNK;
	h->records_offset = records_off;
	h->blob_offset = blob_off;
	h->blob_chunks = p->blob_bytes / SHM_BLOB_CHUNK;
	h->event_capacity = p->event_capacity;
	h->events_offset = events_off;
	h->event_size = sizeof(struct shm_event);
	h->writer_pid = getpid();
	if (getrandom(h->incarnation, sizeof(h->incarnation), 0) != sizeof(h->incarnation)) {
		/* Entropy is not a secret here, only a "new segment" marker. */
		uint64_t t = now_ns(CLOCK_REALTIME) ^ ((uint64_t) getpid() << 32);
		memcpy(h->incarnation, &t, sizeof(t));
	}
	h->created_realtime_ns = now_ns(CLOCK_REALTIME);
	atomic_store_explicit(&h->heartbeat_ns, now_ns(CLOCK_MONOTONIC), memory_order_relaxed);
}

int shm_writer_new(const struct shm_params *p, struct shm_writer **ret)
{
	_cleanup_(shm_writer_freep) struct shm_writer *w = NULL;
	uint64_t records_off, blob_off, events_off, size;
	void *map;
	int r;

	r = params_check(p);
	if (r < 0)
		return r;

	records_off = SHM_HEADER_AREA;
	blob_off = ALIGN_TO(records_off + (uint64_t) (p->max_resources + p->max_groups) *
						  sizeof(struct shm_record),
			    (uint64_t) 4096);
	events_off = ALIGN_TO(blob_off + p->blob_bytes / SHM_BLOB_CHUNK * SHM_BLOB_CHUNK,
			      (uint64_t) 4096);
	size = ALIGN_TO(events_off + (uint64_t) p->event_capacity * sizeof(struct shm_event),
			(uint64_t) 4096);

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -EBADF;

	r = memfd_new_sealed("hagent-state", size, size, true, &map);
	if (r < 0)
		return r;
	w->fd = r;
	w->size = size;
	w->base = map;
	w->hdr = map;
	w->records = (struct shm_record *) (w->base + records_off);
	w->events = (struct shm_event *) (w->base + events_off);
	/* No major fault during a failover: keep it resident if the limit allows. */
	(void) mlock(map, size);

	r = blob_heap_init(&w->heap, w->base + blob_off, p->blob_bytes / SHM_BLOB_CHUNK);
	if (r < 0)
		return r;

	header_init(w, p, records_off, blob_off, events_off);
	*ret = TAKE_PTR(w);
	return 0;
}

struct shm_writer *shm_writer_free(struct shm_writer *w)
{
	if (!w)
		return NULL;
	/* Before the unmap: the thread reads event_head. */
	w->waker = shm_waker_stop(w->waker);
	blob_heap_done(&w->heap);
	if (w->base)
		(void) munmap(w->base, w->size);
	safe_close(w->fd);
	free(w);
	return NULL;
}

int shm_writer_fd(const struct shm_writer *w)
{
	return w->fd;
}

const struct shm_header *shm_writer_header(const struct shm_writer *w)
{
	return w->hdr;
}

uint32_t shm_writer_resource_slot(const struct shm_writer *w, uint32_t i)
{
	(void) w;
	return i;
}

uint32_t shm_writer_group_slot(const struct shm_writer *w, uint32_t i)
{
	return w->hdr->max_resources + i;
}

int shm_writer_begin(struct shm_writer *w, uint64_t *ret_txn)
{
	if (w->txn != 0)
		return -EBUSY;
	w->txn = atomic_load_explicit(&w->hdr->commit, memory_order_relaxed) + 1;
	if (ret_txn)
		*ret_txn = w->txn;
	return 0;
}

/* The blob references a version of this kind holds. */
static unsigned version_blobs(uint32_t kind, const void *payload, struct shm_blob_ref *ret)
{
	const struct shm_resource_data *res = payload;
	const struct shm_group_data *grp = payload;
	unsigned n = 0;

	if (kind == SHM_KIND_RESOURCE) {
		ret[n++] = res->properties;
		ret[n++] = res->dependencies;
	} else if (kind == SHM_KIND_GROUP) {
		ret[n++] = grp->members;
		ret[n++] = grp->properties;
		ret[n++] = grp->dependency_expression;
		ret[n++] = grp->provider_groups;
	}
	return n;
}

static int check_object(const struct shm_writer *w, uint32_t slot, const struct shm_object *o)
{
	uint32_t max_res = w->hdr->max_resources;

	if (slot >= max_res + w->hdr->max_groups)
		return -ERANGE;
	if (o->kind == SHM_KIND_RESOURCE && slot >= max_res)
		return -EINVAL;
	if (o->kind == SHM_KIND_GROUP && slot < max_res)
		return -EINVAL;
	if (o->kind > SHM_KIND_GROUP)
		return -EINVAL;
	if (memchr(o->name, 0, sizeof(o->name)) == NULL)
		return -ENAMETOOLONG;
	return 0;
}

/* Takes the new version's blob references first, so a failure changes nothing. */
static int refs_take(struct shm_writer *w, const struct shm_object *o)
{
	struct shm_blob_ref refs[4];
	unsigned n = version_blobs(o->kind, &o->u, refs);
	int r;

	for (unsigned i = 0; i < n; i++) {
		if (refs[i].blob_id == 0)
			continue;
		r = blob_heap_ref(&w->heap, refs[i].chunk, refs[i].blob_id);
		if (r < 0) {
			while (i-- > 0)
				if (refs[i].blob_id != 0)
					blob_heap_unref(&w->heap, refs[i].chunk, refs[i].blob_id);
			return r;
		}
	}
	return 0;
}

static void refs_drop(struct shm_writer *w, const struct shm_version *v)
{
	struct shm_blob_ref refs[4];
	unsigned n = version_blobs(v->kind, &v->u, refs);

	for (unsigned i = 0; i < n; i++)
		if (refs[i].blob_id != 0)
			blob_heap_unref(&w->heap, refs[i].chunk, refs[i].blob_id);
}

static void raise_high(struct shm_writer *w, uint32_t slot)
{
	uint32_t max_res = w->hdr->max_resources;

	/* Release: a reader that sees the new bound also sees the record's latest. */
	if (slot < max_res && slot >= w->res_high) {
		w->res_high = slot + 1;
		atomic_store_explicit(&w->hdr->res_high, w->res_high, memory_order_release);
	} else if (slot >= max_res && slot - max_res >= w->grp_high) {
		w->grp_high = slot - max_res + 1;
		atomic_store_explicit(&w->hdr->grp_high, w->grp_high, memory_order_release);
	}
}

int shm_writer_put(struct shm_writer *w, uint32_t slot, const struct shm_object *o)
{
	struct shm_record *rec;
	struct shm_version *v;
	uint64_t gen;
	uint32_t seq;
	int r;

	if (w->txn == 0)
		return -ENOTCONN;
	r = check_object(w, slot, o);
	if (r < 0)
		return r;
	r = refs_take(w, o);
	if (r < 0)
		return r;

	rec = &w->records[slot];
	gen = atomic_load_explicit(&rec->latest, memory_order_relaxed) + 1;
	v = &rec->v[gen % SHM_VERSIONS];
	if (v->gen != 0)
		refs_drop(w, v); /* the version leaving the history */

	seq = atomic_load_explicit(&v->seq, memory_order_relaxed);
	atomic_store_explicit(&v->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd seq before the new contents */
	v->kind = o->kind;
	v->gen = gen;
	v->txn = w->txn;
	v->reserved = 0;
	memcpy(v->id, o->id, sizeof(v->id));
	memcpy(v->name, o->name, sizeof(v->name));
	memset(&v->u, 0, sizeof(v->u));
	memcpy(&v->u, &o->u, sizeof(o->u));
	/* Pairs with the acquire fence after the reader's copy (shm-reader.c version_copy()). */
	atomic_store_explicit(&v->seq, seq + 2, memory_order_release);
	/* Pairs with the acquire load of latest in the reader's version walk. */
	atomic_store_explicit(&rec->latest, gen, memory_order_release);
	raise_high(w, slot);
	return 0;
}

int shm_writer_event(struct shm_writer *w, const struct shm_event *e)
{
	struct shm_event *slot;
	uint64_t pos = w->event_pos;

	if (w->txn == 0)
		return -ENOTCONN;
	slot = &w->events[pos & (w->hdr->event_capacity - 1)];
	atomic_store_explicit(&slot->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* invalidate before rewriting */
	slot->change = e->change;
	slot->slot = e->slot;
	slot->kind = e->kind;
	slot->state_seq = e->state_seq;
	slot->state = e->state;
	slot->reserved = 0;
	slot->txn = w->txn;
	memcpy(slot->id, e->id, sizeof(slot->id));
	slot->time_ns = e->time_ns ? e->time_ns : now_ns(CLOCK_REALTIME);
	memcpy(slot->name, e->name, sizeof(slot->name));
	slot->name[sizeof(slot->name) - 1] = '\0';
	/* Pairs with the acquire load in hagent_shm_read_event(). */
	atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
	w->event_pos = pos + 1;
	return 0;
}

int shm_writer_commit(struct shm_writer *w)
{
	uint64_t old_head;

	if (w->txn == 0)
		return -ENOTCONN;
	old_head = atomic_load_explicit(&w->hdr->event_head, memory_order_relaxed);
	/* Pairs with the acquire load of commit that starts every consistent read. */
	atomic_store_explicit(&w->hdr->commit, w->txn, memory_order_release);
	/* After commit: whoever sees an event can read its transaction's records. */
	atomic_store_explicit(&w->hdr->event_head, w->event_pos, memory_order_release);
	w->txn = 0;
	if (w->event_pos != old_head) {
		if (w->waker)
			shm_waker_kick(w->waker);
		else
			shm_wake_watchers(w->hdr);
	}
	return 0;
}

int shm_writer_start_waker(struct shm_writer *w)
{
	if (w->waker)
		return -EALREADY;
	return shm_waker_start(w->hdr, &w->waker);
}

int shm_writer_blob_new(struct shm_writer *w, const void *data, uint32_t len,
			struct shm_blob_ref *ret)
{
	uint32_t chunk;
	uint64_t id;
	int r;

	if (!data && len > 0)
		return -EINVAL;
	r = blob_heap_new(&w->heap, data, len, &chunk, &id);
	if (r < 0)
		return r;
	*ret = (struct shm_blob_ref){.chunk = chunk, .len = len, .blob_id = id};
	return 0;
}

void shm_writer_blob_unref(struct shm_writer *w, const struct shm_blob_ref *ref)
{
	if (ref->blob_id != 0)
		blob_heap_unref(&w->heap, ref->chunk, ref->blob_id);
}

uint32_t shm_writer_blob_chunks_used(const struct shm_writer *w)
{
	return w->heap.used;
}

void shm_writer_heartbeat(struct shm_writer *w)
{
	atomic_store_explicit(&w->hdr->heartbeat_ns, now_ns(CLOCK_MONOTONIC), memory_order_release);
}

void shm_writer_supersede(struct shm_writer *w)
{
	atomic_store_explicit(&w->hdr->superseded, 1, memory_order_release);
}
