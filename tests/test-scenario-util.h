/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers for the acceptance-scenario suites (semantics.md §10) that run
 * hagentd with hamon-test monitors: a private agent per test (runtime and
 * state dirs under a temporary base, --monitor-dir $HAMON_MONITOR_DIR), the
 * configuration seeded before it starts, the control API over sd-bus, and
 * the checks: a resource's record, bounded waits for a state, "stays in a
 * state", RESOURCE_STATE events from the event log and hamon-test's record
 * file.  Every check asserts; nothing here is timing-sensitive beyond
 * generous bounded waits.  Header-only: each suite includes it once, and
 * uses scn_setup()/scn_teardown() as the checked fixture (scn_tcase_add()).
 *
 * The API is shared by several suites: only add to it.
 */
#pragma once

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "config-store.h"
#include "control-api.h"
#include "hagent/shm.h"
#include "macro.h"
#include "test-hagentd-util.h"
#include "test-util.h"

/* Default bound of the waits below, in ms (generous: the machine is shared and noisy). */
#define SCN_WAIT_MS HAGENTD_WAIT_MS

#define SCN_MONITORS_MAX 64
#define SCN_RECORD_MAX	 (4u << 20) /* bytes of the record file read */

/* The change bits of the event log (semantics.md §7.2). */
#define SCN_CHANGE_RESOURCE_STATE UINT32_C(0x00000100)
#define SCN_CHANGE_GROUP_STATE	  UINT32_C(0x00001000)

/* A state as a bit, for the seen masks of the waits: pending states as 1 << (state - 120). */
#define SCN_SEEN(st) (1u << ((st) > 100 ? (st) -120 : (st)))

/* A property list literal and its length: SCN_PROPS({"OnlineDelay", "100"}, {...}). */
#define SCN_PROPS(...)                                                                             \
	((const struct config_prop[]){__VA_ARGS__}),                                               \
		ELEMENTSOF(((const struct config_prop[]){__VA_ARGS__}))

/* The per-test state (each Check test runs in its own process). */
static struct {
	pid_t agent_pid;
	hagent_shm *shm;
	sd_bus *bus;
	pid_t monitors[SCN_MONITORS_MAX]; /* every monitor pid seen, killed at teardown */
	unsigned n_monitors;
	char record_path[160];
} scn;

/* The reply of a control API call. */
struct scn_reply {
	int r;		 /* 0, or the -errno the error maps to (control_error_map) */
	char error[128]; /* the D-Bus error name; "" on success */
	char message[256];
	uint32_t result; /* Online/OfflineResource: CONTROL_RESULT_* */
	int32_t state;	 /* Online/OfflineResource: the state after the request */
	uint32_t state_seq;
	char id[64]; /* AddGroup/AddResource */
};

/* A line of hamon-test's record file: "<ns> <name> <what>". */
struct scn_record {
	uint64_t ns; /* CLOCK_MONOTONIC */
	char what[160];
};

static inline uint64_t scn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static inline void scn_sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}

/* ---- fixture ---- */

/* Checked fixture: a fresh base dir (/tmp/test-scn-XXXXXX) and no agent. */
static inline void scn_kill_all(void);

/*
 * Checked fixture: a fresh base dir (/tmp/test-scn-XXXXXX) and no agent.
 * A failed check exits the test's process without the teardown: the
 * processes are then killed at exit.
 */
static inline void scn_setup(void)
{
	dirs_setup("/tmp/test-scn-XXXXXX");
	memset(&scn, 0, sizeof(scn));
	snprintf(scn.record_path, sizeof(scn.record_path), "%s/record.log", base);
	ck_assert_int_eq(atexit(scn_kill_all), 0);
}

static inline void scn_monitor_seen(pid_t pid)
{
	for (unsigned i = 0; i < scn.n_monitors; i++)
		if (scn.monitors[i] == pid)
			return;
	if (pid > 0 && scn.n_monitors < SCN_MONITORS_MAX)
		scn.monitors[scn.n_monitors++] = pid;
}

/* Records every live child of the agent (its monitors), from /proc. */
static inline void scn_monitors_scan(void)
{
	DIR *d;
	struct dirent *de;

	if (scn.agent_pid <= 0)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], buf[512], *p;
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
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == scn.agent_pid)
			scn_monitor_seen((pid_t) atoi(de->d_name));
	}
	closedir(d);
}

static inline void scn_disconnect(void)
{
	scn.bus = sd_bus_flush_close_unref(scn.bus);
	scn.shm = hagent_shm_unref(scn.shm);
}

/*
 * Checked fixture: a test that failed may leave hagentd and its monitors
 * (each in its own session, outliving hagentd) running; kills them by pid.
 */
static inline void scn_kill_all(void)
{
	scn_disconnect();
	if (scn.agent_pid > 0) {
		scn_monitors_scan();
		(void) kill(scn.agent_pid, SIGKILL);
		(void) waitpid(scn.agent_pid, NULL, 0);
		scn.agent_pid = 0;
	}
	for (unsigned i = 0; i < scn.n_monitors; i++)
		(void) kill(scn.monitors[i], SIGKILL);
	scn.n_monitors = 0;
}

static inline void scn_teardown(void)
{
	scn_kill_all();
	dirs_remove();
}

/* Adds a test case named name, with the fixture and a timeout in seconds. */
static inline void scn_tcase_add(Suite *s, const char *name, const TTest *fn, double timeout_s)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, scn_setup, scn_teardown);
	tcase_set_timeout(tc, timeout_s);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

/* ---- configuration seeded before the agent starts ---- */

static inline struct config_store *scn_store_open(void)
{
	struct config_store *st = NULL;

	if (mkdir(statedir, 0700) < 0)
		ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(config_store_open(statedir, &st), 0);
	return st;
}

/* A resource type in the configuration (already there: fine). */
static inline void scn_seed_type(const char *type)
{
	_cleanup_(config_store_freep) struct config_store *st = scn_store_open();
	int r = config_store_type_add(st, type, NULL);

	ck_assert_msg(r == 0 || r == -EEXIST, "type %s: %d", type, r);
}

/* A group (already there: fine), persistent state offline unless online. */
static inline void scn_seed_group(const char *group, bool online)
{
	_cleanup_(config_store_freep) struct config_store *st = scn_store_open();
	int r = config_store_group_add(st, group, NULL);

	ck_assert_msg(r == 0 || r == -EEXIST, "group %s: %d", group, r);
	if (online)
		ck_assert_int_eq(config_store_group_set_target(st, group, CONFIG_TARGET_ONLINE), 0);
}

/* Group properties (FailoverThreshold, FailoverPeriod) of an existing group, before the start. */
static inline void scn_seed_group_props(const char *group, const struct config_prop *props,
					size_t n_props)
{
	_cleanup_(config_store_freep) struct config_store *st = scn_store_open();
	const char *key = NULL;
	int r = config_store_group_set_props(st, group, props, n_props, &key);

	ck_assert_msg(r == 0, "group %s: property %s: %d", group, key ?: "-", r);
}

/*
 * A resource of type (NULL: "test") in group, both created if missing, with
 * props; online: persistent state online, so hagentd brings it online at start.
 */
static inline void scn_seed_resource(const char *name, const char *group, const char *type,
				     const struct config_prop *props, size_t n_props, bool online)
{
	const char *key = NULL;
	int r;

	scn_seed_type(type ?: "test");
	scn_seed_group(group, false);
	{
		_cleanup_(config_store_freep) struct config_store *st = scn_store_open();

		r = config_store_resource_add(st, name, group, type ?: "test", props, n_props, NULL,
					      &key);
		ck_assert_msg(r == 0, "resource %s: %d (%s)", name, r, key ?: "-");
		if (online)
			ck_assert_int_eq(
				config_store_resource_set_target(st, name, CONFIG_TARGET_ONLINE),
				0);
	}
}

/* ---- the agent ---- */

/* Waits (bounded) until the control socket accepts a connection. */
static inline void scn_bus_connect(void)
{
	uint64_t end = now_ms() + SCN_WAIT_MS;
	char addr[160];
	int r;

	snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);
	for (;;) {
		sd_bus *bus = NULL;

		ck_assert_int_ge(sd_bus_new(&bus), 0);
		ck_assert_int_ge(sd_bus_set_address(bus, addr), 0);
		r = sd_bus_start(bus);
		if (r >= 0) {
			scn.bus = bus;
			return;
		}
		sd_bus_unref(bus);
		ck_assert_msg(now_ms() < end, "cannot connect to %s: %s", addr, strerror(-r));
		usleep(10000);
	}
}

/* The control API connection (connects on first use). */
static inline sd_bus *scn_bus(void)
{
	if (!scn.bus)
		scn_bus_connect();
	return scn.bus;
}

/*
 * Starts hagentd (stderr to <base>/agent.log) with the private dirs, the
 * monitor dir $HAMON_MONITOR_DIR and extra_args (NULL-terminated, may be
 * NULL), and maps its segment (scn.shm).  The control API connects lazily.
 */
static inline void scn_agent_start_args(const char *const *extra_args)
{
	const char *bin = getenv("HAGENTD_BIN"), *mondir = getenv("HAMON_MONITOR_DIR");
	const char *argv[32];
	size_t n = 0;
	char path[160];

	ck_assert_msg(bin, "HAGENTD_BIN is not set");
	ck_assert_msg(mondir, "HAMON_MONITOR_DIR is not set");
	ck_assert_int_eq(scn.agent_pid, 0);
	if (mkdir(statedir, 0700) < 0)
		ck_assert_int_eq(errno, EEXIST);
	argv[n++] = bin;
	argv[n++] = "--runtime-dir";
	argv[n++] = rundir;
	argv[n++] = "--state-dir";
	argv[n++] = statedir;
	argv[n++] = "--monitor-dir";
	argv[n++] = mondir;
	for (size_t i = 0; extra_args && extra_args[i]; i++) {
		ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
		argv[n++] = extra_args[i];
	}
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/agent.log", base);
	scn.agent_pid = fork();
	ck_assert_int_ge(scn.agent_pid, 0);
	if (scn.agent_pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		struct rlimit nocore = {0, 0};

		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* Nothing of meson's: monitors that outlive a failed test must not hold its pipes.
		 */
		if (fd < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(99);
		/* If the test dies (a Check timeout kills it), hagentd goes too. */
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		(void) setrlimit(RLIMIT_CORE, &nocore); /* crashing monitors: no cores */
		unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		execv(bin, (char *const *) argv);
		_exit(98);
	}
	scn.shm = segment_open();
}

static inline void scn_agent_start(void)
{
	scn_agent_start_args(NULL);
}

/* SIGTERM; hagentd must exit 0 within SCN_WAIT_MS.  The state dir stays (restart: start again). */
static inline void scn_agent_stop(void)
{
	int status;

	ck_assert_int_gt(scn.agent_pid, 0);
	scn_disconnect();
	scn_monitors_scan();
	ck_assert_int_eq(kill(scn.agent_pid, SIGTERM), 0);
	status = pid_wait(scn.agent_pid);
	scn.agent_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hagentd: status 0x%x",
		      status);
}

/*
 * kill -9 of hagentd.  Its monitors outlive it (docs/agent-restart.md):
 * checked; they stay recorded, so that the teardown kills them if the next
 * hagentd does not re-attach them.
 */
static inline void scn_agent_kill9(void)
{
	unsigned first = scn.n_monitors;

	scn_disconnect();
	scn_monitors_scan();
	ck_assert_int_eq(kill(scn.agent_pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(scn.agent_pid, NULL, 0), scn.agent_pid);
	scn.agent_pid = 0;
	for (unsigned i = first; i < scn.n_monitors; i++)
		ck_assert_msg(kill(scn.monitors[i], 0) == 0, "monitor %d died with hagentd",
			      (int) scn.monitors[i]);
}

/* Whether hagentd still runs (not exited, not a zombie). */
static inline bool scn_agent_alive(void)
{
	return scn.agent_pid > 0 && waitpid(scn.agent_pid, NULL, WNOHANG) == 0;
}

/* ---- the control API ---- */

/* A method call of org.hagent.Agent1 to fill and pass to scn_method_send(). */
static inline sd_bus_message *scn_method_new(const char *method)
{
	sd_bus_message *m = NULL;

	ck_assert_int_ge(sd_bus_message_new_method_call(scn_bus(), &m, NULL, CONTROL_OBJECT_PATH,
							CONTROL_INTERFACE, method),
			 0);
	return m;
}

/* Appends props as a(ss). */
static inline void scn_append_props(sd_bus_message *m, const struct config_prop *props, size_t n)
{
	ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(ss)"), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_ge(
			sd_bus_message_append(m, "(ss)", props[i].key, props[i].value ?: ""), 0);
	ck_assert_int_ge(sd_bus_message_close_container(m), 0);
}

/*
 * Sends m (consumed) and waits for the reply; a transport failure fails the
 * test.  ret (may be NULL) gets the error, ret_reply (may be NULL) the
 * reply message on success.  Returns 0 or the error's -errno.
 */
static inline int scn_method_send(sd_bus_message *m, struct scn_reply *ret,
				  sd_bus_message **ret_reply)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct scn_reply out = {};
	int r;

	ck_assert_int_ge(sd_bus_error_add_map(control_error_map), 0);
	r = sd_bus_call(scn_bus(), m, 10 * 1000 * 1000, &err, &reply);
	sd_bus_message_unref(m);
	if (r < 0) {
		ck_assert_msg(sd_bus_error_is_set(&err), "call failed without a D-Bus error: %s",
			      strerror(-r));
		snprintf(out.error, sizeof(out.error), "%s", err.name);
		snprintf(out.message, sizeof(out.message), "%s", err.message ?: "");
		out.r = r;
	}
	if (ret)
		*ret = out;
	if (ret_reply)
		*ret_reply = reply;
	else
		sd_bus_message_unref(reply);
	return r < 0 ? r : 0;
}

/* Sends m and, on success, reads "s id" into ret->id. */
static inline int scn_send_id(sd_bus_message *m, struct scn_reply *ret)
{
	struct scn_reply out;
	sd_bus_message *reply = NULL;
	const char *id = NULL;
	int r = scn_method_send(m, &out, &reply);

	if (r >= 0) {
		ck_assert_int_ge(sd_bus_message_read(reply, "s", &id), 0);
		snprintf(out.id, sizeof(out.id), "%s", id);
		sd_bus_message_unref(reply);
	}
	if (ret)
		*ret = out;
	return r;
}

/* Sends m and, on success, reads "u result, i state, u state_seq". */
static inline int scn_send_state(sd_bus_message *m, struct scn_reply *ret)
{
	struct scn_reply out;
	sd_bus_message *reply = NULL;
	int r = scn_method_send(m, &out, &reply);

	if (r >= 0) {
		ck_assert_int_ge(
			sd_bus_message_read(reply, "uiu", &out.result, &out.state, &out.state_seq),
			0);
		sd_bus_message_unref(reply);
	}
	if (ret)
		*ret = out;
	return r;
}

static inline int scn_add_group(const char *name, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("AddGroup");

	ck_assert_int_ge(sd_bus_message_append(m, "s", name), 0);
	return scn_send_id(m, ret);
}

static inline int scn_remove_group(const char *name, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("RemoveGroup");

	ck_assert_int_ge(sd_bus_message_append(m, "s", name), 0);
	return scn_method_send(m, ret, NULL);
}

/* type NULL: "test"; deps: provider names (n_deps of them). */
static inline int scn_add_resource_deps(const char *name, const char *group, const char *type,
					const struct config_prop *props, size_t n_props,
					const char *const *deps, size_t n_deps,
					struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("AddResource");

	ck_assert_int_ge(sd_bus_message_append(m, "sss", name, group, type ?: "test"), 0);
	scn_append_props(m, props, n_props);
	ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "s"), 0);
	for (size_t i = 0; i < n_deps; i++)
		ck_assert_int_ge(sd_bus_message_append(m, "s", deps[i]), 0);
	ck_assert_int_ge(sd_bus_message_close_container(m), 0);
	return scn_send_id(m, ret);
}

static inline int scn_add_resource(const char *name, const char *group, const char *type,
				   const struct config_prop *props, size_t n_props,
				   struct scn_reply *ret)
{
	return scn_add_resource_deps(name, group, type, props, n_props, NULL, 0, ret);
}

/* AddResourceDependency (add) or RemoveResourceDependency. */
static inline int scn_dependency(const char *dependent, const char *provider, bool add,
				 struct scn_reply *ret)
{
	sd_bus_message *m =
		scn_method_new(add ? "AddResourceDependency" : "RemoveResourceDependency");

	ck_assert_int_ge(sd_bus_message_append(m, "ss", dependent, provider), 0);
	return scn_method_send(m, ret, NULL);
}

/* SetGroupProperties; a NULL value is sent as "" (reset to the default). */
static inline int scn_set_group_props(const char *name, const struct config_prop *props,
				      size_t n_props, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("SetGroupProperties");

	ck_assert_int_ge(sd_bus_message_append(m, "s", name), 0);
	scn_append_props(m, props, n_props);
	return scn_method_send(m, ret, NULL);
}

static inline int scn_remove_resource(const char *name, uint32_t flags, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("RemoveResource");

	ck_assert_int_ge(sd_bus_message_append(m, "su", name, flags), 0);
	return scn_method_send(m, ret, NULL);
}

/* A NULL value is sent as "" (reset to the default). */
static inline int scn_set_props(const char *name, const struct config_prop *props, size_t n_props,
				struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("SetResourceProperties");

	ck_assert_int_ge(sd_bus_message_append(m, "s", name), 0);
	scn_append_props(m, props, n_props);
	return scn_method_send(m, ret, NULL);
}

static inline int scn_online(const char *name, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("OnlineResource");

	ck_assert_int_ge(sd_bus_message_append(m, "s", name), 0);
	return scn_send_state(m, ret);
}

/* flags: 0, or CONTROL_FLAG_FORCE (terminate instead of Offline). */
static inline int scn_offline(const char *name, uint32_t flags, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("OfflineResource");

	ck_assert_int_ge(sd_bus_message_append(m, "su", name, flags), 0);
	return scn_send_state(m, ret);
}

/* OnlineGroup with flags (0 is the only valid value). */
static inline int scn_online_group(const char *name, uint32_t flags, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("OnlineGroup");

	ck_assert_int_ge(sd_bus_message_append(m, "su", name, flags), 0);
	return scn_send_state(m, ret);
}

/* OfflineGroup: flags (CONTROL_FLAG_IGNORE_LOCKED), params (len bytes; NULL: none). */
static inline int scn_offline_group(const char *name, uint32_t flags, const void *params,
				    size_t len, struct scn_reply *ret)
{
	sd_bus_message *m = scn_method_new("OfflineGroup");

	ck_assert_int_ge(sd_bus_message_append(m, "su", name, flags), 0);
	ck_assert_int_ge(sd_bus_message_append_array(m, 'y', params ?: "", len), 0);
	return scn_send_state(m, ret);
}

/* Asserts that a call failed with the D-Bus error name and errno (negative). */
#define scn_assert_error(rep, name, neg_errno)                                                     \
	do {                                                                                       \
		const struct scn_reply *_rep = (rep);                                              \
		ck_assert_msg(strcmp(_rep->error, (name)) == 0 && _rep->r == (neg_errno),          \
			      "want %s (%d), got '%s' (%d): %s", (name), (neg_errno), _rep->error, \
			      _rep->r, _rep->message);                                             \
	} while (0)

/* ---- the segment ---- */

/* The resource called name (case-insensitive); false if there is none. */
static inline bool scn_res_find(const char *name, struct hagent_resource *ret)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		uint32_t slot;
		int r = hagent_shm_find(scn.shm, 1, name, &slot);

		if (r == -ENOENT)
			return false;
		ck_assert_int_eq(r, 0);
		r = hagent_shm_read_resource(scn.shm, slot, ret);
		if (r == -ENOENT)
			continue; /* removed between the two reads */
		ck_assert_int_eq(r, 0);
		if (strcasecmp(ret->name, name) != 0)
			continue; /* the slot was reused meanwhile */
		scn_monitor_seen(ret->monitor_pid);
		return true;
	}
	return false;
}

/* The resource called name; it must exist. */
static inline struct hagent_resource scn_res(const char *name)
{
	struct hagent_resource r;

	ck_assert_msg(scn_res_find(name, &r), "no resource %s in the segment", name);
	return r;
}

/* The group called name; it must exist. */
static inline struct hagent_group scn_group(const char *name)
{
	struct hagent_group g;
	size_t n;
	uint32_t slot;

	ck_assert_msg(hagent_shm_find(scn.shm, 2, name, &slot) == 0, "no group %s", name);
	ck_assert_int_eq(hagent_shm_read_group(scn.shm, slot, &g, NULL, 0, &n), 0);
	return g;
}

static inline const char *scn_state_name(int32_t state)
{
	return hagent_resource_state_to_string(state) ?: "?";
}

/*
 * Polls (every 2 ms) until name is in state want, at most timeout_ms; *seen
 * (may be NULL) gets SCN_SEEN() of every state read on the way.
 */
static inline struct hagent_resource scn_wait_state_seen(const char *name, int32_t want,
							 unsigned timeout_ms, uint32_t *seen)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct hagent_resource r = scn_res(name);

		if (seen)
			*seen |= SCN_SEEN(r.state);
		if (r.state == want)
			return r;
		ck_assert_msg(now_ms() < end, "%s: %s after %u ms, waiting for %s", name,
			      scn_state_name(r.state), timeout_ms, scn_state_name(want));
		usleep(2000);
	}
}

static inline struct hagent_resource scn_wait_state(const char *name, int32_t want,
						    unsigned timeout_ms)
{
	return scn_wait_state_seen(name, want, timeout_ms, NULL);
}

/* Asserts that name is in state want now and at every read (every 2 ms) for ms. */
static inline struct hagent_resource scn_stays_state(const char *name, int32_t want, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	struct hagent_resource r;

	do {
		r = scn_res(name);
		ck_assert_msg(r.state == want, "%s: %s, should have stayed %s for %u ms", name,
			      scn_state_name(r.state), scn_state_name(want), ms);
		usleep(2000);
	} while (now_ms() < end);
	return r;
}

/* Polls until the resource is gone from the segment (at most timeout_ms). */
static inline void scn_wait_gone(const char *name, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct hagent_resource r;

	while (scn_res_find(name, &r)) {
		ck_assert_msg(now_ms() < end, "%s still there (%s)", name, scn_state_name(r.state));
		usleep(2000);
	}
}

/* The segment's commit and event head: what must not move when a call changes nothing. */
struct scn_mark {
	uint64_t commit;
	uint64_t event_head;
};

static inline struct scn_mark scn_mark_take(void)
{
	struct hagent_shm_info info;

	ck_assert_int_eq(hagent_shm_get_info(scn.shm, &info), 0);
	return (struct scn_mark){.commit = info.commit, .event_head = info.event_head};
}

static inline void scn_mark_assert_unchanged(struct scn_mark m)
{
	struct scn_mark now = scn_mark_take();

	ck_assert_msg(now.commit == m.commit && now.event_head == m.event_head,
		      "the segment changed: commit %llu -> %llu, events %llu -> %llu",
		      (unsigned long long) m.commit, (unsigned long long) now.commit,
		      (unsigned long long) m.event_head, (unsigned long long) now.event_head);
}

/* The event log's head: the position the next event will have. */
static inline uint64_t scn_event_head(void)
{
	return scn_mark_take().event_head;
}

/*
 * The events [from, head) with change bit change about the object with id
 * (kind 1 resource, 2 group), in log order; up to max into out (may be
 * NULL).  Returns how many there are.
 */
static inline size_t scn_events(const uint8_t id[HAGENT_ID_SIZE], uint32_t kind, uint32_t change,
				uint64_t from, struct hagent_event *out, size_t max)
{
	uint64_t head = scn_event_head();
	size_t n = 0;

	for (uint64_t pos = from; pos < head; pos++) {
		struct hagent_event ev;
		int r = hagent_shm_read_event(scn.shm, pos, &ev);

		ck_assert_msg(r == 0, "event %llu: %s", (unsigned long long) pos,
			      hagent_shm_strerror(r));
		if (ev.kind != kind || ev.change != change || memcmp(ev.id, id, HAGENT_ID_SIZE))
			continue;
		if (out && n < max)
			out[n] = ev;
		n++;
	}
	return n;
}

/* The RESOURCE_STATE events of resource name since from (see scn_events). */
static inline size_t scn_state_events(const char *name, uint64_t from, struct hagent_event *out,
				      size_t max)
{
	struct hagent_resource r = scn_res(name);

	return scn_events(r.id, 1, SCN_CHANGE_RESOURCE_STATE, from, out, max);
}

/* The GROUP_STATE events of group name since from (see scn_events). */
static inline size_t scn_group_state_events(const char *name, uint64_t from,
					    struct hagent_event *out, size_t max)
{
	struct hagent_group g = scn_group(name);

	return scn_events(g.id, 2, SCN_CHANGE_GROUP_STATE, from, out, max);
}

/* Polls (every 2 ms) until group name is in state want (enum hagent_group_state), at most
 * timeout_ms. */
static inline struct hagent_group scn_wait_group_state(const char *name, int32_t want,
						       unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct hagent_group g = scn_group(name);

		if (g.state == want)
			return g;
		ck_assert_msg(now_ms() < end, "group %s: %s after %u ms, waiting for %s", name,
			      hagent_group_state_to_string(g.state) ?: "?", timeout_ms,
			      hagent_group_state_to_string(want) ?: "?");
		usleep(2000);
	}
}

/* ---- hamon-test's record file ---- */

/* The record file every resource of the test shares (value of the RecordFile property). */
static inline const char *scn_record_path(void)
{
	return scn.record_path;
}

/*
 * The lines of resource res whose <what> is pattern or starts with pattern
 * and a space, at or after from_ns; up to max into out (may be NULL).
 * Returns how many there are.  A missing file has no lines.
 */
static inline size_t scn_record_find(const char *res, const char *pattern, uint64_t from_ns,
				     struct scn_record *out, size_t max)
{
	_cleanup_free_ char *buf = malloc(SCN_RECORD_MAX + 1);
	size_t plen = strlen(pattern), rlen = strlen(res), n = 0, len = 0;
	ssize_t k;
	int fd;

	ck_assert_ptr_nonnull(buf);
	fd = open(scn.record_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ck_assert_int_eq(errno, ENOENT);
		return 0;
	}
	while (len < SCN_RECORD_MAX && (k = read(fd, buf + len, SCN_RECORD_MAX - len)) > 0)
		len += (size_t) k;
	close(fd);
	buf[len] = '\0';
	for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
		unsigned long long ns;
		int off = 0;
		char *what;

		nl = strchr(line, '\n');
		if (!nl)
			break; /* a line being written */
		*nl = '\0';
		if (sscanf(line, "%llu %n", &ns, &off) != 1 || off == 0)
			continue;
		if (strncmp(line + off, res, rlen) != 0 || line[off + rlen] != ' ')
			continue;
		what = line + off + rlen + 1;
		if (ns < from_ns || strncmp(what, pattern, plen) != 0 ||
		    (what[plen] != '\0' && what[plen] != ' '))
			continue;
		if (out && n < max) {
			out[n].ns = ns;
			snprintf(out[n].what, sizeof(out[n].what), "%s", what);
		}
		n++;
	}
	return n;
}

static inline size_t scn_record_count(const char *res, const char *pattern)
{
	return scn_record_find(res, pattern, 0, NULL, 0);
}

/* Polls until res has at least n lines matching pattern (at most timeout_ms); returns the count. */
static inline size_t scn_record_wait(const char *res, const char *pattern, size_t n,
				     unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	size_t have;

	while ((have = scn_record_count(res, pattern)) < n) {
		ck_assert_msg(now_ms() < end, "%s: %zu '%s' lines after %u ms, waiting for %zu",
			      res, have, pattern, timeout_ms, n);
		usleep(5000);
	}
	return have;
}

/* Whether the agent's log (<base>/agent.log, first 64 KiB) contains s. */
static inline bool scn_log_contains(const char *s)
{
	return strstr(log_read("agent.log"), s) != NULL;
}

/* ---- groups (issue 4) ---- */

/*
 * Whether group name's properties blob in the segment ("key=value\0"...)
 * holds the entry kv ("FailoverThreshold=1") exactly.
 */
static inline bool scn_group_prop_is(const char *name, const char *kv)
{
	char buf[4096];
	size_t len = 0;

	for (int attempt = 0; attempt < 100; attempt++) {
		struct hagent_group g = scn_group(name);
		int r;

		if (g.properties.blob_id == 0)
			return false;
		r = hagent_shm_read_blob(scn.shm, &g.properties, buf, sizeof(buf) - 1, &len);
		if (r == -ESTALE)
			continue; /* the group changed between the two reads */
		ck_assert_int_eq(r, 0);
		ck_assert_uint_lt(len, sizeof(buf));
		buf[len] = '\0';
		for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
			if (strcmp(buf + off, kv) == 0)
				return true;
		return false;
	}
	ck_abort_msg("group %s: its properties kept changing", name);
	return false;
}

/* The time of the first record line of res matching pattern at or after from_ns (one must be). */
static inline uint64_t scn_record_first(const char *res, const char *pattern, uint64_t from_ns)
{
	struct scn_record rec[16];
	size_t n = scn_record_find(res, pattern, from_ns, rec, ELEMENTSOF(rec));

	ck_assert_msg(n > 0, "no '%s' line for %s", pattern, res);
	return rec[0].ns;
}

/* The record lines' times of res matching pattern at or after from_ns, up to max; how many. */
static inline size_t scn_record_times(const char *res, const char *pattern, uint64_t from_ns,
				      uint64_t *out, size_t max)
{
	struct scn_record rec[64];
	size_t n = scn_record_find(res, pattern, from_ns, rec, ELEMENTSOF(rec));

	for (size_t i = 0; i < n && i < max && i < ELEMENTSOF(rec); i++)
		out[i] = rec[i].ns;
	return n;
}

/*
 * The log position of the nth (from 0) RESOURCE_STATE event of resource name
 * into state, at or after position from; UINT64_MAX if there is none.  The
 * event log orders what the agent did; hamon-test's "status" lines do not
 * (they are written after the report returns, racing the agent's reaction).
 */
static inline uint64_t scn_state_event_pos(const char *name, int32_t state, size_t nth,
					   uint64_t from)
{
	struct hagent_event ev[256];
	size_t n = scn_state_events(name, from, ev, ELEMENTSOF(ev));

	for (size_t i = 0; i < n && i < ELEMENTSOF(ev); i++)
		if (ev[i].state == state && nth-- == 0)
			return ev[i].position;
	return UINT64_MAX;
}
