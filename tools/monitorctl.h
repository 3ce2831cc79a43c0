/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What monitorctl's parts share: the documented exit codes, the parsed
 * command line, and the opening of the state segment.  Every command
 * function prints its own result (stdout) or error (stderr) and returns
 * the exit code.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hagent/shm.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_INVALID_ARGUMENT = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_ACCESS_DENIED = 4,
	EXIT_RESOURCE_LOCKED = 5,
	EXIT_TIMED_OUT = 6,
	EXIT_NOT_RUNNING = 7,
};

/* The options that only some commands take (struct args.given). */
enum {
	OPT_GROUP = 1u << 0,
	OPT_TYPE = 1u << 1,
	OPT_SET = 1u << 2,
	OPT_WAIT = 1u << 3,
	OPT_TIMEOUT = 1u << 4,
	OPT_FORCE = 1u << 5,
	OPT_DEPENDS_ON = 1u << 6,
	OPT_IGNORE_LOCKED = 1u << 7,
	OPT_PARAM = 1u << 8,
	OPT_FILTER = 1u << 9,
	OPT_COUNT = 1u << 10,
	OPT_RECONNECT_TIMEOUT = 1u << 11,
};

/* The arguments of a repeatable option, in order. */
struct arg_list {
	char **items;
	size_t n;
};

struct args {
	const char *runtime_dir;
	bool json;
	unsigned given; /* OPT_* seen on the command line */
	const char *group, *type;
	struct arg_list sets;	    /* --set KEY=VALUE (checked) */
	struct arg_list depends_on; /* --depends-on R */
	struct arg_list params;	    /* --param KEY=VALUE (checked) */
	uint64_t timeout_ns;	    /* --timeout; 0: wait without limit */
	const char *filter;	    /* watch --filter, as given (monitorctl-watch.c checks it) */
	uint64_t count;		    /* watch --count (>= 1) */
	uint64_t reconnect_timeout_ns; /* watch --reconnect-timeout; 0: wait without limit */
	char **cmd;		    /* COMMAND and its arguments, NULL-terminated */
	int n_cmd;
};

/* Maps the state segment of dir, or says why not and returns the exit code (> 0). */
int state_open(const char *dir, hagent_shm **ret);

/* Flushes stdout; EXIT_OK, or EXIT_FAIL after saying why the output failed. */
int output_flush(void);

/*
 * The commands that change something, through hagentd's control API
 * (monitorctl-mutate.c).  a->cmd holds the command words, then NAME and the
 * rest; the dispatcher has checked the arguments and options.
 */
int cmd_group_add(const struct args *a);
int cmd_group_remove(const struct args *a);
int cmd_resource_add(const struct args *a);
int cmd_resource_remove(const struct args *a);
int cmd_resource_set(const struct args *a);
int cmd_resource_online(const struct args *a);
int cmd_resource_offline(const struct args *a);
int cmd_resource_add_dependency(const struct args *a);
int cmd_resource_remove_dependency(const struct args *a);
int cmd_group_rename(const struct args *a);
int cmd_resource_rename(const struct args *a);

struct control_result;

/*
 * The state an online or offline reached (state_name), or "pending" while
 * it runs; with --json {"name","id","state","sequence"} and, without --wait,
 * "pending".  id: the object's, when the segment gave it (else null).
 */
int print_state(const struct args *a, const struct control_result *res, const char *state_name,
		const uint8_t *id);

/* The group commands that change something (monitorctl-group.c). */
int cmd_group_online(const struct args *a);
int cmd_group_offline(const struct args *a);
int cmd_group_set(const struct args *a);
int cmd_group_set_dependency(const struct args *a);

/*
 * watch [NAME]... (monitorctl-watch.c): one line per change until --count
 * lines, SIGINT or SIGTERM; follows hagentd across restarts, exit 7 when
 * none serves within --reconnect-timeout.  watch_filter_parse() turns --filter's words
 * into HAGENT_CHANGE_* bits, or says which word is wrong (-EINVAL).
 */
int cmd_watch(const struct args *a);
int watch_filter_parse(const char *s, uint32_t *ret);
