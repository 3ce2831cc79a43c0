/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The state segment: THE in-memory ABI shared by hagentd (the single writer)
 * and every reader process.  Fixed-width types, offsets instead of pointers,
 * magic/version/size first, _Static_assert on every size and on every field
 * that is written concurrently with reads.  Changing anything here means
 * bumping SHM_ABI_VERSION.  docs/shm-layout.md explains the protocols.
 *
 *   page 0                struct shm_header
 *   records_offset        struct shm_record[max_resources + max_groups]
 *                         (resources first, then groups; index = "slot")
 *   blob_offset           blob heap: blob_chunks chunks of SHM_BLOB_CHUNK bytes
 *   events_offset         struct shm_event[event_capacity] (overwriting log)
 *
 * Only the writer stores anything in the segment.  Readers map it read-only
 * and validate every copy (see shm-reader.c).
 */

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHM_MAGIC	UINT64_C(0x31474553544e4741) /* "AGNTSEG1" little endian */
#define SHM_ABI_VERSION 2u
#define SHM_CACHELINE	64u
#define SHM_VERSIONS	4u	   /* versions kept per record (multi-version latch) */
#define SHM_NAME_MAX	64u	   /* bytes, including the terminating NUL */
#define SHM_TYPE_MAX	32u	   /* resource type name, including NUL */
#define SHM_ID_SIZE	16u	   /* object id: 128 random bits (GUID-style) */
#define SHM_BLOB_CHUNK	64u	   /* blob heap allocation unit */
#define SHM_BLOB_MAX	(1u << 20) /* largest single blob (properties, lists) */
#define SHM_MAX_RECORDS (1u << 16) /* slots are u16-able; generous for one node */

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free for shared memory");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free for shared memory");

enum shm_kind {
	SHM_KIND_FREE = 0, /* slot unused, or a tombstone of a deleted object */
	SHM_KIND_RESOURCE = 1,
	SHM_KIND_GROUP = 2,
};

/* Reference to an immutable blob in the blob heap.  blob_id 0 means "none". */
struct shm_blob_ref {
	uint32_t chunk; /* first chunk index in the heap */
	uint32_t len;	/* payload bytes */
	uint64_t blob_id;
};
_Static_assert(sizeof(struct shm_blob_ref) == 16, "ABI");

/* Header of every blob, at the start of its first chunk; payload follows. */
struct shm_blob_header {
	_Atomic uint32_t seq; /* seqcount: odd while the chunks are being (re)written */
	uint32_t len;
	uint64_t blob_id; /* unique per segment, never reused */
};
_Static_assert(sizeof(struct shm_blob_header) == 16, "ABI");

/* Resource payload of a version.  States use the WSFC values (semantics.md §2.1). */
struct shm_resource_data {
	int32_t state;
	uint32_t state_seq;  /* increases on every state change */
	uint32_t group_slot; /* slot of the owning group record */
	uint32_t flags;	     /* SHM_RES_F_* */
	uint32_t checkpoint; /* pending operation progress */
	uint32_t wait_hint_ms;
	int32_t monitor_pid;
	uint32_t restart_count;
	int32_t last_error; /* negative errno of the last failure, 0 if none */
	int32_t persistent_state;
	uint64_t state_change_ns;     /* CLOCK_REALTIME of the last state change */
	uint64_t pending_deadline_ns; /* CLOCK_MONOTONIC, 0 if nothing pending */
	char type[SHM_TYPE_MAX];
	struct shm_blob_ref properties;	  /* "key=value\0" list */
	struct shm_blob_ref dependencies; /* uint32_t provider slots */
};
_Static_assert(sizeof(struct shm_resource_data) == 120, "ABI");

#define SHM_RES_F_LOCKED 0x1u

struct shm_group_data {
	int32_t state;
	uint32_t state_seq;
	uint32_t flags;
	int32_t persistent_state;
	uint32_t n_members;
	uint32_t failover_count;
	uint64_t state_change_ns;
	struct shm_blob_ref members;		   /* uint32_t member resource slots */
	struct shm_blob_ref properties;		   /* "key=value\0" list */
	struct shm_blob_ref dependency_expression; /* expression text as stored */
	struct shm_blob_ref provider_groups;	   /* uint32_t slots of the groups it names */
};
_Static_assert(sizeof(struct shm_group_data) == 96, "ABI");

#define SHM_GRP_F_WAITING 0x1u /* persistently online, waiting for its provider groups */

#define SHM_VERSION_SIZE   256u
#define SHM_VERSION_HEADER 32u
#define SHM_PAYLOAD_SIZE   (SHM_VERSION_SIZE - SHM_VERSION_HEADER - SHM_ID_SIZE - SHM_NAME_MAX)

/*
 * One version of a record.  Written only while its seq is odd; a reader
 * copies it, then checks that seq did not change and is even, and that gen
 * is the generation it was looking for.
 */
struct shm_version {
	_Atomic uint32_t seq;
	uint32_t kind; /* enum shm_kind */
	uint64_t gen;  /* record generation this version holds (1, 2, ...) */
	uint64_t txn;  /* commit stamp of the transaction that wrote it */
	uint64_t reserved;
	uint8_t id[SHM_ID_SIZE];
	char name[SHM_NAME_MAX];
	union {
		struct shm_resource_data res;
		struct shm_group_data grp;
		uint8_t raw[SHM_PAYLOAD_SIZE];
	} u;
};
_Static_assert(sizeof(struct shm_version) == SHM_VERSION_SIZE, "ABI");
_Static_assert(offsetof(struct shm_version, id) == SHM_VERSION_HEADER, "ABI");

struct shm_record {
	alignas(SHM_CACHELINE) _Atomic uint64_t latest; /* newest published gen, 0 = never used */
	uint8_t pad[SHM_CACHELINE - sizeof(uint64_t)];
	struct shm_version v[SHM_VERSIONS];
};
_Static_assert(sizeof(struct shm_record) == SHM_CACHELINE + SHM_VERSIONS * SHM_VERSION_SIZE, "ABI");

/* One entry of the event log (notifications, semantics.md §7). */
struct shm_event {
	_Atomic uint64_t seq; /* log position + 1 once complete, 0 while being written */
	uint32_t change;      /* CLUSTER_CHANGE bit (semantics.md §7.2) */
	uint32_t slot;	      /* record slot of the object */
	uint32_t kind;	      /* enum shm_kind of the object */
	uint32_t state_seq;
	int32_t state;
	uint32_t reserved;
	uint64_t txn; /* transaction that produced it */
	uint8_t id[SHM_ID_SIZE];
	uint64_t time_ns;	      /* CLOCK_REALTIME */
	char name[SHM_NAME_MAX];      /* the object's name when the event was made */
};
_Static_assert(sizeof(struct shm_event) == 128, "ABI");

struct shm_header {
	/* Immutable after creation: written before any fd leaves the writer. */
	uint64_t magic;
	uint32_t abi_version;
	uint32_t header_size;
	uint64_t segment_size;
	uint32_t n_versions;
	uint32_t version_size;
	uint32_t record_size;
	uint32_t max_resources;
	uint32_t max_groups;
	uint32_t blob_chunk_size;
	uint64_t records_offset;
	uint64_t blob_offset;
	uint32_t blob_chunks;
	uint32_t event_capacity; /* power of two */
	uint64_t events_offset;
	uint32_t event_size;
	int32_t writer_pid;
	uint8_t incarnation[16]; /* random, new for every segment the writer creates */
	uint64_t created_realtime_ns;

	/* Written by the writer at run time; each group on its own cache line. */
	alignas(SHM_CACHELINE) _Atomic uint32_t superseded; /* 1: a newer segment exists */
	_Atomic uint32_t res_high; /* resource slots [0, res_high) may be in use */
	_Atomic uint32_t grp_high; /* group slots [max_resources, max_resources + grp_high) */
	alignas(SHM_CACHELINE) _Atomic uint64_t commit;	      /* last fully published txn */
	alignas(SHM_CACHELINE) _Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC */
	/*
	 * Next event log position, stored after commit (so a reader that sees an
	 * event also sees the records of its transaction).  Its low 32 bits are
	 * the futex word event watchers sleep on (shm_event_head_word()).
	 */
	alignas(SHM_CACHELINE) _Atomic uint64_t event_head;
};
_Static_assert(offsetof(struct shm_header, superseded) == 128, "ABI");
_Static_assert(offsetof(struct shm_header, commit) == 192, "ABI");
_Static_assert(offsetof(struct shm_header, heartbeat_ns) == 256, "ABI");
_Static_assert(offsetof(struct shm_header, event_head) == 320, "ABI");
_Static_assert(sizeof(struct shm_header) == 384, "ABI");

#define SHM_HEADER_AREA 4096u /* the header owns page 0 */

/* The futex word inside event_head: its low 32 bits, wherever they lie. */
static inline const uint32_t *shm_event_head_word(const struct shm_header *h)
{
	const uint32_t *w = (const uint32_t *) (const void *) &h->event_head;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return w + 1;
#else
	return w;
#endif
}
