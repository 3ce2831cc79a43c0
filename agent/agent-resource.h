/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The lifecycle of hagentd's resources: per resource a state machine
 * (resource-fsm.h), a channel and a monitor process (monitor-spawn.h), driven
 * from the event loop as docs/resource-fsm.md ("Contract") describes.  Each
 * state machine step that changes what the segment shows is published in one
 * transaction: the resource's record, a RESOURCE_STATE event per state change
 * and, when the group's derived state (semantics.md §5.1) changed, the
 * group's record with a GROUP_STATE event.  Main-loop thread only.
 *
 * Monitors outlive the agent; the next agent re-attaches them
 * (docs/agent-restart.md, agent_resources_restore()).  Stopping either
 * leaves them running for the next agent (agent_resources_detach()), or
 * stops them (agent_resources_stop()).
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent-model.h"
#include "agent-scope.h"
#include "agent-status.h"
#include "agent-volatile.h"
#include "macro.h"
#include "resource-fsm.h"
#include "shm-writer.h"

struct agent_resources;

/*
 * One state machine per resource of m, with the properties of the model.
 * Monitor programs are monitor_dir/hamon-<type>.  e, w and m must outlive
 * the result; nothing starts before agent_resources_start().
 */
int agent_resources_new(sd_event *e, struct shm_writer *w, struct agent_model *m,
			const char *monitor_dir, struct agent_resources **ret);

/*
 * Starts every resource (a monitor and OPEN each), and asks for Online those
 * whose persistent state is online (queued by the state machine until OPEN
 * is done), START_BATCH per event loop iteration from now on, so that the
 * loop keeps serving meanwhile.  Failures to start one resource show as that
 * resource Failed.
 */
void agent_resources_start(struct agent_resources *rs);

/*
 * Resource i was just added to the model: a state machine for it, its record
 * published (RESOURCE_ADDED, and its group's record with GROUP_PROPERTY), and,
 * once the set is started, its monitor started and the resource opened.
 */
int agent_resources_add(struct agent_resources *rs, size_t i);

/*
 * An admin request (RES_EV_REQ_ONLINE, _OFFLINE, _TERMINATE, _DELETE) for
 * resource i, run now; *ret_error (0 or -errno) and *ret_win32 are the state
 * machine's reply (resource-fsm.h).  A delete may free the resource before
 * this returns.  -ESHUTDOWN: stopping.  A quiet online or offline request
 * (resource-fsm.h, "Quiet requests") may return 1: the reply comes later,
 * through the reply handler, within RES_QUIET_MS or when the resource goes.
 */
int agent_resources_request(struct agent_resources *rs, size_t i, enum res_event_kind kind,
			    bool quiet, int *ret_error, uint32_t *ret_win32);

/*
 * Segment transactions: everything between begin and end is one commit.
 * They nest; every state machine step runs in one.  Before the outermost
 * commit the groups marked meanwhile are settled: the group layer's
 * reconcile hook runs for each (it may request more, marking groups again),
 * then each settled group's record is written (with a GROUP_STATE event if
 * its derived state changed).  Deferred replies go out after the commit.
 */
void agent_resources_begin(struct agent_resources *rs);
void agent_resources_end(struct agent_resources *rs);
/* Inside a transaction: group gi is due (with event change, or rewritten anyway if force). */
void agent_resources_group_changed(struct agent_resources *rs, size_t gi, uint32_t change,
				   bool force);

/* The group layer (agent-group.h); each hook may be NULL. */
struct agent_group_hooks {
	void *userdata;
	/* A member of group gi changed, or gi was marked: act on it (inside the transaction). */
	void (*reconcile)(void *userdata, size_t gi);
	/* Resource i's failure escalated (RestartAction 2 beyond its threshold). */
	void (*escalate)(void *userdata, size_t i);
	/* A restart or the retry of resource i is due: false holds it (agent_resources_release). */
	bool (*may_restart)(void *userdata, size_t i);
};
void agent_resources_set_group_hooks(struct agent_resources *rs, const struct agent_group_hooks *h);

/* Resource i's state machine, for reading (NULL: no such resource). */
const struct res_fsm *agent_resources_fsm(const struct agent_resources *rs, size_t i);
/* The persistent state alone (RES_EV_SET_TARGET); the record is published. */
int agent_resources_set_target(struct agent_resources *rs, size_t i, bool online);
/*
 * A system request (resource-fsm.h): REQ_OFFLINE or REQ_TERMINATE that keeps
 * the persistent state.  0 if it started or was done; -EBUSY, -EIO (Failed)
 * as the state machine answers; -ESHUTDOWN.
 */
int agent_resources_system(struct agent_resources *rs, size_t i, enum res_event_kind kind);
/* True while a restart or the retry of resource i is held by may_restart. */
bool agent_resources_held(const struct agent_resources *rs, size_t i);
/* Runs the held restart or retry of resource i now. */
int agent_resources_release(struct agent_resources *rs, size_t i);
/*
 * params (at most CHAN_ARGS_MAX bytes, else -E2BIG) go with resource i's
 * next OFFLINE command, replacing earlier ones; len 0 drops them (cannot
 * fail); dropped too when the resource leaves Online otherwise.
 */
int agent_resources_set_offline_params(struct agent_resources *rs, size_t i, const void *params,
				       size_t len);

/* Called with the deferred reply to the quiet request of resource i. */
typedef void (*agent_reply_fn)(void *userdata, size_t i, int error, uint32_t win32);
void agent_resources_set_reply_handler(struct agent_resources *rs, agent_reply_fn fn,
				       void *userdata);

/*
 * Posts control code with its input (at most CHAN_ARGS_MAX - 4 bytes) to
 * resource i's monitor; the answer (bytes, or -errno) comes through the
 * control handler, or -ETIMEDOUT after DeadlockTimeout, or -ECONNRESET if
 * the monitor goes first.  -ENOTCONN: no open monitor; -EBUSY: a control
 * code runs already; -E2BIG; -ESHUTDOWN: stopping.
 */
int agent_resources_control(struct agent_resources *rs, size_t i, uint32_t code, const void *in,
			    size_t len);
typedef void (*agent_control_fn)(void *userdata, size_t i, int code, const uint8_t *data,
				 size_t len);
void agent_resources_set_control_handler(struct agent_resources *rs, agent_control_fn fn,
					 void *userdata);

/* Resource i's record again (its model entry changed), with event change (0: none). */
void agent_resources_republish(struct agent_resources *rs, size_t i, uint32_t change);

/* Resource i's common properties changed in the model: tell its state machine, publish. */
int agent_resources_props_changed(struct agent_resources *rs, size_t i, const char **ret_key);

/*
 * Stops driving the state machines, sends SIGTERM to every monitor and
 * calls sd_event_exit(e, 0) once all of them are reaped, or after
 * timeout_usec at the latest, when those still there get SIGKILL.  Idempotent.
 */
int agent_resources_stop(struct agent_resources *rs, uint64_t timeout_usec);

/*
 * Re-attach.  Monitors started from now on get HAGENT_REATTACH_SOCKET=
 * <runtime_dir>/monitor.sock and, if orphan_timeout_ms is not 0,
 * HAGENT_ORPHAN_TIMEOUT_MS; store (taken over; may be NULL) keeps each
 * resource's monitor and state machine for a next agent.
 */
int agent_resources_set_reattach(struct agent_resources *rs, const char *runtime_dir,
				 uint64_t orphan_timeout_ms, struct volatile_store *store);
/*
 * Before agent_resources_start(): the state machines of the resources a
 * previous agent left in old (matched by id), and their monitors, watched
 * by pidfd if they still run (with the same start time): those are
 * "adopting" until they ask (agent_resources_adopt()), at most
 * timeout_usec, after which they are killed (a monitor that does not
 * answer cannot be trusted with its resource) and count as dead.  Their
 * records are published as restored.  Returns how many are adopting.
 */
size_t agent_resources_restore(struct agent_resources *rs, const struct volatile_entry *old,
			       size_t n_old, uint64_t timeout_usec);
/* How many restored monitors have not asked to be adopted yet. */
size_t agent_resources_adopting(const struct agent_resources *rs);
/* agent_adopt_fn (agent-reattach.h); userdata is rs. */
int agent_resources_adopt(void *userdata, uint64_t channel_id, pid_t pid, int fd);

/*
 * Stops without touching the monitors: they keep their resources as they
 * are and wait for the next agent (the store stays).  Calls sd_event_exit().
 */
int agent_resources_detach(struct agent_resources *rs);

/*
 * systemd: with scope, each new monitor is moved into a transient scope of
 * its own (agent-scope.h) before it may start, so that nothing a resource
 * starts lives in hagentd's cgroup (`systemctl kill hagentd` and a restart
 * leave it alone); with status, STATUS= follows the resources' states.
 * Either may be NULL; neither is owned.
 */
void agent_resources_set_systemd(struct agent_resources *rs, struct agent_scope *scope,
				 struct agent_status *status);

/* Releases everything; neither signals nor reaps the monitors still running. */
struct agent_resources *agent_resources_free(struct agent_resources *rs);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_resources *, agent_resources_free);
