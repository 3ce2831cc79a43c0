/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Publishing hagentd's model into the state segment (the writer side of
 * docs/shm-layout.md), and the heartbeat readers use to tell a live agent
 * from a dead one.  Main-loop thread only.
 */

#include <systemd/sd-event.h>

#include "agent-model.h"
#include "shm-writer.h"

#define AGENT_CHANGE_RESOURCE_ADDED    UINT32_C(0x00000400) /* semantics.md §7.2 */
#define AGENT_CHANGE_GROUP_ADDED       UINT32_C(0x00004000)
#define AGENT_CHANGE_RESOURCE_STATE    UINT32_C(0x00000100)
#define AGENT_CHANGE_GROUP_STATE       UINT32_C(0x00001000)
#define AGENT_CHANGE_RESOURCE_DELETED  UINT32_C(0x00000200)
#define AGENT_CHANGE_RESOURCE_PROPERTY UINT32_C(0x00000800)
#define AGENT_CHANGE_GROUP_DELETED     UINT32_C(0x00002000)
#define AGENT_CHANGE_GROUP_PROPERTY    UINT32_C(0x00008000)

#define AGENT_HEARTBEAT_USEC (100 * 1000) /* 100 ms */

/*
 * Writes every resource and group of m in one transaction, with one
 * RESOURCE_ADDED / GROUP_ADDED event per object.  Used once, at start: on
 * failure the transaction is left open and the agent must not continue.
 */
int agent_publish_all(struct shm_writer *w, const struct agent_model *m);

/*
 * Inside an open transaction (shm_writer_begin()): writes the record of
 * resource (group) i of m again, with one event of kind change (and the
 * object's state and state_seq) unless change is 0.
 */
int agent_publish_resource(struct shm_writer *w, const struct agent_model *m, size_t i,
			   uint32_t change);
int agent_publish_group(struct shm_writer *w, const struct agent_model *m, size_t i,
			uint32_t change);

/*
 * Inside an open transaction: the tombstone of resource (group) i of m, which
 * is still in the model, and its RESOURCE_DELETED (GROUP_DELETED) event.
 */
int agent_publish_resource_deleted(struct shm_writer *w, const struct agent_model *m, size_t i);
int agent_publish_group_deleted(struct shm_writer *w, const struct agent_model *m, size_t i);

/* Inside an open transaction: one event (kind: SHM_KIND_RESOURCE or SHM_KIND_GROUP). */
int agent_publish_event(struct shm_writer *w, uint32_t change, uint32_t slot, uint32_t kind,
			uint32_t state_seq, int32_t state, const uint8_t id[SHM_ID_SIZE],
			const char *name);

/*
 * Stores the heartbeat now and then every AGENT_HEARTBEAT_USEC
 * (CLOCK_MONOTONIC) from e.  *ret (the timer source) is owned by the caller;
 * w must outlive it.
 */
int agent_heartbeat_start(sd_event *e, struct shm_writer *w, sd_event_source **ret);
