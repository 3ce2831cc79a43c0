/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The logging backend of hagentd: sd_journal_send() with PRIORITY=,
 * CODE_FILE=, CODE_LINE=, CODE_FUNC= and ERRNO= when journald reads our
 * stderr, "<N>message" lines on stderr otherwise (sd-daemon.h's SD_ERR etc.).
 * Structured records (log_struct()) are built in a struct log_record on the
 * stack and sent with sd_journal_sendv(); their fields never reach stderr.
 */
#define SD_JOURNAL_SUPPRESS_LOCATION /* we pass the caller's location ourselves */

#include <assert.h>
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

#include "log-ids.h"
#include "log.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static int log_max_level = LOG_INFO;
static int (*log_sendv)(const struct iovec *iov, int n) = sd_journal_sendv;

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

void log_set_journal_sendv(int (*fn)(const struct iovec *iov, int n))
{
	log_sendv = fn ? fn : sd_journal_sendv;
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

/* A name journald keeps from a client, and not one of the standard fields we set. */
static bool field_name_is_valid(const char *name)
{
	static const char *const standard[] = {"MESSAGE",   "PRIORITY", "CODE_FILE", "CODE_LINE",
					       "CODE_FUNC", "ERRNO",	"MESSAGE_ID"};
	size_t n = strlen(name);

	if (n == 0 || n > LOG_FIELD_NAME_MAX || name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] >= 'A' && name[i] <= 'Z') && !(name[i] >= '0' && name[i] <= '9') &&
		    name[i] != '_')
			return false;
	for (size_t i = 0; i < N_ELEMENTS(standard); i++)
		if (strcmp(name, standard[i]) == 0)
			return false;
	return true;
}

static bool message_id_is_valid(const char *id)
{
	size_t n = strlen(id);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(id[i] >= '0' && id[i] <= '9') && !(id[i] >= 'a' && id[i] <= 'f'))
			return false;
	return true;
}

/*
 * value into out with control characters as \xNN (so that journalctl shows
 * the field as text, not as a blob), at most LOG_FIELD_VALUE_MAX bytes and
 * never half a UTF-8 sequence; returns the length.  Other bytes, backslash
 * included, stay as they are: a name matches its field byte for byte.
 */
static size_t escape_value(char *out, const char *value)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
		bool ctrl = *p < 0x20 || *p == 0x7f;

		if (n + (ctrl ? 4 : 1) > LOG_FIELD_VALUE_MAX) {
			if ((*p & 0xc0) == 0x80) { /* cut inside a sequence: drop its start */
				while (n > 0 && ((unsigned char) out[n - 1] & 0xc0) == 0x80)
					n--;
				if (n > 0 && (unsigned char) out[n - 1] >= 0xc0)
					n--;
			}
			break;
		}
		if (ctrl)
			n += (size_t) sprintf(out + n, "\\x%02x", *p);
		else
			out[n++] = (char) *p;
	}
	return n;
}

/* Appends "name=value" to rec; the message raw, other values escaped. */
static void record_add(struct log_record *rec, const char *name, const char *value, bool raw)
{
	size_t nlen = strlen(name), start = rec->used, vlen;
	char *p = rec->buf + start;

	/* The buffer is sized for LOG_STD_FIELDS + LOG_FIELDS_MAX fields at their limits. */
	assert(rec->n_iov < N_ELEMENTS(rec->iov));
	assert(start + nlen + 1 + (raw ? LOG_MESSAGE_MAX : LOG_FIELD_VALUE_MAX + 1) <=
	       sizeof(rec->buf));
	memcpy(p, name, nlen);
	p[nlen] = '=';
	if (raw) {
		vlen = strnlen(value, LOG_MESSAGE_MAX - 1);
		memcpy(p + nlen + 1, value, vlen);
	} else
		vlen = escape_value(p + nlen + 1, value);
	p[nlen + 1 + vlen] = '\0'; /* not sent: iov_len ends before it */
	rec->iov[rec->n_iov++] = (struct iovec){.iov_base = p, .iov_len = nlen + 1 + vlen};
	rec->used = start + nlen + 1 + vlen + 1;
}

int log_record_build(struct log_record *rec, int level, int error, const char *file, int line,
		     const char *func, const char *message_id, const struct log_field *fields,
		     size_t n_fields, const char *message)
{
	char num[16];

	if (n_fields > LOG_FIELDS_MAX)
		return -E2BIG;
	if (message_id && !message_id_is_valid(message_id))
		return -EINVAL;
	for (size_t i = 0; i < n_fields; i++)
		if (!field_name_is_valid(fields[i].name))
			return -EINVAL;

	rec->n_iov = 0;
	rec->used = 0;
	record_add(rec, "MESSAGE", message, true);
	(void) snprintf(num, sizeof(num), "%i", level);
	record_add(rec, "PRIORITY", num, false);
	record_add(rec, "CODE_FILE", file, false);
	(void) snprintf(num, sizeof(num), "%i", line);
	record_add(rec, "CODE_LINE", num, false);
	record_add(rec, "CODE_FUNC", func, false);
	if (error) {
		(void) snprintf(num, sizeof(num), "%i", error < 0 ? -error : error);
		record_add(rec, "ERRNO", num, false);
	}
	if (message_id)
		record_add(rec, "MESSAGE_ID", message_id, false);
	for (size_t i = 0; i < n_fields; i++)
		if (fields[i].value)
			record_add(rec, fields[i].name, fields[i].value, false);
	return 0;
}

const char *log_record_get(const struct log_record *rec, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < rec->n_iov; i++) {
		const char *f = rec->iov[i].iov_base;

		if (rec->iov[i].iov_len > n && strncmp(f, name, n) == 0 && f[n] == '=')
			return f + n + 1;
	}
	return NULL;
}

static void log_to_journal(int level, int error, const char *file, int line, const char *func,
			   const char *message_id, const struct log_field *fields, size_t n_fields,
			   const char *msg)
{
	struct log_record rec;

	/* A bad field or id is the caller's bug: the message still goes out, without them. */
	if (log_record_build(&rec, level, error, file, line, func, message_id, fields, n_fields,
			     msg) < 0)
		(void) log_record_build(&rec, level, error, file, line, func, NULL, NULL, 0, msg);
	(void) log_sendv(rec.iov, (int) rec.n_iov);
}

static int log_va(int level, int error, const char *file, int line, const char *func,
		  const char *message_id, const struct log_field *fields, size_t n_fields,
		  const char *format, va_list ap)
{
	int saved = errno, r = error < 0 ? error : -error;
	char msg[LOG_MESSAGE_MAX];

	if (level > log_max_level) {
		errno = saved;
		return r;
	}
	errno = error ? -r : saved; /* for %m */
	(void) vsnprintf(msg, sizeof(msg), format, ap);

	if (stderr_is_journal())
		log_to_journal(level, error, file, line, func, message_id, fields, n_fields, msg);
	else
		(void) fprintf(stderr, "<%i>%s\n", level, msg);
	errno = error ? -r : saved;
	return r;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = log_va(level, error, file, line, func, NULL, NULL, 0, format, ap);
	va_end(ap);
	return r;
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
			const char *message_id, const struct log_field *fields, size_t n_fields,
			const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = log_va(level, error, file, line, func, message_id, fields, n_fields, format, ap);
	va_end(ap);
	return r;
}

/* printf's %s of NULL is undefined; a state without a name is an invalid one. */
static const char *state_str(const char *s)
{
	return s ? s : "invalid";
}

int log_resource_state_internal(const char *file, int line, const char *func, int level,
				int error, bool failed, const struct log_resource *res,
				const char *old_state, const char *new_state)
{
	const char *from = state_str(old_state), *to = state_str(new_state);
	const struct log_field f[] = {
		{"HAGENT_RESOURCE", res->name}, {"HAGENT_RESOURCE_ID", res->id},
		{"HAGENT_GROUP", res->group},	{"HAGENT_STATE", to},
		{"HAGENT_OLD_STATE", from},
	};
	const char *id = failed ? LOG_ID_RESOURCE_FAILED : LOG_ID_RESOURCE_STATE;

	if (error)
		return log_struct_internal(level, error, file, line, func, id, f, N_ELEMENTS(f),
					   "Resource %s: %s -> %s: %m.", res->name, from, to);
	return log_struct_internal(level, 0, file, line, func, id, f, N_ELEMENTS(f),
				   "Resource %s: %s -> %s.", res->name, from, to);
}

int log_group_state_internal(const char *file, int line, const char *func, int level,
			     const char *group, const char *group_id, const char *old_state,
			     const char *new_state)
{
	const char *from = state_str(old_state), *to = state_str(new_state);
	const struct log_field f[] = {
		{"HAGENT_GROUP", group},
		{"HAGENT_GROUP_ID", group_id},
		{"HAGENT_STATE", to},
		{"HAGENT_OLD_STATE", from},
	};

	return log_struct_internal(level, 0, file, line, func, LOG_ID_GROUP_STATE, f,
				   N_ELEMENTS(f), "Group %s: %s -> %s.", group, from, to);
}

int log_restart_policy_internal(const char *file, int line, const char *func, int level,
				const struct log_resource *res, unsigned count,
				const char *verdict)
{
	char n[16];
	const struct log_field f[] = {
		{"HAGENT_RESOURCE", res->name},	     {"HAGENT_RESOURCE_ID", res->id},
		{"HAGENT_GROUP", res->group},	     {"HAGENT_FAILURE_COUNT", n},
		{"HAGENT_RESTART_VERDICT", verdict},
	};

	(void) snprintf(n, sizeof(n), "%u", count);
	return log_struct_internal(level, 0, file, line, func, LOG_ID_RESOURCE_RESTART_POLICY, f,
				   N_ELEMENTS(f), "Resource %s: failure %u in the restart window: %s.",
				   res->name, count, state_str(verdict));
}
