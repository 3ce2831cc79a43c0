/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl watch, run as a user would ($MONITORCTL_BIN) against a real
 * hagentd with hamon-test resources (test-scenario-util.h): the lines it
 * prints for a resource, a group and every object, --filter, --count, its
 * usage errors, a watcher that falls behind the event log (SIGSTOP) and
 * catches up with exactly the current states, SIGTERM/SIGINT, and a watch
 * that follows hagentd across a SIGKILL or a stop and a new start (or
 * ends, exit 7, when none comes back).  The agent's event log, read
 * directly, is the witness of what the lines must say.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "test-run-util.h"
#include "test-scenario-util.h"
#include "test-util.h"

extern char **environ;

#define SYS_FUTEX_WAITV 449 /* futex_waitv(2), Linux 5.16, the same number everywhere */
#define OUT_MAX		(1u << 20)

/* ================================ a watch process ================================ */

struct watcher {
	pid_t pid;
	int out, err;
	char *buf; /* stdout so far, NUL-terminated */
	size_t len;
	char errbuf[8192];
};

/* Starts monitorctl --runtime-dir <rundir> watch args... */
static void watch_start(struct watcher *w, const char *const *args)
{
	const char *bin = getenv("MONITORCTL_BIN");
	const char *argv[24] = {"monitorctl", "--runtime-dir", rundir, "watch"};
	int out[2], err[2];

	ck_assert_msg(bin, "MONITORCTL_BIN is not set");
	for (size_t i = 0; args[i]; i++) {
		ck_assert_uint_lt(i + 5, ELEMENTSOF(argv));
		argv[i + 4] = args[i];
	}
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	*w = (struct watcher){.buf = calloc(1, OUT_MAX)};
	ck_assert_ptr_nonnull(w->buf);
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(bin, (char *const *) argv, environ);
		_exit(127);
	}
	safe_close(out[1]);
	safe_close(err[1]);
	w->out = out[0];
	w->err = err[0];
}

#define WATCH(w, ...) watch_start(w, (const char *const[]){__VA_ARGS__, NULL})

/*
 * Whether the watch blocks in its notification port now: its main thread
 * sleeps in futex_waitv(2), or in futex(2) on a word of the state segment
 * (the fallback of kernels without futex_waitv).  Nothing else in
 * monitorctl waits on either.  Only then are its registrations in place.
 */
static bool watch_blocked(pid_t pid)
{
	char path[64], line[512];
	unsigned long long nr = 0, uaddr = 0;
	bool in_segment = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	if (!fgets(line, sizeof(line), f) || strcmp(line, "monitorctl\n") != 0) {
		fclose(f);
		return false; /* not exec'ed yet */
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	if (!fgets(line, sizeof(line), f) || sscanf(line, "%llu %llx", &nr, &uaddr) != 2) {
		fclose(f);
		return false; /* "running" */
	}
	fclose(f);
	if (nr == SYS_FUTEX_WAITV)
		return true;
	if (nr != SYS_futex)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (!in_segment && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		in_segment = strstr(line, "memfd:hagent-state") &&
			     sscanf(line, "%llx-%llx", &lo, &hi) == 2 && uaddr >= lo && uaddr < hi;
	}
	fclose(f);
	return in_segment;
}

/* Waits (bounded) until the watch has registered and sleeps for the first notification. */
static void watch_wait_ready(const struct watcher *w)
{
	uint64_t end = now_ms() + SCN_WAIT_MS;

	while (!watch_blocked(w->pid)) {
		ck_assert_msg(waitpid(w->pid, NULL, WNOHANG) == 0, "monitorctl watch exited");
		ck_assert_msg(now_ms() < end, "monitorctl watch never waited for notifications");
		usleep(1000);
	}
}

/* Reads what the watch has printed, waiting at most ms for more.  false: its stdout has ended. */
static bool watch_read(struct watcher *w, int ms)
{
	struct pollfd pf = {.fd = w->out, .events = POLLIN};
	ssize_t n;

	if (w->out < 0)
		return false;
	if (poll(&pf, 1, ms) == 0)
		return true;
	ck_assert_uint_lt(w->len, OUT_MAX - 1);
	n = read(w->out, w->buf + w->len, OUT_MAX - 1 - w->len);
	ck_assert_int_ge(n, 0);
	w->len += (size_t) n;
	w->buf[w->len] = '\0';
	if (n == 0)
		w->out = safe_close(w->out);
	return w->out >= 0;
}

/* Waits (bounded) until the output holds at least n lines. */
static void watch_wait_lines(struct watcher *w, size_t n)
{
	uint64_t end = now_ms() + SCN_WAIT_MS;
	size_t have;

	for (;;) {
		have = 0;
		for (const char *p = w->buf; (p = strchr(p, '\n')); p++)
			have++;
		if (have >= n)
			return;
		ck_assert_msg(now_ms() < end, "%zu lines, waiting for %zu:\n%s", have, n, w->buf);
		watch_read(w, 10);
	}
}

/* Waits (bounded) until the output holds s. */
static void watch_wait_for(struct watcher *w, const char *s)
{
	uint64_t end = now_ms() + SCN_WAIT_MS;

	while (!strstr(w->buf, s)) {
		ck_assert_msg(now_ms() < end, "'%s' not printed:\n%s", s, w->buf);
		watch_read(w, 10);
	}
}

/* Reads to the end (sig: sent first, 0: none) and reaps it; returns its exit code. */
static int watch_end(struct watcher *w, int sig)
{
	uint64_t end = now_ms() + 60000;
	struct run r;
	int code;

	if (sig)
		ck_assert_int_eq(kill(w->pid, sig), 0);
	while (watch_read(w, 100))
		ck_assert_msg(now_ms() < end, "monitorctl watch does not end:\n%s", w->buf);
	/* run_collect() reads stderr to its end and reaps; stdout is already at its end. */
	run_collect(&r, w->pid, open("/dev/null", O_RDONLY | O_CLOEXEC), w->err);
	snprintf(w->errbuf, sizeof(w->errbuf), "%s", r.err);
	code = r.code;
	return code;
}

static void watch_free(struct watcher *w)
{
	free(w->buf);
	w->buf = NULL;
}

/* Runs monitorctl --runtime-dir <rundir> args... to its end. */
static void mctl(struct run *r, const char *const *args)
{
	struct watcher w;
	const char *const *a = args;

	ck_assert_str_eq(a[0], "watch");
	watch_start(&w, a + 1);
	r->code = watch_end(&w, 0);
	snprintf(r->out, sizeof(r->out), "%s", w.buf);
	snprintf(r->err, sizeof(r->err), "%s", w.errbuf);
	watch_free(&w);
}

#define MCTL(r, ...) mctl(r, (const char *const[]){__VA_ARGS__, NULL})

/* ================================== the lines ================================== */

/* The i-th line (from 0) of out, in a static buffer; NULL past the end. */
static const char *line_at(const char *out, size_t i)
{
	static char line[1024];
	const char *p = out, *nl;

	for (; i > 0; i--) {
		p = strchr(p, '\n');
		if (!p)
			return NULL;
		p++;
	}
	nl = strchr(p, '\n');
	if (!nl)
		return NULL;
	ck_assert_uint_lt((size_t) (nl - p), sizeof(line));
	memcpy(line, p, (size_t) (nl - p));
	line[nl - p] = '\0';
	return line;
}

static size_t lines_count(const char *out)
{
	size_t n = 0;

	for (const char *p = out; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* A --json line's string member key, into buf; false if it has none (or null). */
static bool json_str(const char *line, const char *key, char *buf, size_t size)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	e = strchr(p, '"');
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_lt((size_t) (e - p), size);
	memcpy(buf, p, (size_t) (e - p));
	buf[e - p] = '\0';
	return true;
}

static void hex_of(const uint8_t id[HAGENT_ID_SIZE], char out[2 * HAGENT_ID_SIZE + 1])
{
	for (int i = 0; i < HAGENT_ID_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/*
 * A --json state line for the object: the exact document, from the event
 * (kind, name, id, state, seq) and synthetic; the time is checked apart.
 */
static void assert_json_state(const char *line, uint32_t kind, const char *name,
			      const uint8_t id[HAGENT_ID_SIZE], const char *state, uint32_t seq,
			      bool synthetic)
{
	char want[512], hex[2 * HAGENT_ID_SIZE + 1], time[64];

	ck_assert_msg(line, "a line is missing");
	ck_assert_msg(json_str(line, "time", time, sizeof(time)), "%s", line);
	/* 2026-11-22T10:15:03.123Z */
	ck_assert_msg(strlen(time) == 24 && time[10] == 'T' && time[19] == '.' && time[23] == 'Z',
		      "time %s", time);
	hex_of(id, hex);
	snprintf(want, sizeof(want),
		 "{\"time\":\"%s\",\"change\":\"state\",\"kind\":\"%s\",\"name\":\"%s\",\"id\":\"%"
		 "s\","
		 "\"state\":\"%s\",\"state_seq\":%u,\"synthetic\":%s}",
		 time, kind == 2 ? "group" : "resource", name, hex, state, seq,
		 synthetic ? "true" : "false");
	ck_assert_str_eq(line, want);
}

/* ================================== fixtures ================================== */

/* Group g with resource web (hamon-test; online reports Online after 100 ms), agent up. */
static void web_up(void)
{
	scn_seed_resource("web", "g", NULL, SCN_PROPS({"OnlineDelay", "100"}), false);
	scn_agent_start();
	scn_wait_state("web", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
}

/* Bounded: until group name's state is want (enum hagent_group_state). */
static void group_wait(const char *name, int32_t want)
{
	scn_wait_group_state(name, want, SCN_WAIT_MS);
}

/* ==================================== tests ==================================== */

/* A resource's state lines, in log order with their sequences, then exit 0 at --count. */
START_TEST(resource_state_lines_then_count)
{
	struct hagent_event ev[16];
	struct scn_reply rep;
	struct watcher w;
	uint64_t from;
	size_t n;

	web_up();
	from = scn_event_head();
	WATCH(&w, "--json", "--count", "3", "web");
	watch_wait_ready(&w);
	ck_assert_int_eq(scn_online("web", &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_offline("web", 0, &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);

	ck_assert_int_eq(watch_end(&w, 0), 0);
	ck_assert_str_eq(w.errbuf, "");
	ck_assert_uint_eq(lines_count(w.buf), 3);
	/* Exactly web's first three state events since the start, as the log has them. */
	n = scn_state_events("web", from, ev, ELEMENTSOF(ev));
	ck_assert_uint_ge(n, 3);
	ck_assert_int_eq(ev[0].state, HAGENT_RESOURCE_ONLINE_PENDING);
	ck_assert_int_eq(ev[1].state, HAGENT_RESOURCE_ONLINE);
	for (size_t i = 0; i < 3; i++) {
		assert_json_state(line_at(w.buf, i), 1, "web", ev[i].id,
				  hagent_resource_state_to_string(ev[i].state), ev[i].state_seq,
				  false);
		if (i > 0)
			ck_assert_uint_gt(ev[i].state_seq, ev[i - 1].state_seq);
	}
	watch_free(&w);
}
END_TEST

/* A group's watch: its property line (a member added) and its state lines, nothing else. */
START_TEST(group_state_and_property_lines)
{
	struct hagent_event ev[16];
	struct scn_reply rep;
	struct watcher w;
	char want[256];
	uint64_t from;
	size_t n, i = 0;
	const char *line;

	web_up();
	WATCH(&w, "G"); /* names are case-insensitive */
	watch_wait_ready(&w);
	from = scn_event_head();
	ck_assert_int_eq(scn_add_resource("db", "g", NULL, NULL, 0, &rep), 0);
	scn_wait_state("db", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_online_group("g", 0, &rep), 0);
	group_wait("g", HAGENT_GROUP_ONLINE);
	n = scn_group_state_events("g", from, ev, ELEMENTSOF(ev));
	ck_assert_uint_ge(n, 1);
	snprintf(want, sizeof(want), " group g state online seq %u\n", ev[n - 1].state_seq);
	watch_wait_for(&w, want);
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_str_eq(w.errbuf, "");

	/* The property line (db joined), then every state event of the log, in order. */
	ck_assert_msg(strstr(line_at(w.buf, 0), " group g property"), "%s", w.buf);
	for (size_t k = 1; (line = line_at(w.buf, k)); k++) {
		if (strstr(line, " group g property"))
			continue; /* db's own changes may touch the group again */
		ck_assert_uint_lt(i, n);
		snprintf(want, sizeof(want), " group g state %s seq %u",
			 hagent_group_state_to_string(ev[i].state), ev[i].state_seq);
		ck_assert_msg(strstr(line, want) && strlen(strstr(line, want)) == strlen(want),
			      "line %zu: '%s', want '%s'", k, line, want);
		i++;
	}
	ck_assert_uint_eq(i, n);
	ck_assert_ptr_null(strstr(w.buf, "resource"));
	watch_free(&w);
}
END_TEST

/* Without NAME: a new group and a new resource show as added lines. */
START_TEST(every_object_added_lines)
{
	struct scn_reply rep;
	struct watcher w;
	const char *g2, *r2;

	web_up();
	watch_start(&w, (const char *const[]){NULL});
	watch_wait_ready(&w);
	ck_assert_int_eq(scn_add_group("g2", &rep), 0);
	ck_assert_int_eq(scn_add_resource("r2", "g2", NULL, NULL, 0, &rep), 0);
	watch_wait_for(&w, " resource r2 added\n");
	ck_assert_int_eq(watch_end(&w, SIGINT), 0);
	ck_assert_str_eq(w.errbuf, "");
	g2 = strstr(w.buf, " group g2 added\n");
	r2 = strstr(w.buf, " resource r2 added\n");
	ck_assert_msg(g2 && r2 && g2 < r2, "%s", w.buf);
	ck_assert_ptr_null(strstr(w.buf, " web "));
	watch_free(&w);
}
END_TEST

/* --filter state: a property change prints nothing, the state changes do. */
START_TEST(filter_state_only)
{
	struct scn_reply rep;
	struct watcher w;

	web_up();
	WATCH(&w, "--filter", "state", "web");
	watch_wait_ready(&w);
	ck_assert_int_eq(scn_set_props("web", SCN_PROPS({"Color", "blue"}), &rep), 0);
	ck_assert_int_eq(scn_online("web", &rep), 0);
	watch_wait_for(&w, " resource web state online seq ");
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_ptr_null(strstr(w.buf, "property"));
	ck_assert_msg(strstr(line_at(w.buf, 0), " resource web state online-pending seq "), "%s",
		      w.buf);
	watch_free(&w);
}
END_TEST

/* Exit code, nothing on stdout, one line on stderr holding want. */
static void assert_fails(const struct run *r, int code, const char *want)
{
	ck_assert_msg(r->code == code, "exit %d, want %d; stderr: %s", r->code, code, r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strstr(r->err, want), "'%s' not in stderr: %s", want, r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "stderr: %s", r->err);
}

START_TEST(usage_errors)
{
	struct run r;

	web_up();
	MCTL(&r, "watch", "--filter", "bogus", "web");
	assert_fails(&r, 2, "'bogus'");
	MCTL(&r, "watch", "--filter", "state,propety");
	assert_fails(&r, 2, "'propety'");
	MCTL(&r, "watch", "--filter", "state,", "web");
	assert_fails(&r, 2, "''");
	MCTL(&r, "watch", "nope");
	assert_fails(&r, 3, "monitorctl: No resource or group 'nope'.");
	MCTL(&r, "watch", "web", "nope");
	assert_fails(&r, 3, "'nope'");
	MCTL(&r, "watch", "--count", "0", "web");
	assert_fails(&r, 2, "--count");
	MCTL(&r, "watch", "--count", "x");
	assert_fails(&r, 2, "--count");
	MCTL(&r, "watch", "--count");
	ck_assert_int_eq(r.code, 2);
	MCTL(&r, "watch", "--reconnect-timeout", "soon", "web");
	assert_fails(&r, 2, "--reconnect-timeout 'soon'");
	MCTL(&r, "watch", "--reconnect-timeout", "-1", "web");
	assert_fails(&r, 2, "--reconnect-timeout '-1'");
	MCTL(&r, "watch", "--wait", "web");
	ck_assert_int_eq(r.code, 2); /* then the usage line */
	ck_assert_str_eq(r.out, "");
	ck_assert_ptr_nonnull(strstr(r.err, "option '--wait' does not apply to 'watch'"));
	scn_agent_stop();
	MCTL(&r, "watch", "web");
	assert_fails(&r, 7, "not running");
}
END_TEST

/*
 * Makes the agent append more events than its log holds: property changes
 * of web, the cheapest change there is.
 */
static void log_overrun(void)
{
	struct hagent_shm_info info;
	struct scn_reply rep;
	uint64_t head0;
	char value[32];

	ck_assert_int_eq(hagent_shm_get_info(scn.shm, &info), 0);
	head0 = info.event_head;
	for (unsigned i = 0; scn_event_head() < head0 + info.event_capacity + 16; i++) {
		snprintf(value, sizeof(value), "%u", i);
		int r = scn_set_props("web", SCN_PROPS({"Counter", value}), &rep);

		ck_assert_msg(r == 0, "set %u: %d %s %s (agent %s)", i, r, rep.error, rep.message,
			      scn_agent_alive() ? "alive" : "gone");
	}
}

/*
 * A watcher stopped while the log overran gets a reconnect line, then
 * exactly web's current state (one synthetic line), and nothing else.
 */
START_TEST(fallen_behind_named)
{
	struct hagent_resource res;
	struct scn_reply rep;
	struct watcher w;

	web_up();
	WATCH(&w, "--json", "web");
	watch_wait_ready(&w);
	ck_assert_int_eq(kill(w.pid, SIGSTOP), 0);
	ck_assert_int_eq(scn_online("web", &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	log_overrun();
	res = scn_res("web");
	ck_assert_int_eq(kill(w.pid, SIGCONT), 0);
	watch_wait_lines(&w, 2);
	/* Nothing else comes: the port has nothing newer than the synthetic line. */
	watch_read(&w, 300);
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_str_eq(w.errbuf, "");
	ck_assert_uint_eq(lines_count(w.buf), 2);
	ck_assert_msg(strstr(line_at(w.buf, 0), "\"change\":\"reconnect\",\"kind\":null,"
						"\"name\":null,\"id\":null,\"state\":null,"
						"\"state_seq\":null,\"synthetic\":false}"),
		      "%s", w.buf);
	assert_json_state(line_at(w.buf, 1), 1, "web", res.id, "online", res.state_seq, true);
	watch_free(&w);
}
END_TEST

/*
 * The same without NAME: one synthetic state line per object that changed
 * meanwhile (web and its group), none for one that did not (g2).
 */
START_TEST(fallen_behind_every_object)
{
	struct hagent_resource res;
	struct hagent_group grp;
	struct scn_reply rep;
	struct watcher w;
	const char *l1, *l2, *lg, *lr;

	scn_seed_group("g2", false);
	web_up();
	WATCH(&w, "--json", "--filter", "state");
	watch_wait_ready(&w);
	ck_assert_int_eq(kill(w.pid, SIGSTOP), 0);
	ck_assert_int_eq(scn_online("web", &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	group_wait("g", HAGENT_GROUP_ONLINE);
	log_overrun();
	res = scn_res("web");
	grp = scn_group("g");
	ck_assert_int_eq(kill(w.pid, SIGCONT), 0);
	watch_wait_lines(&w, 3);
	watch_read(&w, 300);
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_str_eq(w.errbuf, "");
	ck_assert_uint_eq(lines_count(w.buf), 3);
	ck_assert_msg(strstr(line_at(w.buf, 0), "\"change\":\"reconnect\""), "%s", w.buf);
	/* The table's order: groups, then resources. */
	l1 = strdup(line_at(w.buf, 1));
	l2 = strdup(line_at(w.buf, 2));
	lg = strstr(l1, "\"kind\":\"group\"") ? l1 : l2;
	lr = lg == l1 ? l2 : l1;
	assert_json_state(lg, 2, "g", grp.id, "online", grp.state_seq, true);
	assert_json_state(lr, 1, "web", res.id, "online", res.state_seq, true);
	free((void *) l1);
	free((void *) l2);
	watch_free(&w);
}
END_TEST

/* SIGTERM and SIGINT end a watch that saw nothing with exit 0, at once. */
START_TEST(signals_end_it)
{
	static const int sigs[] = {SIGTERM, SIGINT};

	web_up();
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
		struct watcher w;

		WATCH(&w, "web");
		watch_wait_ready(&w);
		ck_assert_int_eq(watch_end(&w, sigs[i]), 0);
		ck_assert_str_eq(w.buf, "");
		ck_assert_str_eq(w.errbuf, "");
		watch_free(&w);
	}
}
END_TEST

/*
 * Scenario 82 end to end: a watch of web goes on after web is renamed (the
 * port matches by id), and prints the new name.
 */
START_TEST(rename_keeps_watching)
{
	struct hagent_resource res;
	struct scn_reply rep;
	struct watcher w;
	char hex[2 * HAGENT_ID_SIZE + 1], want[256];
	sd_bus_message *m;

	web_up();
	res = scn_res("web");
	hex_of(res.id, hex);
	WATCH(&w, "--json", "web");
	watch_wait_ready(&w);
	m = scn_method_new("RenameResource");
	ck_assert_int_ge(sd_bus_message_append(m, "ss", "web", "web2"), 0);
	ck_assert_int_eq(scn_method_send(m, &rep, NULL), 0);
	ck_assert_int_eq(scn_online("web2", &rep), 0);
	snprintf(want, sizeof(want), "\"name\":\"web2\",\"id\":\"%s\",\"state\":\"online\"", hex);
	watch_wait_for(&w, want);
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_ptr_null(strstr(w.buf, "\"name\":\"web\""));
	watch_free(&w);
}
END_TEST

/* Lines of web going offline, nothing else. */
static void assert_only_offline(const char *buf)
{
	const char *line = buf, *nl;

	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(memmem(line, (size_t) (nl - line), " resource web state offline", 27),
			      "not web going offline: %.*s", (int) (nl - line), line);
	}
}

/*
 * hagentd stops (SIGTERM) or dies (SIGKILL) under a watch and no agent comes
 * back: exit 7 once --reconnect-timeout has passed since the watch saw it
 * gone.  The stop takes web offline in order first (the watch may show it,
 * nothing else); the kill changes nothing.
 */
START_TEST(agent_stops)
{
	for (int i = 0; i < 2; i++) {
		struct watcher w;

		if (i == 0)
			web_up();
		else
			scn_agent_start();
		WATCH(&w, "--reconnect-timeout", "2", "web");
		watch_wait_ready(&w);
		if (i == 0)
			scn_agent_stop();
		else
			scn_agent_kill9();
		ck_assert_int_eq(watch_end(&w, 0), 7);
		if (i == 0 && *w.buf)
			assert_only_offline(w.buf); /* a graceful stop takes web offline first */
		else
			ck_assert_str_eq(w.buf, "");
		ck_assert_str_eq(w.errbuf, "monitorctl: hagentd stopped\n");
		watch_free(&w);
	}
}
END_TEST

/* A --json line's unsigned member key (it must have one). */
static uint32_t json_uint_of(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	ck_assert_msg(p, "no %s in %s", key, line);
	return (uint32_t) strtoul(p + strlen(pat), NULL, 10);
}

/*
 * After a restart, web's lines: one reconnect line (first), at most one
 * synthetic state line (its state at the switch, when the sequence is not
 * old_seq, the last one the old agent gave it), then each of web's state
 * events of the new agent's log newer than that, exactly, in order, ending
 * with online.  Only one reconnect line.
 */
static void assert_followed_lines(const char *out, uint32_t old_seq)
{
	struct hagent_event ev[32];
	struct hagent_resource res = scn_res("web");
	size_t n = scn_state_events("web", 0, ev, ELEMENTSOF(ev)), k = 0;
	bool synthetic = false;
	uint32_t seq = old_seq;
	char state[32];
	const char *line;
	size_t i;

	ck_assert_uint_le(n, ELEMENTSOF(ev));
	ck_assert_msg(strstr(line_at(out, 0), "\"change\":\"reconnect\",\"kind\":null,"
					      "\"name\":null,\"id\":null,\"state\":null,"
					      "\"state_seq\":null,\"synthetic\":false}"),
		      "%s", out);
	for (i = 1; (line = line_at(out, i)); i++) {
		ck_assert_msg(!strstr(line, "reconnect"), "a second reconnect:\n%s", out);
		if (!strstr(line, "\"kind\":\"resource\"") || !strstr(line, "\"name\":\"web\""))
			continue; /* every object: the other ones */
		ck_assert_msg(strstr(line, "\"change\":\"state\""), "%s", line);
		ck_assert_msg(json_str(line, "state", state, sizeof(state)), "%s", line);
		if (strstr(line, "\"synthetic\":true")) {
			/* Only before any event of the new agent, and only once. */
			ck_assert_msg(k == 0 && !synthetic, "late synthetic line:\n%s", out);
			synthetic = true;
			seq = json_uint_of(line, "state_seq");
			ck_assert_uint_ne(seq, old_seq);
			continue;
		}
		/* The next event of the log that is newer than what was printed. */
		while (k < n && (int32_t) (ev[k].state_seq - seq) <= 0)
			k++;
		ck_assert_msg(k < n, "line %zu has no event: %s\n%s", i, line, out);
		assert_json_state(line, 1, "web", res.id,
				  hagent_resource_state_to_string(ev[k].state), ev[k].state_seq,
				  false);
		seq = ev[k++].state_seq;
	}
	ck_assert_uint_eq(seq, res.state_seq); /* up to the current state */
	ck_assert_str_eq(state, "online");
}

/*
 * hagentd is SIGKILLed under a watch of web and a new hagentd starts on the
 * same dirs: the watch goes on (--reconnect-timeout 0: it would wait
 * forever), prints one reconnect line and then the new agent's changes.
 */
START_TEST(follows_agent_killed)
{
	struct scn_reply rep;
	struct watcher w;
	char want[64];
	uint32_t old_seq;

	web_up();
	old_seq = scn_res("web").state_seq;
	WATCH(&w, "--json", "--reconnect-timeout", "0", "web");
	watch_wait_ready(&w);
	scn_agent_kill9();
	scn_agent_start();
	scn_wait_state("web", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	watch_wait_for(&w, "\"change\":\"reconnect\"");
	ck_assert_int_eq(scn_online("web", &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	snprintf(want, sizeof(want), "\"state\":\"online\",\"state_seq\":%u,",
		 scn_res("web").state_seq);
	watch_wait_for(&w, want);
	watch_read(&w, 300); /* nothing more comes */
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_str_eq(w.errbuf, "");
	assert_followed_lines(w.buf, old_seq);
	watch_free(&w);
}
END_TEST

/*
 * The same without NAME, across a clean stop and a start (default
 * --reconnect-timeout): the port's own reconnect, the table read again,
 * then the new agent's lines.
 */
START_TEST(follows_agent_restarted_every_object)
{
	struct scn_reply rep;
	struct watcher w;
	char want[64];
	uint32_t old_seq;

	web_up();
	old_seq = scn_res("web").state_seq;
	WATCH(&w, "--json", "--filter", "state");
	watch_wait_ready(&w);
	scn_agent_stop();
	scn_agent_start();
	scn_wait_state("web", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	watch_wait_for(&w, "\"change\":\"reconnect\"");
	ck_assert_int_eq(scn_online("web", &rep), 0);
	scn_wait_state("web", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
	snprintf(want, sizeof(want), "\"state\":\"online\",\"state_seq\":%u,",
		 scn_res("web").state_seq);
	watch_wait_for(&w, want);
	watch_read(&w, 300);
	ck_assert_int_eq(watch_end(&w, SIGTERM), 0);
	ck_assert_str_eq(w.errbuf, "");
	assert_followed_lines(w.buf, old_seq);
	watch_free(&w);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("monitorctl-watch");

	scn_tcase_add(s, "resource_state_lines_then_count", resource_state_lines_then_count, 60);
	scn_tcase_add(s, "group_state_and_property_lines", group_state_and_property_lines, 60);
	scn_tcase_add(s, "every_object_added_lines", every_object_added_lines, 60);
	scn_tcase_add(s, "filter_state_only", filter_state_only, 60);
	scn_tcase_add(s, "usage_errors", usage_errors, 60);
	scn_tcase_add(s, "fallen_behind_named", fallen_behind_named, 240);
	scn_tcase_add(s, "fallen_behind_every_object", fallen_behind_every_object, 240);
	scn_tcase_add(s, "signals_end_it", signals_end_it, 60);
	scn_tcase_add(s, "agent_stops", agent_stops, 120);
	scn_tcase_add(s, "follows_agent_killed", follows_agent_killed, 120);
	scn_tcase_add(s, "follows_agent_restarted_every_object",
		      follows_agent_restarted_every_object, 120);
	scn_tcase_add(s, "rename_keeps_watching", rename_keeps_watching, 60);
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR") || !getenv("MONITORCTL_BIN"))
		return 77;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return EXIT_FAILURE;
	return test_run_suite(watch_suite());
}
