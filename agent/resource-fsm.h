/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The state machine of one resource (semantics.md §2, §3.3, §4): pure,
 * I/O-free and deterministic.  hagentd feeds it events (an admin request, a
 * monitor answer, a timer, the monitor's death) with the time they are
 * handled at (CLOCK_MONOTONIC ns), and executes the actions it returns, in
 * order: post a command on the channel, arm or cancel a timer, start or kill
 * the monitor, publish a state change, act on a restart verdict, reply to
 * the admin.  docs/resource-fsm.md has the full tables; in short:
 *
 * Commands.  Every Online or Offline goes through the channel, so the
 * request moves the resource to OnlinePending/OfflinePending at once and is
 * answered -EINPROGRESS; the monitor's DONE ends it (T4 and T12 are the
 * pending path with no progress report in between).  At most one
 * transition-class command (OPEN, ONLINE, OFFLINE, CLOSE) is outstanding,
 * and none is posted while a TERMINATE is outstanding: an operation decided
 * then waits (the resource already shows it pending, its deadline runs) and
 * is posted when TERMINATE is DONE.  After a POST action the caller reports
 * the channel's command id with res_fsm_bind(); answers must carry it.
 *
 * Timeouts.  A pending Online/Offline has deadline = now + min(PendingTimeout,
 * DeadlockTimeout), moved only by an accepted progress report (checkpoint
 * greater than the last, "none" at the start of each operation).  OPEN,
 * CLOSE, TERMINATE and the probes have deadline now + DeadlockTimeout; past
 * it the monitor counts as hung: it is killed and the resource is Failed.
 *
 * Terminate.  Decided for a failure (pending timeout, a Failed report, an
 * entry point error, is_alive false): the state becomes Failed.  Decided by
 * the admin (a terminate request, or a delete of a busy resource): Offline.
 * From that moment the terminated operation's reports are discarded and
 * answered RES_EXIT_TERMINATE, as are reports outside a pending operation.
 *
 * Health.  While Online and nothing else runs: looks_alive every
 * LooksAlivePollInterval (not when the implementation uses a failure fd),
 * is_alive every IsAlivePollInterval, one probe at a time; looks_alive false
 * or a FAILURE signal -> is_alive at once; is_alive false -> Failed +
 * terminate; true after a signal -> spurious, stays Online.
 *
 * Failures of a resource whose persistent state is online go through the
 * restart policy (restart-policy.h); the restart is an Online attempt after
 * RestartDelay (T22), preceded by a new monitor and OPEN if the old monitor
 * is gone.
 *
 * state_seq grows by one on every change of the state value, and only then
 * (never for T7, T15, T21); each change is one RES_ACT_PUBLISH.
 *
 * Quiet requests.  An online or offline request with ev.quiet set (hagentd's
 * control API) keeps the pending state hidden while the entry point may
 * still answer synchronously: the resource shows its old state, and the
 * request gets no reply yet.  If the operation finishes (DONE) while hidden,
 * the resource goes straight to the final state, one change (T4, T6, T12,
 * T14 of the seeds); the reply, a RES_ACT_REPLY with .deferred, is 0 if it
 * reached its goal, -EIO if it failed, -ECANCELED if it was terminated.  The
 * first PROGRESS (the entry point returned pending, or reported), or
 * RES_QUIET_MS without an answer, reveals the pending state (T5, T13) and
 * the deferred reply is -EINPROGRESS.  res_fsm_visible() is what to publish.
 *
 * The group layer (agent-group.h).  RES_EV_SET_TARGET changes the
 * persistent state alone, no reply: a group online or offline sets it for
 * every member at once and requests each when its turn comes in dependency
 * order.  Offline also cancels a restart or retry that is due and an online
 * queued behind OPEN.  System requests (ev.system on REQ_OFFLINE and
 * REQ_TERMINATE) take a resource down because a provider is no longer
 * online, or for a group restart: the persistent state stays online, so the
 * resource comes back when its providers do; on a Failed resource they
 * change nothing and answer -EIO.
 */

#include <stdbool.h>
#include <stdint.h>

#include "channel-layout.h"
#include "hagent/shm.h"
#include "resource-props.h"
#include "restart-policy.h"

/* Native (WSFC) result codes of the admin replies; semantics.md §9 gives the errno. */
#define RES_WIN_SUCCESS		   0u	 /* 0 */
#define RES_WIN_IO_PENDING	   997u	 /* -EINPROGRESS */
#define RES_WIN_RESOURCE_NOT_FOUND 5007u /* -ENOENT: the resource is being deleted */
#define RES_WIN_INVALID_STATE	   5023u /* -EBUSY */
#define RES_WIN_RESOURCE_FAILED	   5038u /* -EIO */
#define RES_WIN_OPERATION_ABORTED  995u	 /* -ECANCELED: terminated before it finished */

/* How long a quiet request's operation may stay hidden before it shows as pending. */
#define RES_QUIET_MS 300u

#define RES_ACTIONS_MAX 16

enum res_timer {
	RES_TIMER_PENDING,     /* deadline of the transition command (open/online/offline/close) */
	RES_TIMER_TERMINATE,   /* deadline of the terminate command */
	RES_TIMER_LOOKS_ALIVE, /* next looks_alive poll */
	RES_TIMER_IS_ALIVE,    /* next is_alive poll */
	RES_TIMER_PROBE,       /* deadline of the probe in flight */
	RES_TIMER_RESTART,     /* restart after RestartDelay */
	RES_TIMER_RETRY,       /* the one retry after RetryPeriodOnFailure */
	RES_TIMER_REVEAL,      /* a quiet request's operation shows as pending */
	_RES_TIMER_MAX,
};

enum res_event_kind {
	RES_EV_START,	      /* T1: host the resource in a monitor and open it */
	RES_EV_REQ_ONLINE,    /* admin: online */
	RES_EV_REQ_OFFLINE,   /* admin: offline */
	RES_EV_REQ_TERMINATE, /* admin: forced offline (terminate) */
	RES_EV_REQ_DELETE,    /* admin: delete (T27) */
	RES_EV_ACCEPTED,      /* monitor: command received (cls, cmd_id) */
	RES_EV_PROGRESS, /* monitor: pending report (cls, cmd_id, state, checkpoint, wait hint) */
	RES_EV_DONE,	 /* monitor: command finished (cls, cmd_id, state, code, failure_fd) */
	RES_EV_FAILURE,	 /* monitor, unsolicited: the failure fd was signalled */
	RES_EV_LOCKED,	 /* monitor, unsolicited: locked mode on (code 1) or off (code 0) */
	RES_EV_TIMER,	 /* a timer armed by RES_ACT_SET_TIMER is due (timer) */
	RES_EV_MONITOR_DIED, /* the monitor process exited (monitor_gen) */
	RES_EV_MONITOR_HUNG, /* the monitor stopped answering past DeadlockTimeout (monitor_gen) */
	RES_EV_SET_TARGET,   /* the group layer: persistent state online (code 1) or offline (0) */
	_RES_EV_MAX,
};

struct res_event {
	enum res_event_kind kind;
	uint8_t cls;	 /* enum chan_cmd_class of the answered command */
	uint64_t cmd_id; /* as bound with res_fsm_bind() */
	int32_t state;	 /* reported state (enum hagent_resource_state, or anything: validated) */
	int32_t code;	 /* DONE: 0 or -errno; probes: 1 alive, 0 not; LOCKED: 1 on, 0 off */
	uint32_t checkpoint;
	uint32_t wait_hint_ms;
	bool failure_fd;    /* DONE of ONLINE: the implementation signals failures on its fd */
	bool entry_pending; /* PROGRESS: the entry point returned pending (no checkpoint) */
	enum res_timer timer;
	uint32_t monitor_gen; /* from RES_ACT_START_MONITOR */
	bool quiet;	      /* requests: the requester waits for the outcome (see "Quiet") */
	bool system; /* REQ_OFFLINE, REQ_TERMINATE from the group layer: see "System requests" */
};

enum res_action_kind {
	RES_ACT_POST,	       /* post: cls, op, deadline_ns; then call res_fsm_bind() */
	RES_ACT_SET_TIMER,     /* timer: which, at_ns (replaces an armed one) */
	RES_ACT_CANCEL_TIMER,  /* timer: which */
	RES_ACT_START_MONITOR, /* start a monitor process for the resource (monitor_gen) */
	RES_ACT_KILL_MONITOR,  /* pidfd_send_signal(SIGKILL) to the monitor (monitor_gen) */
	RES_ACT_PUBLISH,       /* state changed: write the segment and a RESOURCE_STATE event */
	RES_ACT_REFRESH,       /* checkpoint, wait hint or locked changed: write the segment */
	RES_ACT_POLICY,	 /* a restart verdict: log it; ESCALATE asks the group layer to fail over */
	RES_ACT_REPLY,	 /* reply to the admin request: error, win32 */
	RES_ACT_REMOVED, /* the resource is gone (T27): drop it, free the state machine */
	_RES_ACT_MAX,
};

struct res_action {
	enum res_action_kind kind;
	union {
		struct {
			uint8_t cls; /* enum chan_cmd_class */
			uint32_t op; /* enum chan_op */
			uint64_t deadline_ns;
		} post;
		struct {
			enum res_timer which;
			uint64_t at_ns;
		} timer;
		struct {
			int32_t from, state;
			uint32_t seq;
		} publish;
		struct {
			enum restart_verdict verdict;
			uint64_t at_ns; /* restart or retry time, 0: none */
			uint32_t count; /* failures in the window, this one included */
		} policy;
		struct {
			int error;	/* 0 or -errno */
			uint32_t win32; /* RES_WIN_* */
			bool deferred;	/* answers the earlier quiet request, not this event */
		} reply;
		uint32_t monitor_gen;
	};
};

/* What the state machine made of an event (for logs, counters and tests). */
enum res_verdict {
	RES_V_APPLIED,	 /* acted on */
	RES_V_IGNORED,	 /* nothing new (checkpoint not greater, timer not due...) */
	RES_V_REJECTED,	 /* protocol violation: counted */
	RES_V_STALE,	 /* answer to a command that is no longer outstanding */
	RES_V_DISCARDED, /* after terminate was decided, or a probe no longer wanted */
	_RES_V_MAX,
};

/* The seeds' RESOURCE_EXIT_STATE for a status report (PROGRESS/DONE of the transition class). */
enum res_exit {
	RES_EXIT_CONTINUE = 0,
	RES_EXIT_TERMINATE = 1,
};

struct res_actions {
	uint32_t n;
	struct res_action a[RES_ACTIONS_MAX];
	enum res_verdict verdict;
	enum res_exit exit;
};

/* Why the resource last became Failed. */
enum res_fail_cause {
	RES_FAIL_NONE,
	RES_FAIL_OPEN,	   /* T3: open failed */
	RES_FAIL_ONLINE,   /* T6: the online entry point returned an error */
	RES_FAIL_OFFLINE,  /* T14: the offline entry point returned an error */
	RES_FAIL_REPORTED, /* T9, T17: a Failed report after progress */
	RES_FAIL_TIMEOUT,  /* T10, T17: pending timeout */
	RES_FAIL_PROBE,	   /* T18, T19, T20: is_alive false */
	RES_FAIL_MONITOR,  /* T28: the monitor died or was killed */
	_RES_FAIL_MAX,
};

enum res_term_cause {
	RES_TERM_NONE,
	RES_TERM_FAILURE, /* ends in Failed */
	RES_TERM_ADMIN,	  /* administrative force: ends in Offline */
};

struct res_fsm_stats {
	uint64_t rejected, stale, ignored, discarded;
	uint64_t spurious_failures; /* FAILURE signals that is_alive did not confirm */
};

/*
 * One resource.  Callers read the fields; only res_fsm_*() write them.
 * cmd_id[cls]: 0 none, RES_CMD_UNBOUND posted but not yet bound.
 */
#define RES_CMD_UNBOUND UINT64_MAX

struct res_fsm {
	struct res_props props;
	int32_t state; /* enum hagent_resource_state */
	uint32_t state_seq;
	bool target_online; /* persistent state */
	bool deleting, removed;

	/* The transition-class operation (CHAN_OP_NONE when idle). */
	uint32_t op;
	bool op_posted; /* false: decided, waiting for TERMINATE to be done */
	bool op_accepted;
	bool online_after_open; /* an online request or restart waits for OPEN */
	bool has_checkpoint;	/* false: "none" */
	uint32_t checkpoint, wait_hint_ms;
	uint64_t cmd_id[_CHAN_CLASS_MAX];

	bool term_decided; /* for the last transition command; cleared by the next one */
	enum res_term_cause term_cause;
	bool term_outstanding; /* TERMINATE posted, DONE not seen */

	uint32_t probe; /* CHAN_OP_LOOKS_ALIVE/IS_ALIVE in flight, or CHAN_OP_NONE */
	bool is_alive_due;
	bool failure_fd;	/* the implementation uses its failure fd: no looks_alive */
	bool failure_signalled; /* FAILURE seen, is_alive has not answered since */
	bool locked;

	bool monitor_up, opened;
	uint32_t monitor_gen;

	bool quiet;	     /* state is a hidden pending state: quiet_from shows */
	int32_t quiet_from;  /* the state readers see meanwhile */
	int32_t quiet_goal;  /* Online or Offline */
	bool reply_deferred; /* the quiet request awaits its RES_ACT_REPLY .deferred */

	uint64_t timer_at[_RES_TIMER_MAX]; /* 0: not armed */
	struct restart_policy restart;
	enum res_fail_cause fail_cause;
	int32_t last_error;
	struct res_fsm_stats stats;
};

/*
 * A resource created (or loaded) with these properties: Initializing,
 * state_seq 1, persistent state offline, no monitor yet (RES_EV_START
 * starts one).  -EINVAL/-ERANGE with *ret_key as res_props_validate().
 */
int res_fsm_init(struct res_fsm *f, const struct res_props *props, const char **ret_key);

/* New property values; armed timers keep their times, new ones use the values. */
int res_fsm_set_props(struct res_fsm *f, const struct res_props *props, const char **ret_key);

/*
 * Handles one event at now_ns and fills *out (always initialised).  0, or
 * -EINVAL if ev is malformed (unknown kind, class or timer): nothing changed.
 */
int res_fsm_step(struct res_fsm *f, const struct res_event *ev, uint64_t now_ns,
		 struct res_actions *out);

/*
 * The caller executed a RES_ACT_POST of class cls and the channel named the
 * command cmd_id (non-zero).  -ESRCH: no command of that class awaits an id.
 * A failed post is reported as RES_EV_MONITOR_HUNG instead.
 */
int res_fsm_bind(struct res_fsm *f, enum chan_cmd_class cls, uint64_t cmd_id);

/*
 * Converts a validated channel status (chan_agent_drain()) into an event.
 * -EINVAL for a type the state machine does not take.
 */
int res_event_from_status(const struct chan_status_body *b, struct res_event *ret);

/* The state and whether a pending operation shows (quiet requests hide it for a while). */
int32_t res_fsm_visible(const struct res_fsm *f);

/* True while a pending operation runs (OnlinePending, OfflinePending). */
bool res_state_is_pending(int32_t state);

/* Locked in the sense of semantics.md §5.4: locked mode on while Online or pending. */
bool res_fsm_is_locked(const struct res_fsm *f);

const char *res_state_to_string(int32_t state);
const char *res_timer_to_string(enum res_timer t);
const char *res_event_kind_to_string(enum res_event_kind k);
const char *res_action_kind_to_string(enum res_action_kind k);
const char *res_verdict_to_string(enum res_verdict v);
