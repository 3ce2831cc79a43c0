/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HAGENT_HAMON_H
#define HAGENT_HAMON_H

/*
 * libhamon: the library a resource monitor process links.  The program
 * supplies entry points (struct hamon_ops) and calls hamon_run(); the library
 * talks to hagentd over the monitor channel, runs each entry point on a
 * worker thread, and answers the agent at once, so that no call into the
 * agent ever takes more than microseconds.  Terminate runs on its own worker,
 * concurrently with a running Online or Offline.
 *
 * Threads: one dispatcher thread reads the agent's commands and never runs
 * resource code; per resource, one worker for open/online/offline/close
 * (serialised), one for terminate, one for the probes (looks_alive,
 * is_alive) and one for control.  Entry points of one resource may therefore
 * run concurrently (terminate with online, a probe with offline): guard what
 * they share.
 *
 * Every function returns 0 (or the documented non-negative value) on success
 * and a negative errno on failure.  The library never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One resource hosted by this monitor process.  Owned by the library. */
typedef struct hamon_resource hamon_resource;

/* Returned by online/offline: the work goes on; report with hamon_set_resource_status(). */
#define HAMON_PENDING 1

/* What hamon_set_resource_status() tells the caller to do. */
enum hamon_exit_state {
	HAMON_CONTINUE = 0,  /* go on */
	HAMON_TERMINATE = 1, /* the resource is being terminated: stop the work at once */
};

/* States an implementation reports (WSFC values). */
enum hamon_state {
	HAMON_STATE_ONLINE = 2,
	HAMON_STATE_OFFLINE = 3,
	HAMON_STATE_FAILED = 4,
	HAMON_STATE_ONLINE_PENDING = 129,
	HAMON_STATE_OFFLINE_PENDING = 130,
};

/*
 * Entry points.  Any may be NULL except online and offline (a NULL probe
 * answers alive).  All receive the resource and the instance pointer open
 * returned.
 *
 * open:        the resource was created or loaded.  Leave the real entity
 *              offline.  Store per-resource data in *ret_instance.  0 or -errno
 *              (the resource is then Failed).
 * close:       the resource is deleted or the monitor stops.  Free everything.
 *              Called only after terminate if the resource was not offline.
 * online:      bring it online.  0: online now; HAMON_PENDING: still working
 *              (report progress and the outcome with hamon_set_resource_status;
 *              the agent learns at once that the operation is pending);
 *              -errno: failed (terminate is called next).
 * offline:     graceful stop.  params/params_len: the property list the
 *              caller of the offline passed (may be empty); look names up
 *              with hamon_params_get().  Returns as online.
 * terminate:   make the resource unavailable at once, without waiting for
 *              cleanup; cancel a running online/offline (it sees
 *              hamon_terminate_requested() and HAMON_TERMINATE from
 *              hamon_set_resource_status).  Must be idempotent.
 * looks_alive: cheap check.  1 alive, 0 not (is_alive follows), -errno = 0.
 * is_alive:    thorough check.  1 alive, 0 failed, -errno = 0.
 * control:     a control code from a client (hagentd's ControlResource, the
 *              seeds' ResourceControl).  Returns the number of bytes
 *              written to out, or -errno.  -EOPNOTSUPP (the seeds'
 *              ERROR_INVALID_FUNCTION: "do the default") lets the library
 *              answer the HAMON_CONTROL_* codes below itself; for any other
 *              code the client gets -EOPNOTSUPP.  A NULL control is the same
 *              as one that always returns -EOPNOTSUPP.  out_size is 12 for
 *              now: the answer carries at most 12 bytes.
 */

/* Control codes libhamon answers when the implementation does not (little-endian u32s). */
#define HAMON_CONTROL_GET_STATE	   0x1u /* the state as the library knows it: enum hamon_state */
#define HAMON_CONTROL_GET_FLAGS	   0x2u /* HAMON_CONTROL_F_* */
#define HAMON_CONTROL_F_FAILURE_FD 0x1u /* the implementation declared its failure fd */
#define HAMON_CONTROL_F_OPENED	   0x2u /* open() succeeded and close() has not run */
struct hamon_ops {
	size_t size; /* sizeof(struct hamon_ops): lets the struct grow compatibly */
	int (*open)(hamon_resource *r, void **ret_instance);
	void (*close)(hamon_resource *r, void *instance);
	int (*online)(hamon_resource *r, void *instance);
	int (*offline)(hamon_resource *r, void *instance, const void *params, size_t params_len);
	void (*terminate)(hamon_resource *r, void *instance);
	int (*looks_alive)(hamon_resource *r, void *instance);
	int (*is_alive)(hamon_resource *r, void *instance);
	int (*control)(hamon_resource *r, void *instance, uint32_t code, const void *in,
		       size_t in_len, void *out, size_t out_size);
};

/*
 * For offline: the first value of property name in the params it received
 * (an MS-CMRP property list, see docs/monitor-protocol.md), written to buf
 * as NUL-terminated UTF-8 text: a string value (LIST_VALUE_SZ, as
 * monitorctl's "group offline --param KEY=VALUE" sends) as is, a DWORD
 * value in decimal.  name is compared case-insensitively for ASCII letters
 * only (other bytes must match exactly); the first property of that name
 * counts; the other properties are not the implementation's business and
 * are ignored.  Returns the text's length (without the NUL); -ENOENT: no
 * such property (len 0 is the empty list); -EINVAL: the list or the
 * value is malformed (hagentd validates every list, so this is a bug), or
 * a NULL argument; -EOPNOTSUPP: a value of another syntax; -ENOBUFS: buf
 * (size bytes) is too small, and is left untouched.  Pure: callable from
 * any thread, at any time.
 */
int hamon_params_get(const void *params, size_t len, const char *name, char *buf, size_t size);

/*
 * Runs the monitor: attaches to the channel hagentd passed in the
 * environment (HAGENT_CHANNEL_FDS), serves commands until the last resource
 * is closed or SIGTERM/SIGINT arrives (then terminates and closes every
 * resource), and returns 0, or -errno if the channel could not be used
 * (-ENXIO: not started by hagentd).  The resources outlive hagentd: when
 * it dies the monitor keeps them as they are and moves to the next
 * hagentd's channel (docs/agent-restart.md; the link HAGENT_LINK_FD,
 * HAGENT_REATTACH_SOCKET, HAGENT_ORPHAN_TIMEOUT_MS, all read here and in
 * hamon_run_fds()).  Blocks the calling thread; call it
 * from main(), before starting threads: it blocks SIGTERM and SIGINT in the
 * calling thread (the threads it starts inherit that) and restores the mask
 * before it returns.  userdata is returned by hamon_resource_userdata().
 */
int hamon_run(const struct hamon_ops *ops, void *userdata);

/*
 * As hamon_run(), on an explicit channel: fds[] = producer page, agent page,
 * monitor bell, agent bell (borrowed: the library duplicates what it keeps).
 * For tests and for programs that host the monitor in another way.
 */
int hamon_run_fds(const struct hamon_ops *ops, void *userdata, const int fds[4]);

/*
 * Reports progress or the outcome of a pending online/offline (the seeds'
 * SetResourceStatus).  state: a pending state with a checkpoint greater than
 * the last one (progress), or online/offline/failed (outcome; checkpoint
 * and wait_hint_ms are then ignored).  Callable while online/offline runs
 * (from any thread) and after it returned HAMON_PENDING, until the outcome.
 * Returns HAMON_CONTINUE, or HAMON_TERMINATE: the caller must then stop its
 * work and end its threads for the resource.  HAMON_TERMINATE answers
 * a failed report, and, with nothing posted, any report outside a pending
 * operation: while terminate is under way or after it (until the next
 * online/offline begins), when no online/offline was begun or its outcome
 * was already reported (a stray worker), and for a closed resource.
 * -EINVAL (nothing posted): r is NULL, state is unknown, or it does not
 * belong to the pending operation.  Never blocks.  An Online report
 * declares the failure fd if hamon_failure_fd() was called before it.
 */
int hamon_set_resource_status(hamon_resource *r, enum hamon_state state, uint32_t checkpoint,
			      uint32_t wait_hint_ms);

/* True once terminate or close was requested for the resource: workers should stop. */
bool hamon_terminate_requested(hamon_resource *r);

/*
 * An eventfd the implementation writes to (any non-zero value, from any
 * thread) to tell hagentd the resource failed; hagentd then calls is_alive
 * to confirm.  Owned by the library; valid until close returns.
 *
 * Calling it also declares that the implementation watches the resource
 * and signals its failures on this fd (the seeds' EventHandle in the Online
 * report): a call made after online began and before the resource reaches
 * Online (in online(), or from any thread before it reports
 * HAMON_STATE_ONLINE) tells hagentd, with the Online answer, not to poll
 * looks_alive for as long as the resource stays Online (is_alive still
 * runs, on a signal and at its interval).  Each online starts undeclared:
 * call it again for the next one; a call made in open() or after the
 * Online answer declares nothing (the fd still works: a signal is
 * delivered either way).
 */
int hamon_failure_fd(hamon_resource *r);

/*
 * Locked mode on or off (the seeds' SetResourceLockedMode): while on, group
 * offline and move requests fail with the locked-status error unless told to
 * ignore it.  reason is free for the implementation.  Never blocks.
 */
int hamon_set_locked_mode(hamon_resource *r, bool locked, uint32_t reason);

/* The resource's name, type and id (32 hex digits), valid until close returns. */
const char *hamon_resource_name(hamon_resource *r);
const char *hamon_resource_type(hamon_resource *r);
const char *hamon_resource_id(hamon_resource *r);

/* A private property of the resource, NULL if it has none by that key. */
const char *hamon_resource_property(hamon_resource *r, const char *key);

/* The userdata passed to hamon_run(). */
void *hamon_resource_userdata(hamon_resource *r);

#ifdef __cplusplus
}
#endif

#endif
