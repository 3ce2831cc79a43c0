/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What hagentd must not forget when it dies, for the next hagentd to
 * re-attach the monitors (docs/agent-restart.md): per resource, its
 * monitor (pid, start time, channel id) and its state machine (state,
 * sequence, outstanding commands, timer deadlines, restart history).
 *
 * A file in the runtime dir (<runtime>/volatile), mapped shared: writing
 * an entry is a memcpy, no system call, and it survives a SIGKILL of the
 * agent (the page cache keeps it; on /run it is tmpfs, gone at reboot,
 * as the monitors are).  Each slot has two copies and an index naming the
 * complete one, so an agent killed in the middle of a write leaves the
 * previous copy.  The file is the agent's own (mode 0600), but it is read
 * back as untrusted: the header must match this build exactly (the state
 * machine is stored as it is in memory), and an entry counts only if its
 * monitor is alive with the same start time.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm-layout.h"
#include "macro.h"
#include "resource-fsm.h"

#define VOLATILE_FILE_NAME "volatile"

enum volatile_kind {
	VOLATILE_RESOURCE = 1,
	VOLATILE_GROUP = 2, /* only group_state and group_seq mean anything */
};

struct volatile_entry {
	uint32_t kind;		 /* enum volatile_kind */
	int32_t group_state;	 /* the group's last published state */
	uint32_t group_seq;	 /* and its sequence: readers' sequences go on */
	uint32_t reserved;
	uint8_t id[SHM_ID_SIZE]; /* the resource's or group's */
	int32_t pid;		 /* its monitor; 0: none */
	uint32_t monitor_gen;
	uint64_t pid_start; /* the monitor's start time (/proc/PID/stat, clock ticks) */
	uint64_t channel_id;
	struct res_fsm fsm;
};

struct volatile_store;

/*
 * Reads what the previous agent left in <runtime_dir>/volatile (its complete
 * entries, malloc'd into *ret_old, count *ret_n_old: resources with a
 * monitor, and groups; none if the file is missing, foreign or from another
 * build: *ret_why then says why, or NULL), then replaces the file with an
 * empty one of n_slots slots.
 */
int volatile_store_open(const char *runtime_dir, size_t n_slots, struct volatile_entry **ret_old,
			size_t *ret_n_old, const char **ret_why, struct volatile_store **ret);
struct volatile_store *volatile_store_free(struct volatile_store *s);
/* Frees and removes the file: nothing is left to re-attach (a stop that closed everything). */
void volatile_store_remove(struct volatile_store *s);

void volatile_store_put(struct volatile_store *s, size_t slot, const struct volatile_entry *e);
void volatile_store_clear(struct volatile_store *s, size_t slot);

/* The start time of process pid (field 22 of /proc/PID/stat); -ESRCH if it is gone. */
int proc_start_time(pid_t pid, uint64_t *ret);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct volatile_store *, volatile_store_free);
