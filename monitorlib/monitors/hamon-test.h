/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hamon-test internals: the script a resource's private properties describe
 * (parsed once, in open, and immutable afterwards).  The property names and
 * their meaning are documented at the top of hamon-test.c and in README.md.
 */

#include <stdbool.h>
#include <stdint.h>

#define SCRIPT_MS_MAX	   86400000u /* every duration: at most one day */
#define SCRIPT_ERRNO_MAX   4095u     /* what a negative-errno return can carry */
#define SCRIPT_STALL_MAX   1000000000u
#define SCRIPT_GARBAGE_MAX 256u	       /* CHAN_RING_SIZE: one lap */
#define SCRIPT_UNSET	   INT64_C(-1) /* an optional duration that is not set */

/* Entry points (and the pending worker) a Hang or Crash can name. */
enum script_point {
	POINT_OPEN,
	POINT_ONLINE,
	POINT_OFFLINE,
	POINT_TERMINATE,
	POINT_LOOKS_ALIVE,
	POINT_IS_ALIVE,
	POINT_CLOSE,
	POINT_PENDING, /* Crash only: the pending worker, when it would report the outcome */
	_POINT_MAX,
};

enum script_result {
	RESULT_OK,
	RESULT_FAIL,
	RESULT_HANG,  /* pending, then silent until terminated */
	RESULT_WRONG, /* pending, then reports the opposite final state, then silent */
};

enum script_checkpoint {
	CP_INCREASING,
	CP_CONSTANT,
	CP_DECREASING,
	CP_STALL, /* 1, 2, ..., stall, stall, ... */
};

enum script_garbage {
	GARBAGE_RING,
	GARBAGE_REGISTER,
};

/* A health-check answer: always alive, never, or alive until after_ms past Online. */
struct script_probe {
	bool alive;
	int64_t after_ms; /* SCRIPT_UNSET, or: alive for this long after each Online */
};

struct script_transition {
	uint32_t delay_ms;
	enum script_result result;
	uint32_t error; /* positive errno of a synchronous "fail" */
};

struct script {
	uint32_t open_error; /* 0: open succeeds */
	struct script_transition online, offline;

	uint32_t progress_interval_ms; /* 0: no progress reports */
	enum script_checkpoint progress_cp;
	uint32_t progress_stall;
	uint32_t progress_wait_hint_ms;

	bool hang[_POINT_MAX];
	bool crash[_POINT_MAX];
	int64_t crash_after_ms;
	bool crash_segv; /* false: abort() */
	bool ignore_terminate;

	struct script_probe is_alive, looks_alive;

	int64_t fail_after_ms;
	bool locked;
	int64_t lock_after_ms, unlock_after_ms;
	uint32_t lock_reason;

	int64_t garbage_after_ms;
	enum script_garbage garbage_kind;
	uint32_t garbage_count;

	char *record_file; /* malloc'ed, or NULL */
};

/* A property lookup: the value of key, or NULL if the resource has none. */
typedef const char *(*script_lookup_t)(void *userdata, const char *key);

/*
 * Fills *s from the properties lookup() finds.  0, or -EINVAL with *ret_key
 * naming the first invalid property (its value is then lookup(key)).
 * On failure *s holds nothing to free.
 */
int script_parse(struct script *s, script_lookup_t lookup, void *userdata, const char **ret_key);

/* Frees what script_parse() allocated; s may be all-zero. */
void script_done(struct script *s);

const char *script_point_to_string(enum script_point p);

/* ---- hamon-test-channel.c: GarbageAfter ---- */

/* Maps the channel pages HAGENT_CHANNEL_FDS names; best effort, call before hamon_run(). */
void channel_map(void);
bool channel_mapped(void);

/*
 * Writes garbage of kind into the producer page: count ring entries, or one
 * register.  Returns how many were written, or -errno (-ENXIO: not mapped,
 * -ENOBUFS: the ring has no room for count).
 */
int channel_forge(enum script_garbage kind, uint32_t count);
