/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The per-monitor channel: the ABI between hagentd and one monitor process.
 * Two sealed memfds, so each side writes only its own pages:
 *
 *   producer page (monitor writes, agent maps read-only and distrusts it):
 *       heartbeat, "latest status" registers, the status ring
 *   agent page (agent writes, monitor maps read-only: F_SEAL_FUTURE_WRITE):
 *       header, consumed position, armed flag, command mailboxes
 *
 * plus two eventfds: mon_bell (monitor -> agent) and agent_bell (agent ->
 * monitor).  docs/shm-layout.md describes the protocols.
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define CHAN_MAGIC	   UINT64_C(0x314c4e4843544741) /* "AGTCHNL1" */
#define CHAN_ABI_VERSION   1u
#define CHAN_RING_SIZE	   256u /* status entries, power of two */
#define CHAN_MAX_RESOURCES 16	/* resources one monitor process may host */
#define CHAN_DETAIL_MAX	   12u
#define CHAN_ARGS_MAX	   992u /* command argument bytes (property lists) */

/* Status entry types (monitor -> agent). */
enum chan_status_type {
	CHAN_ST_ACCEPTED = 1, /* a command was received; its entry point is running */
	CHAN_ST_PROGRESS = 2, /* pending report: state, checkpoint, wait hint */
	CHAN_ST_DONE = 3,     /* entry point finished: code (0 or negative errno), state */
	CHAN_ST_FAILURE = 4,  /* unsolicited: the resource signalled a failure */
	CHAN_ST_LOCKED = 5,   /* unsolicited: locked mode on (code 1) or off (code 0) */
	_CHAN_ST_MAX,
};

/* Command classes: one mailbox each, so none waits behind another. */
enum chan_cmd_class {
	CHAN_CLASS_TRANSITION = 0, /* open / online / offline / close: serialised per resource */
	CHAN_CLASS_TERMINATE = 1,
	CHAN_CLASS_LOOKS_ALIVE = 2,
	CHAN_CLASS_IS_ALIVE = 3,
	CHAN_CLASS_CONTROL = 4,
	_CHAN_CLASS_MAX,
};

enum chan_op {
	CHAN_OP_NONE = 0,
	CHAN_OP_ONLINE = 1,
	CHAN_OP_OFFLINE = 2,
	CHAN_OP_TERMINATE = 3,
	CHAN_OP_LOOKS_ALIVE = 4,
	CHAN_OP_IS_ALIVE = 5,
	CHAN_OP_CONTROL = 6,
	CHAN_OP_OPEN =
		7, /* args: the resource's identity and properties (docs/monitor-protocol.md) */
	CHAN_OP_CLOSE = 8,
	_CHAN_OP_MAX,
};

/* The body both the ring entries and the registers carry. */
struct chan_status_body {
	uint16_t type; /* enum chan_status_type */
	uint8_t cls;   /* enum chan_cmd_class of the command answered */
	uint8_t flags;
	uint32_t res; /* resource index within this channel */
	uint64_t cmd_id;
	uint64_t mono_ns; /* CLOCK_MONOTONIC when posted */
	int32_t state;
	int32_t code;
	uint32_t checkpoint;
	uint32_t wait_hint_ms;
	uint16_t detail_len;
	uint8_t detail[CHAN_DETAIL_MAX];
	uint16_t reserved;
};
_Static_assert(sizeof(struct chan_status_body) == 56, "ABI");

/* One ring entry: committed by its sequence word, which is written last. */
struct chan_status_entry {
	_Atomic uint64_t seq; /* position + 1 once complete */
	struct chan_status_body b;
};
_Static_assert(sizeof(struct chan_status_entry) == 64, "ABI");

/*
 * "Latest status" register, one per resource: where a status goes when the
 * ring is full.  pos is the ring position the producer was blocked at: the
 * register's content is older than the ring entry at pos and newer than
 * the one before it, and the agent delivers it in that order.
 */
struct chan_status_reg {
	_Atomic uint32_t seq; /* seqcount, odd while written */
	uint32_t reserved;
	uint64_t pos;
	struct chan_status_body b;
	uint8_t pad[56];
};
_Static_assert(sizeof(struct chan_status_reg) == 128, "ABI");

#define CHAN_F_COALESCED 0x1u /* delivered from a register: intermediate statuses were dropped */
/* DONE of ONLINE (or the report that ends it): the implementation signals failures on its
 * failure fd (hamon_failure_fd()), so the agent does not poll looks_alive. */
#define CHAN_F_FAILURE_FD 0x2u
/* PROGRESS with no checkpoint: the online/offline entry point returned "pending" (the
 * seeds' ERROR_IO_PENDING); the agent shows the pending state from now on. */
#define CHAN_F_ENTRY_PENDING 0x4u

struct chan_producer_page {
	alignas(64) _Atomic uint64_t heartbeat_ns; /* monitor liveness, CLOCK_MONOTONIC */
	_Atomic uint64_t overflows;		   /* statuses that went to a register, total */
	_Atomic uint64_t reg_dirty;		   /* bumped after each register write */
	struct chan_status_reg regs[CHAN_MAX_RESOURCES];
	struct chan_status_entry ring[CHAN_RING_SIZE];
};
_Static_assert(sizeof(struct chan_producer_page) ==
		       64 + 128 * CHAN_MAX_RESOURCES + 64 * CHAN_RING_SIZE,
	       "ABI");

/* One mailbox: a single-writer seqcount register holding the latest command. */
struct chan_cmd_box {
	_Atomic uint32_t seq;
	uint32_t op;	      /* enum chan_op */
	uint64_t cmd_id;      /* increases for every command the agent posts on this channel */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC by which the agent expects it done */
	uint32_t args_len;
	uint32_t flags;
	uint8_t args[CHAN_ARGS_MAX];
};
_Static_assert(sizeof(struct chan_cmd_box) == 1024, "ABI");

struct chan_res_cmds {
	struct chan_cmd_box box[_CHAN_CLASS_MAX];
};

struct chan_agent_page {
	/* Immutable once the fds are handed over. */
	uint64_t magic;
	uint32_t abi_version;
	uint32_t page_size;
	uint32_t ring_size;
	uint32_t n_resources;
	uint64_t channel_id;
	alignas(64) _Atomic uint64_t head;  /* next ring position the agent will consume */
	alignas(64) _Atomic uint32_t armed; /* 1: the agent sleeps, ring mon_bell */
	alignas(64) struct chan_res_cmds cmds[CHAN_MAX_RESOURCES];
};
_Static_assert(__builtin_offsetof(struct chan_agent_page, head) == 64, "ABI");
_Static_assert(__builtin_offsetof(struct chan_agent_page, armed) == 128, "ABI");
_Static_assert(__builtin_offsetof(struct chan_agent_page, cmds) == 192, "ABI");
