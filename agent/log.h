/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagentd's logging (style.md §2): to the journal with structured fields
 * when stderr is connected to journald (JOURNAL_STREAM), else to stderr
 * with a "<N>" priority prefix.  Only the agent logs; libraries return
 * errnos.  The *_errno() forms set errno = -r (so %m works) and return r.
 *
 * log_struct() adds fields (HAGENT_RESOURCE=, ...) and a MESSAGE_ID= to a
 * journal record; on stderr the message prints as any other, without them.
 * The record is built by log_record_build(), which does no I/O (the tests
 * call it).  docs/logging.md lists the ids (log-ids.h) and the fields.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <syslog.h>

/* Messages above level (LOG_DEBUG is the most verbose) are dropped. Default LOG_INFO. */
void log_set_max_level(int level);
/* "debug", "info", ... or a number 0..7; -EINVAL otherwise. */
int log_level_from_string(const char *s);

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *format, ...) __attribute__((format(printf, 6, 7)));

#define log_full_errno(level, error, ...)                                                          \
	log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_error(...)	 log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...)	 log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...)	 log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...)	 log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)

#define log_error_errno(r, ...)	  log_full_errno(LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, (r), __VA_ARGS__)
#define log_notice_errno(r, ...)  log_full_errno(LOG_NOTICE, (r), __VA_ARGS__)
#define log_info_errno(r, ...)	  log_full_errno(LOG_INFO, (r), __VA_ARGS__)
#define log_debug_errno(r, ...)	  log_full_errno(LOG_DEBUG, (r), __VA_ARGS__)

/* One structured field: name as journald takes it (A-Z, 0-9, _), value NULL: left out. */
struct log_field {
	const char *name;
	const char *value;
};

#define LOG_MESSAGE_MAX	    2048u /* bytes of MESSAGE= text, including the NUL */
#define LOG_FIELD_NAME_MAX  64u	  /* journald's limit on a field name */
#define LOG_FIELD_VALUE_MAX 255u  /* bytes of an escaped value; a model name (63) always fits */
#define LOG_FIELDS_MAX	    8u	  /* fields of one record besides the standard ones */
/* MESSAGE, PRIORITY, CODE_FILE, CODE_LINE, CODE_FUNC, ERRNO, MESSAGE_ID */
#define LOG_STD_FIELDS 7u

/* A journal record as sd_journal_sendv() takes it: iov[i] is "NAME=value" in buf. */
struct log_record {
	struct iovec iov[LOG_STD_FIELDS + LOG_FIELDS_MAX];
	size_t n_iov;
	size_t used; /* bytes of buf */
	char buf[sizeof("MESSAGE=") + LOG_MESSAGE_MAX +
		 (LOG_STD_FIELDS - 1 + LOG_FIELDS_MAX) *
			 (LOG_FIELD_NAME_MAX + 1 + LOG_FIELD_VALUE_MAX + 1)];
};

/*
 * Fills *rec with the record of message: PRIORITY=level, CODE_*, ERRNO= only
 * if error is not 0 (either sign), MESSAGE_ID= if message_id is not NULL,
 * then fields in order.  The message goes in as it is (journald keeps
 * newlines), truncated to LOG_MESSAGE_MAX - 1 bytes; a value has its control
 * characters written as \xNN and is cut at a character boundary to
 * LOG_FIELD_VALUE_MAX bytes.  -EINVAL: message_id is not 32 lower-case hex
 * characters, or a field name is not one journald keeps from a client
 * (empty, too long, not [A-Z0-9_], a leading digit or _) or is a standard
 * one; -E2BIG: more than LOG_FIELDS_MAX fields.  No I/O.
 */
int log_record_build(struct log_record *rec, int level, int error, const char *file, int line,
		     const char *func, const char *message_id, const struct log_field *fields,
		     size_t n_fields, const char *message);
/* The value of field name in rec (NUL-terminated), or NULL if it has none. */
const char *log_record_get(const struct log_record *rec, const char *name);

/*
 * Where journal records go: fn instead of sd_journal_sendv() (NULL: back to
 * it).  For tests, which have no journald: with JOURNAL_STREAM naming their
 * stderr they see each record as the journal would.
 */
void log_set_journal_sendv(int (*fn)(const struct iovec *iov, int n));

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
			const char *message_id, const struct log_field *fields, size_t n_fields,
			const char *format, ...) __attribute__((format(printf, 9, 10)));

/* log_struct(LOG_NOTICE, r, LOG_ID_..., fields, n, "format", ...): returns r as log_*_errno(). */
#define log_struct(level, error, message_id, fields, n_fields, ...)                                \
	log_struct_internal((level), (error), __FILE__, __LINE__, __func__, (message_id),          \
			    (fields), (n_fields), __VA_ARGS__)

/*
 * The agent's structured events.  Strings as the model has them; id is 32
 * hex characters, group NULL: left out.
 */
struct log_resource {
	const char *name;
	const char *id;
	const char *group;
};

/*
 * "Resource NAME: OLD -> NEW." (with error not 0: "...: %m." and ERRNO=),
 * HAGENT_RESOURCE=, HAGENT_RESOURCE_ID=, HAGENT_GROUP=, HAGENT_STATE=,
 * HAGENT_OLD_STATE=; MESSAGE_ID LOG_ID_RESOURCE_FAILED if failed, else
 * LOG_ID_RESOURCE_STATE.
 */
int log_resource_state_internal(const char *file, int line, const char *func, int level,
				int error, bool failed, const struct log_resource *res,
				const char *old_state, const char *new_state);
#define log_resource_state(level, error, failed, res, old_state, new_state)                        \
	log_resource_state_internal(__FILE__, __LINE__, __func__, (level), (error), (failed),      \
				    (res), (old_state), (new_state))

/* "Group NAME: OLD -> NEW.", HAGENT_GROUP=, HAGENT_GROUP_ID=, the states, LOG_ID_GROUP_STATE. */
int log_group_state_internal(const char *file, int line, const char *func, int level,
			     const char *group, const char *group_id, const char *old_state,
			     const char *new_state);
#define log_group_state(level, group, group_id, old_state, new_state)                              \
	log_group_state_internal(__FILE__, __LINE__, __func__, (level), (group), (group_id),       \
				 (old_state), (new_state))

/*
 * "Resource NAME: failure COUNT in the restart window: VERDICT.", the
 * resource's fields, HAGENT_FAILURE_COUNT=, HAGENT_RESTART_VERDICT=,
 * LOG_ID_RESOURCE_RESTART_POLICY.
 */
int log_restart_policy_internal(const char *file, int line, const char *func, int level,
				const struct log_resource *res, unsigned count,
				const char *verdict);
#define log_restart_policy(level, res, count, verdict)                                             \
	log_restart_policy_internal(__FILE__, __LINE__, __func__, (level), (res), (count),         \
				    (verdict))
