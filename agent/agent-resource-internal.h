/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Inside the resource layer: agent-resource.c drives the state machines,
 * agent-resource-adopt.c re-attaches the monitors a previous agent left
 * (docs/agent-restart.md).  Nothing else includes this.
 */

#include "agent-resource.h"
#include "agent-scope.h"
#include "agent-status.h"
#include "agent-volatile.h"
#include "channel.h"
#include "monitor-spawn.h"

#define DRAIN_BATCH	    16
#define EVENT_QUEUE_MAX	    8
#define TIMER_ACCURACY_USEC 1000
#define START_BATCH	    16	    /* resources started per event loop iteration at start */
#define SETTLE_ROUNDS_MAX   1000000 /* group reconciles in one transaction: a bug beyond */

struct agent_resources;
struct agent_res;

/* One monitor process, current or replaced, until it is reaped. */
struct agent_monitor {
	struct agent_resources *rs;
	struct agent_res *owner;
	struct monitor_proc proc;
	uint32_t gen;
	sd_event_source *pidfd_source;
	int link_fd;	     /* our end of its link (channel-link.h); -EBADF: none */
	uint64_t channel_id; /* of the channel it runs on */
	uint64_t pid_start;  /* its start time (proc_start_time()) */
	bool adopted;	     /* a previous agent's: not our child, its exit status is not ours */
	struct agent_scope_req *scope_req; /* its move into a scope of its own, until done */
	struct agent_monitor *next;
};

struct res_timer_ctx {
	struct agent_res *r;
	enum res_timer which;
	sd_event_source *source;
};

struct agent_res {
	struct agent_resources *rs;
	bool active;  /* false: a free entry */
	size_t index; /* into the model's resources */
	struct res_fsm fsm;
	struct chan_agent *chan;
	sd_event_source *bell_source, *drain_source;
	uint64_t rejected_seen;
	struct agent_monitor *mon; /* current; NULL: none */
	struct res_timer_ctx timers[_RES_TIMER_MAX];
	int spawn_error;     /* why the last monitor could not start, 0 if it did */
	bool restored;	     /* its state came from a previous agent (agent-resource-adopt.c) */
	bool adopting;	     /* its monitor, alive, has not asked to be adopted yet */
	uint64_t control_id; /* the outstanding CONTROL command, 0: none */
	sd_event_source *control_timer;
	bool held[2];		 /* a restart (0) or the retry (1) waits for the group layer */
	bool escalated;		 /* this step's failure escalated (RestartAction 2) */
	uint8_t *offline_params; /* for the next OFFLINE command (a group offline's), or NULL */
	uint32_t offline_params_len;

	/* Events produced while executing actions, handled after them. */
	struct res_event queue[EVENT_QUEUE_MAX];
	size_t n_queue;
	/* What the current step has to publish, and its reply to a request. */
	bool dirty, removed;
	bool replied, deferred;
	int reply_error, deferred_error;
	uint32_t reply_win32, deferred_win32;
	struct {
		int32_t state;
		uint32_t seq;
	} published[RES_ACTIONS_MAX];
	size_t n_published;
};

struct agent_resources {
	sd_event *event;
	struct shm_writer *writer;
	struct agent_model *model;
	char *monitor_dir;
	struct agent_res *res; /* model->max_resources entries, index as the model's */
	bool started;
	struct agent_monitor *monitors; /* every unreaped monitor */
	uint64_t channel_ids;
	bool stopping;
	sd_event_source *stop_timer;
	sd_event_source *start_source; /* starts the loaded resources, a batch per loop iteration */
	size_t start_next;
	agent_reply_fn reply_fn; /* deferred replies of quiet requests */
	void *reply_userdata;
	agent_control_fn control_fn; /* answers of control codes */
	void *control_userdata;
	struct agent_group_hooks hooks;

	/* Re-attach (agent-resource-adopt.c). */
	struct volatile_store *store; /* NULL: nothing is kept for a next agent */
	char *reattach_env;	      /* HAGENT_REATTACH_SOCKET=... for monitors, or NULL */
	char *orphan_env;	      /* HAGENT_ORPHAN_TIMEOUT_MS=... */
	size_t n_adopting;
	sd_event_source *adopt_timer;

	/* systemd (agent_resources_set_systemd()); not owned, may be NULL. */
	struct agent_scope *scope;
	struct agent_status *status;
	sd_event_source *status_timer;

	/* The segment transaction and what is due before its commit. */
	unsigned txn_depth;
	bool txn_open;		 /* shm_writer_begin() succeeded at depth 1 */
	struct grp_due *grp_due; /* model->max_groups entries */
	size_t *grp_queue, n_grp_queue;
	struct deferred *replies; /* deferred replies, sent after the commit */
	size_t n_replies, max_replies;
};

/* A group whose record is due in the current transaction. */
struct grp_due {
	bool queued;
	bool force;	 /* publish the record even if its derived state did not change */
	uint32_t change; /* AGENT_CHANGE_* event to publish with it, 0: none */
};

struct deferred {
	size_t index;
	int error;
	uint32_t win32;
};


struct agent_resource *res_model(const struct agent_res *r);
const char *res_name(const struct agent_res *r);
uint64_t res_mono_ns(void);
void res_run(struct agent_res *r, const struct res_event *ev);
/* Publishes r's record as the state machine has it, in one transaction. */
void res_republish(struct agent_res *r);
int channel_open(struct agent_res *r);
void channel_close(struct agent_res *r);
void drain_later(struct agent_res *r);
void act_set_timer(struct agent_res *r, enum res_timer which, uint64_t at_ns);
/* Watches m's pidfd and puts it on rs's list of monitors. */
int monitor_watch(struct agent_resources *rs, struct agent_monitor *m);
/* What the store keeps of r now (its entry, or none without a monitor). */
void res_store_sync(struct agent_res *r);

/* agent-resource-adopt.c: r's monitor will not be adopted (it died, or the time is up). */
void adopt_abandon(struct agent_res *r);
/* A restored resource whose monitor was gone when this agent came: its death, now. */
void agent_resources_restored_died(struct agent_res *r);

/* agent-resource-status.c: the states changed; STATUS= follows within 100 ms. */
void status_due(struct agent_resources *rs);
/* Group gi's state and sequence into the store. */
void group_store_sync(struct agent_resources *rs, size_t gi);
