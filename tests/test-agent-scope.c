/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Moving monitors into transient scopes (agent/agent-scope.c) without a real
 * systemd: the mode strings, the unit names (checked against systemd's rules
 * and, where installed, systemd-escape), when no scope is used, and the
 * requests against a fake systemd (an sd-bus server on a socketpair, or on
 * a private socket, implementing StartTransientUnit and emitting JobRemoved
 * as told): the properties sent, done called once with the job's result,
 * renaming once when the unit exists, dropping OOMPolicy= when refused,
 * stale and early JobRemoved signals, cancel, timeout, a lost connection.
 * The real systemd is the nspawn test's.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#include "agent-scope.h"
#include "test-util.h"

#define MAX_CALLS 8
#define TEST_PID  4242

static const uint8_t ID_WEB[16] = {0x01, 0x23, 0xab, 0xcd, 0xef, 0x45, 0x67, 0x89,
				   0,	 0,    0,    0,	   0,	 0,    0,    1};
static const uint8_t ID_DB[16] = {0xfe, 0xdc, 0xba, 0x98, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* ---- unit names ---- */

/* systemd's unit_name_is_valid() for our names, written out independently. */
static void assert_valid_unit_name(const char *u)
{
	size_t n = strlen(u);

	ck_assert_uint_le(n, 255);
	ck_assert_uint_gt(n, strlen("hagent-.scope"));
	ck_assert_int_eq(strncmp(u, "hagent-", 7), 0);
	ck_assert_str_eq(u + n - 6, ".scope");
	for (size_t i = 0; i < n - 6; i++) {
		char c = u[i];

		if (c == '\\') {
			ck_assert_msg(i + 3 < n - 6 && u[i + 1] == 'x' &&
					      strchr("0123456789abcdef", u[i + 2]) &&
					      strchr("0123456789abcdef", u[i + 3]),
				      "bad escape at %zu in %s", i, u);
			i += 3;
			continue;
		}
		ck_assert_msg((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (c >= '0' && c <= '9') || strchr(":_.-", c),
			      "bad char 0x%02x in %s", (unsigned char) c, u);
	}
}

/* The escaped resource name between "hagent-" and "-<8 hex>[...].scope", unescaped. */
static void unescape_part(const char *u, size_t len, char *out)
{
	for (size_t i = 0; i < len;) {
		if (u[i] == '\\') {
			unsigned v;

			ck_assert_int_eq(sscanf(u + i + 2, "%2x", &v), 1);
			*out++ = (char) v;
			i += 4;
		} else {
			*out++ = u[i++];
		}
	}
	*out = '\0';
}

/* Runs argv, returns its stdout (one line, newline removed), or false if it is not installed. */
static bool run_capture(char *const argv[], char *out, size_t size)
{
	int p[2];
	pid_t pid;
	ssize_t n, got = 0;
	int status;

	if (access(argv[0], X_OK) < 0)
		return false;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, size - 1 - (size_t) got)) > 0)
		got += n;
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", argv[0]);
	out[got] = '\0';
	if (got > 0 && out[got - 1] == '\n')
		out[got - 1] = '\0';
	return true;
}

/* The escaped part of u: between "hagent-" and the last "-". */
static size_t part_len(const char *u)
{
	return (size_t) (strrchr(u, '-') - (u + 7));
}

/* Checks u for name (not cut): valid, and unescaping gives name back. */
static void check_name(const char *name, const char *u)
{
	char back[300];

	assert_valid_unit_name(u);
	unescape_part(u + 7, part_len(u), back);
	ck_assert_str_eq(back, name);
}

START_TEST(mode_from_string)
{
	ck_assert_int_eq(agent_scope_mode_from_string("auto"), AGENT_SCOPE_AUTO);
	ck_assert_int_eq(agent_scope_mode_from_string("yes"), AGENT_SCOPE_YES);
	ck_assert_int_eq(agent_scope_mode_from_string("no"), AGENT_SCOPE_NO);
	ck_assert_int_eq(agent_scope_mode_from_string(""), -EINVAL);
	ck_assert_int_eq(agent_scope_mode_from_string("Yes"), -EINVAL);
	ck_assert_int_eq(agent_scope_mode_from_string("true"), -EINVAL);
	ck_assert_int_eq(agent_scope_mode_from_string("auto "), -EINVAL);
	ck_assert_int_eq(agent_scope_mode_from_string(NULL), -EINVAL);
}
END_TEST

START_TEST(unit_name_plain)
{
	char *u;

	ck_assert_int_eq(agent_scope_unit_name("web", ID_WEB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent-web-0123abcd.scope");
	free(u);
	ck_assert_int_eq(agent_scope_unit_name("Web_1:x.y", ID_DB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent-Web_1:x.y-fedcba98.scope");
	free(u);
	ck_assert_int_eq(agent_scope_unit_name("web", ID_WEB, 31337, &u), 0);
	ck_assert_str_eq(u, "hagent-web-0123abcd-31337.scope");
	free(u);
	ck_assert_int_eq(agent_scope_unit_name("", ID_WEB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent--0123abcd.scope");
	free(u);
	u = (char *) "untouched";
	ck_assert_int_eq(agent_scope_unit_name(NULL, ID_WEB, 0, &u), -EINVAL);
	ck_assert_str_eq(u, "untouched");
}
END_TEST

static const char *const odd_names[] = {
	"my-db",	"a/b",	     ".hidden",	    "x.",	"sp ace",
	"tab\there",	"@instance", "back\\slash", "dollar$",	"grüße",
	"\xff\xfe\x01", "*?[]",	     "a..b",	    "-leading", "%percent",
};

START_TEST(unit_name_escaped)
{
	char *u;

	ck_assert_int_eq(agent_scope_unit_name("my-db", ID_WEB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent-my\\x2ddb-0123abcd.scope");
	free(u);
	ck_assert_int_eq(agent_scope_unit_name("a/b", ID_WEB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent-a\\x2fb-0123abcd.scope");
	free(u);
	ck_assert_int_eq(agent_scope_unit_name(".x.", ID_WEB, 0, &u), 0);
	ck_assert_str_eq(u, "hagent-\\x2ex.-0123abcd.scope");
	free(u);
	for (size_t i = 0; i < ELEMENTSOF(odd_names); i++) {
		ck_assert_int_eq(agent_scope_unit_name(odd_names[i], ID_WEB, 0, &u), 0);
		check_name(odd_names[i], u);
		free(u);
		ck_assert_int_eq(agent_scope_unit_name(odd_names[i], ID_WEB, 4194304, &u), 0);
		assert_valid_unit_name(u);
		free(u);
	}
}
END_TEST

/*
 * systemd's own tool agrees: `systemd-escape NAME...` gives our escaped parts
 * (for names without '/', which it maps to '-' and we escape), and
 * `systemd-escape --unescape PART...` gives every name back.  One run each:
 * the tool takes a second to start on a loaded machine.
 */
START_TEST(unit_name_systemd_escape)
{
	char *esc_argv[ELEMENTSOF(odd_names) + 3] = {(char *) "/usr/bin/systemd-escape",
						     (char *) "--"};
	char *un_argv[ELEMENTSOF(odd_names) + 4] = {(char *) "/usr/bin/systemd-escape",
						    (char *) "--unescape", (char *) "--"};
	char *units[ELEMENTSOF(odd_names)];
	char out[4096], want[4096] = "", want_back[4096] = "";
	size_t n_esc = 2, n_un = 3;

	if (access(esc_argv[0], X_OK) < 0)
		return; /* the other cases check our rules without it */
	for (size_t i = 0; i < ELEMENTSOF(odd_names); i++) {
		ck_assert_int_eq(agent_scope_unit_name(odd_names[i], ID_WEB, 0, &units[i]), 0);
		units[i][7 + part_len(units[i])] = '\0';
		un_argv[n_un++] = units[i] + 7;
		snprintf(want_back + strlen(want_back), sizeof(want_back) - strlen(want_back),
			 "%s%s", i ? " " : "", odd_names[i]);
		if (strchr(odd_names[i], '/'))
			continue;
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
			 n_esc > 2 ? " " : "", units[i] + 7);
		esc_argv[n_esc++] = (char *) odd_names[i];
	}
	ck_assert(run_capture(esc_argv, out, sizeof(out)));
	ck_assert_str_eq(out, want);
	ck_assert(run_capture(un_argv, out, sizeof(out)));
	ck_assert_str_eq(out, want_back);
	for (size_t i = 0; i < ELEMENTSOF(odd_names); i++)
		free(units[i]);
}
END_TEST

/* The longest names the model takes (63 bytes), all escaped: cut, valid, and still unique by id. */
START_TEST(unit_name_long)
{
	char name[64], plain[64], prefix[300];
	char *u, *u2;
	size_t part;

	memset(name, 0xff, 63);
	name[63] = '\0';
	memset(plain, 'a', 63);
	plain[63] = '\0';
	ck_assert_int_eq(agent_scope_unit_name(plain, ID_WEB, 0, &u), 0);
	check_name(plain, u); /* 63 plain bytes fit whole */
	free(u);
	ck_assert_int_eq(agent_scope_unit_name(name, ID_WEB, 2147483647, &u), 0);
	assert_valid_unit_name(u);
	ck_assert_int_eq(agent_scope_unit_name(name, ID_WEB, 0, &u2), 0);
	assert_valid_unit_name(u2);
	/* Cut at a whole escape: the part is a run of "\xff", the same with or without suffix. */
	part = (size_t) (strrchr(u2, '-') - (u2 + 7));
	ck_assert_uint_eq(part % 4, 0);
	ck_assert_uint_lt(part, 63 * 4);
	ck_assert_uint_ge(part, 200);
	for (size_t i = 0; i < part; i += 4)
		ck_assert_int_eq(strncmp(u2 + 7 + i, "\\xff", 4), 0);
	snprintf(prefix, sizeof(prefix), "%.*s", (int) (7 + part), u2);
	ck_assert_int_eq(strncmp(u, prefix, strlen(prefix)), 0);
	ck_assert_str_eq(u2 + 7 + part, "-0123abcd.scope");
	ck_assert_str_eq(u + 7 + part, "-0123abcd-2147483647.scope");
	free(u);
	free(u2);
}
END_TEST

/* ---- modes without a bus ---- */

static void no_bus_env(void)
{
	ck_assert_int_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent-hagent/bus", 1),
			 0);
}

START_TEST(mode_no)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	struct agent_scope *s = (struct agent_scope *) &s;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1), 0);
	ck_assert_int_eq(agent_scope_new(e, AGENT_SCOPE_NO, &s), 0);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(mode_auto_not_a_service)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	struct agent_scope *s = (struct agent_scope *) &s;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(unsetenv("INVOCATION_ID"), 0);
	ck_assert_int_eq(agent_scope_new(e, AGENT_SCOPE_AUTO, &s), 0);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(mode_auto_no_bus)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	struct agent_scope *s = (struct agent_scope *) &s;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1), 0);
	no_bus_env();
	ck_assert_int_eq(agent_scope_new_at(e, AGENT_SCOPE_AUTO, "/nonexistent-hagent/private", &s),
			 0);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(mode_yes_no_bus)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	struct agent_scope *s = (struct agent_scope *) &s;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(unsetenv("INVOCATION_ID"), 0);
	no_bus_env();
	ck_assert_int_eq(agent_scope_new_at(e, AGENT_SCOPE_YES, "/nonexistent-hagent/private", &s),
			 -ENOENT);
	ck_assert_ptr_eq(s, (struct agent_scope *) &s); /* untouched */
	ck_assert_int_eq(agent_scope_new_at(e, 7, "/nonexistent-hagent/private", &s), -EINVAL);
}
END_TEST

/* ---- the fake systemd ---- */

enum answer {
	ANSWER_RESULT,	  /* reply, then JobRemoved with result[] */
	ANSWER_DUPLICATE, /* reply, then JobRemoved "done" twice */
	ANSWER_EARLY,	  /* JobRemoved for the job (result[] or "done"), then the reply */
	ANSWER_STALE,	  /* JobRemoved of other jobs (same unit, other unit), reply, "done" */
	ANSWER_HOLD,	  /* reply; JobRemoved when the test emits it (held_*) */
	ANSWER_SILENT,	  /* no reply at all */
	ANSWER_EXISTS,	  /* org.freedesktop.systemd1.UnitExists */
	ANSWER_READ_ONLY, /* PropertyReadOnly if OOMPolicy is asked for, else as ANSWER_RESULT */
	ANSWER_READ_ONLY_ALWAYS, /* PropertyReadOnly */
	ANSWER_DENIED,		 /* AccessDenied */
};

struct fake {
	int n_calls;
	char *unit[MAX_CALLS];
	char *mode[MAX_CALLS];
	char *props[MAX_CALLS];
	enum answer answer[MAX_CALLS];
	const char *result[MAX_CALLS];
	uint32_t next_job;
	char held_path[64], held_unit[300];
	uint32_t held_id;
	sd_bus_message *silent; /* the call left unanswered */
};

/* a(sv) as "Name=value" lines, for the types a scope's properties use. */
static char *props_to_text(sd_bus_message *m)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	const char *name;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sv)"), 0);
	while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
		const char *sig;
		char type;

		ck_assert_int_ge(sd_bus_message_read(m, "s", &name), 0);
		ck_assert_int_gt(sd_bus_message_peek_type(m, &type, &sig), 0);
		ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', sig), 0);
		fprintf(f, "%s=", name);
		if (strcmp(sig, "s") == 0) {
			const char *v;
			ck_assert_int_ge(sd_bus_message_read(m, "s", &v), 0);
			fputs(v, f);
		} else if (strcmp(sig, "b") == 0) {
			int v;
			ck_assert_int_ge(sd_bus_message_read(m, "b", &v), 0);
			fputs(v ? "yes" : "no", f);
		} else if (strcmp(sig, "t") == 0) {
			uint64_t v;
			ck_assert_int_ge(sd_bus_message_read(m, "t", &v), 0);
			fprintf(f, "%llu", (unsigned long long) v);
		} else if (strcmp(sig, "au") == 0) {
			uint32_t v;
			ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "u"), 0);
			for (int i = 0; sd_bus_message_read(m, "u", &v) > 0; i++)
				fprintf(f, "%s%u", i ? "," : "", v);
			ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
		} else if (strcmp(sig, "as") == 0) {
			const char *v;
			ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "s"), 0);
			for (int i = 0; sd_bus_message_read(m, "s", &v) > 0; i++)
				fprintf(f, "%s%s", i ? "," : "", v);
			ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
		} else {
			ck_abort_msg("property %s of unexpected type %s", name, sig);
		}
		fputc('\n', f);
		ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
		ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
	}
	ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static void emit_job_removed(sd_bus *bus, uint32_t id, const char *path, const char *unit,
			     const char *result)
{
	ck_assert_int_ge(sd_bus_emit_signal(bus, "/org/freedesktop/systemd1",
					    "org.freedesktop.systemd1.Manager", "JobRemoved",
					    "uoss", id, path, unit, result),
			 0);
}

static int fake_start_transient_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus *bus = sd_bus_message_get_bus(m);
	const char *unit, *mode;
	char path[64];
	int i = f->n_calls++;
	uint32_t id = ++f->next_job;

	ck_assert_int_lt(i, MAX_CALLS);
	ck_assert_int_ge(sd_bus_message_read(m, "ss", &unit, &mode), 0);
	f->unit[i] = strdup(unit);
	f->mode[i] = strdup(mode);
	f->props[i] = props_to_text(m);
	ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sa(sv))"), 0);
	ck_assert_int_eq(sd_bus_message_at_end(m, false), 1); /* no auxiliary units */
	snprintf(path, sizeof(path), "/org/freedesktop/systemd1/job/%u", id);

	switch (f->answer[i]) {
	case ANSWER_EXISTS:
		return sd_bus_error_setf(error, "org.freedesktop.systemd1.UnitExists",
					 "Unit %s already exists.", unit);
	case ANSWER_DENIED:
		return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied");
	case ANSWER_READ_ONLY:
		if (strstr(f->props[i], "OOMPolicy="))
			return sd_bus_error_set(
				error, SD_BUS_ERROR_PROPERTY_READ_ONLY,
				"Cannot set property OOMPolicy, or unknown property.");
		break;
	case ANSWER_READ_ONLY_ALWAYS:
		return sd_bus_error_set(error, SD_BUS_ERROR_PROPERTY_READ_ONLY,
					"Cannot set property Before, or unknown property.");
	case ANSWER_SILENT:
		f->silent = sd_bus_message_ref(m);
		return 1;
	case ANSWER_EARLY:
		emit_job_removed(bus, id, path, unit, f->result[i] ? f->result[i] : "done");
		return sd_bus_reply_method_return(m, "o", path);
	case ANSWER_STALE:
		emit_job_removed(bus, id + 100, "/org/freedesktop/systemd1/job/9999", unit,
				 "failed");
		emit_job_removed(bus, id + 101, "/org/freedesktop/systemd1/job/9998", "other.scope",
				 "failed");
		ck_assert_int_ge(sd_bus_reply_method_return(m, "o", path), 0);
		emit_job_removed(bus, id + 102, "/org/freedesktop/systemd1/job/9997", "other.scope",
				 "done");
		emit_job_removed(bus, id, path, unit, "done");
		return 1;
	case ANSWER_HOLD:
		snprintf(f->held_path, sizeof(f->held_path), "%s", path);
		snprintf(f->held_unit, sizeof(f->held_unit), "%s", unit);
		f->held_id = id;
		return sd_bus_reply_method_return(m, "o", path);
	default:
		break;
	}
	ck_assert_int_ge(sd_bus_reply_method_return(m, "o", path), 0);
	emit_job_removed(bus, id, path, unit, f->result[i] ? f->result[i] : "done");
	if (f->answer[i] == ANSWER_DUPLICATE)
		emit_job_removed(bus, id, path, unit, "done");
	return 1;
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", fake_start_transient_unit,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
	SD_BUS_VTABLE_END,
};

struct env {
	sd_event *e;
	sd_bus *client, *server;
	struct fake fake;
	struct agent_scope *scope;
};

static struct env t;

static sd_bus *fake_server_on_fd(int fd)
{
	sd_bus *server;
	sd_id128_t id;

	ck_assert_int_ge(sd_bus_new(&server), 0);
	ck_assert_int_ge(sd_bus_set_fd(server, fd, fd), 0);
	ck_assert_int_ge(sd_id128_randomize(&id), 0);
	ck_assert_int_ge(sd_bus_set_server(server, 1, id), 0);
	ck_assert_int_ge(sd_bus_add_object_vtable(server, NULL, "/org/freedesktop/systemd1",
						  "org.freedesktop.systemd1.Manager", fake_vtable,
						  &t.fake),
			 0);
	ck_assert_int_ge(sd_bus_start(server), 0);
	ck_assert_int_ge(sd_bus_attach_event(server, t.e, 0), 0);
	return server;
}

static void env_setup(void)
{
	int fds[2];

	memset(&t, 0, sizeof(t));
	ck_assert_int_ge(sd_event_new(&t.e), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds),
			 0);
	t.server = fake_server_on_fd(fds[1]);
	ck_assert_int_ge(sd_bus_new(&t.client), 0);
	ck_assert_int_ge(sd_bus_set_fd(t.client, fds[0], fds[0]), 0);
	ck_assert_int_ge(sd_bus_start(t.client), 0);
	/* Ours to attach, so that it stays attached after agent_scope_free() (free_with_pending).
	 */
	ck_assert_int_ge(sd_bus_attach_event(t.client, t.e, 0), 0);
	ck_assert_int_eq(agent_scope_new_on_bus(t.e, t.client, "hagentd.service", &t.scope), 0);
}

static void env_teardown(void)
{
	t.scope = agent_scope_free(t.scope);
	for (int i = 0; i < MAX_CALLS; i++) {
		free(t.fake.unit[i]);
		free(t.fake.mode[i]);
		free(t.fake.props[i]);
	}
	t.fake.silent = sd_bus_message_unref(t.fake.silent);
	/* No flush: with both ends in this thread it could wait for the other forever. */
	t.client = sd_bus_close_unref(t.client);
	t.server = sd_bus_close_unref(t.server);
	t.e = sd_event_unref(t.e);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop until *cond (an int that becomes non-zero); generous deadline. */
static void run_until(const int *cond)
{
	uint64_t deadline = mono_usec() + 30 * 1000000;

	while (!*cond) {
		ck_assert_msg(mono_usec() < deadline, "the loop never got there");
		ck_assert_int_ge(sd_event_run(t.e, 100 * 1000), 0);
	}
}

static int on_pong(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void) m;
	(void) error;
	*(int *) userdata = 1;
	return 0;
}

/*
 * A Ping from the client answered by the fake: everything the fake sent
 * before (replies, signals) has been dispatched by the client once the pong
 * is, because a connection keeps its messages in order.
 */
static void roundtrip(void)
{
	int pong = 0;

	ck_assert_int_ge(sd_bus_call_method_async(t.client, NULL, NULL, "/",
						  "org.freedesktop.DBus.Peer", "Ping", on_pong,
						  &pong, ""),
			 0);
	run_until(&pong);
}

struct result {
	int n;
	int error;
};

static void on_done(void *userdata, int error)
{
	struct result *r = userdata;

	r->n++;
	r->error = error;
}

static char *expected_props(pid_t pid, const char *desc_name, bool oom_policy, const char *before)
{
	char *s;

	ck_assert_int_ge(asprintf(&s,
				  "Description=hagent monitor of resource %s\n"
				  "Slice=hagent.slice\n"
				  "CollectMode=inactive-or-failed\n"
				  "KillMode=control-group\n"
				  "SendSIGKILL=yes\n"
				  "TasksMax=18446744073709551615\n"
				  "PIDs=%d\n"
				  "%s%s%s%s",
				  desc_name, (int) pid, oom_policy ? "OOMPolicy=continue\n" : "",
				  before ? "Before=" : "", before ? before : "",
				  before ? "\n" : ""),
			 0);
	return s;
}

/* Moves TEST_PID for "web"; returns once done was called (and one roundtrip after). */
static struct result move_web(void)
{
	struct result res = {0};
	struct agent_scope_req *req = NULL;

	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, &req),
			 0);
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(res.n, 0); /* never from inside the call */
	run_until(&res.n);
	roundtrip();
	ck_assert_int_eq(res.n, 1);
	return res;
}

START_TEST(move_done)
{
	struct result res;
	char *want = expected_props(TEST_PID, "web", true, "hagentd.service");

	t.fake.answer[0] = ANSWER_DUPLICATE; /* a second JobRemoved must not call done again */
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	ck_assert_int_eq(t.fake.n_calls, 1);
	ck_assert_str_eq(t.fake.unit[0], "hagent-web-0123abcd.scope");
	ck_assert_str_eq(t.fake.mode[0], "fail");
	ck_assert_str_eq(t.fake.props[0], want);
	free(want);
}
END_TEST

START_TEST(move_job_results)
{
	static const struct {
		const char *result;
		int error;
	} cases[] = {
		{"failed", -EIO},	  {"canceled", -ECANCELED}, {"timeout", -ETIMEDOUT},
		{"dependency", -ENOLINK}, {"something-new", -EIO},  {"done", 0},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct result res;

		t.fake.answer[i] = ANSWER_RESULT;
		t.fake.result[i] = cases[i].result;
		res = move_web();
		ck_assert_msg(res.error == cases[i].error, "%s gave %d", cases[i].result,
			      res.error);
	}
	ck_assert_int_eq(t.fake.n_calls, (int) ELEMENTSOF(cases));
}
END_TEST

/* A name with bytes a D-Bus string cannot carry (not UTF-8) and a control byte. */
START_TEST(move_odd_name)
{
	struct result res = {0};
	char *want = expected_props(TEST_PID, "gr\xc3\xbc\\xff\\x0ax", true, "hagentd.service");

	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "gr\xc3\xbc\xff\nx", ID_WEB, on_done,
					  &res, NULL),
			 0);
	run_until(&res.n);
	ck_assert_int_eq(res.error, 0);
	ck_assert_str_eq(t.fake.unit[0], "hagent-gr\\xc3\\xbc\\xff\\x0ax-0123abcd.scope");
	ck_assert_str_eq(t.fake.props[0], want);
	free(want);
}
END_TEST

START_TEST(move_no_agent_unit)
{
	struct result res;
	char *want = expected_props(TEST_PID, "web", true, NULL);

	t.scope = agent_scope_free(t.scope);
	ck_assert_int_eq(agent_scope_new_on_bus(t.e, t.client, NULL, &t.scope), 0);
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	ck_assert_str_eq(t.fake.props[0], want);
	free(want);
}
END_TEST

START_TEST(move_exists_renames_once)
{
	struct result res;

	t.fake.answer[0] = ANSWER_EXISTS;
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	ck_assert_int_eq(t.fake.n_calls, 2);
	ck_assert_str_eq(t.fake.unit[0], "hagent-web-0123abcd.scope");
	ck_assert_str_eq(t.fake.unit[1], "hagent-web-0123abcd-4242.scope");
	ck_assert_str_eq(t.fake.props[1], t.fake.props[0]);

	t.fake.answer[2] = ANSWER_EXISTS;
	t.fake.answer[3] = ANSWER_EXISTS;
	res = move_web();
	ck_assert_int_eq(res.error, -EEXIST);
	ck_assert_int_eq(t.fake.n_calls, 4);
	ck_assert_str_eq(t.fake.unit[3], "hagent-web-0123abcd-4242.scope");
}
END_TEST

START_TEST(move_oom_policy_refused)
{
	struct result res;
	char *without = expected_props(TEST_PID, "web", false, "hagentd.service");

	t.fake.answer[0] = ANSWER_READ_ONLY;
	t.fake.answer[1] = ANSWER_READ_ONLY;
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	ck_assert_int_eq(t.fake.n_calls, 2);
	ck_assert_ptr_nonnull(strstr(t.fake.props[0], "OOMPolicy=continue\n"));
	ck_assert_str_eq(t.fake.props[1], without);
	/* Remembered: the next request does not ask again. */
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	ck_assert_int_eq(t.fake.n_calls, 3);
	ck_assert_str_eq(t.fake.props[2], without);
	free(without);
}
END_TEST

/* A property refused once OOMPolicy= is dropped ends the request: one retry, no loop. */
START_TEST(move_read_only_twice)
{
	struct result res;

	t.fake.answer[0] = ANSWER_READ_ONLY;
	t.fake.answer[1] = ANSWER_READ_ONLY_ALWAYS;
	res = move_web();
	ck_assert_int_eq(res.error, -EROFS);
	ck_assert_int_eq(t.fake.n_calls, 2);
	ck_assert_ptr_null(strstr(t.fake.props[1], "OOMPolicy="));
}
END_TEST

START_TEST(move_denied)
{
	struct result res;

	t.fake.answer[0] = ANSWER_DENIED;
	res = move_web();
	ck_assert_int_eq(res.error, -EACCES);
	ck_assert_int_eq(t.fake.n_calls, 1);
}
END_TEST

/* Warnings once per cause: a second refusal of the same kind logs at debug (dropped here). */
START_TEST(warn_once_per_cause)
{
	int log_fd = memfd_create("log", MFD_CLOEXEC), saved = dup(STDERR_FILENO);
	char buf[4096];
	ssize_t n;
	int warnings = 0;

	ck_assert_int_ge(log_fd, 0);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);
	t.fake.answer[0] = ANSWER_DENIED;
	t.fake.answer[1] = ANSWER_DENIED;
	t.fake.answer[2] = ANSWER_RESULT;
	t.fake.result[2] = "failed";
	t.fake.answer[3] = ANSWER_RESULT;
	t.fake.result[3] = "failed";
	for (int i = 0; i < 4; i++)
		ck_assert_int_lt(move_web().error, 0);
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(log_fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	close(log_fd);
	for (char *p = buf; (p = strstr(p, "<4>")); p += 3)
		warnings++;
	ck_assert_msg(warnings == 2, "%d warnings in:\n%s", warnings, buf);
	ck_assert_ptr_nonnull(strstr(buf, "Access denied"));
	ck_assert_ptr_nonnull(strstr(buf, "result 'failed'"));
}
END_TEST

START_TEST(move_early_and_stale_signals)
{
	struct result res;

	t.fake.answer[0] = ANSWER_EARLY;
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	t.fake.answer[1] = ANSWER_STALE;
	res = move_web();
	ck_assert_int_eq(res.error, 0);
	t.fake.answer[2] = ANSWER_EARLY;
	t.fake.result[2] = "failed";
	res = move_web();
	ck_assert_int_eq(res.error, -EIO);
}
END_TEST

START_TEST(move_two_at_once)
{
	struct result web = {0}, db = {0};

	t.fake.answer[0] = ANSWER_HOLD;
	t.fake.answer[1] = ANSWER_RESULT;
	t.fake.result[1] = "failed";
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &web, NULL),
			 0);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID + 1, "db", ID_DB, on_done, &db, NULL),
			 0);
	run_until(&db.n);
	ck_assert_int_eq(db.error, -EIO);
	ck_assert_int_eq(web.n, 0);
	emit_job_removed(t.server, t.fake.held_id, t.fake.held_path, t.fake.held_unit, "done");
	run_until(&web.n);
	roundtrip();
	ck_assert_int_eq(web.error, 0);
	ck_assert_int_eq(web.n, 1);
	ck_assert_int_eq(db.n, 1);
	ck_assert_str_eq(t.fake.unit[1], "hagent-db-fedcba98.scope");
	ck_assert_ptr_nonnull(strstr(t.fake.props[1], "PIDs=4243\n"));
}
END_TEST

START_TEST(cancel_before_reply)
{
	struct result res = {0};
	struct agent_scope_req *req;

	t.fake.answer[0] = ANSWER_RESULT;
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, &req),
			 0);
	agent_scope_req_cancel(req);
	run_until(&t.fake.n_calls);
	roundtrip();
	ck_assert_int_eq(res.n, 0);
}
END_TEST

START_TEST(cancel_after_reply)
{
	struct result res = {0};
	struct agent_scope_req *req;

	t.fake.answer[0] = ANSWER_HOLD;
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, &req),
			 0);
	run_until(&t.fake.n_calls);
	roundtrip(); /* the reply is in */
	agent_scope_req_cancel(req);
	emit_job_removed(t.server, t.fake.held_id, t.fake.held_path, t.fake.held_unit, "done");
	roundtrip();
	ck_assert_int_eq(res.n, 0);
	agent_scope_req_cancel(NULL);
}
END_TEST

START_TEST(timeout)
{
	struct result res = {0};

	agent_scope_set_timeout(t.scope, 300 * 1000);
	t.fake.answer[0] = ANSWER_HOLD;
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, NULL),
			 0);
	run_until(&res.n);
	ck_assert_int_eq(res.error, -ETIMEDOUT);
	emit_job_removed(t.server, t.fake.held_id, t.fake.held_path, t.fake.held_unit, "done");
	roundtrip();
	ck_assert_int_eq(res.n, 1);
}
END_TEST

/* Pending requests at free: no callback, nothing leaked (ASan build). */
START_TEST(free_with_pending)
{
	struct result a = {0}, b = {0};

	t.fake.answer[0] = ANSWER_HOLD;
	t.fake.answer[1] = ANSWER_SILENT;
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &a, NULL), 0);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID + 1, "db", ID_DB, on_done, &b, NULL),
			 0);
	run_until(&t.fake.n_calls);
	roundtrip();
	ck_assert_int_eq(t.fake.n_calls, 2);
	t.scope = agent_scope_free(t.scope);
	emit_job_removed(t.server, t.fake.held_id, t.fake.held_path, t.fake.held_unit, "done");
	roundtrip();
	ck_assert_int_eq(a.n, 0);
	ck_assert_int_eq(b.n, 0);
}
END_TEST

/* systemd goes away with a call unanswered: done with an error; a connection we did not open stays
 * closed. */
START_TEST(connection_lost)
{
	struct result res = {0};

	t.fake.answer[0] = ANSWER_SILENT;
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, NULL),
			 0);
	run_until(&t.fake.n_calls);
	t.fake.silent = sd_bus_message_unref(t.fake.silent);
	t.server = sd_bus_close_unref(t.server);
	run_until(&res.n);
	ck_assert_int_lt(res.error, 0);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, NULL),
			 -ENOTCONN);
	ck_assert_int_eq(res.n, 1);
}
END_TEST

START_TEST(move_bad_args)
{
	struct result res = {0};

	ck_assert_int_eq(agent_scope_move(NULL, TEST_PID, "web", ID_WEB, on_done, &res, NULL),
			 -EINVAL);
	ck_assert_int_eq(agent_scope_move(t.scope, 0, "web", ID_WEB, on_done, &res, NULL), -EINVAL);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, NULL, ID_WEB, on_done, &res, NULL),
			 -EINVAL);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, NULL, &res, NULL),
			 -EINVAL);
	ck_assert_int_eq(t.fake.n_calls, 0);
}
END_TEST

/* ---- the private socket: agent_scope_new_at() with YES, end to end (root only) ---- */

static char sockdir[64], sockpath[96];
static int listen_fd = -EBADF;

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	(void) src;
	(void) revents;
	(void) userdata;
	ck_assert_int_ge(c, 0);
	ck_assert_ptr_null(t.server);
	t.server = fake_server_on_fd(c);
	return 0;
}

START_TEST(private_socket)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct result res = {0};
	sd_event_source *src = NULL;

	if (geteuid() != 0)
		return; /* only root uses the private socket; covered by the socketpair cases */
	memset(&t, 0, sizeof(t));
	ck_assert_int_ge(sd_event_new(&t.e), 0);
	snprintf(sockdir, sizeof(sockdir), "/tmp/test-agent-scope-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/private", sockdir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(listen_fd, 0);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(listen_fd, 4), 0);
	ck_assert_int_ge(sd_event_add_io(t.e, &src, listen_fd, EPOLLIN, on_accept, NULL), 0);
	no_bus_env(); /* so that only the private socket can work */
	unsetenv("INVOCATION_ID");

	ck_assert_int_eq(agent_scope_new_at(t.e, AGENT_SCOPE_YES, sockpath, &t.scope), 0);
	ck_assert_ptr_nonnull(t.scope);
	ck_assert_int_eq(agent_scope_move(t.scope, TEST_PID, "web", ID_WEB, on_done, &res, NULL),
			 0);
	run_until(&res.n);
	ck_assert_int_eq(res.error, 0);
	ck_assert_str_eq(t.fake.unit[0], "hagent-web-0123abcd.scope");
	ck_assert_ptr_nonnull(strstr(t.fake.props[0], "Slice=hagent.slice\nCollectMode="));

	/*
	 * systemd re-executed (the connection closed): a request on the old
	 * connection, until the client noticed, ends with an error; the next
	 * one reconnects and succeeds.
	 */
	t.server = sd_bus_close_unref(t.server);
	for (int attempt = 0;; attempt++) {
		struct result again = {0};

		ck_assert_int_lt(attempt, 3);
		ck_assert_int_eq(
			agent_scope_move(t.scope, TEST_PID, "db", ID_DB, on_done, &again, NULL), 0);
		run_until(&again.n);
		if (again.error == 0)
			break;
	}
	ck_assert_ptr_nonnull(t.server);
	ck_assert_str_eq(t.fake.unit[t.fake.n_calls - 1], "hagent-db-fedcba98.scope");
	t.scope = agent_scope_free(t.scope);
	src = sd_event_source_disable_unref(src);
	listen_fd = safe_close(listen_fd);
	(void) unlink(sockpath);
	(void) rmdir(sockdir);
	env_teardown();
}
END_TEST

static Suite *scope_suite(void)
{
	Suite *s = suite_create("agent-scope");
	TCase *tc;

	tc = tcase_create("names");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mode_from_string);
	tcase_add_test(tc, unit_name_plain);
	tcase_add_test(tc, unit_name_escaped);
	tcase_add_test(tc, unit_name_long);
	tcase_add_test(tc, unit_name_systemd_escape);
	suite_add_tcase(s, tc);

	tc = tcase_create("modes");
	tcase_add_test(tc, mode_no);
	tcase_add_test(tc, mode_auto_not_a_service);
	tcase_add_test(tc, mode_auto_no_bus);
	tcase_add_test(tc, mode_yes_no_bus);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake-systemd");
	tcase_add_checked_fixture(tc, env_setup, env_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, move_done);
	tcase_add_test(tc, move_job_results);
	tcase_add_test(tc, move_odd_name);
	tcase_add_test(tc, move_no_agent_unit);
	tcase_add_test(tc, move_exists_renames_once);
	tcase_add_test(tc, move_oom_policy_refused);
	tcase_add_test(tc, move_read_only_twice);
	tcase_add_test(tc, move_denied);
	tcase_add_test(tc, warn_once_per_cause);
	tcase_add_test(tc, move_early_and_stale_signals);
	tcase_add_test(tc, move_two_at_once);
	tcase_add_test(tc, cancel_before_reply);
	tcase_add_test(tc, cancel_after_reply);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, free_with_pending);
	tcase_add_test(tc, connection_lost);
	tcase_add_test(tc, move_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("private-socket");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, private_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(scope_suite());
}
