/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagentd's in-memory model: the groups and resources of the configuration
 * with their segment slots and their volatile state.  Built from one
 * config_store_load() snapshot, then changed object by object as the control
 * API adds and removes them; owned by the agent's main loop (one thread).
 * Group states are derived from member states (semantics.md §5.1).
 *
 * Objects live in arrays sized for the segment (max_resources, max_groups;
 * calloc'd, so untouched entries cost no memory): entry i is always record
 * slot i of its kind, an index stays valid while the object exists, and a
 * freed index is reused by the next add.  Loops run over [0, n_*) and skip
 * the entries whose `used` is false.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config-store.h"
#include "group-props.h"
#include "macro.h"
#include "resource-props.h"
#include "shm-layout.h"

struct shm_writer;

struct agent_resource {
	bool used;
	bool removing; /* gone from the configuration, closing: not found by name */
	uint8_t id[SHM_ID_SIZE];
	char name[SHM_NAME_MAX];
	char type[SHM_TYPE_MAX];
	uint32_t slot;
	size_t group;  /* index into agent_model.groups */
	int32_t state; /* enum hagent_resource_state */
	uint32_t state_seq;
	int32_t persistent_state; /* enum config_target */
	char *props;		  /* effective properties, "key=value\0" each */
	uint32_t props_len;
	size_t *deps; /* providers, indexes into agent_model.resources */
	size_t n_deps;
	struct res_props common; /* the common properties, for the state machine */

	/* Volatile state besides state and state_seq, as the segment shows it. */
	uint64_t state_change_ns; /* CLOCK_REALTIME of the last state change, 0: now */
	uint64_t pending_deadline_ns;
	uint32_t checkpoint, wait_hint_ms;
	int32_t monitor_pid; /* 0: none */
	uint32_t restart_count;
	int32_t last_error;
	bool locked;
};

struct agent_group {
	bool used;
	uint8_t id[SHM_ID_SIZE];
	char name[SHM_NAME_MAX];
	uint32_t slot;
	int32_t state; /* enum hagent_group_state */
	uint32_t state_seq;
	uint64_t state_change_ns; /* CLOCK_REALTIME of the last state change, 0: now */
	int32_t persistent_state;
	size_t *members; /* indexes into agent_model.resources, in configuration order */
	size_t n_members;
	struct group_props common; /* FailoverThreshold, FailoverPeriod */
	char *props;		   /* as the segment shows them, "key=value\0" each */
	uint32_t props_len;
	uint32_t failover_count; /* failovers inside FailoverPeriod, as last counted */
	size_t *providers; /* groups its dependency expression names (indexes), in order */
	size_t n_providers;
	char *dep_expr; /* the expression as stored ("[id] and [id]"), NULL: none */
	bool waiting;	/* persistently online, waiting for a provider group (the group layer) */
};

struct agent_model {
	struct agent_group *groups; /* max_groups entries */
	size_t n_groups;	    /* entries ever used: [0, n_groups) */
	size_t max_groups, live_groups;
	struct agent_resource *resources; /* max_resources entries */
	size_t n_resources;
	size_t max_resources, live_resources;
	size_t *free_groups, n_free_groups; /* freed indexes below n_groups */
	size_t *free_resources, n_free_resources;
};

/*
 * Builds the model of snap: resource i gets shm_writer_resource_slot(w, i),
 * group i shm_writer_group_slot(w, i); every resource starts Initializing
 * (its monitor has not been started) with state_seq 1; groups get their
 * derived state, state_seq 1.  -E2BIG: more objects than the segment holds;
 * -EBADMSG: the snapshot references an unknown group, type or resource.
 */
int agent_model_new(const struct config_snapshot *snap, const struct shm_writer *w,
		    uint32_t max_resources, uint32_t max_groups, struct agent_model **ret);
struct agent_model *agent_model_free(struct agent_model *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_model *, agent_model_free);

/* An object id as the configuration writes it: 32 lower-case hex characters. */
void agent_model_id_hex(const uint8_t id[SHM_ID_SIZE], char ret[SHM_ID_SIZE * 2 + 1]);

/* Index of the live object with this name (case-insensitive), or -ENOENT. */
ssize_t agent_model_group_find(const struct agent_model *m, const char *name);
ssize_t agent_model_resource_find(const struct agent_model *m, const char *name);

/*
 * A new group (no members, state Offline, state_seq 1) from its
 * configuration; *ret its index.  -ENOSPC: no free group record; -EBADMSG: a
 * malformed id.
 */
int agent_model_group_add(struct agent_model *m, const struct shm_writer *w,
			  const struct config_group *cg, size_t *ret);
/* Frees group g, which must have no members. */
void agent_model_group_remove(struct agent_model *m, size_t g);

/*
 * A new resource (Initializing, state_seq 1) of group g and type type from
 * its configuration, appended to the group's members; *ret its index.
 * -ENOSPC: no free resource record; -E2BIG: its properties exceed a blob.
 */
int agent_model_resource_add(struct agent_model *m, const struct shm_writer *w,
			     const struct config_resource *cr, const char *type, size_t g,
			     size_t *ret);
/* Drops resource i from its group, from every dependency, and frees it. */
void agent_model_resource_remove(struct agent_model *m, size_t i);
/* New properties (common and private) for resource i from its configuration. */
int agent_model_resource_set_props(struct agent_model *m, size_t i,
				   const struct config_resource *cr);

/* New common properties for group g (valid ones). */
int agent_model_group_set_props(struct agent_model *m, size_t g, const struct group_props *p);

/*
 * Group gi's dependency expression is now expr (stored form; NULL or "":
 * none), naming groups providers[0..n).  -ENOMEM, and nothing changed.
 */
int agent_model_group_set_deps(struct agent_model *m, size_t gi, const char *expr,
			       const size_t *providers, size_t n);
/* True if group gi names group p in its dependency expression. */
bool agent_model_group_depends_on(const struct agent_model *m, size_t gi, size_t p);

/* Resource d depends on p now (both in one group), or no longer.  -ENOMEM; remove: -ENOENT. */
int agent_model_dep_add(struct agent_model *m, size_t d, size_t p);
int agent_model_dep_remove(struct agent_model *m, size_t d, size_t p);

/* The group state of semantics.md §5.1 from the current member states. */
int32_t agent_group_derive_state(const struct agent_model *m, const struct agent_group *g);
