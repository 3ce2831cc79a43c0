/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagentd's logging (style.md §2): to the journal with structured fields
 * when stderr is connected to journald (JOURNAL_STREAM), else to stderr
 * with a "<N>" priority prefix.  Only the agent logs; libraries return
 * errnos.  The *_errno() forms set errno = -r (so %m works) and return r.
 */

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
