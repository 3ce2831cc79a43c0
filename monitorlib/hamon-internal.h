/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libhamon's internals.  One struct hamon_ctx per hamon_run(): the channel,
 * the lock that serialises every post on it, and the resources.  Each
 * resource has four workers (hamon-worker.c) that run its entry points
 * (hamon-entry.c); the dispatcher (hamon-run.c, hamon-dispatch.c) owns the
 * slot lifecycle, the record and the failure fd, and never runs resource
 * code.  Statuses go out through hamon-status.c.
 *
 * Locking: ctx->lock guards the channel's monitor end (not thread-safe) and
 * the "under ctx->lock" fields of every resource.  It is held for a few
 * stores and one post at most, never across an entry point.  A worker's
 * own mutex guards only its queue.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "hagent/hamon.h"

/*
 * CONTROL command arguments: the control code (uint32_t, host byte order)
 * followed by the input bytes.  The answer carries the output in its detail
 * field, so control() gets an out buffer of CHAN_DETAIL_MAX bytes.
 */
#define HAMON_CONTROL_HDR sizeof(uint32_t)

#define HAMON_HEARTBEAT_MS 1000 /* dispatcher wake-up period: heartbeat (diagnostics; idle cost) */

/* A command handed to a worker.  cmd.cmd_id == 0: internal, nothing is answered. */
struct hamon_job {
	uint8_t cls;  /* enum chan_cmd_class */
	uint64_t seq; /* submission order within the worker */
	struct chan_command cmd;
};

struct hamon_resource;
typedef void (*worker_fn)(struct hamon_resource *r, const struct hamon_job *job);

#define WORKER_SLOTS 2 /* classes one worker serves at most (the probes) */

/*
 * One thread, started on the first job, with a one-slot queue per command
 * class: a newer job of a class replaces a queued (not yet running) one.
 */
struct worker {
	struct hamon_resource *r;
	worker_fn fn;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	uint64_t next_seq;
	bool full[WORKER_SLOTS];
	struct hamon_job slot[WORKER_SLOTS];
};

enum worker_kind {
	WORKER_TRANSITION, /* open, online, offline, close: serialised */
	WORKER_TERMINATE,
	WORKER_PROBE, /* looks_alive, is_alive */
	WORKER_CONTROL,
	_WORKER_MAX,
};

/* The dispatcher's view of a resource slot. */
enum slot_state {
	SLOT_FREE,    /* no resource: only OPEN is served */
	SLOT_OPEN,    /* OPEN handed to the transition worker, CLOSE not yet seen */
	SLOT_CLOSING, /* CLOSE handed to the transition worker */
};

struct hamon_ctx;

struct hamon_resource {
	struct hamon_ctx *ctx;
	uint32_t index;

	/* Dispatcher-owned; the rest read-only between OPEN and the end of close. */
	enum slot_state slot;
	char *record; /* the OPEN record, NUL-separated key=value strings */
	uint32_t record_len;
	const char *name, *type, *id; /* point into record */
	int failure_fd;

	atomic_bool terminate_requested;
	atomic_bool close_done; /* set by the transition worker when close is finished */
	/*
	 * hamon_failure_fd() was called since the current online began: the
	 * implementation signals failures on the fd (hamon.h), so the DONE
	 * that brings the resource Online carries CHAN_F_FAILURE_FD.  Cleared
	 * under ctx->lock when an online begins.
	 */
	atomic_bool failure_fd_used;

	/* Under ctx->lock. */
	bool opened; /* open() succeeded, close() not yet called */
	void *instance;
	enum hamon_state state; /* what the library last knew; decides close's terminate */
	bool in_entry;		/* online or offline is running on the transition worker */
	uint32_t pending_op;	/* CHAN_OP_ONLINE/OFFLINE while unanswered, else 0 */
	uint64_t pending_cmd_id;
	bool has_checkpoint;
	uint32_t last_checkpoint;

	struct worker workers[_WORKER_MAX];
};

struct hamon_ctx {
	struct hamon_ops ops;
	void *userdata;
	struct chan_monitor *chan;
	pthread_mutex_t lock;
	uint32_t n_res;
	int wake_fd; /* eventfd: a close finished */

	/* The link to the agent (hamon-link.c); dispatcher only. */
	int link_fd;		    /* -EBADF: none (no agent link, or orphaned) */
	const char *reattach_path;  /* monitor.sock of the runtime dir, or NULL */
	uint64_t orphan_timeout_ns; /* 0: an orphan waits for an agent for ever */
	bool orphan;		    /* the agent is gone; no new one adopted us yet */
	uint64_t orphan_since, next_retry;
	unsigned retry_ms;

	/* Dispatcher only. */
	unsigned n_in_use;    /* slots not SLOT_FREE */
	bool stopping;	      /* SIGTERM/SIGINT: everything is being closed */
	bool done;	      /* the last resource was closed: hamon_run returns */
	struct hamon_job job; /* the command being dispatched */

	struct hamon_resource res[CHAN_MAX_RESOURCES];
};

/* ---- hamon-worker.c ---- */

void worker_init(struct worker *w, struct hamon_resource *r, worker_fn fn);

/*
 * Queues job (copied), replacing a queued job of the same class (but an
 * internal job never replaces a queued command of the same op), and starts
 * the thread if needed.  Never waits for the running job.  0, or -errno
 * (thread creation failed, or the worker is being stopped: -ESHUTDOWN).
 */
int worker_submit(struct worker *w, const struct hamon_job *job);

/*
 * Lets the worker finish its running and queued jobs, then joins it.  Blocks
 * for as long as those take: never call it from the dispatcher while the
 * worker may be busy, nor from the worker itself.  The worker can be
 * submitted to again afterwards.
 */
void worker_stop(struct worker *w);

/* Frees what worker_init() set up; the worker must be stopped. */
void worker_done(struct worker *w);

/* ---- hamon-resource.c ---- */

void resource_init(struct hamon_resource *r, struct hamon_ctx *ctx, uint32_t index);

/*
 * Parses an OPEN record into r (copying it): .name, .type and .id (32 hex
 * digits) first, in any order, then private key=value properties; every
 * string NUL-terminated, keys unique and non-empty.  -EINVAL if malformed
 * (r untouched), -ENOMEM.
 */
int resource_parse_record(struct hamon_resource *r, const void *rec, uint32_t len);

/* Frees the record and the failure fd: the slot may be opened again. */
void resource_release(struct hamon_resource *r);

/* ---- hamon-status.c ---- */

/* Posts a status; ctx->lock must be held.  Never blocks. */
void status_post_locked(struct hamon_ctx *ctx, const struct chan_status_body *b);

/* Posts an answer of type (ACCEPTED, DONE) to command cmd_id of class cls; 0: internal, nothing. */
void status_answer_locked(struct hamon_resource *r, uint8_t cls, uint64_t cmd_id, uint16_t type,
			  int32_t code, int32_t state);
void status_answer(struct hamon_resource *r, uint8_t cls, uint64_t cmd_id, uint16_t type,
		   int32_t code, int32_t state);

/*
 * The DONE of the pending online/offline cmd_id; CHAN_F_FAILURE_FD when it
 * brings the resource Online (code 0) and failure_fd_used is set.
 */
void status_transition_done_locked(struct hamon_resource *r, uint64_t cmd_id, int32_t code,
				   int32_t state);

/*
 * The online/offline cmd_id returned HAMON_PENDING and is unanswered: a
 * PROGRESS with CHAN_F_ENTRY_PENDING, the pending state and no checkpoint.
 */
void status_entry_pending_locked(struct hamon_resource *r, uint64_t cmd_id, int32_t state);

/* Unsolicited: the resource's failure fd fired. */
void status_failure(struct hamon_resource *r);

/* ---- hamon-entry.c: the worker functions, one per worker kind ---- */

void entry_transition(struct hamon_resource *r, const struct hamon_job *job);
void entry_terminate(struct hamon_resource *r, const struct hamon_job *job);
void entry_probe(struct hamon_resource *r, const struct hamon_job *job);
void entry_control(struct hamon_resource *r, const struct hamon_job *job);

/* ---- hamon-dispatch.c: the dispatcher's handling of commands and slots ---- */

/* Hands a command just read (ctx->job) to its worker, or answers it at once. */
void dispatch_command(struct hamon_ctx *ctx, struct hamon_resource *r);

/* Frees the slots whose close finished; sets ctx->done after the last one. */
void dispatch_reap(struct hamon_ctx *ctx);

/* SIGTERM/SIGINT: terminate (if needed) and close every resource, then end. */
void dispatch_shutdown(struct hamon_ctx *ctx);

/* Tells the dispatcher that something needs it (a close finished).  Any thread. */
void ctx_wake(struct hamon_ctx *ctx);

/* ---- hamon-link.c ---- */

/* Reads HAGENT_LINK_FD etc.; no link (0, link_fd stays -EBADF) without them. */
int link_setup_from_env(struct hamon_ctx *ctx);
/* Blocks until the agent says GO (0); -ECONNRESET if it died first, -ECANCELED on SIGTERM. */
int link_wait_go(struct hamon_ctx *ctx, int sig_fd);
/* The link fd polled with revents: the agent hung up (orphan), or sent REFUSE. */
void link_handle(struct hamon_ctx *ctx, short revents);
/* While orphaned: a re-attach attempt when due, the orphan timeout.  true: re-attached. */
bool link_tick(struct hamon_ctx *ctx);
/* CLOCK_MONOTONIC ns of the next link_tick() due, UINT64_MAX if none. */
uint64_t link_next_wakeup(const struct hamon_ctx *ctx);
