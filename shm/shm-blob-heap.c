/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "shm-blob-heap.h"
#include "shm-layout.h"

static struct shm_blob_header *blob_header(struct blob_heap *h, uint32_t chunk)
{
	return (struct shm_blob_header *) (h->base + (size_t) chunk * SHM_BLOB_CHUNK);
}

int blob_heap_init(struct blob_heap *h, uint8_t *base, uint32_t n_chunks)
{
	*h = (struct blob_heap){.base = base, .n_chunks = n_chunks, .next_id = 1};
	if (n_chunks == 0)
		return 0;
	h->owner = calloc(n_chunks, sizeof(uint32_t));
	h->refs = calloc(n_chunks, sizeof(uint32_t));
	h->length = calloc(n_chunks, sizeof(uint32_t));
	if (!h->owner || !h->refs || !h->length) {
		blob_heap_done(h);
		return -ENOMEM;
	}
	return 0;
}

void blob_heap_done(struct blob_heap *h)
{
	free(h->owner);
	free(h->refs);
	free(h->length);
	*h = (struct blob_heap){};
}

static bool chunk_is_live(const struct blob_heap *h, uint32_t c)
{
	uint32_t o = h->owner[c];

	return o != 0 && h->refs[o - 1] > 0;
}

/* Next-fit search for n chunks not held by a live blob. */
static int find_range(struct blob_heap *h, uint32_t n, uint32_t *ret)
{
	uint32_t start = h->cursor, run = 0, scanned = 0, c = h->cursor;

	while (scanned < h->n_chunks + n) {
		if (c == h->n_chunks) {
			/* Ranges do not wrap around the end of the heap. */
			c = 0;
			run = 0;
			start = 0;
		}
		if (chunk_is_live(h, c)) {
			run = 0;
			start = c + 1;
		} else if (++run == n) {
			*ret = start;
			return 0;
		}
		c++;
		scanned++;
	}
	return -ENOSPC;
}

/*
 * A freed blob whose chunks are about to be reused: make its header odd for
 * good, so a reader still copying it fails validation.  Pairs with the
 * acquire fence in the reader's blob copy.
 */
static void invalidate_stale(struct blob_heap *h, uint32_t first)
{
	struct shm_blob_header *bh = blob_header(h, first);
	uint32_t seq = atomic_load_explicit(&bh->seq, memory_order_relaxed);

	atomic_store_explicit(&bh->seq, seq | 1u, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* seq store before any reuse store */
	for (uint32_t c = first; c < first + h->length[first]; c++)
		if (h->owner[c] == first + 1)
			h->owner[c] = 0;
	h->length[first] = 0;
}

int blob_heap_new(struct blob_heap *h, const void *data, uint32_t len, uint32_t *ret_chunk,
		  uint64_t *ret_id)
{
	struct shm_blob_header *bh;
	uint32_t n, first, seq;
	int r;

	if (len > SHM_BLOB_MAX)
		return -E2BIG;
	n = blob_chunks_for(len);
	if (n > h->n_chunks)
		return -ENOSPC;
	r = find_range(h, n, &first);
	if (r < 0)
		return r;

	for (uint32_t c = first; c < first + n; c++)
		if (h->owner[c] != 0)
			invalidate_stale(h, h->owner[c] - 1);

	bh = blob_header(h, first);
	seq = atomic_load_explicit(&bh->seq, memory_order_relaxed) | 1u;
	atomic_store_explicit(&bh->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd seq before the contents */
	bh->len = len;
	bh->blob_id = h->next_id;
	if (len > 0)
		memcpy((uint8_t *) bh + sizeof(*bh), data, len);
	/* Pairs with the acquire load of seq in shm_reader_copy_blob(). */
	atomic_store_explicit(&bh->seq, seq + 1, memory_order_release);

	for (uint32_t c = first; c < first + n; c++)
		h->owner[c] = first + 1;
	h->length[first] = n;
	h->refs[first] = 1;
	h->used += n;
	h->cursor = first + n == h->n_chunks ? 0 : first + n;

	*ret_chunk = first;
	*ret_id = h->next_id++;
	return 0;
}

static bool names_live_blob(const struct blob_heap *h, uint32_t chunk, uint64_t id)
{
	return chunk < h->n_chunks && h->owner[chunk] == chunk + 1 && h->refs[chunk] > 0 &&
	       blob_header((struct blob_heap *) h, chunk)->blob_id == id;
}

int blob_heap_ref(struct blob_heap *h, uint32_t chunk, uint64_t id)
{
	if (!names_live_blob(h, chunk, id))
		return -ESTALE;
	h->refs[chunk]++;
	return 0;
}

void blob_heap_unref(struct blob_heap *h, uint32_t chunk, uint64_t id)
{
	if (!names_live_blob(h, chunk, id))
		return;
	if (--h->refs[chunk] == 0)
		h->used -= h->length[chunk]; /* chunks stay "stale" until reused */
}
