/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The writer's private bookkeeping for the blob heap: which chunks hold live
 * blobs, reference counts, and which freed blobs still have a valid-looking
 * header that must be invalidated before their chunks are reused (so that a
 * slow reader of the old blob notices).  Next-fit allocation delays reuse of
 * freed chunks, which keeps reader retries rare.
 */

#include <stdbool.h>
#include <stdint.h>

struct blob_heap {
	uint8_t *base; /* the heap in the writer's mapping */
	uint32_t n_chunks;
	uint32_t cursor;  /* next-fit start */
	uint32_t used;	  /* chunks held by live blobs */
	uint64_t next_id; /* blob ids are never reused */
	uint32_t *owner;  /* chunk -> first chunk + 1 of the blob that last covered it, 0: clean */
	uint32_t *refs;	  /* first chunk -> reference count (0: freed) */
	uint32_t *length; /* first chunk -> chunks of the blob */
};

int blob_heap_init(struct blob_heap *h, uint8_t *base, uint32_t n_chunks);
void blob_heap_done(struct blob_heap *h);

/* Writes a new blob; its reference count is 1.  -ENOSPC, -E2BIG. */
int blob_heap_new(struct blob_heap *h, const void *data, uint32_t len, uint32_t *ret_chunk,
		  uint64_t *ret_id);
/* Takes another reference.  -ESTALE if the reference does not name a live blob. */
int blob_heap_ref(struct blob_heap *h, uint32_t chunk, uint64_t id);
void blob_heap_unref(struct blob_heap *h, uint32_t chunk, uint64_t id);

static inline uint32_t blob_chunks_for(uint32_t len)
{
	return (uint32_t) ((16u + (uint64_t) len + 63u) / 64u);
}
