/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API server under attack and accident (docs/control-api.md):
 * access by credentials, acknowledged changes surviving kill -9 of the
 * agent, hostile and careless clients, a full segment, changes undone when
 * they cannot be applied, removals that take time, many clients at once.
 * The semantics of each method are in test-scenarios-pending.c.
 */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-scenario-util.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534


/* Runs fn in a child that became uid/gid (no supplementary groups); returns its exit code. */
static int as_user(uid_t uid, gid_t gid, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		scn.bus = NULL; /* the parent's connection is not ours to use */
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(90);
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child status 0x%x", status);
	return WEXITSTATUS(status);
}

/* Child: 0 if AddGroup is refused with AccessDenied, 1 if it succeeds, 2 otherwise. */
static int try_add_group(void)
{
	char addr[160];
	sd_bus *bus = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r;

	(void) sd_bus_error_add_map(control_error_map);
	snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);
	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 || sd_bus_start(bus) < 0)
		return 3;
	r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, "AddGroup", &err,
			       NULL, "s", "intruders");
	if (r >= 0)
		return 1;
	fprintf(stderr, "AddGroup as uid %u: %s: %s\n", (unsigned) getuid(), err.name, err.message);
	return sd_bus_error_has_name(&err, CONTROL_ERROR_ACCESS_DENIED) && r == -EACCES &&
			       strstr(err.message, "uid 65534")
		       ? 0
		       : 2;
}

START_TEST(access_by_credentials)
{
	struct scn_reply rep;
	struct group *nog;

	if (geteuid() != 0) {
		/* Not root: we are hagentd's own user, which has full access. */
		scn_agent_start();
		ck_assert_int_eq(scn_add_group("mine", &rep), 0);
		return;
	}
	ck_assert_int_eq(chmod(base, 0755), 0); /* nobody must reach control.sock */
	scn_agent_start_args((const char *const[]){"--admin-group", "hagent-test-none", NULL});
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, try_add_group), 0);
	ck_assert_int_eq(scn_add_group("root-may", &rep), 0); /* root may */
	ck_assert_int_eq(hagent_shm_find(scn.shm, 2, "intruders", &(uint32_t){0}), -ENOENT);
	scn_agent_stop();

	/* Members of the admin group may: nobody's own group as the admin group. */
	nog = getgrgid(NOBODY_GID);
	ck_assert_msg(nog, "no group %d", NOBODY_GID);
	scn_agent_start_args((const char *const[]){"--admin-group", nog->gr_name, NULL});
	ck_assert_int_eq(as_user(NOBODY_UID, NOBODY_GID, try_add_group), 1);
	(void) scn_group("intruders");
}
END_TEST

START_TEST(acknowledged_changes_survive_kill9)
{
	struct scn_reply rep;
	char name[32];

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(scn_add_resource(name, "g", NULL, NULL, 0, &rep), 0);
		if (i % 2)
			ck_assert_int_eq(scn_online(name, &rep), 0);
		scn_agent_kill9(); /* at once after the reply */
		scn_agent_start();
		for (int j = 0; j <= i; j++) {
			snprintf(name, sizeof(name), "r%d", j);
			(void) scn_res(name);
			if (j % 2) /* persistent state online: brought online again */
				scn_wait_state(name, HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
		}
	}
}
END_TEST

/* Child: adds resources b0, b1, ... until the agent goes away; prints how many it got replies for.
 */
static void burst_child(int out_fd)
{
	char name[32];
	struct scn_reply rep;
	int n = 0;

	scn.bus = NULL;
	scn_bus_connect();
	for (;; n++) {
		sd_bus_message *m = scn_method_new("AddResource");

		snprintf(name, sizeof(name), "b%d", n);
		if (sd_bus_message_append(m, "sss", name, "g", "test") < 0)
			break;
		scn_append_props(m, NULL, 0);
		if (sd_bus_message_append(m, "as", 0) < 0)
			break;
		if (sd_bus_call(scn.bus, m, 5 * 1000 * 1000, NULL, NULL) < 0) {
			sd_bus_message_unref(m);
			break;
		}
		sd_bus_message_unref(m);
		if (write(out_fd, &n, sizeof(n)) != sizeof(n))
			break;
	}
	(void) rep;
	_exit(0);
}

START_TEST(kill9_during_a_burst_loses_no_acknowledged_add)
{
	struct scn_reply rep;
	int fds[2], last = -1, n;
	char name[32];
	pid_t child;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(fds[0]);
		burst_child(fds[1]);
	}
	close(fds[1]);
	/* Let it add some, then kill the agent at whatever point it is. */
	while (read(fds[0], &n, sizeof(n)) == sizeof(n)) {
		last = n;
		if (n == 20)
			scn_agent_kill9();
	}
	close(fds[0]);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	ck_assert_int_ge(last, 20);
	scn_agent_start();
	for (int i = 0; i <= last; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		(void) scn_res(name); /* every acknowledged add is there */
	}
	/* The one in flight, if any, is there or not, but whole: the agent serves it normally. */
	snprintf(name, sizeof(name), "b%d", last + 1);
	ck_assert_int_eq(scn_online("b0", &rep), 0);
	scn_wait_state("b0", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS);
}
END_TEST

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/%s", rundir, CONTROL_SOCKET_NAME);

	ck_assert_int_lt(n, (int) sizeof(sa.sun_path));
	ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return fd;
}

START_TEST(hostile_clients_cost_only_their_connection)
{
	int idle[CONTROL_CONNECTIONS_MAX + 8];
	struct scn_reply rep;
	unsigned seed = 1;
	char buf[4096];

	scn_agent_start();
	/* Garbage instead of the SASL handshake, and garbage after a valid one. */
	for (int round = 0; round < 20; round++) {
		int fd = raw_connect();

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (char) rand_r(&seed);
		if (round % 2) {
			const char auth[] = "\0AUTH EXTERNAL 30\r\nBEGIN\r\n";

			(void) !write(fd, auth, sizeof(auth) - 1);
		}
		(void) !write(fd, buf, (size_t) (rand_r(&seed) % sizeof(buf)) + 1);
		close(fd);
	}
	/* A call whose caller goes away before the reply. */
	{
		sd_bus_message *m = scn_method_new("AddGroup");

		ck_assert_int_ge(sd_bus_message_append(m, "s", "orphan"), 0);
		ck_assert_int_ge(sd_bus_send(scn_bus(), m, NULL), 0);
		sd_bus_message_unref(m);
		ck_assert_int_ge(sd_bus_flush(scn_bus()), 0);
		scn.bus = sd_bus_close_unref(scn.bus);
	}
	/* More idle connections than the agent serves: the extra ones are closed... */
	for (size_t i = 0; i < ELEMENTSOF(idle); i++)
		idle[i] = raw_connect();
	for (size_t i = CONTROL_CONNECTIONS_MAX; i < ELEMENTSOF(idle); i++) {
		struct timeval tv = {.tv_sec = 5};

		ck_assert_int_eq(setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	}
	/* ...(at least the last ones: the agent may still be accepting the first) */
	ck_assert_int_eq(read(idle[ELEMENTSOF(idle) - 1], buf, 1), 0);
	/* ...and once they go, the agent serves again. */
	for (size_t i = 0; i < ELEMENTSOF(idle); i++)
		close(idle[i]);
	ck_assert(scn_agent_alive());
	for (int attempt = 0;; attempt++) {
		scn.bus = sd_bus_close_unref(scn.bus);
		if (scn_add_group("after", &rep) == 0)
			break;
		ck_assert_int_lt(attempt, 100);
		scn_sleep_ms(20);
	}
	(void) scn_group("orphan"); /* the orphaned call was applied */
	(void) scn_group("after");
	ck_assert(scn_agent_alive());
}
END_TEST

START_TEST(full_segment_refuses_and_stores_nothing)
{
	struct scn_reply rep;
	struct scn_mark mark;

	scn_agent_start_args(
		(const char *const[]){"--max-resources", "2", "--max-groups", "1", NULL});
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	scn_add_group("h", &rep);
	scn_assert_error(&rep, CONTROL_ERROR_FULL, -ENOSPC);
	ck_assert_msg(strstr(rep.message, "--max-groups"), "%s", rep.message);
	ck_assert_int_eq(scn_add_resource("a", "g", NULL, NULL, 0, &rep), 0);
	ck_assert_int_eq(scn_add_resource("b", "g", NULL, NULL, 0, &rep), 0);
	scn_wait_state("b", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	scn_wait_state("a", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	mark = scn_mark_take();
	scn_add_resource("c", "g", NULL, NULL, 0, &rep);
	scn_assert_error(&rep, CONTROL_ERROR_FULL, -ENOSPC);
	ck_assert_msg(strstr(rep.message, "--max-resources"), "%s", rep.message);
	scn_mark_assert_unchanged(mark);
	/* A removal frees a record for the next add. */
	ck_assert_int_eq(scn_remove_resource("a", 0, &rep), 0);
	scn_wait_gone("a", SCN_WAIT_MS);
	ck_assert_int_eq(scn_add_resource("c", "g", NULL, NULL, 0, &rep), 0);
	scn_agent_stop();
	scn_agent_start_args(
		(const char *const[]){"--max-resources", "2", "--max-groups", "1", NULL});
	(void) scn_res("b");
	(void) scn_res("c");
	ck_assert(!scn_res_find("a", &(struct hagent_resource){}));
	ck_assert_int_eq(hagent_shm_find(scn.shm, 2, "h", &(uint32_t){0}), -ENOENT);
}
END_TEST

START_TEST(changes_that_cannot_apply_are_undone)
{
	char big[600];
	struct scn_reply rep;
	struct scn_mark mark;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	mark = scn_mark_take();
	/* Two private properties of 600 bytes do not fit a monitor's OPEN command. */
	scn_add_resource("r", "g", NULL, SCN_PROPS({"A", big}, {"B", big}), &rep);
	scn_assert_error(&rep, CONTROL_ERROR_TOO_BIG, -E2BIG);
	scn_mark_assert_unchanged(mark);
	/* One fits; a second one set later does not, and the first stays as it was. */
	ck_assert_int_eq(scn_add_resource("r", "g", NULL, SCN_PROPS({"A", big}), &rep), 0);
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	mark = scn_mark_take();
	scn_set_props("r", SCN_PROPS({"B", big}, {"PendingTimeout", "5000"}), &rep);
	scn_assert_error(&rep, CONTROL_ERROR_TOO_BIG, -E2BIG);
	scn_mark_assert_unchanged(mark);
	scn_agent_stop();
	scn_agent_start();
	scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	/* The undo put PendingTimeout back to its default: setting only B=short works. */
	ck_assert_int_eq(scn_set_props("r", SCN_PROPS({"B", "short"}), &rep), 0);
	ck_assert_int_eq(scn_remove_resource("r", 0, &rep), 0);
	scn_wait_gone("r", SCN_WAIT_MS);
}
END_TEST

START_TEST(removal_in_progress)
{
	struct scn_reply rep;
	struct hagent_resource old, now;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	/* Its close hangs: the agent kills the monitor after DeadlockTimeout. */
	ck_assert_int_eq(scn_add_resource("slow", "g", NULL,
					  SCN_PROPS({"Hang", "close"}, {"DeadlockTimeout", "1500"}),
					  &rep),
			 0);
	old = scn_wait_state("slow", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_remove_resource("slow", 0, &rep), 0);
	/* Closing: the group is busy, not empty; the name is free already. */
	scn_remove_group("g", &rep);
	scn_assert_error(&rep, CONTROL_ERROR_BUSY, -EBUSY);
	scn_online("slow", &rep);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_int_eq(scn_add_resource("SLOW", "g", NULL, NULL, 0, &rep), 0);
	scn_remove_group("g", &rep);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_EMPTY, -ENOTEMPTY);
	/* Both are in the segment until the old one's monitor is killed (DeadlockTimeout). */
	for (int attempt = 0;; attempt++) {
		now = scn_res("slow");
		if (memcmp(now.id, old.id, HAGENT_ID_SIZE) != 0)
			break;
		ck_assert_int_lt(attempt, 500);
		scn_sleep_ms(20);
	}
	ck_assert_str_eq(now.name, "SLOW");
	scn_wait_state("SLOW", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	ck_assert_int_eq(scn_remove_resource("SLOW", 0, &rep), 0);
	/* Once the old one's monitor is killed and the new one closed, the group goes. */
	for (int attempt = 0; scn_remove_group("g", &rep) < 0; attempt++) {
		scn_assert_error(&rep, CONTROL_ERROR_BUSY, -EBUSY);
		ck_assert_int_lt(attempt, 500);
		scn_sleep_ms(20);
	}
	ck_assert(scn_agent_alive());
}
END_TEST

START_TEST(added_and_deleted_events)
{
	struct scn_reply rep;
	struct hagent_resource r;
	struct hagent_group g;
	uint64_t from;

	scn_agent_start();
	from = scn_event_head();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	ck_assert_int_eq(scn_add_resource("r", "g", NULL, NULL, 0, &rep), 0);
	r = scn_wait_state("r", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
	g = scn_group("g");
	ck_assert_uint_eq(scn_events(g.id, 2, 0x00004000, from, NULL, 0), 1); /* GROUP_ADDED */
	ck_assert_uint_eq(scn_events(r.id, 1, 0x00000400, from, NULL, 0), 1); /* RESOURCE_ADDED */
	ck_assert_uint_ge(scn_events(g.id, 2, 0x00008000, from, NULL, 0), 1); /* GROUP_PROPERTY */
	ck_assert_int_eq(scn_set_props("r", SCN_PROPS({"X", "1"}), &rep), 0);
	ck_assert_uint_eq(scn_events(r.id, 1, 0x00000800, from, NULL, 0),
			  1); /* RESOURCE_PROPERTY */
	ck_assert_int_eq(scn_remove_resource("r", 0, &rep), 0);
	scn_wait_gone("r", SCN_WAIT_MS);
	ck_assert_uint_eq(scn_events(r.id, 1, 0x00000200, from, NULL, 0), 1); /* RESOURCE_DELETED */
	ck_assert_int_eq(scn_remove_group("g", &rep), 0);
	ck_assert_uint_eq(scn_events(g.id, 2, 0x00002000, from, NULL, 0), 1); /* GROUP_DELETED */
}
END_TEST

#define CLIENTS	   8
#define PER_CLIENT 25

START_TEST(many_clients_at_once)
{
	struct scn_reply rep;
	pid_t pids[CLIENTS];
	char name[32];

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	scn.bus = sd_bus_flush_close_unref(scn.bus);
	for (int c = 0; c < CLIENTS; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			for (int i = 0; i < PER_CLIENT; i++) {
				snprintf(name, sizeof(name), "c%d-%d", c, i);
				if (scn_add_resource(name, "g", NULL, NULL, 0, &rep) < 0)
					_exit(1);
				if (i % 3 == 0 && scn_online(name, &rep) < 0)
					_exit(2);
			}
			_exit(0);
		}
	}
	for (int c = 0; c < CLIENTS; c++) {
		int status;

		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client %d: 0x%x", c,
			      status);
	}
	for (int c = 0; c < CLIENTS; c++)
		for (int i = 0; i < PER_CLIENT; i++) {
			snprintf(name, sizeof(name), "c%d-%d", c, i);
			scn_wait_state(
				name, i % 3 == 0 ? HAGENT_RESOURCE_ONLINE : HAGENT_RESOURCE_OFFLINE,
				SCN_WAIT_MS);
		}
}
END_TEST

START_TEST(types_come_from_monitor_programs)
{
	struct scn_reply rep;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	scn_add_resource("r", "g", "nosuch", NULL, 0, &rep);
	scn_assert_error(&rep, CONTROL_ERROR_NOT_FOUND, -ENOENT);
	ck_assert_msg(strstr(rep.message, "hamon-nosuch"), "%s", rep.message);
	scn_add_resource("r", "g", "../test", NULL, 0, &rep);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	scn_add_resource("r", "g", "..", NULL, 0, &rep);
	scn_assert_error(&rep, CONTROL_ERROR_INVALID_ARGUMENT, -EINVAL);
	ck_assert_int_eq(
		scn_add_resource("p", "g", "process", SCN_PROPS({"Command", "sleep 60"}), &rep), 0);
	ck_assert_int_eq(scn_online("p", &rep), 0);
	ck_assert_str_eq(scn_wait_state("p", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS).type, "process");
	ck_assert_int_eq(scn_offline("p", 0, &rep), 0);
	scn_wait_state("p", HAGENT_RESOURCE_OFFLINE, SCN_WAIT_MS);
}
END_TEST

/*
 * A monitor stuck in an entry point does not keep hagentd from stopping, nor
 * outlives it: the graceful stop's offline times out (PendingTimeout: the
 * resource is Failed), and the monitor, still in its terminate, is killed
 * when it does not exit within hagentd's 5 s.
 */
START_TEST(stop_kills_a_hung_monitor)
{
	struct scn_reply rep;
	pid_t mon;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group("g", &rep), 0);
	ck_assert_int_eq(scn_add_resource("stuck", "g", NULL,
					  SCN_PROPS({"Hang", "close,terminate,offline"},
						    {"PendingTimeout", "1000"},
						    {"DeadlockTimeout", "1000"}), &rep),
			 0);
	ck_assert_int_eq(scn_online("stuck", &rep), 0);
	mon = scn_wait_state("stuck", HAGENT_RESOURCE_ONLINE, SCN_WAIT_MS).monitor_pid;
	ck_assert_int_gt(mon, 0);
	scn_agent_stop(); /* exits 0 within SCN_WAIT_MS: 1 s of offline, then 5 s for the monitor */
	for (uint64_t end = now_ms() + SCN_WAIT_MS; kill(mon, 0) == 0;) {
		ck_assert_msg(now_ms() < end, "monitor %d outlived hagentd", (int) mon);
		usleep(10000);
	}
	ck_assert(strstr(log_read("agent.log"), "1 monitors did not exit in time; killed them."));
}
END_TEST

/* More resources than one start batch: all of them come up, and the agent answers meanwhile. */
START_TEST(start_in_batches)
{
	struct scn_reply rep;
	char name[32];

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "r%02d", i);
		scn_seed_resource(name, "g", NULL, NULL, 0, true);
	}
	scn_agent_start();
	ck_assert_int_eq(scn_add_group("during-start", &rep), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "r%02d", i);
		scn_wait_state(name, HAGENT_RESOURCE_ONLINE, 2 * SCN_WAIT_MS);
	}
}
END_TEST

static Suite *control_api_suite(void)
{
	Suite *s = suite_create("control-api");

	scn_tcase_add(s, "access_by_credentials", access_by_credentials, 30);
	scn_tcase_add(s, "acknowledged_changes_survive_kill9", acknowledged_changes_survive_kill9,
		      60);
	scn_tcase_add(s, "kill9_during_a_burst_loses_no_acknowledged_add",
		      kill9_during_a_burst_loses_no_acknowledged_add, 60);
	scn_tcase_add(s, "hostile_clients_cost_only_their_connection",
		      hostile_clients_cost_only_their_connection, 60);
	scn_tcase_add(s, "full_segment_refuses_and_stores_nothing",
		      full_segment_refuses_and_stores_nothing, 30);
	scn_tcase_add(s, "changes_that_cannot_apply_are_undone",
		      changes_that_cannot_apply_are_undone, 30);
	scn_tcase_add(s, "removal_in_progress", removal_in_progress, 30);
	scn_tcase_add(s, "added_and_deleted_events", added_and_deleted_events, 30);
	scn_tcase_add(s, "many_clients_at_once", many_clients_at_once, 60);
	scn_tcase_add(s, "types_come_from_monitor_programs", types_come_from_monitor_programs, 30);
	scn_tcase_add(s, "stop_kills_a_hung_monitor", stop_kills_a_hung_monitor, 30);
	scn_tcase_add(s, "start_in_batches", start_in_batches, 60);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_api_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
