/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd as a program ($HAGENTD_BIN) in a private runtime and state dir:
 * it publishes a configuration written beforehand with config_store_*
 * (names, types, groups, members, properties, dependencies, initial states,
 * ADDED events, heartbeat), monitorctl reads it, a second agent on the same
 * runtime dir is refused, sd_notify READY=1/STOPPING=1, exit codes and the
 * messages of a bad state dir and a corrupt database.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config-store.h"
#include "hagent/shm.h"
#include "macro.h"
#include "test-hagentd-util.h"
#include "test-util.h"

#define MAX_AGENTS 4

/* Per-test state (each test runs in its own process). */
static pid_t agents[MAX_AGENTS];
static unsigned n_agents;

static void setup(void)
{
	dirs_setup("/tmp/test-hagentd-XXXXXX");
	n_agents = 0;
}

static void teardown(void)
{
	for (unsigned i = 0; i < n_agents; i++)
		if (agents[i] > 0) {
			(void) kill(agents[i], SIGKILL);
			(void) waitpid(agents[i], NULL, 0);
		}
	dirs_remove();
}

/* Two groups, three resources: web = {web-ip, web-server -> web-ip}, db = {db-main}. */
static void populate(void)
{
	static const struct config_prop ip[] = {{"Address", "10.0.0.1"}};
	static const struct config_prop srv[] = {{"PendingTimeout", "1000"},
						 {"Command", "/bin/true"}};
	_cleanup_(config_store_freep) struct config_store *s = NULL;

	ck_assert_int_eq(mkdir(statedir, 0700), 0);
	ck_assert_int_eq(config_store_open(statedir, &s), 0);
	ck_assert_int_eq(config_store_type_add(s, "IP Address", NULL), 0);
	ck_assert_int_eq(config_store_type_add(s, "test", NULL), 0);
	ck_assert_int_eq(config_store_group_add(s, "web", NULL), 0);
	ck_assert_int_eq(config_store_group_add(s, "db", NULL), 0);
	ck_assert_int_eq(
		config_store_resource_add(s, "web-ip", "web", "IP Address", ip, 1, NULL, NULL), 0);
	ck_assert_int_eq(
		config_store_resource_add(s, "web-server", "web", "test", srv, 2, NULL, NULL), 0);
	ck_assert_int_eq(config_store_resource_add(s, "db-main", "db", "test", NULL, 0, NULL, NULL),
			 0);
	ck_assert_int_eq(config_store_dep_add(s, "web-server", "web-ip"), 0);
}

/* Starts hagentd on rundir/state (or the given state dir), stderr to <base>/<log>. */
static pid_t agent_start_with(const char *state, const char *log, const char *notify)
{
	const char *bin = getenv("HAGENTD_BIN");
	char path[160];
	pid_t pid;

	ck_assert_msg(bin, "HAGENTD_BIN is not set");
	snprintf(path, sizeof(path), "%s/%s", base, log);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(99);
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		umask(022);
		/* No monitor programs there: no monitor outlives a test (test-hagentd-lifecycle).
		 */
		execl(bin, bin, "--runtime-dir", rundir, "--state-dir", state, "--monitor-dir",
		      "/nonexistent", (char *) NULL);
		_exit(98);
	}
	ck_assert_uint_lt(n_agents, MAX_AGENTS);
	agents[n_agents++] = pid;
	return pid;
}

static pid_t agent_start(const char *log)
{
	return agent_start_with(statedir, log, NULL);
}

/* Waits (at most 10 s) for pid to exit; returns its wait status. */
static int agent_wait(pid_t pid)
{
	int status = pid_wait(pid);

	for (unsigned i = 0; i < n_agents; i++)
		if (agents[i] == pid)
			agents[i] = 0;
	return status;
}

static void agent_stop(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	status = agent_wait(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}

static const struct hagent_resource *res_find(const struct hagent_shm_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_resources; i++)
		if (strcmp(t->resources[i].name, name) == 0)
			return &t->resources[i];
	ck_abort_msg("resource %s missing", name);
	return NULL;
}

static const struct hagent_group *grp_find(const struct hagent_shm_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_groups; i++)
		if (strcmp(t->groups[i].name, name) == 0)
			return &t->groups[i];
	ck_abort_msg("group %s missing", name);
	return NULL;
}

static size_t blob(hagent_shm *s, const struct hagent_shm_blob *b, void *buf, size_t size)
{
	size_t len = 0;

	if (b->blob_id == 0)
		return 0;
	ck_assert_int_eq(hagent_shm_read_blob(s, b, buf, size, &len), 0);
	ck_assert_uint_le(len, size);
	return len;
}

/* True if the "key=value\0" list holds kv. */
static bool props_have(const char *p, size_t len, const char *kv)
{
	for (size_t i = 0; i < len; i += strlen(p + i) + 1)
		if (strcmp(p + i, kv) == 0)
			return true;
	return false;
}

static void check_group(hagent_shm *s, const struct hagent_shm_table *t, const char *name,
			const char *const *members, size_t n)
{
	const struct hagent_group *g = grp_find(t, name);
	uint32_t slots[8];
	size_t len = blob(s, &g->members, slots, sizeof(slots));

	/* Offline at first, Failed once the members' monitors are found missing. */
	ck_assert(g->state == HAGENT_GROUP_OFFLINE || g->state == HAGENT_GROUP_FAILED);
	ck_assert_uint_ge(g->state_seq, 1);
	ck_assert_uint_eq(g->n_members, n);
	ck_assert_uint_eq(len, n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		const struct hagent_resource *r = res_find(t, members[i]);

		ck_assert_uint_eq(slots[i], r->slot);
		ck_assert_uint_eq(r->group_slot, g->slot);
	}
}

static void check_table(hagent_shm *s)
{
	static const char *const web[] = {"web-ip", "web-server"}, *const db[] = {"db-main"};
	struct hagent_shm_table *t = NULL;
	const struct hagent_resource *ip, *srv;
	char props[1024];
	uint32_t dep[4];
	size_t len;

	ck_assert_int_eq(hagent_shm_read_table(s, &t), 0);
	ck_assert_uint_eq(t->n_groups, 2);
	ck_assert_uint_eq(t->n_resources, 3);
	for (size_t i = 0; i < t->n_resources; i++) {
		int32_t st = t->resources[i].state;

		ck_assert(st == HAGENT_RESOURCE_INITIALIZING || st == HAGENT_RESOURCE_FAILED);
		ck_assert_uint_ge(t->resources[i].state_seq, 1);
	}
	check_group(s, t, "web", web, 2);
	check_group(s, t, "db", db, 1);
	ip = res_find(t, "web-ip");
	srv = res_find(t, "web-server");
	ck_assert_str_eq(ip->type, "IP Address");
	ck_assert_str_eq(srv->type, "test");
	ck_assert_str_eq(res_find(t, "db-main")->type, "test");
	len = blob(s, &ip->properties, props, sizeof(props));
	ck_assert(props_have(props, len, "Address=10.0.0.1"));
	ck_assert(props_have(props, len, "PendingTimeout=180000")); /* the default */
	len = blob(s, &srv->properties, props, sizeof(props));
	ck_assert(props_have(props, len, "PendingTimeout=1000"));
	ck_assert(props_have(props, len, "Command=/bin/true"));
	ck_assert(props_have(props, len, "DeadlockTimeout=300000"));
	ck_assert_uint_eq(blob(s, &ip->dependencies, dep, sizeof(dep)), 0);
	ck_assert_uint_eq(blob(s, &srv->dependencies, dep, sizeof(dep)), sizeof(uint32_t));
	ck_assert_uint_eq(dep[0], ip->slot);
	hagent_shm_table_free(t);
}

/*
 * One ADDED event per object first: three RESOURCE_ADDED (0x400), two
 * GROUP_ADDED (0x4000); the state changes follow.
 */
static void check_events(hagent_shm *s)
{
	unsigned res = 0, grp = 0;
	struct hagent_event e;

	for (uint64_t pos = 0; pos < 5; pos++) {
		ck_assert_int_eq(hagent_shm_read_event(s, pos, &e), 0);
		if (e.kind == 1 && e.change == 0x400)
			res++;
		if (e.kind == 2 && e.change == 0x4000)
			grp++;
	}
	ck_assert_uint_eq(res, 3);
	ck_assert_uint_eq(grp, 2);
}

static void check_heartbeat(hagent_shm *s)
{
	struct hagent_shm_info a, b;

	ck_assert_int_eq(hagent_shm_get_info(s, &a), 0);
	usleep(350000);
	ck_assert_int_eq(hagent_shm_get_info(s, &b), 0);
	ck_assert_uint_gt(a.heartbeat_ns, 0);
	ck_assert_uint_gt(b.heartbeat_ns, a.heartbeat_ns);
}

static void check_monitorctl(void)
{
	char out[8192];

	monitorctl_status_json(out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "\"web\""));
	ck_assert_ptr_nonnull(strstr(out, "\"db\""));
	ck_assert_ptr_nonnull(strstr(out, "\"web-ip\""));
	ck_assert_ptr_nonnull(strstr(out, "\"web-server\""));
	ck_assert_ptr_nonnull(strstr(out, "\"db-main\""));
}

START_TEST(test_publish)
{
	hagent_shm *s;
	pid_t pid;
	char sock[160];

	populate();
	pid = agent_start("agent.log");
	s = segment_open();
	check_table(s);
	check_events(s);
	check_heartbeat(s);
	check_monitorctl();
	hagent_shm_unref(s);
	agent_stop(pid);
	snprintf(sock, sizeof(sock), "%s/state.sock", rundir);
	ck_assert_int_eq(access(sock, F_OK), -1); /* removed on exit */
	ck_assert_ptr_nonnull(strstr(log_read("agent.log"), "<6>Serving 2 groups and 3 resources"));
}
END_TEST

START_TEST(test_second_agent)
{
	char want[160];
	hagent_shm *s;
	pid_t first, second;
	int status;

	populate();
	first = agent_start("first.log");
	hagent_shm_unref(segment_open());
	second = agent_start("second.log");
	status = agent_wait(second);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
	snprintf(want, sizeof(want), "<3>Another hagentd serves %s.", rundir);
	ck_assert_ptr_nonnull(strstr(log_read("second.log"), want));
	/* The first one is undisturbed, socket included. */
	s = segment_open();
	check_table(s);
	hagent_shm_unref(s);
	agent_stop(first);
}
END_TEST

/* Receives datagrams on fd until one contains want (at most 10 s). */
static void notify_expect(int fd, const char *want)
{
	uint64_t end = now_ms() + 10000;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		char buf[512];
		ssize_t n;

		ck_assert_msg(now_ms() < end, "no %s", want);
		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_ge(n, 0);
		buf[n] = '\0';
		if (strstr(buf, want))
			return;
	}
}

START_TEST(test_notify)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", base);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	populate();
	pid = agent_start_with(statedir, "agent.log", sa.sun_path);
	notify_expect(fd, "READY=1");
	/* READY=1 comes after the state is published: it is all there at once. */
	hagent_shm *s = segment_open();
	check_table(s);
	hagent_shm_unref(s);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	notify_expect(fd, "STOPPING=1");
	ck_assert_int_eq(agent_wait(pid), 0);
	close(fd);
}
END_TEST

START_TEST(test_creates_dirs)
{
	struct stat st;
	pid_t pid = agent_start("agent.log"); /* neither directory exists */

	hagent_shm_unref(segment_open());
	ck_assert_int_eq(stat(rundir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(stat(statedir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	agent_stop(pid);
}
END_TEST

START_TEST(test_state_dir_is_file)
{
	char want[200];
	int status, fd;
	pid_t pid;

	fd = open(statedir, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	pid = agent_start("agent.log");
	status = agent_wait(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
	snprintf(want, sizeof(want), "The state directory %s is not a directory", statedir);
	ck_assert_ptr_nonnull(strstr(log_read("agent.log"), want));
}
END_TEST

START_TEST(test_corrupt_db)
{
	char path[160], junk[8192];
	const char *log;
	int status, fd;
	pid_t pid;

	ck_assert_int_eq(mkdir(statedir, 0700), 0);
	snprintf(path, sizeof(path), "%s/hagent.db", statedir);
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t) sizeof(junk));
	close(fd);
	pid = agent_start("agent.log");
	status = agent_wait(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
	log = log_read("agent.log");
	ck_assert_msg(strstr(log, path) && strstr(log, "is not a database or is corrupt"), "%s",
		      log);
	/* and nothing is left listening */
	snprintf(path, sizeof(path), "%s/state.sock", rundir);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

static int run_simple(const char *arg)
{
	const char *bin = getenv("HAGENTD_BIN");
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>&1", bin, arg);
	return system(cmd);
}

START_TEST(test_options)
{
	ck_assert_int_eq(run_simple("--help"), 0);
	ck_assert_int_eq(run_simple("--version"), 0);
	ck_assert_int_ne(run_simple("--bogus"), 0);
	ck_assert_int_ne(run_simple("extra"), 0);
}
END_TEST

static Suite *hagentd_suite(void)
{
	Suite *s = suite_create("hagentd");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{"publish", test_publish},
		{"second_agent", test_second_agent},
		{"notify", test_notify},
		{"creates_dirs", test_creates_dirs},
		{"state_dir_is_file", test_state_dir_is_file},
		{"corrupt_db", test_corrupt_db},
		{"options", test_options},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN"))
		return 77;
	return test_run_suite(hagentd_suite());
}
