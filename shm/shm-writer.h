/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Writing side of the state segment: only hagentd uses it, from one thread.
 * A transaction publishes new versions of any number of records and then
 * one commit stamp; readers see all of it or none of it.  Nothing here
 * waits for a reader, ever.
 */

#include <stdint.h>

#include "macro.h"
#include "shm-layout.h"

struct shm_writer;

struct shm_params {
	uint32_t max_resources;
	uint32_t max_groups;
	uint32_t blob_bytes;	 /* size of the blob heap */
	uint32_t event_capacity; /* power of two */
};

/* Defaults for a production agent: 4096 resources, 1024 groups, 4 MiB blobs, 4096 events. */
void shm_params_default(struct shm_params *ret);

/* What the writer publishes for one record. */
struct shm_object {
	uint32_t kind; /* enum shm_kind */
	uint8_t id[SHM_ID_SIZE];
	char name[SHM_NAME_MAX];
	union {
		struct shm_resource_data res;
		struct shm_group_data grp;
	} u;
};

int shm_writer_new(const struct shm_params *p, struct shm_writer **ret);
struct shm_writer *shm_writer_free(struct shm_writer *w);

/* The sealed memfd readers get (F_SEAL_FUTURE_WRITE: read-only for them). Owned by the writer. */
int shm_writer_fd(const struct shm_writer *w);
const struct shm_header *shm_writer_header(const struct shm_writer *w);

/* Slot of the i-th resource / group record. */
uint32_t shm_writer_resource_slot(const struct shm_writer *w, uint32_t i);
uint32_t shm_writer_group_slot(const struct shm_writer *w, uint32_t i);

/* Opens transaction commit+1 and returns its stamp; -EBUSY if one is open. */
int shm_writer_begin(struct shm_writer *w, uint64_t *ret_txn);

/*
 * Publishes a new version of the record at slot within the open transaction.
 * The object's kind must fit the slot (resource or group range); FREE writes
 * a tombstone.  Blob references in the payload gain a reference held by this
 * version.  Put each record at most once per transaction: a second put uses
 * up one more version of history.
 */
int shm_writer_put(struct shm_writer *w, uint32_t slot, const struct shm_object *o);

/* Appends an event, made visible to readers by the commit. */
int shm_writer_event(struct shm_writer *w, const struct shm_event *e);

/*
 * Publishes the transaction: one release store of the commit stamp, then
 * the event head.  If the transaction appended events, the watchers are
 * woken: by the waker thread when one runs (at most one private FUTEX_WAKE
 * here, none while it is awake), else by one shared FUTEX_WAKE here.
 */
int shm_writer_commit(struct shm_writer *w);

/*
 * Starts the thread that wakes event watchers for this writer
 * (shm-waker.h); shm_writer_free() stops it.  -EALREADY if running.
 */
int shm_writer_start_waker(struct shm_writer *w);

/*
 * Copies len bytes into a new immutable blob; *ret holds one reference,
 * which the caller drops with shm_writer_blob_unref() once it has put the
 * blob into the versions that use it.  -ENOSPC if the heap is full.
 */
int shm_writer_blob_new(struct shm_writer *w, const void *data, uint32_t len,
			struct shm_blob_ref *ret);
void shm_writer_blob_unref(struct shm_writer *w, const struct shm_blob_ref *ref);
/* Chunks in use by live blobs (for tests and diagnostics). */
uint32_t shm_writer_blob_chunks_used(const struct shm_writer *w);

/* Stores CLOCK_MONOTONIC into the header's heartbeat. */
void shm_writer_heartbeat(struct shm_writer *w);

/* Marks the segment superseded (a newer one is being published). */
void shm_writer_supersede(struct shm_writer *w);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct shm_writer *, shm_writer_free);
