/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's commands that change something, run as a user would
 * ($MONITORCTL_BIN) against a real hagentd ($HAGENTD_BIN) in a private
 * runtime and state dir, with hamon-test resources ($HAMON_MONITOR_DIR):
 * stdout, stderr and the exit code of group add/remove/online/offline/set,
 * resource add/remove/set/online/offline/add-dependency/remove-dependency,
 * --wait and --timeout, the agent's refusals (each with its exit code), and
 * the configuration surviving a restart of the agent.  The segment, read
 * directly, and the test monitors' record files are the witnesses.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hagent/shm.h"
#include "macro.h"
#include "test-hagentd-util.h"
#include "test-run-util.h"
#include "test-util.h"

extern char **environ;

static pid_t agent_pid;
static hagent_shm *shm;
static uid_t run_as; /* 0: monitorctl runs as we do; else as this uid and gid */

/* ================================== the agent ================================== */

static void agent_start(void)
{
	const char *bin = getenv("HAGENTD_BIN"), *mondir = getenv("HAMON_MONITOR_DIR");
	pid_t parent = getpid();
	char path[160];

	ck_assert_msg(bin, "HAGENTD_BIN is not set");
	ck_assert_msg(mondir, "HAMON_MONITOR_DIR is not set");
	snprintf(path, sizeof(path), "%s/agent.log", base);
	agent_pid = fork();
	ck_assert_int_ge(agent_pid, 0);
	if (agent_pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		struct rlimit nocore = {0, 0};

		/* A failed test exits without its teardown: the agent then stops its monitors. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(97);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(99);
		(void) setrlimit(RLIMIT_CORE, &nocore);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		execl(bin, bin, "--runtime-dir", rundir, "--state-dir", statedir, "--monitor-dir",
		      mondir, (char *) NULL);
		_exit(98);
	}
}

/* Starts the agent and waits until it serves both sockets. */
static void agent_up(void)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	char path[160];

	agent_start();
	shm = segment_open();
	snprintf(path, sizeof(path), "%s/control.sock", rundir);
	while (access(path, F_OK) < 0) {
		ck_assert_msg(now_ms() < end, "no %s", path);
		usleep(10000);
	}
}

/* SIGTERM: hagentd stops its monitors and exits 0. */
static void agent_stop(void)
{
	int status;

	shm = hagent_shm_unref(shm);
	ck_assert_int_eq(kill(agent_pid, SIGTERM), 0);
	status = pid_wait(agent_pid);
	agent_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}

/*
 * The agent's children (its monitors, which outlive a killed agent, each in
 * its own session), listed before the agent is killed, killed after it.
 */
static size_t agent_children(pid_t *pids, size_t max)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	DIR *d = opendir("/proc");
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) && n < max) {
		int ppid = 0;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == agent_pid)
			pids[n++] = (pid_t) atoi(de->d_name);
	}
	closedir(d);
	return n;
}

/* kill -9 of the agent, then of the monitors it leaves behind. */
static void agent_kill9(void)
{
	pid_t monitors[64];
	size_t n = agent_children(monitors, ELEMENTSOF(monitors));

	shm = hagent_shm_unref(shm);
	ck_assert_int_eq(kill(agent_pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(agent_pid, NULL, 0), agent_pid);
	agent_pid = 0;
	for (size_t i = 0; i < n; i++)
		(void) kill(monitors[i], SIGKILL);
}

static void setup(void)
{
	dirs_setup("/tmp/test-monitorctl-control-XXXXXX");
	agent_pid = 0;
	shm = NULL;
	run_as = 0;
	agent_up();
}

static void teardown(void)
{
	if (agent_pid > 0)
		agent_stop();
	dirs_remove();
}

/* ================================= monitorctl ================================= */

/* Starts monitorctl --runtime-dir <rundir> args...; *ret_out, *ret_err: its pipes. */
static pid_t mctl_spawn(const char *const *args, int *ret_out, int *ret_err)
{
	const char *bin = getenv("MONITORCTL_BIN");
	const char *argv[24] = {"monitorctl", "--runtime-dir", rundir};
	int out[2], err[2];
	pid_t pid;

	ck_assert_msg(bin, "MONITORCTL_BIN is not set");
	for (size_t i = 0; args[i]; i++) {
		ck_assert_uint_lt(i + 4, ELEMENTSOF(argv));
		argv[i + 3] = args[i];
	}
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		if (run_as && (setgroups(0, NULL) < 0 || setgid(run_as) < 0 || setuid(run_as) < 0))
			_exit(126);
		execve(bin, (char *const *) argv, environ);
		_exit(127);
	}
	safe_close(out[1]);
	safe_close(err[1]);
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

static void mctl_run(struct run *r, const char *const *args)
{
	int out, err;
	pid_t pid = mctl_spawn(args, &out, &err);

	run_collect(r, pid, out, err);
}

#define MCTL(r, ...) mctl_run(r, (const char *const[]){__VA_ARGS__, NULL})

/* Success: exit 0, nothing on stderr, stdout exactly out (NULL: not checked). */
static void assert_ok(const struct run *r, const char *out)
{
	ck_assert_msg(r->code == 0, "exit %d, stderr: %s", r->code, r->err);
	ck_assert_str_eq(r->err, "");
	if (out)
		ck_assert_str_eq(r->out, out);
}

/*
 * Failure: the exit code, nothing on stdout, one line on stderr that starts
 * with "monitorctl: " and holds every string of the NULL-terminated list.
 */
static void assert_fails(const struct run *r, int code, ...)
{
	const char *want;
	va_list ap;

	ck_assert_msg(r->code == code, "exit %d, want %d; stderr: %s", r->code, code, r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strncmp(r->err, "monitorctl: ", 12) == 0, "stderr: %s", r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "stderr: %s", r->err);
	va_start(ap, code);
	while ((want = va_arg(ap, const char *)))
		ck_assert_msg(strstr(r->err, want), "'%s' not in stderr: %s", want, r->err);
	va_end(ap);
}

/* An id as add prints it: 32 lower-case hex digits and a newline. */
static void assert_id(const char *out)
{
	ck_assert_msg(strlen(out) == 33 && out[32] == '\n', "not an id: '%s'", out);
	for (int i = 0; i < 32; i++)
		ck_assert_msg((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'),
			      "not an id: '%s'", out);
}

/* add --json: {"name":"<name>","id":"<32 hex digits>"} and a newline. */
static void assert_json_id(const char *out, const char *name)
{
	char head[128], id[34];

	snprintf(head, sizeof(head), "{\"name\":\"%s\",\"id\":\"", name);
	ck_assert_msg(strncmp(out, head, strlen(head)) == 0, "%s", out);
	ck_assert_msg(strlen(out) == strlen(head) + 35, "%s", out);
	ck_assert_str_eq(out + strlen(head) + 32, "\"}\n");
	memcpy(id, out + strlen(head), 32);
	id[32] = '\n';
	id[33] = '\0';
	assert_id(id);
}

/* ================================= the segment ================================= */

/* The resource's record; false if there is none of that name. */
static bool res_read(const char *name, struct hagent_resource *ret)
{
	uint32_t slot;
	int r;

	for (int attempt = 0; attempt < 100; attempt++) {
		r = hagent_shm_find(shm, 1, name, &slot);
		if (r == -ENOENT)
			return false;
		ck_assert_int_eq(r, 0);
		r = hagent_shm_read_resource(shm, slot, ret);
		if (r == 0)
			return true;
		ck_assert_msg(r == -ENOENT || r == -EBUSY, "read %s: %d", name, r);
	}
	ck_abort_msg("cannot read %s", name);
	return false;
}

static struct hagent_resource res_get(const char *name)
{
	struct hagent_resource r;

	ck_assert_msg(res_read(name, &r), "no resource %s", name);
	return r;
}

/* Waits (bounded) for the resource to be in state want. */
static struct hagent_resource res_wait(const char *name, int32_t want)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	struct hagent_resource r;

	for (;;) {
		bool found = res_read(name, &r);

		if (found && r.state == want)
			return r;
		ck_assert_msg(now_ms() < end, "%s: %s, waiting for %s", name,
			      found ? hagent_resource_state_to_string(r.state) : "missing",
			      hagent_resource_state_to_string(want));
		usleep(2000);
	}
}

/* Waits (bounded) until no resource of that name is left in the segment. */
static void res_wait_gone(const char *name)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	struct hagent_resource r;

	while (res_read(name, &r))
		ck_assert_msg(now_ms() < end, "%s still there", name);
}

static bool group_exists(const char *name)
{
	uint32_t slot;
	int r = hagent_shm_find(shm, 2, name, &slot);

	ck_assert(r == 0 || r == -ENOENT);
	return r == 0;
}

/* The resource's properties blob ("key=value\0"...), NUL-terminated, in a static buffer. */
static const char *res_props(const char *name)
{
	static char buf[4096];

	for (int attempt = 0; attempt < 100; attempt++) {
		struct hagent_resource r = res_get(name);
		size_t len = 0;
		int e;

		if (r.properties.blob_id == 0)
			return "";
		e = hagent_shm_read_blob(shm, &r.properties, buf, sizeof(buf) - 1, &len);
		if (e == -ESTALE)
			continue;
		ck_assert_int_eq(e, 0);
		ck_assert_uint_lt(len, sizeof(buf));
		buf[len] = '\0';
		return buf;
	}
	ck_abort_msg("cannot read the properties of %s", name);
	return NULL;
}

/* Whether the blob's "key=value\0" list holds entry. */
static bool props_have(const char *name, const char *entry)
{
	struct hagent_resource r = res_get(name);
	const char *p = res_props(name), *end = p;

	end += r.properties.len;
	for (; p < end; p += strlen(p) + 1)
		if (strcmp(p, entry) == 0)
			return true;
	return false;
}

/* Waits (bounded) until process pid has mapped the state segment: it is past the agent's answer. */
static void wait_segment_mapped(pid_t pid)
{
	uint64_t end = now_ms() + HAGENTD_WAIT_MS;
	char path[64], line[512];

	for (;;) {
		bool mapped = false;
		FILE *f;

		/* Before its exec, the child has our own mappings: look only at monitorctl. */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
		f = fopen(path, "re");
		ck_assert_ptr_nonnull(f);
		if (fgets(line, sizeof(line), f) && strcmp(line, "monitorctl\n") == 0) {
			fclose(f);
			snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
			f = fopen(path, "re");
			ck_assert_ptr_nonnull(f);
			while (!mapped && fgets(line, sizeof(line), f))
				mapped = strstr(line, "memfd:hagent-state");
		}
		fclose(f);
		if (mapped)
			return;
		ck_assert_msg(now_ms() < end, "monitorctl never mapped the segment");
		usleep(1000);
	}
}

/* ================================== helpers ================================== */

static void group_add(const char *name)
{
	struct run r;

	MCTL(&r, "group", "add", name);
	assert_ok(&r, NULL);
	assert_id(r.out);
}

/* resource add NAME --group g --type test [--set ...]; the id printed, in a static buffer. */
static const char *resource_add(const char *name, ...)
{
	static char id[40];
	const char *args[20] = {"resource", "add", name, "--group", "g", "--type", "test"};
	size_t n = 7;
	const char *kv;
	struct run r;
	va_list ap;

	va_start(ap, name);
	while ((kv = va_arg(ap, const char *))) {
		ck_assert_uint_lt(n + 3, ELEMENTSOF(args));
		args[n++] = "--set";
		args[n++] = kv;
	}
	va_end(ap);
	mctl_run(&r, args);
	assert_ok(&r, NULL);
	assert_id(r.out);
	memcpy(id, r.out, 32);
	id[32] = '\0';
	return id;
}

/* The status --json object of a resource starts with this (name, id, group, type, state). */
static void assert_status_has(const char *name, const char *id, const char *state)
{
	char out[16384], want[256];

	snprintf(
		want, sizeof(want),
		"{\"name\":\"%s\",\"id\":\"%s\",\"group\":\"g\",\"type\":\"test\",\"state\":\"%s\"",
		name, id, state);
	monitorctl_status_json(out, sizeof(out));
	ck_assert_msg(strstr(out, want), "'%s' not in %s", want, out);
}

static void id_hex(const uint8_t id[HAGENT_ID_SIZE], char ret[33])
{
	for (int i = 0; i < HAGENT_ID_SIZE; i++)
		snprintf(ret + 2 * i, 3, "%02x", id[i]);
}

/* =================================== groups =================================== */

/*
 * Claim: group add prints the new group's id (text or JSON) and the group
 * is in the segment; a taken name (any case) is exit 1, a bad name exit 2;
 * group remove is quiet, an unknown group exit 3, a group with resources
 * exit 1.  Every refusal names the group.
 */
START_TEST(test_groups)
{
	char want[128], out[16384];
	struct run r;

	MCTL(&r, "group", "add", "g");
	assert_ok(&r, NULL);
	assert_id(r.out);
	ck_assert(group_exists("g"));
	snprintf(want, sizeof(want), "{\"name\":\"g\",\"id\":\"%.32s\"", r.out);
	monitorctl_status_json(out, sizeof(out));
	ck_assert_msg(strstr(out, want), "'%s' not in %s", want, out);

	MCTL(&r, "group", "add", "g");
	assert_fails(&r, 1, "'g'", NULL);
	MCTL(&r, "group", "add", "G");
	assert_fails(&r, 1, "G", NULL);
	MCTL(&r, "group", "add", "");
	assert_fails(&r, 2, NULL);

	MCTL(&r, "--json", "group", "add", "g2");
	assert_ok(&r, NULL);
	assert_json_id(r.out, "g2");
	ck_assert(group_exists("g2"));

	MCTL(&r, "group", "remove", "g2");
	assert_ok(&r, "");
	ck_assert(!group_exists("g2"));
	MCTL(&r, "group", "remove", "g2");
	assert_fails(&r, 3, "g2", NULL);

	resource_add("web", NULL);
	MCTL(&r, "group", "remove", "g");
	assert_fails(&r, 1, "'g'", NULL);
	ck_assert(group_exists("g"));
}
END_TEST

/* ================================== resources ================================== */

/*
 * Claim: resource add prints the new resource's id, which the segment
 * shows with its type, group and --set properties, and the monitor opens it
 * (Offline).  A taken name is exit 1, an unknown group or type exit 3, a bad
 * common property value or a key twice exit 2; a refused add leaves nothing.
 */
START_TEST(test_resource_add)
{
	const char *id;
	char hex[33], saved[33];
	struct hagent_resource res;
	struct run r;

	group_add("g");
	id = resource_add("web", "OnlineDelay=50", "PendingTimeout=60000", "Note=a=b", NULL);
	snprintf(saved, sizeof(saved), "%s", id);
	res = res_wait("web", HAGENT_RESOURCE_OFFLINE);
	id_hex(res.id, hex);
	ck_assert_str_eq(hex, saved);
	ck_assert_str_eq(res.type, "test");
	ck_assert_int_gt(res.monitor_pid, 0);
	ck_assert_int_eq(res.persistent_state, 0);
	ck_assert(props_have("web", "OnlineDelay=50"));
	ck_assert(props_have("web", "PendingTimeout=60000"));
	ck_assert(props_have("web", "Note=a=b")); /* the key ends at the first '=' */
	assert_status_has("web", saved, "offline");

	MCTL(&r, "resource", "add", "web", "--group", "g", "--type", "test");
	assert_fails(&r, 1, "web", NULL);
	MCTL(&r, "resource", "add", "WEB", "--group", "g", "--type", "test");
	assert_fails(&r, 1, "WEB", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "nosuch", "--type", "test");
	assert_fails(&r, 3, "nosuch", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "g", "--type", "nosuch");
	assert_fails(&r, 3, "nosuch", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "g", "--type", "test", "--set",
	     "PendingTimeout=5");
	assert_fails(&r, 2, "PendingTimeout", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "g", "--type", "test", "--set",
	     "RestartAction=7");
	assert_fails(&r, 2, "RestartAction", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "g", "--type", "test", "--set",
	     "RestartDelay=soon");
	assert_fails(&r, 2, "RestartDelay", NULL);
	MCTL(&r, "resource", "add", "db", "--group", "g", "--type", "test", "--set", "A=1", "--set",
	     "A=2");
	assert_fails(&r, 2, "A", NULL);
	MCTL(&r, "resource", "add", "", "--group", "g", "--type", "test");
	assert_fails(&r, 2, NULL);
	ck_assert(!res_read("db", &res));

	MCTL(&r, "--json", "resource", "add", "db", "--group", "g", "--type", "test");
	assert_ok(&r, NULL);
	assert_json_id(r.out, "db");
	res_wait("db", HAGENT_RESOURCE_OFFLINE);
}
END_TEST

/*
 * Claim: resource set changes properties (quietly), an empty value resets
 * the key (it leaves the list); a bad common value is exit 2 and changes
 * nothing, an unknown resource exit 3.
 */
START_TEST(test_resource_set)
{
	struct run r;

	group_add("g");
	resource_add("web", "OnlineDelay=50", "PendingTimeout=60000", NULL);
	res_wait("web", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "resource", "set", "web", "OnlineDelay=70", "PendingTimeout=", "Color=blue");
	assert_ok(&r, "");
	ck_assert(props_have("web", "OnlineDelay=70"));
	ck_assert(props_have("web", "Color=blue"));
	ck_assert(!props_have("web", "OnlineDelay=50"));
	ck_assert(!props_have("web", "PendingTimeout=60000"));

	MCTL(&r, "resource", "set", "web", "RestartThreshold=300", "Color=red");
	assert_fails(&r, 2, "RestartThreshold", NULL);
	ck_assert(props_have("web", "Color=blue"));
	MCTL(&r, "resource", "set", "Web", "Color=green"); /* names are case-insensitive */
	assert_ok(&r, "");
	ck_assert(props_have("web", "Color=green"));
	MCTL(&r, "resource", "set", "nosuch", "Color=red");
	assert_fails(&r, 3, "nosuch", NULL);
}
END_TEST

/*
 * Claim: online --wait prints "online" once the resource is Online (status
 * --json shows it), offline --wait "offline"; a second request has nothing
 * to do and prints the state; without --wait the answer is "pending" and
 * the operation goes on; --json prints name, id, state and sequence.
 */
START_TEST(test_online_offline)
{
	char id[33], want[256];
	struct hagent_resource res;
	struct run r;

	group_add("g");
	snprintf(id, sizeof(id), "%s",
		 resource_add("web", "OnlineDelay=100", "ProgressInterval=20", NULL));
	res_wait("web", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "resource", "online", "web", "--wait");
	assert_ok(&r, "online\n");
	res = res_get("web");
	ck_assert_int_eq(res.state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(res.persistent_state, 1);
	assert_status_has("web", id, "online");
	MCTL(&r, "resource", "online", "web");
	assert_ok(&r, "online\n");
	MCTL(&r, "resource", "online", "web", "--wait", "--timeout", "5");
	assert_ok(&r, "online\n");
	MCTL(&r, "--json", "resource", "online", "web", "--wait");
	snprintf(want, sizeof(want),
		 "{\"name\":\"web\",\"id\":\"%s\",\"state\":\"online\",\"sequence\":%u}\n", id,
		 res.state_seq);
	assert_ok(&r, want);

	MCTL(&r, "resource", "offline", "web", "--wait");
	assert_ok(&r, "offline\n");
	res = res_get("web");
	ck_assert_int_eq(res.state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(res.persistent_state, 0);
	assert_status_has("web", id, "offline");
	MCTL(&r, "resource", "offline", "web");
	assert_ok(&r, "offline\n");

	/*
	 * Without --wait: "pending" while the operation runs (its entry point
	 * takes a second: pending, whether or not the agent waits for the
	 * monitor's first answer), and the segment then shows its end.
	 */
	snprintf(id, sizeof(id), "%s",
		 resource_add("slow", "OnlineDelay=1000", "OfflineDelay=1000", NULL));
	res_wait("slow", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "resource", "online", "slow");
	assert_ok(&r, "pending\n");
	ck_assert_int_eq(res_get("slow").state, HAGENT_RESOURCE_ONLINE_PENDING);
	res_wait("slow", HAGENT_RESOURCE_ONLINE);
	MCTL(&r, "--json", "resource", "offline", "slow");
	assert_ok(&r, NULL);
	snprintf(
		want, sizeof(want),
		"{\"name\":\"slow\",\"id\":\"%s\",\"state\":\"offline-pending\",\"sequence\":", id);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, ",\"pending\":true}\n"));
	ck_assert_int_eq(res_get("slow").state, HAGENT_RESOURCE_OFFLINE_PENDING);
	res = res_wait("slow", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "--json", "resource", "offline", "slow");
	snprintf(want, sizeof(want),
		 "{\"name\":\"slow\",\"id\":\"%s\",\"state\":\"offline\",\"sequence\":%u,"
		 "\"pending\":false}\n",
		 id, res.state_seq);
	assert_ok(&r, want);
	MCTL(&r, "--json", "resource", "offline", "slow", "--wait", "--force");
	snprintf(want, sizeof(want),
		 "{\"name\":\"slow\",\"id\":\"%s\",\"state\":\"offline\",\"sequence\":%u}\n", id,
		 res.state_seq);
	assert_ok(&r, want);
	MCTL(&r, "resource", "online", "nosuch", "--wait");
	assert_fails(&r, 3, "nosuch", NULL);
	MCTL(&r, "resource", "offline", "nosuch");
	assert_fails(&r, 3, "nosuch", NULL);
}
END_TEST

/*
 * Claim: online --wait right after resource add, while the monitor is still
 * opening it (Initializing, the online queued; then Offline, OnlinePending),
 * waits through to Online.
 */
START_TEST(test_online_while_initializing)
{
	struct run r;

	group_add("g");
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "r%d", i);
		resource_add(name, "OnlineDelay=20", NULL);
		MCTL(&r, "resource", "online", name, "--wait", "--timeout", "30");
		assert_ok(&r, "online\n");
		ck_assert_int_eq(res_get(name).state, HAGENT_RESOURCE_ONLINE);
	}
}
END_TEST

/*
 * Claim: --timeout bounds the wait: exit 6 naming the resource and its
 * state, and the online goes on; a request on the pending resource is
 * exit 1 (InvalidState); offline --force terminates it at once.
 */
START_TEST(test_timeout)
{
	uint64_t t0;
	struct run r;

	group_add("g");
	resource_add("slow", "OnlineDelay=30000", NULL);
	res_wait("slow", HAGENT_RESOURCE_OFFLINE);

	t0 = now_ms();
	MCTL(&r, "resource", "online", "slow", "--wait", "--timeout", "0.3");
	assert_fails(&r, 6, "'slow'", "online-pending", NULL);
	ck_assert_uint_lt(now_ms() - t0, 20000); /* not the 30 s of the online */
	ck_assert_int_eq(res_get("slow").state, HAGENT_RESOURCE_ONLINE_PENDING);

	MCTL(&r, "resource", "online", "slow");
	assert_fails(&r, 1, "slow", NULL);
	MCTL(&r, "resource", "offline", "slow", "--wait");
	assert_fails(&r, 1, "slow", NULL);
	ck_assert_int_eq(res_get("slow").state, HAGENT_RESOURCE_ONLINE_PENDING);

	MCTL(&r, "resource", "offline", "slow", "--force", "--wait");
	assert_ok(&r, "offline\n");
	ck_assert_int_eq(res_get("slow").state, HAGENT_RESOURCE_OFFLINE);
}
END_TEST

/*
 * Claim: an online that fails is exit 1 with the resource's error, pending
 * or not (the failure seen by --wait, or reported by the agent when the
 * entry point failed at once); offline of the Failed resource is exit 1 (it
 * stays Failed, its persistent state becomes offline).
 */
START_TEST(test_online_fails)
{
	struct hagent_resource res;
	struct run r;

	group_add("g");
	resource_add("bad", "OnlineResult=fail", "OnlineError=5", "OnlineDelay=50",
		     "RestartAction=0", NULL);
	resource_add("bad2", "OnlineResult=fail", "OnlineError=5", "RestartAction=0", NULL);
	res_wait("bad", HAGENT_RESOURCE_OFFLINE);
	res_wait("bad2", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "resource", "online", "bad", "--wait");
	assert_fails(&r, 1, "Resource 'bad' failed", strerror(EIO), NULL);
	res = res_get("bad");
	ck_assert_int_eq(res.state, HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(res.last_error, -EIO);
	MCTL(&r, "resource", "online", "bad2", "--wait", "--timeout", "30");
	assert_fails(&r, 1, "Resource 'bad2' failed", strerror(EIO), NULL);

	MCTL(&r, "resource", "offline", "bad", "--wait");
	assert_fails(&r, 1, "bad", NULL);
	res = res_get("bad");
	ck_assert_int_eq(res.state, HAGENT_RESOURCE_FAILED);
	ck_assert_int_eq(res.persistent_state, 0);
}
END_TEST

/*
 * Claim: offline of a resource in locked mode is exit 5 and changes
 * nothing; offline --force terminates it.
 */
START_TEST(test_locked)
{
	struct hagent_resource res;
	struct run r;

	group_add("g");
	resource_add("vault", "Locked=1", NULL);
	res_wait("vault", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "resource", "online", "vault", "--wait");
	assert_ok(&r, "online\n");
	res = res_get("vault");
	ck_assert_uint_eq(res.flags & HAGENT_RESOURCE_LOCKED, HAGENT_RESOURCE_LOCKED);

	MCTL(&r, "resource", "offline", "vault", "--wait");
	assert_fails(&r, 5, "vault", NULL);
	res = res_get("vault");
	ck_assert_int_eq(res.state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(res.persistent_state, 1);

	MCTL(&r, "resource", "offline", "vault", "--force", "--wait");
	assert_ok(&r, "offline\n");
	ck_assert_int_eq(res_get("vault").state, HAGENT_RESOURCE_OFFLINE);
}
END_TEST

/*
 * Claim: remove of an Online resource is exit 1 and leaves it Online;
 * with --force it is terminated and removed (its name free again); remove
 * of an Offline resource needs no --force; an unknown one is exit 3.
 */
START_TEST(test_remove)
{
	struct run r;

	group_add("g");
	resource_add("web", NULL);
	res_wait("web", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "resource", "online", "web", "--wait");
	assert_ok(&r, "online\n");

	MCTL(&r, "resource", "remove", "web");
	assert_fails(&r, 1, "web", NULL);
	ck_assert_int_eq(res_get("web").state, HAGENT_RESOURCE_ONLINE);
	MCTL(&r, "resource", "remove", "web", "--force");
	assert_ok(&r, "");
	res_wait_gone("web");
	MCTL(&r, "show", "web");
	assert_fails(&r, 3, "web", NULL);
	MCTL(&r, "resource", "remove", "web");
	assert_fails(&r, 3, "web", NULL);

	resource_add("web", NULL);
	res_wait("web", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "resource", "remove", "WEB");
	assert_ok(&r, "");
	res_wait_gone("web");
	MCTL(&r, "group", "remove", "g");
	assert_ok(&r, "");
	ck_assert(!group_exists("g"));
}
END_TEST

/*
 * Claim: what monitorctl changed is the agent's configuration: after a
 * restart (SIGTERM, start) the group and resources are there with their
 * ids and properties, the online one comes back Online, the other stays
 * Offline.
 */
START_TEST(test_restart)
{
	char id_a[33], id_b[33], hex[33];
	struct hagent_resource res;
	struct run r;

	group_add("g");
	snprintf(id_a, sizeof(id_a), "%s", resource_add("a", "OnlineDelay=50", NULL));
	snprintf(id_b, sizeof(id_b), "%s", resource_add("b", "Color=blue", NULL));
	res_wait("b", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "resource", "online", "a", "--wait");
	assert_ok(&r, "online\n");
	MCTL(&r, "resource", "set", "b", "Color=red");
	assert_ok(&r, "");

	agent_stop();
	agent_up();
	ck_assert(group_exists("g"));
	res = res_wait("a", HAGENT_RESOURCE_ONLINE);
	id_hex(res.id, hex);
	ck_assert_str_eq(hex, id_a);
	ck_assert_int_eq(res.persistent_state, 1);
	res = res_wait("b", HAGENT_RESOURCE_OFFLINE);
	id_hex(res.id, hex);
	ck_assert_str_eq(hex, id_b);
	ck_assert(props_have("b", "Color=red"));
	assert_status_has("a", id_a, "online");

	/* And the restarted agent takes changes. */
	MCTL(&r, "resource", "offline", "a", "--wait");
	assert_ok(&r, "offline\n");
}
END_TEST

/* Claim: an agent killed while monitorctl waits is exit 7 (its heartbeat stops). */
START_TEST(test_agent_dies_while_waiting)
{
	const char *const args[] = {"resource", "online", "stuck", "--wait", NULL};
	int out, err;
	struct run r;
	pid_t pid;

	group_add("g");
	resource_add("stuck", "OnlineResult=hang", NULL);
	res_wait("stuck", HAGENT_RESOURCE_OFFLINE);
	pid = mctl_spawn(args, &out, &err);
	wait_segment_mapped(pid); /* monitorctl got the answer and waits */
	ck_assert_int_eq(res_get("stuck").state, HAGENT_RESOURCE_ONLINE_PENDING);

	agent_kill9();
	run_collect(&r, pid, out, err);
	assert_fails(&r, 7, "hagentd stopped", "stuck", NULL);
}
END_TEST

/*
 * Claim: a user without full access gets exit 4 and the agent's reason, for
 * a change as for a wait; reading still works (root runs this test).
 */
START_TEST(test_access_denied)
{
	struct run r;

	if (geteuid() != 0)
		return; /* cannot become another user */
	group_add("g");
	resource_add("web", NULL);
	res_wait("web", HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(chmod(base, 0755), 0);
	ck_assert_int_eq(chmod(rundir, 0755), 0);
	run_as = 65534;
	MCTL(&r, "group", "add", "g2");
	assert_fails(&r, 4, "ccess denied", NULL);
	MCTL(&r, "resource", "online", "web", "--wait");
	assert_fails(&r, 4, "ccess denied", NULL);
	MCTL(&r, "resource", "set", "web", "Color=red");
	assert_fails(&r, 4, "ccess denied", NULL);
	MCTL(&r, "show", "web");
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	run_as = 0;
	ck_assert(!group_exists("g2"));
	ck_assert_int_eq(res_get("web").state, HAGENT_RESOURCE_OFFLINE);
	ck_assert(!props_have("web", "Color=red"));
}
END_TEST

/* ================================ groups (issue 4) ================================ */

/* The record file of resource name (RecordFile=<base>/<name>.rec). */
static const char *rec_path(const char *name)
{
	static char path[160];

	snprintf(path, sizeof(path), "%s/%s.rec", base, name);
	return path;
}

/* "RecordFile=<its path>" for resource_add(), in a buffer per call site's slot. */
static const char *rec_prop(const char *name, char buf[200])
{
	snprintf(buf, 200, "RecordFile=%s", rec_path(name));
	return buf;
}

/*
 * The CLOCK_MONOTONIC stamp of the first line of name's record file whose
 * event starts with what ("online", "offline ", "report online"); 0 if none.
 * If ret_rest is not NULL it gets the rest of that line (after what).
 */
static uint64_t rec_find(const char *name, const char *what, char *ret_rest, size_t size)
{
	char line[4096];
	uint64_t ns = 0;
	FILE *f = fopen(rec_path(name), "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long t;
		int off = 0;

		line[strcspn(line, "\n")] = '\0';
		/* "<ns> <name> <what>" */
		if (sscanf(line, "%llu %*s %n", &t, &off) != 1 || off == 0)
			continue;
		if (strncmp(line + off, what, strlen(what)) != 0)
			continue;
		ns = t;
		if (ret_rest)
			snprintf(ret_rest, size, "%s", line + off + strlen(what));
		break;
	}
	fclose(f);
	return ns;
}

/* group's record as the segment has it. */
static struct hagent_group group_get(const char *name)
{
	struct hagent_group g;
	uint32_t slot;
	size_t n;

	ck_assert_int_eq(hagent_shm_find(shm, 2, name, &slot), 0);
	ck_assert_int_eq(hagent_shm_read_group(shm, slot, &g, NULL, 0, &n), 0);
	return g;
}

/* resource add NAME --group g --type test --depends-on DEP [--set KV...]: quiet check. */
static void resource_add_dep(const char *name, const char *dep, const char *kv)
{
	struct run r;

	MCTL(&r, "resource", "add", name, "--group", "g", "--type", "test", "--depends-on", dep,
	     "--set", kv);
	assert_ok(&r, NULL);
	assert_id(r.out);
}

/*
 * Claim: group online --wait brings a chain of two test resources online,
 * the provider's online over before the dependent's begins, prints
 * "online" and stores the persistent states; group offline --wait takes
 * the dependent down first and prints "offline"; --param reaches the
 * offline entry point of each member that was Online as the property list
 * monitorctl encoded (the test monitor's RecordFile shows the bytes); a
 * second request has nothing to do and prints the state at once.
 */
START_TEST(test_group_online_offline)
{
	char ra[200], rb[200], rest[2048], want[256];
	uint64_t a_online, b_online, a_off, b_off;
	struct hagent_group g;
	struct run r;

	group_add("g");
	resource_add("a", "OnlineDelay=100", "OfflineDelay=50", rec_prop("a", ra), NULL);
	resource_add_dep("b", "a", rec_prop("b", rb));
	res_wait("a", HAGENT_RESOURCE_OFFLINE);
	res_wait("b", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "group", "online", "g", "--wait");
	assert_ok(&r, "online\n");
	ck_assert_int_eq(res_get("a").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(res_get("b").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(res_get("a").persistent_state, 1);
	ck_assert_int_eq(res_get("b").persistent_state, 1);
	g = group_get("g");
	ck_assert_int_eq(g.state, HAGENT_GROUP_ONLINE);
	ck_assert_int_eq(g.persistent_state, 1);
	a_online = rec_find("a", "report online", NULL, 0); /* before its report */
	b_online = rec_find("b", "online", NULL, 0);
	ck_assert_uint_gt(a_online, 0);
	ck_assert_uint_gt(b_online, a_online); /* semantics.md §10, 44 */
	MCTL(&r, "group", "online", "g");
	assert_ok(&r, "online\n");
	MCTL(&r, "--json", "group", "online", "g", "--wait");
	snprintf(want, sizeof(want), "\"state\":\"online\",\"sequence\":%u}\n", g.state_seq);
	ck_assert_msg(r.code == 0 && strstr(r.out, want), "%s %s", r.out, r.err);

	MCTL(&r, "group", "offline", "g", "--param", "Mode=fast", "--wait");
	assert_ok(&r, "offline\n");
	ck_assert_int_eq(res_get("a").state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(res_get("b").state, HAGENT_RESOURCE_OFFLINE);
	ck_assert_int_eq(res_get("a").persistent_state, 0);
	ck_assert_int_eq(group_get("g").persistent_state, 0);
	b_off = rec_find("b", "offline ", rest, sizeof(rest));
	/* As monitorctl encodes it (test-monitorctl.c spells the bytes out). */
	ck_assert_str_eq(rest, "01000000"				  /* one property */
			       "030004000a0000004d006f006400650000000000" /* name "Mode" */
			       "030001000a000000660061007300740000000000" /* value "fast" */
			       "00000000");				  /* ENDMARK */
	a_off = rec_find("a", "offline ", rest, sizeof(rest));
	ck_assert_uint_gt(a_off, b_off); /* dependents first */
	MCTL(&r, "group", "offline", "g");
	assert_ok(&r, "offline\n");
}
END_TEST

/*
 * Claim: a member that fails makes group online --wait exit 1 naming it and
 * its error; a slow member makes --timeout exit 6 (the online goes on).
 */
START_TEST(test_group_online_fails)
{
	struct run r;

	group_add("g");
	resource_add("ok", NULL);
	resource_add("bad", "OnlineResult=fail", "OnlineError=5", "OnlineDelay=50",
		     "RestartAction=0", NULL);
	res_wait("ok", HAGENT_RESOURCE_OFFLINE);
	res_wait("bad", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "group", "online", "g", "--wait");
	assert_fails(&r, 1, "Group 'g' failed", "'bad'", strerror(EIO), NULL);
	ck_assert_int_eq(res_get("bad").state, HAGENT_RESOURCE_FAILED);

	MCTL(&r, "group", "add", "slow");
	assert_ok(&r, NULL);
	MCTL(&r, "resource", "add", "s1", "--group", "slow", "--type", "test", "--set",
	     "OnlineDelay=30000");
	assert_ok(&r, NULL);
	res_wait("s1", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "group", "online", "slow", "--wait", "--timeout", "0.3");
	assert_fails(&r, 6, "'slow'", "pending", NULL);
	ck_assert_int_eq(res_get("s1").state, HAGENT_RESOURCE_ONLINE_PENDING);
	MCTL(&r, "resource", "offline", "s1", "--force", "--wait");
	assert_ok(&r, "offline\n");
}
END_TEST

/*
 * Claim: status shows each resource's providers ("depends on a") and --json
 * its "dependencies"; add-dependency and remove-dependency change them; a
 * cycle is exit 2, a resource on itself exit 2, an unknown one exit 3, a
 * duplicate exit 1.
 */
START_TEST(test_dependencies)
{
	char out[16384];
	struct run r;

	group_add("g");
	resource_add("a", NULL);
	resource_add_dep("b", "a", "Color=blue");
	resource_add("c", NULL);
	res_wait("c", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "resource", "add-dependency", "c", "b");
	assert_ok(&r, "");
	MCTL(&r, "status");
	assert_ok(&r, NULL);
	ck_assert_msg(strstr(r.out, "depends on a\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "depends on b\n"), "%s", r.out);
	monitorctl_status_json(out, sizeof(out));
	ck_assert_msg(strstr(out, "\"restart_count\":0,\"dependencies\":[\"b\"]}"), "%s", out);
	MCTL(&r, "show", "g");
	assert_ok(&r, NULL);
	ck_assert_msg(strstr(r.out, "Persistent state: offline\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "depends on a\n"), "%s", r.out);

	MCTL(&r, "resource", "add-dependency", "a", "c");
	assert_fails(&r, 2, NULL);
	MCTL(&r, "resource", "add-dependency", "a", "a");
	assert_fails(&r, 2, NULL);
	MCTL(&r, "resource", "add-dependency", "a", "nosuch");
	assert_fails(&r, 3, "nosuch", NULL);
	MCTL(&r, "resource", "add-dependency", "c", "b");
	assert_fails(&r, 1, NULL);
	MCTL(&r, "resource", "remove-dependency", "c", "b");
	assert_ok(&r, "");
	MCTL(&r, "show", "c");
	assert_ok(&r, NULL);
	ck_assert_msg(strstr(r.out, "Dependencies:     -\n"), "%s", r.out);
}
END_TEST

/*
 * Claim: group offline of a group with a member in locked mode is exit 5
 * and changes nothing; with --ignore-locked it goes offline.  group set
 * takes the group properties and refuses a bad key or value (exit 2).
 */
START_TEST(test_group_locked_and_set)
{
	struct run r;

	group_add("g");
	resource_add("vault", "Locked=1", NULL);
	resource_add("web", NULL);
	res_wait("vault", HAGENT_RESOURCE_OFFLINE);
	res_wait("web", HAGENT_RESOURCE_OFFLINE);
	MCTL(&r, "group", "online", "g", "--wait");
	assert_ok(&r, "online\n");

	MCTL(&r, "group", "offline", "g", "--wait");
	assert_fails(&r, 5, NULL);
	ck_assert_int_eq(res_get("vault").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(res_get("web").state, HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(group_get("g").persistent_state, 1);
	MCTL(&r, "group", "offline", "g", "--ignore-locked", "--wait", "--timeout", "30");
	assert_ok(&r, "offline\n");
	ck_assert_int_eq(res_get("vault").state, HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "group", "set", "g", "FailoverThreshold=3", "FailoverPeriod=2");
	assert_ok(&r, "");
	MCTL(&r, "group", "set", "g", "FailoverThreshold=");
	assert_ok(&r, "");
	MCTL(&r, "group", "set", "g", "FailoverPeriod=0");
	assert_fails(&r, 2, NULL);
	MCTL(&r, "group", "set", "g", "Color=blue");
	assert_fails(&r, 2, NULL);
	MCTL(&r, "group", "set", "nosuch", "FailoverPeriod=2");
	assert_fails(&r, 3, "nosuch", NULL);
}
END_TEST

/*
 * Claim: group set-dependency prints the stored form by group id and a bad
 * expression is exit 2 naming the byte and the reason, changing nothing;
 * show and status name the provider groups and the wait; renames keep the
 * expression; removing a provider group is refused (exit 1).
 */
START_TEST(test_group_dependency)
{
	char want[128], out[16384];
	struct run r;
	const char *db_id;

	group_add("g");
	resource_add("app", NULL);
	MCTL(&r, "group", "add", "db");
	assert_ok(&r, NULL);
	r.out[strcspn(r.out, "\n")] = '\0';
	db_id = strdupa(r.out);
	MCTL(&r, "resource", "add", "pg", "--group", "db", "--type", "test");
	assert_ok(&r, NULL);
	res_wait("app", HAGENT_RESOURCE_OFFLINE);
	res_wait("pg", HAGENT_RESOURCE_OFFLINE);

	MCTL(&r, "group", "set-dependency", "g", "{[DB]}");
	snprintf(want, sizeof(want), "[%s]\n", db_id);
	assert_ok(&r, want);
	MCTL(&r, "group", "set-dependency", "g", "[db] or [g]");
	assert_fails(&r, 2, "at byte 5: only 'and' is allowed", NULL);
	MCTL(&r, "group", "set-dependency", "db", "[g]");
	assert_fails(&r, 2, "already depends on", NULL);
	MCTL(&r, "group", "set-dependency", "nosuch", "[g]");
	assert_fails(&r, 3, "nosuch", NULL);

	MCTL(&r, "group", "online", "g");
	assert_ok(&r, "pending\n");
	MCTL(&r, "status");
	assert_ok(&r, NULL);
	ck_assert_msg(strstr(r.out, "persistent state online, after db, waiting for provider groups\n"),
		      "%s", r.out);
	MCTL(&r, "group", "rename", "db", "Database");
	assert_ok(&r, "");
	MCTL(&r, "resource", "rename", "app", "web-app");
	assert_ok(&r, "");
	MCTL(&r, "show", "g");
	assert_ok(&r, NULL);
	ck_assert_msg(strstr(r.out, "Provider groups:  Database\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "Waiting:          for its provider groups to be online\n"), "%s",
		      r.out);
	ck_assert_msg(strstr(r.out, "web-app"), "%s", r.out);
	monitorctl_status_json(out, sizeof(out));
	ck_assert_msg(strstr(out, "\"waiting\":true,\"provider_groups\":[\"Database\"]"), "%s", out);

	MCTL(&r, "group", "online", "database", "--wait", "--timeout", "30");
	assert_ok(&r, "online\n");
	res_wait("web-app", HAGENT_RESOURCE_ONLINE);
	ck_assert_int_eq(group_get("g").flags & HAGENT_GROUP_WAITING, 0);

	MCTL(&r, "resource", "rename", "web-app", "pg");
	assert_fails(&r, 1, "taken", NULL);
	MCTL(&r, "group", "remove", "database"); /* refused for this before its members */
	assert_fails(&r, 1, "'g' depends on it", NULL);
	MCTL(&r, "group", "set-dependency", "g", "");
	assert_ok(&r, "\n");
	MCTL(&r, "group", "remove", "database");
	assert_fails(&r, 1, "still has 1 resource", NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("monitorctl-control");
	const struct {
		const char *name;
		const TTest *fn;
	} cases[] = {
		{"groups", test_groups},
		{"resource_add", test_resource_add},
		{"resource_set", test_resource_set},
		{"online_offline", test_online_offline},
		{"online_while_initializing", test_online_while_initializing},
		{"timeout", test_timeout},
		{"online_fails", test_online_fails},
		{"locked", test_locked},
		{"remove", test_remove},
		{"restart", test_restart},
		{"agent_dies_while_waiting", test_agent_dies_while_waiting},
		{"access_denied", test_access_denied},
		{"group_online_offline", test_group_online_offline},
		{"group_online_fails", test_group_online_fails},
		{"dependencies", test_dependencies},
		{"group_locked_and_set", test_group_locked_and_set},
		{"group_dependency", test_group_dependency},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, cases[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR") || !getenv("MONITORCTL_BIN"))
		return 77;
	return test_run_suite(suite());
}
