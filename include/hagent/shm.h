/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HAGENT_SHM_H
#define HAGENT_SHM_H

/*
 * Reading side of hagent's state segment: every group and resource, read
 * straight from shared memory without asking the agent.  Reads are lock-free
 * and never disturb the agent; each call returns a consistent view (one
 * resource, one group with its members, or the whole table) or retries
 * internally a bounded number of times and then fails with -EBUSY.
 *
 * A hagent_shm handle is owned by the caller and is not thread-safe: use one
 * per thread.  All functions return 0 or a negative errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hagent_shm hagent_shm;

#define HAGENT_NAME_MAX	  64 /* bytes including NUL */
#define HAGENT_TYPE_MAX	  32
#define HAGENT_ID_SIZE	  16
#define HAGENT_SHM_SOCKET "state.sock" /* in the runtime dir */

/* Resource states, with the WSFC values (CLUSTER_RESOURCE_STATE). */
enum hagent_resource_state {
	HAGENT_RESOURCE_INITIALIZING = 1,
	HAGENT_RESOURCE_ONLINE = 2,
	HAGENT_RESOURCE_OFFLINE = 3,
	HAGENT_RESOURCE_FAILED = 4,
	HAGENT_RESOURCE_ONLINE_PENDING = 129,
	HAGENT_RESOURCE_OFFLINE_PENDING = 130,
};

/* Group states (CLUSTER_GROUP_STATE). */
enum hagent_group_state {
	HAGENT_GROUP_ONLINE = 0,
	HAGENT_GROUP_OFFLINE = 1,
	HAGENT_GROUP_FAILED = 2,
	HAGENT_GROUP_PARTIAL_ONLINE = 3,
	HAGENT_GROUP_PENDING = 4,
};

/*
 * A reference to variable-size data (properties, lists); read it with
 * hagent_shm_read_blob().  It stays readable while the object version it
 * came from (origin) is still in the segment's history.
 */
struct hagent_shm_blob {
	uint32_t chunk;
	uint32_t len;
	uint64_t blob_id; /* 0: no data */
	uint32_t origin_slot;
	uint32_t reserved;
	uint64_t origin_gen;
};

struct hagent_resource {
	uint32_t slot; /* stable while the object exists (within one segment incarnation) */
	uint64_t gen;
	uint64_t txn;
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX];
	char type[HAGENT_TYPE_MAX];
	int32_t state; /* enum hagent_resource_state */
	uint32_t state_seq;
	uint32_t group_slot;
	uint32_t flags;
	uint32_t checkpoint;
	uint32_t wait_hint_ms;
	int32_t monitor_pid;
	uint32_t restart_count;
	int32_t last_error;
	int32_t persistent_state;
	uint64_t state_change_ns;
	uint64_t pending_deadline_ns;
	struct hagent_shm_blob properties;
	struct hagent_shm_blob dependencies;
};

#define HAGENT_RESOURCE_LOCKED 0x1u

struct hagent_group {
	uint32_t slot;
	uint64_t gen;
	uint64_t txn;
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX];
	int32_t state; /* enum hagent_group_state */
	uint32_t state_seq;
	uint32_t flags;
	int32_t persistent_state;
	uint32_t n_members;
	uint32_t failover_count;
	uint64_t state_change_ns;
	struct hagent_shm_blob members;
	struct hagent_shm_blob properties;
	struct hagent_shm_blob dependency_expression; /* text as stored: "[id] and [id]" */
	struct hagent_shm_blob provider_groups;	      /* uint32_t slots of the groups it names */
};

#define HAGENT_GROUP_WAITING 0x1u /* persistently online, waiting for its provider groups */

/* The whole table at one commit; free with hagent_shm_table_free(). */
struct hagent_shm_table {
	uint64_t txn;
	size_t n_groups;
	struct hagent_group *groups;
	size_t n_resources;
	struct hagent_resource *resources;
};

struct hagent_shm_info {
	uint8_t incarnation[16];
	uint32_t abi_version;
	uint64_t segment_size;
	uint32_t max_resources;
	uint32_t max_groups;
	int32_t writer_pid;
	uint64_t commit;
	uint64_t heartbeat_ns; /* CLOCK_MONOTONIC of the writer's last heartbeat */
	uint64_t event_head;
	uint32_t event_capacity;
	bool superseded; /* the writer has published a newer segment: reopen */
};

/*
 * The user-visible name of a state, lower case with dashes ("online-pending",
 * "partial-online"), or NULL for a value that is not a state.
 */
const char *hagent_resource_state_to_string(int32_t state);
const char *hagent_group_state_to_string(int32_t state);

/* Per-handle counters, for diagnostics and benchmarks. */
struct hagent_shm_stats {
	uint64_t reads;	   /* completed consistent reads */
	uint64_t restarts; /* times a read began again with a fresh commit */
	uint64_t failures; /* reads that gave up with -EBUSY */
};

struct hagent_event {
	uint64_t position; /* log position */
	uint32_t change;   /* CLUSTER_CHANGE bit */
	uint32_t slot;
	uint32_t kind; /* 1 resource, 2 group */
	uint32_t state_seq;
	int32_t state;
	uint64_t txn;
	uint8_t id[HAGENT_ID_SIZE];
	uint64_t time_ns;
	char name[HAGENT_NAME_MAX]; /* the object's name when the event was made */
};

/*
 * Connects to the agent's socket "state.sock" in runtime_dir (NULL: the
 * HAGENT_RUNTIME_DIR environment variable, else /run/hagent), receives the
 * segment's fd and maps it read-only.  -ENOENT/-ECONNREFUSED: no agent;
 * -EPROTO: not a hagent segment; -EPROTONOSUPPORT: another ABI version.
 */
int hagent_shm_open(const char *runtime_dir, hagent_shm **ret);

/* Maps the segment behind fd read-only after validating its header; fd is not consumed. */
int hagent_shm_open_fd(int fd, hagent_shm **ret);

/* Unmaps; takes NULL; returns NULL. */
hagent_shm *hagent_shm_unref(hagent_shm *s);

/* hagent_shm_follow()'s heartbeat age for stale_after_ns 0 (the agent beats every 100 ms). */
#define HAGENT_SHM_STALE_DEFAULT_NS (UINT64_C(5) * 1000000000)

/*
 * Follows the agent across its restarts.  An agent that restarts (after a
 * crash, a SIGKILL or a restart of the service) publishes a new incarnation
 * of the segment on the same "state.sock", with the same object ids; the
 * old one stays mapped but is dead: marked superseded (a graceful exit), or
 * its heartbeat stops.  Call this now and then (e.g. when a notification
 * port has been silent for a while) with the handle in *s:
 *
 *   0: *s is live: not superseded, and its heartbeat at most stale_after_ns
 *      old (0: HAGENT_SHM_STALE_DEFAULT_NS), or, with an older heartbeat,
 *      the agent still serves this very segment (busy, not dead).  Costs no
 *      system call while the heartbeat is fresh.
 *   1: *s was dead and runtime_dir (as hagent_shm_open()) serves a newer
 *      incarnation: *s is now that segment and the old handle is unref'd.
 *      Ports made on the old one go on reading it until
 *      hagent_notify_rebind().
 *   -EAGAIN: *s is dead and no live agent serves another segment yet
 *      (nothing listens, or a segment that is itself superseded, or an
 *      agent that accepts but does not answer): call again later.  *s is
 *      unchanged.
 *   other -errno: as hagent_shm_open() (e.g. -EACCES, -ECONNRESET: the new
 *      agent refuses us; -EPROTONOSUPPORT: it has another ABI).
 *
 * Probing "state.sock" blocks as hagent_shm_open() does: at most 5 s for an
 * agent that accepts connections but does not answer.
 */
int hagent_shm_follow(hagent_shm **s, const char *runtime_dir, uint64_t stale_after_ns);

/*
 * A human-readable explanation of an error returned by this API, naming the
 * segment-specific causes (bad magic, other ABI version, inconsistent sizes);
 * falls back to strerror() for the rest.
 */
const char *hagent_shm_strerror(int r);

int hagent_shm_get_info(hagent_shm *s, struct hagent_shm_info *ret);
int hagent_shm_get_stats(hagent_shm *s, struct hagent_shm_stats *ret);

/* -ENOENT: the slot holds no resource. */
int hagent_shm_read_resource(hagent_shm *s, uint32_t slot, struct hagent_resource *ret);

/*
 * The group and its members as of one commit.  Up to max_members members
 * are stored in members (may be NULL when max_members is 0); *ret_n_members
 * gets the full count, so a caller can size its buffer and call again.
 */
int hagent_shm_read_group(hagent_shm *s, uint32_t slot, struct hagent_group *ret,
			  struct hagent_resource *members, size_t max_members,
			  size_t *ret_n_members);

/* Every live group and resource as of one commit. */
int hagent_shm_read_table(hagent_shm *s, struct hagent_shm_table **ret);
struct hagent_shm_table *hagent_shm_table_free(struct hagent_shm_table *t);

/* Finds a live object by name (case-insensitive); kind 1 resource, 2 group. -ENOENT if none. */
int hagent_shm_find(hagent_shm *s, unsigned kind, const char *name, uint32_t *ret_slot);

/*
 * Copies a blob's bytes (at most size) into buf; *ret_len gets its full
 * length.  -ESTALE: the blob no longer exists (the object changed): read the
 * object again.
 */
int hagent_shm_read_blob(hagent_shm *s, const struct hagent_shm_blob *ref, void *buf, size_t size,
			 size_t *ret_len);

/*
 * Reads the event at log position pos.  -EAGAIN: not written yet;
 * -ESTALE: overwritten, the caller fell behind and must re-read state.
 */
int hagent_shm_read_event(hagent_shm *s, uint64_t pos, struct hagent_event *ret);

/*
 * Notification ports (semantics.md §7; the seeds' ApiCreateNotify,
 * ApiAddNotifyGroup/Resource, ApiReAddNotify*, ApiGetNotify,
 * ApiUnblockGetNotifyCall, ApiCloseNotify).
 *
 * The agent appends every change once to the segment's event log; a port
 * reads the log itself and keeps what its registrations ask for, so watchers
 * cost the agent nothing.  A port is named by a handle, like a file
 * descriptor: a closed or made-up handle gives -EBADF, never a crash.  Every
 * function may be called from any thread; in particular
 * hagent_notify_unblock() and hagent_notify_close() release a
 * hagent_notify_get() blocked in another thread.
 */

/* CLUSTER_CHANGE bits (semantics.md §7.2). */
#define HAGENT_CHANGE_RESOURCE_STATE	0x00000100u
#define HAGENT_CHANGE_RESOURCE_DELETED	0x00000200u
#define HAGENT_CHANGE_RESOURCE_ADDED	0x00000400u
#define HAGENT_CHANGE_RESOURCE_PROPERTY 0x00000800u
#define HAGENT_CHANGE_GROUP_STATE	0x00001000u
#define HAGENT_CHANGE_GROUP_DELETED	0x00002000u
#define HAGENT_CHANGE_GROUP_ADDED	0x00004000u
#define HAGENT_CHANGE_GROUP_PROPERTY	0x00008000u
#define HAGENT_CHANGE_RECONNECT		0x00080000u /* CLUSTER_RECONNECT: events were lost */
#define HAGENT_CHANGE_RESOURCE_ALL	0x00000f00u
#define HAGENT_CHANGE_GROUP_ALL		0x0000f000u

typedef uint64_t hagent_notify_t; /* a port handle; 0 is never one */

struct hagent_notification {
	uint32_t change; /* one HAGENT_CHANGE_* bit */
	uint32_t kind;	 /* 1 resource, 2 group; 0 for RECONNECT */
	uint64_t key;	 /* the notify key of the registration that matched; 0 for RECONNECT */
	uint8_t id[HAGENT_ID_SIZE];
	char name[HAGENT_NAME_MAX]; /* the object's name when the change happened */
	int32_t state;		    /* the object's state after the change */
	uint32_t state_seq;
	uint64_t position; /* event log position; UINT64_MAX if made by a re-add or a reconnect */
	uint64_t time_ns;  /* CLOCK_REALTIME of the change (of the re-add, for those) */
};

/*
 * Creates a port on the segment of s.  The port holds its own reference to
 * the mapping, so s may be unref'd while the port lives.  Nothing is queued
 * until a registration is added (scenario 71).
 */
int hagent_notify_new(hagent_shm *s, hagent_notify_t *ret);

/*
 * Registers the object with this id (kind from the filter's bits) for the
 * filter (an OR of HAGENT_CHANGE_RESOURCE_* or of HAGENT_CHANGE_GROUP_*, not
 * both, not 0, nothing else: -EINVAL) and key; *ret_state_seq (may be NULL)
 * gets the object's current state sequence.  Events from this moment on
 * match it.  Adding the same object with the same key again replaces the
 * filter.  -ENOENT: no such live object; -EINVAL also when the id is an
 * object of the other kind (scenario 74).
 */
int hagent_notify_add(hagent_notify_t port, const uint8_t id[HAGENT_ID_SIZE], uint32_t filter,
		      uint64_t key, uint32_t *ret_state_seq);

/*
 * As hagent_notify_add(), for a client that last saw state sequence
 * last_state_seq of this object (after a reconnect, or in a new process): if
 * the object's sequence differs now, one *_STATE notification with its
 * current state and sequence is queued (if the filter has the STATE bit),
 * standing for every change missed (semantics.md §7.4); STATE notifications
 * of this registration still queued are taken back, as that one stands for
 * them too.  -ENOENT: the object is gone (deleted).
 */
int hagent_notify_readd(hagent_notify_t port, const uint8_t id[HAGENT_ID_SIZE], uint32_t filter,
			uint64_t key, uint32_t last_state_seq);

/*
 * Registers every object, present and future, for filter (any of the
 * HAGENT_CHANGE_RESOURCE_* and HAGENT_CHANGE_GROUP_* bits; -EINVAL for 0 or
 * other bits), with key: the seeds' ApiAddNotifyCluster.  Only one such
 * registration per port: a second replaces the first.
 */
int hagent_notify_add_all(hagent_notify_t port, uint32_t filter, uint64_t key);

/*
 * The next notification, in the order the changes happened (one per
 * matching registration and change).  Waits up to timeout_ms (-1: no limit,
 * 0: do not wait).  -ETIMEDOUT: nothing came, nothing consumed;
 * -ECANCELED: hagent_notify_unblock() was called meanwhile (the port is
 * still valid); -EBADF: not a port, or closed (also while waiting).
 * A port that fell more than the log's capacity behind delivers what it had
 * queued, then one HAGENT_CHANGE_RECONNECT; a port whose queue reached four
 * times the log's capacity drops it and delivers RECONNECT first.  The
 * registrations stay, and re-adding each with its last seen sequence brings
 * back the current states.
 * Deleting an object delivers what was queued for it, then its *_DELETED
 * (if in the filter), then drops the registrations bound to it.
 */
int hagent_notify_get(hagent_notify_t port, struct hagent_notification *ret, int timeout_ms);

/*
 * Moves the port to the segment of s, a newer incarnation of its segment
 * (from hagent_shm_follow()), keeping its registrations, key and filter
 * each.  What the old segment's log still held for the port is queued
 * first.  Then, matched by object id in the new segment:
 *   - an object whose state sequence differs from the last one the port
 *     took (from its add or its last STATE event) gets one *_STATE with its
 *     current state (position UINT64_MAX), as a re-add does, if the filter
 *     has the STATE bit; an unchanged one gets nothing;
 *   - an object that is gone gets its *_DELETED (if in the filter; the
 *     name and state last seen) and its registrations are dropped;
 *   - the all-objects registration, which no re-add can bring up to date,
 *     gets one HAGENT_CHANGE_RECONNECT: re-read the state.  The object
 *     registrations are already current: do not re-add them for it.
 * From then on the port reads the new segment's log only.  Gets waiting
 * meanwhile in other threads go on, on the new segment.  The port holds its
 * own reference to the new mapping, as hagent_notify_new().  -EBADF: not a
 * port; -EBUSY: the writer was too fast (the port is unchanged, call
 * again); -ENOMEM.
 */
int hagent_notify_rebind(hagent_notify_t port, hagent_shm *s);

/* Releases every hagent_notify_get() waiting on the port now, with -ECANCELED.  -EBADF. */
int hagent_notify_unblock(hagent_notify_t port);

/*
 * Closes the port: waiting gets return -EBADF, undelivered notifications are
 * discarded, the handle is dead from now on (-EBADF).  -EBADF if it was not
 * a port.
 */
int hagent_notify_close(hagent_notify_t port);

static inline void hagent_shm_unrefp(hagent_shm **s)
{
	if (*s)
		hagent_shm_unref(*s);
}

#ifdef __cplusplus
}
#endif

#endif
