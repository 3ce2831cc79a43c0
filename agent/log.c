/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The logging backend of hagentd: sd_journal_send() with PRIORITY=,
 * CODE_FILE=, CODE_LINE=, CODE_FUNC= and ERRNO= when journald reads our
 * stderr, "<N>message" lines on stderr otherwise (sd-daemon.h's SD_ERR etc.).
 */
#define SD_JOURNAL_SUPPRESS_LOCATION /* we pass the caller's location ourselves */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

static int log_max_level = LOG_INFO;

void log_set_max_level(int level)
{
	log_max_level = level;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug"};

	for (int i = 0; i < 8; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

/* True if stderr is the stream journald handed us (JOURNAL_STREAM is "dev:ino" of it). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *format, ...)
{
	int saved = errno, r = error < 0 ? error : -error;
	char msg[2048];
	va_list ap;

	if (level > log_max_level) {
		errno = saved;
		return r;
	}
	errno = error ? -r : saved; /* for %m */
	va_start(ap, format);
	(void) vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);

	if (stderr_is_journal())
		(void) sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "CODE_FILE=%s",
				       file, "CODE_LINE=%i", line, "CODE_FUNC=%s", func,
				       error ? "ERRNO=%i" : NULL, -r, NULL);
	else
		(void) fprintf(stderr, "<%i>%s\n", level, msg);
	errno = error ? -r : saved;
	return r;
}
