/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The per-monitor channel, both ends.  The agent end (chan_agent_*) lives
 * in hagentd and never blocks on, nor trusts, the monitor: every status is
 * copied out of the monitor's page and validated before it is returned, and
 * violations are counted.  The monitor end (chan_monitor_*) lives in
 * libhamon; it never blocks either: a full ring degrades to a per-resource
 * "latest status" register.
 *
 * Neither end is thread-safe: the agent drives its end from its event loop;
 * libhamon serialises its posts with a mutex and reads commands from one
 * dispatcher thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel-layout.h"
#include "macro.h"

/* The four fds a monitor needs; the agent keeps ownership of its copies. */
struct chan_fds {
	int producer;	/* memfd of the producer page: the monitor maps it read-write */
	int agent;	/* memfd of the agent page: read-only for the monitor */
	int mon_bell;	/* eventfd: monitor -> agent */
	int agent_bell; /* eventfd: agent -> monitor */
};

/* Why the agent rejected an entry; counters per reason. */
enum chan_reject {
	CHAN_REJ_SEQ,	   /* sequence word neither "next" nor "empty": forged or corrupt */
	CHAN_REJ_TORN,	   /* entry changed while the agent copied it */
	CHAN_REJ_TYPE,	   /* unknown type or command class */
	CHAN_REJ_RESOURCE, /* resource index out of range */
	CHAN_REJ_CMD,	   /* command id not the outstanding one of its class */
	CHAN_REJ_REPLAY,   /* a second answer to a command already answered */
	CHAN_REJ_TIME,	   /* timestamp in the future or going backwards */
	CHAN_REJ_LENGTH,   /* detail length out of range */
	_CHAN_REJ_MAX,
};

struct chan_agent_stats {
	uint64_t accepted;
	uint64_t coalesced; /* accepted from a register */
	/*
	 * Answers to a command the agent has since replaced in the same mailbox:
	 * dropped, but no violation (the monitor may have sent them before it
	 * could see the new command).
	 */
	uint64_t stale;
	uint64_t rejected[_CHAN_REJ_MAX];
};

/* A command as the monitor reads it. */
struct chan_command {
	uint32_t op;
	uint64_t cmd_id;
	uint64_t deadline_ns;
	uint32_t flags;
	uint32_t args_len;
	uint8_t args[CHAN_ARGS_MAX];
};

const char *chan_reject_to_string(enum chan_reject r);

/* ---- agent end ---- */

struct chan_agent;

/* Creates the channel's memfds (size-sealed) and eventfds for n_resources. */
int chan_agent_new(uint32_t n_resources, uint64_t channel_id, struct chan_agent **ret);
struct chan_agent *chan_agent_free(struct chan_agent *a);

/*
 * The fds to hand to the monitor (borrowed: still owned by the channel).
 * -EBADF, *ret untouched, once chan_agent_release_memfds() was called.
 */
int chan_agent_fds(const struct chan_agent *a, struct chan_fds *ret);

/*
 * Once the monitor has its own copies of the fds (it was spawned): closes
 * the channel's two memfds, which the agent needs only to hand over.  The
 * pages stay mapped and work as before; the eventfds stay.  The agent then
 * holds 2 fds per channel instead of 4.  0; -EBADF if already released (the
 * fds can no longer be handed to anyone: a new monitor needs a new channel).
 */
int chan_agent_release_memfds(struct chan_agent *a);

/* The fd to watch for EPOLLIN in the event loop (mon_bell). */
int chan_agent_bell_fd(const struct chan_agent *a);

/*
 * Posts a command into the mailbox of its class for resource res, replacing
 * whatever that mailbox held, and rings the monitor.  *ret_cmd_id gets the
 * new command id.  Costs one eventfd write; never blocks.
 */
int chan_agent_post(struct chan_agent *a, uint32_t res, enum chan_cmd_class cls, enum chan_op op,
		    uint64_t deadline_ns, const void *args, uint32_t args_len,
		    uint64_t *ret_cmd_id);

/*
 * A re-attach (docs/agent-restart.md): puts the command that a previous
 * agent had outstanding in the mailbox of class cls for resource res, with
 * its id, so that the monitor's answers validate and the monitor, which saw
 * that id already, does not run it again.  Does not ring.  Later commands
 * get ids above cmd_id.  Call before the fds are handed over.
 */
int chan_agent_restore(struct chan_agent *a, uint32_t res, enum chan_cmd_class cls, enum chan_op op,
		       uint64_t cmd_id, uint64_t deadline_ns);

/*
 * Copies, validates and consumes up to max statuses into out (in order);
 * *ret_n gets how many.  Rejected entries are consumed and counted, never
 * returned.  Never blocks, and examines at most one ring's worth of slots
 * per call.  Returns 1 if it stopped early, because out was full or
 * because the producer offered more than a lap (only a misbehaving one
 * can): call again, after applying any policy on the reject counters.
 * 0 if the ring is drained.
 */
int chan_agent_drain(struct chan_agent *a, struct chan_status_body *out, size_t max, size_t *ret_n);

/*
 * Before sleeping on the bell: sets "armed" and checks the ring once more
 * (Dekker: store armed, full fence, load).  0: safe to sleep, the producer
 * will ring; 1: something arrived, armed is cleared again, drain first.
 */
int chan_agent_prepare_sleep(struct chan_agent *a);

/* After a wake-up: clears the bell and armed. */
void chan_agent_woken(struct chan_agent *a);

void chan_agent_get_stats(const struct chan_agent *a, struct chan_agent_stats *ret);
uint64_t chan_agent_monitor_heartbeat(const struct chan_agent *a);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct chan_agent *, chan_agent_free);

/* ---- monitor end ---- */

struct chan_monitor;

/* Maps the channel; fds are borrowed (duplicated as needed). -EPROTO etc. on ABI mismatch. */
int chan_monitor_attach(const struct chan_fds *fds, struct chan_monitor **ret);
struct chan_monitor *chan_monitor_free(struct chan_monitor *m);

uint32_t chan_monitor_n_resources(const struct chan_monitor *m);

/*
 * Posts a status (mono_ns is filled in here).  Never blocks: 0 when it went
 * into the ring, 1 when the ring was full and it went into the resource's
 * latest-status register instead.  Rings the agent only if it sleeps.
 */
int chan_monitor_post(struct chan_monitor *m, const struct chan_status_body *b);

/*
 * Reads the mailbox of class cls for resource res.  1: a command newer than
 * the last one returned for that mailbox, in *ret; 0: nothing new; -EAGAIN:
 * the agent was writing it, read again.
 */
int chan_monitor_read_command(struct chan_monitor *m, uint32_t res, enum chan_cmd_class cls,
			      struct chan_command *ret);

/* The fd to poll for commands (agent_bell), and clearing it after a wake-up. */
int chan_monitor_bell_fd(const struct chan_monitor *m);
void chan_monitor_woken(struct chan_monitor *m);

void chan_monitor_heartbeat(struct chan_monitor *m);

/* The channel id the agent wrote into its page (immutable). */
uint64_t chan_monitor_channel_id(const struct chan_monitor *m);

/*
 * Moving to the channel of a new agent (docs/agent-restart.md): to must have
 * the same number of resources.  Commands of from that were read already
 * are not returned again by to when it holds the same id (the new agent
 * restores them); statuses from has not had consumed (the ring from its
 * head on, registers not yet delivered) are posted into to, in order.
 * Returns how many were carried over; -EINVAL if the sizes differ.
 */
int chan_monitor_carry_over(struct chan_monitor *to, const struct chan_monitor *from);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct chan_monitor *, chan_monitor_free);
