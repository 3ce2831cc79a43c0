/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd's logging (agent/log.c): the journal record log_record_build()
 * makes (standard fields, ERRNO= only with an error, MESSAGE_ID= format,
 * field names as journald keeps them, values escaped and cut), the records
 * of the agent's structured events as the journal would get them, and the
 * stderr form, which stays "<N>message" without any field.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-ids.h"
#include "log.h"
#include "shm-layout.h"
#include "test-util.h"

#define ID_HEX "0123456789abcdef0123456789abcdef"

static const char *const all_ids[] = {LOG_ID_RESOURCE_STATE, LOG_ID_RESOURCE_FAILED,
				      LOG_ID_GROUP_STATE, LOG_ID_RESOURCE_RESTART_POLICY};

/* Builds a record with the usual location and level; returns log_record_build()'s result. */
static int build(struct log_record *rec, int error, const char *message_id,
		 const struct log_field *fields, size_t n, const char *message)
{
	return log_record_build(rec, LOG_NOTICE, error, "agent/x.c", 42, "fn", message_id, fields,
				n, message);
}

/* Every iov is "NAME=value" with the NUL right after it (log_record_get relies on it). */
static void check_shape(const struct log_record *rec)
{
	for (size_t i = 0; i < rec->n_iov; i++) {
		const char *f = rec->iov[i].iov_base;

		ck_assert_uint_eq(strlen(f), rec->iov[i].iov_len);
		ck_assert_ptr_nonnull(memchr(f, '=', rec->iov[i].iov_len));
	}
}

START_TEST(test_record_standard)
{
	struct log_record rec;

	ck_assert_int_eq(build(&rec, 0, NULL, NULL, 0, "Hello."), 0);
	check_shape(&rec);
	ck_assert_uint_eq(rec.n_iov, 5);
	ck_assert_str_eq(rec.iov[0].iov_base, "MESSAGE=Hello.");
	ck_assert_str_eq(log_record_get(&rec, "PRIORITY"), "5");
	ck_assert_str_eq(log_record_get(&rec, "CODE_FILE"), "agent/x.c");
	ck_assert_str_eq(log_record_get(&rec, "CODE_LINE"), "42");
	ck_assert_str_eq(log_record_get(&rec, "CODE_FUNC"), "fn");
	ck_assert_ptr_null(log_record_get(&rec, "ERRNO"));
	ck_assert_ptr_null(log_record_get(&rec, "MESSAGE_ID"));
	/* a prefix of a name is not the name */
	ck_assert_ptr_null(log_record_get(&rec, "CODE"));
	ck_assert_ptr_null(log_record_get(&rec, "MESSAGE_"));
}
END_TEST

START_TEST(test_record_errno)
{
	struct log_record rec;

	ck_assert_int_eq(build(&rec, -EACCES, NULL, NULL, 0, "x"), 0);
	ck_assert_str_eq(log_record_get(&rec, "ERRNO"), "13");
	ck_assert_uint_eq(rec.n_iov, 6);
	ck_assert_int_eq(build(&rec, EACCES, NULL, NULL, 0, "x"), 0); /* either sign */
	ck_assert_str_eq(log_record_get(&rec, "ERRNO"), "13");
	ck_assert_int_eq(build(&rec, 0, NULL, NULL, 0, "x"), 0);
	ck_assert_ptr_null(log_record_get(&rec, "ERRNO"));
}
END_TEST

START_TEST(test_record_message_id)
{
	static const char *const bad[] = {
		"0123456789ABCDEF0123456789abcdef",	/* upper case */
		"0123456789abcdef0123456789abcde",	/* 31 */
		"0123456789abcdef0123456789abcdef0",	/* 33 */
		"01234567-89ab-cdef-0123-456789abcdef", /* UUID form */
		"0123456789abcdef0123456789abcdeg",
		"",
	};
	struct log_record rec, before;

	ck_assert_int_eq(build(&rec, 0, ID_HEX, NULL, 0, "x"), 0);
	ck_assert_str_eq(log_record_get(&rec, "MESSAGE_ID"), ID_HEX);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(&rec, 0xa5, sizeof(rec));
		memcpy(&before, &rec, sizeof(rec));
		ck_assert_int_eq(build(&rec, 0, bad[i], NULL, 0, "x"), -EINVAL);
		ck_assert_msg(memcmp(&rec, &before, sizeof(rec)) == 0, "%s: record written", bad[i]);
	}
	/* log-ids.h: every id is valid and none is used twice */
	for (size_t i = 0; i < ELEMENTSOF(all_ids); i++) {
		ck_assert_int_eq(build(&rec, 0, all_ids[i], NULL, 0, "x"), 0);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(all_ids[i], all_ids[j]);
	}
}
END_TEST

START_TEST(test_record_fields)
{
	const struct log_field f[] = {
		{"HAGENT_RESOURCE", "web"},
		{"HAGENT_GROUP", NULL}, /* left out */
		{"HAGENT_STATE", "online"},
		{"A_1", ""},
	};
	struct log_record rec;

	ck_assert_int_eq(build(&rec, -EIO, ID_HEX, f, ELEMENTSOF(f), "x"), 0);
	check_shape(&rec);
	/* the standard fields, then the given ones in order */
	ck_assert_uint_eq(rec.n_iov, 7 + 3);
	ck_assert_str_eq(rec.iov[7].iov_base, "HAGENT_RESOURCE=web");
	ck_assert_str_eq(rec.iov[8].iov_base, "HAGENT_STATE=online");
	ck_assert_str_eq(rec.iov[9].iov_base, "A_1=");
	ck_assert_ptr_null(log_record_get(&rec, "HAGENT_GROUP"));
}
END_TEST

START_TEST(test_record_field_names)
{
	static const char *const bad[] = {
		"",	     "hagent_state", "HAGENT-STATE", "HAGENT STATE", "1ABC",	  "_PID",
		"MESSAGE",   "PRIORITY",     "CODE_FILE",    "CODE_LINE",    "CODE_FUNC", "ERRNO",
		"MESSAGE_ID", "ÄRGER",
	};
	char longest[LOG_FIELD_NAME_MAX + 2];
	struct log_field f = {NULL, "v"};
	struct log_record rec;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		f.name = bad[i];
		ck_assert_msg(build(&rec, 0, NULL, &f, 1, "x") == -EINVAL, "'%s' taken", bad[i]);
	}
	memset(longest, 'Z', LOG_FIELD_NAME_MAX);
	longest[LOG_FIELD_NAME_MAX] = '\0';
	f.name = longest;
	ck_assert_int_eq(build(&rec, 0, NULL, &f, 1, "x"), 0);
	ck_assert_str_eq(log_record_get(&rec, longest), "v");
	longest[LOG_FIELD_NAME_MAX] = 'Z';
	longest[LOG_FIELD_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(build(&rec, 0, NULL, &f, 1, "x"), -EINVAL);
}
END_TEST

/* LOG_FIELDS_MAX fields with values at the limit and the longest message fit; one more does not. */
START_TEST(test_record_capacity)
{
	struct log_field f[LOG_FIELDS_MAX + 1];
	char names[LOG_FIELDS_MAX + 1][LOG_FIELD_NAME_MAX + 1];
	char value[1000], msg[LOG_MESSAGE_MAX + 100];
	struct log_record rec;

	memset(value, '\n', sizeof(value) - 1); /* escapes to 4 bytes each */
	value[sizeof(value) - 1] = '\0';
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(f); i++) {
		memset(names[i], 'N', LOG_FIELD_NAME_MAX);
		names[i][LOG_FIELD_NAME_MAX] = '\0';
		names[i][0] = (char) ('A' + i);
		f[i] = (struct log_field){names[i], value};
	}
	ck_assert_int_eq(log_record_build(&rec, LOG_DEBUG, -ENOMEM, value, 1, value, ID_HEX, f,
					  LOG_FIELDS_MAX, msg),
			 0);
	check_shape(&rec);
	ck_assert_uint_eq(rec.n_iov, LOG_STD_FIELDS + LOG_FIELDS_MAX);
	ck_assert_uint_eq(rec.iov[0].iov_len, strlen("MESSAGE=") + LOG_MESSAGE_MAX - 1);
	for (size_t i = 0; i < LOG_FIELDS_MAX; i++) {
		const char *v = log_record_get(&rec, names[i]);

		ck_assert_uint_eq(strlen(v), LOG_FIELD_VALUE_MAX / 4 * 4);
		ck_assert(strncmp(v, "\\x0a\\x0a", 8) == 0);
	}
	ck_assert_int_eq(build(&rec, 0, NULL, f, LOG_FIELDS_MAX + 1, "x"), -E2BIG);
}
END_TEST

/* The value of field V after building a record with value. */
static const char *value_of(struct log_record *rec, const char *value)
{
	const struct log_field f = {"V", value};

	ck_assert_int_eq(build(rec, 0, NULL, &f, 1, "x"), 0);
	return log_record_get(rec, "V");
}

static char *repeat(char *buf, const char *s, size_t times, const char *tail)
{
	buf[0] = '\0';
	for (size_t i = 0; i < times; i++)
		strcat(buf, s);
	return strcat(buf, tail);
}

START_TEST(test_record_values)
{
	char in[1200], want[1200];
	struct log_record rec;

	/* the longest names the model holds pass unchanged, multi-byte ones too */
	repeat(in, "n", SHM_NAME_MAX - 1, "");
	ck_assert_str_eq(value_of(&rec, in), in);
	repeat(in, "€", (SHM_NAME_MAX - 1) / 3, "");
	ck_assert_uint_eq(strlen(in), SHM_NAME_MAX - 1);
	ck_assert_str_eq(value_of(&rec, in), in);
	/* a backslash is kept (a name matches its field), controls are escaped */
	ck_assert_str_eq(value_of(&rec, "a\\b c"), "a\\b c");
	ck_assert_str_eq(value_of(&rec, "a\nb\tc\x7f\x1b"), "a\\x0ab\\x09c\\x7f\\x1b");
	/* cut at LOG_FIELD_VALUE_MAX bytes */
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", 300, "")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX, ""));
	/* ... never inside a UTF-8 sequence or an escape */
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", LOG_FIELD_VALUE_MAX - 1, "é")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX - 1, ""));
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", LOG_FIELD_VALUE_MAX - 2, "é!")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX - 2, "é"));
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", LOG_FIELD_VALUE_MAX - 2, "€")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX - 2, ""));
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", LOG_FIELD_VALUE_MAX - 3, "\n")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX - 3, ""));
	ck_assert_str_eq(value_of(&rec, repeat(in, "a", LOG_FIELD_VALUE_MAX - 4, "\nb")),
			 repeat(want, "a", LOG_FIELD_VALUE_MAX - 4, "\\x0a"));
	/* the message goes in as it is: journald keeps its newlines */
	ck_assert_int_eq(build(&rec, 0, NULL, NULL, 0, "two\nlines\t\\"), 0);
	ck_assert_str_eq(log_record_get(&rec, "MESSAGE"), "two\nlines\t\\");
}
END_TEST

/* ---- through log_*(): what reaches stderr, and what reaches "the journal" ---- */

#define SINK_MAX 8

/* The records log_set_journal_sendv() hands us, as the journal would get them. */
static struct sink {
	struct log_record rec[SINK_MAX];
	size_t n;
} sink;

static int sink_sendv(const struct iovec *iov, int n)
{
	struct log_record *r;

	ck_assert_uint_lt(sink.n, SINK_MAX);
	r = &sink.rec[sink.n++];
	r->n_iov = 0;
	r->used = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_uint_le(r->used + iov[i].iov_len + 1, sizeof(r->buf));
		memcpy(r->buf + r->used, iov[i].iov_base, iov[i].iov_len);
		r->buf[r->used + iov[i].iov_len] = '\0';
		r->iov[r->n_iov++] = (struct iovec){r->buf + r->used, iov[i].iov_len};
		r->used += iov[i].iov_len + 1;
	}
	return 0;
}

static int saved_stderr = -1, capture_fd = -1;

/* stderr into a memfd from here on; with journal, JOURNAL_STREAM names it. */
static void capture_begin(bool journal)
{
	struct stat st;
	char env[64];

	fflush(stderr);
	capture_fd = memfd_create("test-log", MFD_CLOEXEC);
	ck_assert_int_ge(capture_fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(capture_fd, STDERR_FILENO), STDERR_FILENO);
	ck_assert_int_eq(fstat(capture_fd, &st), 0);
	/* not journal: a stream that is not our stderr must not count as the journal */
	(void) snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long) st.st_dev,
			(unsigned long long) st.st_ino + (journal ? 0 : 1));
	ck_assert_int_eq(setenv("JOURNAL_STREAM", env, 1), 0);
	sink.n = 0;
	log_set_journal_sendv(sink_sendv);
}

/* stderr back; what was written to it meanwhile, in buf. */
static const char *capture_end(char *buf, size_t size)
{
	ssize_t n;

	fflush(stderr);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	n = pread(capture_fd, buf, size - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(capture_fd);
	(void) unsetenv("JOURNAL_STREAM");
	log_set_journal_sendv(NULL);
	return buf;
}

static const struct log_resource res = {"web", ID_HEX, "front"};

/* The agent's events, in both forms. */
static void log_events(void)
{
	ck_assert_int_eq(log_resource_state(LOG_INFO, 0, false, &res, "offline", "online-pending"),
			 0);
	errno = 0;
	ck_assert_int_eq(log_resource_state(LOG_WARNING, -EACCES, true, &res, "online-pending",
					    "failed"),
			 -EACCES);
	ck_assert_int_eq(errno, EACCES);
	(void) log_resource_state(LOG_INFO, 0, true, &res, "online", "failed");
	(void) log_group_state(LOG_INFO, "front", ID_HEX, "offline", "partial-online");
	(void) log_restart_policy(LOG_NOTICE, &res, 2, "restart");
}

START_TEST(test_stderr_form)
{
	const struct log_field f[] = {{"HAGENT_RESOURCE", "web"}};
	const struct log_field bad[] = {{"bad name", "web"}};
	char out[4096];

	capture_begin(false);
	log_info("Plain %d.", 1);
	(void) log_warning_errno(-ENOENT, "With errno: %m.");
	(void) log_struct(LOG_NOTICE, 0, LOG_ID_RESOURCE_STATE, f, 1, "Structured %s.", "one");
	(void) log_struct(LOG_ERR, -EIO, NULL, bad, 1, "Bad field, still logged: %m.");
	log_events();
	capture_end(out, sizeof(out));
	ck_assert_str_eq(out, "<6>Plain 1.\n"
			      "<4>With errno: No such file or directory.\n"
			      "<5>Structured one.\n"
			      "<3>Bad field, still logged: Input/output error.\n"
			      "<6>Resource web: offline -> online-pending.\n"
			      "<4>Resource web: online-pending -> failed: Permission denied.\n"
			      "<6>Resource web: online -> failed.\n"
			      "<6>Group front: offline -> partial-online.\n"
			      "<5>Resource web: failure 2 in the restart window: restart.\n");
	ck_assert_uint_eq(sink.n, 0);
}
END_TEST

START_TEST(test_max_level)
{
	char out[256];

	log_set_max_level(LOG_NOTICE);
	capture_begin(false);
	log_info("dropped");
	(void) log_resource_state(LOG_INFO, 0, false, &res, "offline", "online");
	log_notice("kept");
	capture_end(out, sizeof(out));
	log_set_max_level(LOG_INFO);
	ck_assert_str_eq(out, "<5>kept\n");
}
END_TEST

/* Field f of sink record i. */
static const char *field(size_t i, const char *f)
{
	ck_assert_uint_lt(i, sink.n);
	return log_record_get(&sink.rec[i], f);
}

START_TEST(test_journal_records)
{
	const struct log_field bad[] = {{"bad name", "web"}};
	char out[256];

	capture_begin(true);
	log_events();
	(void) log_struct(LOG_ERR, -EIO, ID_HEX, bad, 1, "Bad field: %m.");
	capture_end(out, sizeof(out));
	ck_assert_str_eq(out, ""); /* nothing twice */
	ck_assert_uint_eq(sink.n, 6);

	ck_assert_str_eq(field(0, "MESSAGE"), "Resource web: offline -> online-pending.");
	ck_assert_str_eq(field(0, "PRIORITY"), "6");
	ck_assert_str_eq(field(0, "MESSAGE_ID"), LOG_ID_RESOURCE_STATE);
	ck_assert_str_eq(field(0, "HAGENT_RESOURCE"), "web");
	ck_assert_str_eq(field(0, "HAGENT_RESOURCE_ID"), ID_HEX);
	ck_assert_str_eq(field(0, "HAGENT_GROUP"), "front");
	ck_assert_str_eq(field(0, "HAGENT_STATE"), "online-pending");
	ck_assert_str_eq(field(0, "HAGENT_OLD_STATE"), "offline");
	ck_assert_ptr_null(field(0, "ERRNO"));
	ck_assert_str_eq(field(0, "CODE_FUNC"), "log_events");

	ck_assert_str_eq(field(1, "MESSAGE"),
			 "Resource web: online-pending -> failed: Permission denied.");
	ck_assert_str_eq(field(1, "PRIORITY"), "4");
	ck_assert_str_eq(field(1, "MESSAGE_ID"), LOG_ID_RESOURCE_FAILED);
	ck_assert_str_eq(field(1, "ERRNO"), "13");
	ck_assert_str_eq(field(1, "HAGENT_STATE"), "failed");

	/* Failed without a known cause: the failure id, no ERRNO */
	ck_assert_str_eq(field(2, "MESSAGE_ID"), LOG_ID_RESOURCE_FAILED);
	ck_assert_ptr_null(field(2, "ERRNO"));

	ck_assert_str_eq(field(3, "MESSAGE"), "Group front: offline -> partial-online.");
	ck_assert_str_eq(field(3, "MESSAGE_ID"), LOG_ID_GROUP_STATE);
	ck_assert_str_eq(field(3, "HAGENT_GROUP"), "front");
	ck_assert_str_eq(field(3, "HAGENT_GROUP_ID"), ID_HEX);
	ck_assert_str_eq(field(3, "HAGENT_STATE"), "partial-online");
	ck_assert_str_eq(field(3, "HAGENT_OLD_STATE"), "offline");
	ck_assert_ptr_null(field(3, "HAGENT_RESOURCE"));

	ck_assert_str_eq(field(4, "MESSAGE"),
			 "Resource web: failure 2 in the restart window: restart.");
	ck_assert_str_eq(field(4, "PRIORITY"), "5");
	ck_assert_str_eq(field(4, "MESSAGE_ID"), LOG_ID_RESOURCE_RESTART_POLICY);
	ck_assert_str_eq(field(4, "HAGENT_RESOURCE_ID"), ID_HEX);
	ck_assert_str_eq(field(4, "HAGENT_GROUP"), "front");
	ck_assert_str_eq(field(4, "HAGENT_FAILURE_COUNT"), "2");
	ck_assert_str_eq(field(4, "HAGENT_RESTART_VERDICT"), "restart");

	/* a bad field is the caller's bug: the message and ERRNO still go out */
	ck_assert_str_eq(field(5, "MESSAGE"), "Bad field: Input/output error.");
	ck_assert_str_eq(field(5, "ERRNO"), "5");
	ck_assert_ptr_null(field(5, "MESSAGE_ID"));
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("record");

	tcase_add_test(tc, test_record_standard);
	tcase_add_test(tc, test_record_errno);
	tcase_add_test(tc, test_record_message_id);
	tcase_add_test(tc, test_record_fields);
	tcase_add_test(tc, test_record_field_names);
	tcase_add_test(tc, test_record_capacity);
	tcase_add_test(tc, test_record_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("output");
	tcase_add_test(tc, test_stderr_form);
	tcase_add_test(tc, test_max_level);
	tcase_add_test(tc, test_journal_records);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(log_suite());
}
