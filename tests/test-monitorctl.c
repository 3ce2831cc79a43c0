/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's read-only commands, run as a subprocess ($MONITORCTL_BIN)
 * against a segment this test writes: the test plays hagentd, publishing
 * with the writer API and serving state.sock in a private runtime dir from
 * a thread.  Checks the exact output of status and show (text and JSON,
 * including string escaping), the state names, name lookup, and the exit
 * codes and messages of every failure, with nothing on stdout then.  The
 * commands that change something are checked here for what needs no agent:
 * their usage errors and "agent not running" (this test serves no
 * control.sock); test-monitorctl-control.c runs them against hagentd.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control-api.h"
#include "hagent/shm.h"
#include "macro.h"
#include "shm-layout.h"
#include "shm-publish.h"
#include "shm-writer.h"
#include "test-run-util.h"
#include "test-util.h"
#include "time-util.h"

#define MAX_RES 32u
#define MAX_GRP 8u

extern char **environ;

/* Per-test state (each test runs in its own process). */
static struct shm_writer *w;
static char rundir[64];
static int listen_fd = -EBADF, stop_fd = -EBADF;
static pthread_t server;
static _Atomic bool refuse; /* the peer check refuses every reader */

static int peer_check(const struct ucred *peer, void *userdata)
{
	(void) peer;
	(void) userdata;
	return refuse ? -EPERM : 0;
}

/* ================================ the agent's part ================================ */

static void *server_main(void *p)
{
	(void) p;
	for (;;) {
		struct pollfd pf[2] = {
			{.fd = listen_fd, .events = POLLIN},
			{.fd = stop_fd, .events = POLLIN},
		};

		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[1].revents)
			return NULL;
		if (pf[0].revents)
			(void) shm_socket_serve_one(listen_fd, shm_writer_fd(w), peer_check, NULL);
	}
}

static void setup(void)
{
	struct shm_params p = {
		.max_resources = MAX_RES,
		.max_groups = MAX_GRP,
		.blob_bytes = 64 * SHM_BLOB_CHUNK,
		.event_capacity = 8,
	};
	char path[128];

	ck_assert_int_eq(shm_writer_new(&p, &w), 0);
	snprintf(rundir, sizeof(rundir), "/tmp/test-monitorctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(rundir));
	snprintf(path, sizeof(path), "%s/%s", rundir, HAGENT_SHM_SOCKET);
	listen_fd = shm_socket_listen(path, 0600);
	ck_assert_int_ge(listen_fd, 0);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(stop_fd, 0);
	ck_assert_int_eq(pthread_create(&server, NULL, server_main, NULL), 0);
}

static void control_stop(void);

static void teardown(void)
{
	char cmd[128];

	control_stop();
	ck_assert_int_eq(eventfd_write(stop_fd, 1), 0);
	ck_assert_int_eq(pthread_join(server, NULL), 0);
	listen_fd = safe_close(listen_fd);
	stop_fd = safe_close(stop_fd);
	w = shm_writer_free(w);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rundir);
	(void) !system(cmd); /* best effort: the directory only holds this test's files */
}

/* ============================ the control API's part ============================ */

/*
 * A scripted control server on <rundir>/control.sock, served from a thread
 * (only for the tests that call control_start()): it answers every method
 * call as mock says and records the call, so that the tests see exactly
 * what monitorctl sent and what it makes of each answer.
 */

#define MOCK_ID "0123456789abcdef0123456789abcdef"

static struct {
	pthread_mutex_t lock;
	/* The answer. */
	const char *error;   /* a D-Bus error name; NULL: success */
	const char *message; /* its message; NULL: none */
	bool hang_up;	     /* close the connection instead of answering */
	bool close_after;    /* close the connection after answering */
	uint32_t result, seq;
	int32_t state;
	/*
	 * The last call: "PATH INTERFACE MEMBER ARG..." (a(ss) as " KEY=VALUE"
	 * each, as as " [a,b]", ay as " y:<hex>").
	 */
	char call[4096];
} mock = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_t control_thread;
static int control_fd = -EBADF, control_stop_fd = -EBADF;
static _Atomic bool control_hang_up; /* set by the handler: the connection ends */

static void mock_answer(const char *error, const char *message, uint32_t result, int32_t state,
			uint32_t seq)
{
	ck_assert_int_eq(pthread_mutex_lock(&mock.lock), 0);
	mock.error = error;
	mock.message = message;
	mock.hang_up = false;
	mock.close_after = false;
	mock.result = result;
	mock.state = state;
	mock.seq = seq;
	mock.call[0] = '\0';
	ck_assert_int_eq(pthread_mutex_unlock(&mock.lock), 0);
}

/* After mock_answer(): hang up instead of answering, or after the answer. */
static void mock_hang_up(bool instead, bool after)
{
	ck_assert_int_eq(pthread_mutex_lock(&mock.lock), 0);
	mock.hang_up = instead;
	mock.close_after = after;
	ck_assert_int_eq(pthread_mutex_unlock(&mock.lock), 0);
}

static void assert_call(const char *member_and_args)
{
	char want[4096];

	snprintf(want, sizeof(want), "%s %s %s", CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
		 member_and_args);
	ck_assert_int_eq(pthread_mutex_lock(&mock.lock), 0);
	ck_assert_str_eq(mock.call, want);
	ck_assert_int_eq(pthread_mutex_unlock(&mock.lock), 0);
}

/* Appends the call's arguments to buf: strings, numbers and a(ss) pairs. */
static int mock_args(sd_bus_message *m, char *buf, size_t size)
{
	const char *sig = sd_bus_message_get_signature(m, true);
	size_t len = strlen(buf);
	int r;

	for (const char *c = sig; *c; c++) {
		const char *str, *key, *value;
		uint32_t u;

		if (*c == 's') {
			r = sd_bus_message_read(m, "s", &str);
			if (r < 0)
				return r;
			len += (size_t) snprintf(buf + len, size - len, " %s", str);
		} else if (*c == 'u') {
			r = sd_bus_message_read(m, "u", &u);
			if (r < 0)
				return r;
			len += (size_t) snprintf(buf + len, size - len, " %u", u);
		} else if (strncmp(c, "a(ss)", 5) == 0) {
			r = sd_bus_message_enter_container(m, 'a', "(ss)");
			if (r < 0)
				return r;
			while ((r = sd_bus_message_read(m, "(ss)", &key, &value)) > 0)
				len += (size_t) snprintf(buf + len, size - len, " %s=%s", key,
							 value);
			if (r < 0)
				return r;
			r = sd_bus_message_exit_container(m);
			if (r < 0)
				return r;
			c += 4;
		} else if (strncmp(c, "as", 2) == 0) {
			r = sd_bus_message_enter_container(m, 'a', "s");
			if (r < 0)
				return r;
			len += (size_t) snprintf(buf + len, size - len, " [");
			for (int i = 0; (r = sd_bus_message_read(m, "s", &str)) > 0; i++)
				len += (size_t) snprintf(buf + len, size - len, "%s%s",
							 i ? "," : "", str);
			if (r < 0)
				return r;
			len += (size_t) snprintf(buf + len, size - len, "]");
			r = sd_bus_message_exit_container(m);
			if (r < 0)
				return r;
			c += 1;
		} else if (strncmp(c, "ay", 2) == 0) {
			const uint8_t *bytes;
			size_t n;

			r = sd_bus_message_read_array(m, 'y', (const void **) &bytes, &n);
			if (r < 0)
				return r;
			len += (size_t) snprintf(buf + len, size - len, " y:");
			for (size_t i = 0; i < n && len < size; i++)
				len += (size_t) snprintf(buf + len, size - len, "%02x", bytes[i]);
			c += 1;
		} else {
			len += (size_t) snprintf(buf + len, size - len, " <%c?>", *c);
		}
		if (len >= size)
			return -ENOBUFS;
	}
	return 0;
}

static int mock_method(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	char call[4096];
	const char *member = sd_bus_message_get_member(m);
	const char *error, *message;
	uint32_t result, seq;
	int32_t state;
	bool hang_up, close_after;

	(void) userdata;
	(void) ret_error;
	if (!sd_bus_message_is_method_call(m, NULL, NULL))
		return 0;
	snprintf(call, sizeof(call), "%s %s %s", sd_bus_message_get_path(m),
		 sd_bus_message_get_interface(m), member);
	if (mock_args(m, call, sizeof(call)) < 0)
		snprintf(call, sizeof(call), "unreadable arguments");
	pthread_mutex_lock(&mock.lock);
	snprintf(mock.call, sizeof(mock.call), "%s", call);
	error = mock.error;
	message = mock.message;
	hang_up = mock.hang_up;
	close_after = mock.close_after;
	result = mock.result;
	state = mock.state;
	seq = mock.seq;
	pthread_mutex_unlock(&mock.lock);

	if (hang_up || close_after)
		control_hang_up = true;
	if (hang_up)
		return 1;
	if (error)
		return sd_bus_reply_method_error(m, &SD_BUS_ERROR_MAKE_CONST(error, message));
	if (strcmp(member, "AddGroup") == 0 || strcmp(member, "AddResource") == 0)
		return sd_bus_reply_method_return(m, "s", MOCK_ID);
	if (strcmp(member, "OnlineResource") == 0 || strcmp(member, "OfflineResource") == 0 ||
	    strcmp(member, "OnlineGroup") == 0 || strcmp(member, "OfflineGroup") == 0)
		return sd_bus_reply_method_return(m, "uiu", result, state, seq);
	return sd_bus_reply_method_return(m, NULL);
}

/* One client, until it hangs up (or mock says to hang up on it). */
static void control_serve(int fd)
{
	sd_bus *bus = NULL;
	sd_id128_t id;
	int r;

	control_hang_up = false;
	r = sd_id128_randomize(&id);
	if (r >= 0)
		r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_fd(bus, fd, fd);
	if (r >= 0)
		r = sd_bus_set_server(bus, 1, id);
	if (r >= 0)
		r = sd_bus_add_filter(bus, NULL, mock_method, NULL);
	if (r >= 0)
		r = sd_bus_start(bus);
	while (r >= 0 && !control_hang_up) {
		r = sd_bus_process(bus, NULL);
		if (r == 0)
			r = sd_bus_wait(bus, 100 * 1000);
	}
	if (bus)
		sd_bus_flush_close_unref(bus); /* sends the answer (close_after), closes fd */
	else
		safe_close(fd);
}

static void *control_main(void *p)
{
	(void) p;
	for (;;) {
		struct pollfd pf[2] = {
			{.fd = control_fd, .events = POLLIN},
			{.fd = control_stop_fd, .events = POLLIN},
		};
		int fd;

		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[1].revents)
			return NULL;
		fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			control_serve(fd);
	}
}

/* Serves control.sock in rundir from now on (until teardown). */
static void control_start(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CONTROL_SOCKET_NAME, rundir);
	control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(control_fd, 0);
	ck_assert_int_eq(bind(control_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(control_fd, 8), 0);
	control_stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(control_stop_fd, 0);
	ck_assert_int_eq(pthread_create(&control_thread, NULL, control_main, NULL), 0);
}

static void control_stop(void)
{
	if (control_fd < 0)
		return;
	ck_assert_int_eq(eventfd_write(control_stop_fd, 1), 0);
	ck_assert_int_eq(pthread_join(control_thread, NULL), 0);
	control_fd = safe_close(control_fd);
	control_stop_fd = safe_close(control_stop_fd);
}

static void id_make(uint8_t id[SHM_ID_SIZE], uint8_t seed)
{
	for (unsigned i = 0; i < SHM_ID_SIZE; i++)
		id[i] = (uint8_t) (seed + i);
}

static struct shm_object res(const char *name, const char *type, int32_t state, uint32_t seq,
			     uint32_t gslot, uint8_t seed)
{
	struct shm_object o = {.kind = SHM_KIND_RESOURCE};

	snprintf(o.name, sizeof(o.name), "%s", name);
	snprintf(o.u.res.type, sizeof(o.u.res.type), "%s", type);
	id_make(o.id, seed);
	o.u.res.state = state;
	o.u.res.state_seq = seq;
	o.u.res.group_slot = gslot;
	return o;
}

static struct shm_blob_ref blob(const void *data, uint32_t len)
{
	struct shm_blob_ref ref = {};

	if (len)
		ck_assert_int_eq(shm_writer_blob_new(w, data, len, &ref), 0);
	return ref;
}

/* Puts o; the version takes its own references, ours are dropped. */
static void put(uint32_t slot, struct shm_object *o)
{
	ck_assert_int_eq(shm_writer_put(w, slot, o), 0);
	if (o->kind == SHM_KIND_RESOURCE) {
		shm_writer_blob_unref(w, &o->u.res.properties);
		shm_writer_blob_unref(w, &o->u.res.dependencies);
	} else {
		shm_writer_blob_unref(w, &o->u.grp.members);
		shm_writer_blob_unref(w, &o->u.grp.properties);
		shm_writer_blob_unref(w, &o->u.grp.dependency_expression);
		shm_writer_blob_unref(w, &o->u.grp.provider_groups);
	}
}

static struct shm_object grp(const char *name, int32_t state, uint32_t seq, uint8_t seed,
			     const uint32_t *members, uint32_t n)
{
	struct shm_object o = {.kind = SHM_KIND_GROUP};

	snprintf(o.name, sizeof(o.name), "%s", name);
	id_make(o.id, seed);
	o.u.grp.state = state;
	o.u.grp.state_seq = seq;
	o.u.grp.n_members = n;
	o.u.grp.members = blob(members, n * (uint32_t) sizeof(uint32_t));
	return o;
}

static void put_group(uint32_t slot, const char *name, int32_t state, uint32_t seq, uint8_t seed,
		      const uint32_t *members, uint32_t n)
{
	struct shm_object o = grp(name, state, seq, seed, members, n);

	put(slot, &o);
}

#define WEIRD_GROUP "q\"b\\c\x01\xc3\xbc" /* quote, backslash, control char, u-umlaut */
#define WEIRD_RES   "caf\xc3\xa9\xff"	  /* valid UTF-8, then an invalid byte */

/*
 * The fixed data set: "web" (persistent state online, 2 failovers; web-ip,
 * web-server in that member order, the second locked, pending, with
 * properties and a dependency on the first), WEIRD_GROUP with WEIRD_RES,
 * and "empty" without members, which web depends on (its dependency
 * expression), waiting for its provider groups (made up: it has none).
 */
#define WEB_EXPR "[303132333435363738393a3b3c3d3e3f]"
static void load_fixed(void)
{
	static const char props[] = "PendingTimeout=180000\0Command=/bin/echo \"hi\"\0";
	uint32_t r0 = shm_writer_resource_slot(w, 0), r1 = shm_writer_resource_slot(w, 1);
	uint32_t r2 = shm_writer_resource_slot(w, 2);
	uint32_t g0 = shm_writer_group_slot(w, 0), g1 = shm_writer_group_slot(w, 1);
	uint32_t g2 = shm_writer_group_slot(w, 2);
	uint32_t web[] = {r0, r1}, weird[] = {r2};
	struct shm_object o;

	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	o = res("web-ip", "IP Address", HAGENT_RESOURCE_ONLINE, 4, g0, 0x00);
	o.u.res.monitor_pid = 1234;
	o.u.res.persistent_state = 1;
	o.u.res.state_change_ns = UINT64_C(1700000000123456789);
	put(r0, &o);
	o = res("web-server", "test", HAGENT_RESOURCE_ONLINE_PENDING, 7, g0, 0xa0);
	o.u.res.flags = SHM_RES_F_LOCKED;
	o.u.res.checkpoint = 3;
	o.u.res.wait_hint_ms = 5000;
	o.u.res.monitor_pid = 1240;
	o.u.res.restart_count = 1;
	o.u.res.properties = blob(props, sizeof(props) - 1);
	o.u.res.dependencies = blob(&r0, sizeof(r0));
	put(r1, &o);
	o = res(WEIRD_RES, "test", HAGENT_RESOURCE_FAILED, 2, g1, 0xf0);
	o.u.res.last_error = -EIO;
	o.u.res.restart_count = 3;
	put(r2, &o);
	o = grp("web", HAGENT_GROUP_ONLINE, 12, 0x10, web, 2);
	o.u.grp.persistent_state = 1;
	o.u.grp.failover_count = 2;
	o.u.grp.dependency_expression = blob(WEB_EXPR, sizeof(WEB_EXPR) - 1);
	o.u.grp.provider_groups = blob(&g2, sizeof(g2));
	put(g0, &o);
	put_group(g1, WEIRD_GROUP, HAGENT_GROUP_FAILED, 3, 0x20, weird, 1);
	o = grp("empty", HAGENT_GROUP_OFFLINE, 1, 0x30, NULL, 0);
	o.u.grp.flags = SHM_GRP_F_WAITING;
	put(g2, &o);
	ck_assert_int_eq(shm_writer_commit(w), 0);
}

/* ================================ running monitorctl ================================ */

/*
 * Starts monitorctl with argv (NULL-terminated, without argv[0]); env_dir is
 * HAGENT_RUNTIME_DIR for it (NULL: unset).  *ret_out, *ret_err: its stdout
 * and stderr.
 */
static pid_t spawn_env(const char *env_dir, const char *const *args, int *ret_out, int *ret_err)
{
	const char *bin = getenv("MONITORCTL_BIN");
	const char *argv[24] = {"monitorctl"}, *envp[256];
	char env_entry[256];
	int out[2], err[2];
	size_t n_env = 0;
	pid_t pid;

	ck_assert_msg(bin, "MONITORCTL_BIN is not set");
	for (size_t i = 0; args[i]; i++) {
		ck_assert_uint_lt(i + 2, ELEMENTSOF(argv));
		argv[i + 1] = args[i];
	}
	for (char **e = environ; *e && n_env + 2 < ELEMENTSOF(envp); e++)
		if (strncmp(*e, "HAGENT_RUNTIME_DIR=", 19) != 0)
			envp[n_env++] = *e;
	if (env_dir) {
		snprintf(env_entry, sizeof(env_entry), "HAGENT_RUNTIME_DIR=%s", env_dir);
		envp[n_env++] = env_entry;
	}
	envp[n_env] = NULL;
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* After fork() in a threaded process: only async-signal-safe calls. */
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		execve(bin, (char *const *) argv, (char *const *) envp);
		_exit(127);
	}
	safe_close(out[1]);
	safe_close(err[1]);
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

/* Runs monitorctl (as spawn_env()) and collects its output and exit code. */
static void run_env(struct run *r, const char *env_dir, const char *const *args)
{
	int out, err;
	pid_t pid = spawn_env(env_dir, args, &out, &err);

	run_collect(r, pid, out, err);
}

/* monitorctl --runtime-dir <the test's dir> args... */
#define RUN(r, ...)                                                                                \
	run_env(r, NULL, (const char *const[]){"--runtime-dir", rundir, __VA_ARGS__, NULL})

static void assert_ok(const struct run *r)
{
	ck_assert_msg(r->code == 0, "exit %d, stderr: %s", r->code, r->err);
	ck_assert_str_eq(r->err, "");
}

/*
 * Compares stdout with want.  The texts go to stderr, not into the message:
 * Check cannot pass messages this long.
 */
static void assert_out(const struct run *r, const char *want)
{
	if (strcmp(r->out, want) == 0)
		return;
	fprintf(stderr, "--- expected stdout:\n%s--- got:\n%s---\n", want, r->out);
	ck_abort_msg("stdout is not the expected text (both are on stderr)");
}

static void assert_out_has(const struct run *r, const char *want)
{
	if (strstr(r->out, want))
		return;
	fprintf(stderr, "--- missing:\n%s\n--- in stdout:\n%s---\n", want, r->out);
	ck_abort_msg("stdout lacks an expected text (both are on stderr)");
}

/* A failure: the exit code, the stderr text, and nothing on stdout. */
static void assert_fails(const struct run *r, int code, const char *err)
{
	ck_assert_msg(r->code == code, "exit %d, want %d; stderr: %s", r->code, code, r->err);
	assert_out(r, "");
	if (err)
		ck_assert_str_eq(r->err, err);
}

/* ==================================== status ==================================== */

#define STATUS_TEXT                                                                                \
	"NAME           STATE           SEQ  TYPE        PID   RESTARTS  NOTE\n"                   \
	"web            online          12                               persistent state "        \
	"online, after empty, 2 failovers\n"                                                                    \
	"|- web-ip      online          4    IP Address  1234  0\n"                                \
	"`- web-server  online-pending  7    test        1240  1         depends on web-ip; "      \
	"locked, checkpoint 3, wait hint 5000 ms\n"                                                \
	"q\"b\\c\\x01\xc3\xbc     failed          3                                "               \
	"persistent state offline\n"                                                               \
	"`- caf\xc3\xa9\xff       failed          2    test        -     3\n"                      \
	"empty          offline         1                                persistent state "        \
	"offline, waiting for provider groups\n"

#define WEB_IP_JSON                                                                                \
	"{\"name\":\"web-ip\",\"id\":\"000102030405060708090a0b0c0d0e0f\",\"group\":\"web\","      \
	"\"type\":\"IP Address\",\"state\":\"online\",\"sequence\":4,\"checkpoint\":0,"            \
	"\"wait_hint\":0,\"locked\":false,\"monitor_pid\":1234,\"restart_count\":0,"               \
	"\"dependencies\":[]}"
#define WEB_SERVER_FIELDS                                                                          \
	"\"name\":\"web-server\",\"id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"group\":\"web\","   \
	"\"type\":\"test\",\"state\":\"online-pending\",\"sequence\":7,\"checkpoint\":3,"          \
	"\"wait_hint\":5000,\"locked\":true,\"monitor_pid\":1240,\"restart_count\":1"
#define WEIRD_GROUP_JSON "\"q\\\"b\\\\c\\u0001\xc3\xbc\""

#define STATUS_JSON                                                                                \
	"{\"groups\":["                                                                            \
	"{\"name\":\"web\",\"id\":\"101112131415161718191a1b1c1d1e1f\",\"state\":\"online\","      \
	"\"sequence\":12,\"failover_count\":2,\"persistent_state\":1,\"waiting\":false,"         \
	"\"provider_groups\":[\"empty\"],\"resources\":[" WEB_IP_JSON                                \
	",{" WEB_SERVER_FIELDS ",\"dependencies\":[\"web-ip\"]}]},"                                \
	"{\"name\":" WEIRD_GROUP_JSON ",\"id\":\"202122232425262728292a2b2c2d2e2f\","              \
	"\"state\":\"failed\",\"sequence\":3,\"failover_count\":0,\"persistent_state\":0,"         \
	"\"waiting\":false,\"provider_groups\":[],\"resources\":["                                                                          \
	"{\"name\":\"caf\xc3\xa9\\ufffd\",\"id\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","            \
	"\"group\":" WEIRD_GROUP_JSON ",\"type\":\"test\",\"state\":\"failed\",\"sequence\":2,"    \
	"\"checkpoint\":0,\"wait_hint\":0,\"locked\":false,\"monitor_pid\":0,"                     \
	"\"restart_count\":3,\"dependencies\":[]}]},"                                              \
	"{\"name\":\"empty\",\"id\":\"303132333435363738393a3b3c3d3e3f\",\"state\":\"offline\","   \
	"\"sequence\":1,\"failover_count\":0,\"persistent_state\":0,\"waiting\":true,"           \
	"\"provider_groups\":[],\"resources\":[]}]}\n"

/* Claim: status prints every group with its members, in member order, aligned. */
START_TEST(test_status_text)
{
	struct run r;

	load_fixed();
	RUN(&r, "status");
	assert_ok(&r);
	assert_out(&r, STATUS_TEXT);
}
END_TEST

/*
 * Claim: status --json is the contract's document, strings escaped (quote,
 * backslash, control char), UTF-8 passed through, an invalid byte U+FFFD.
 */
START_TEST(test_status_json)
{
	struct run r;

	load_fixed();
	RUN(&r, "--json", "status");
	assert_ok(&r);
	assert_out(&r, STATUS_JSON);
	RUN(&r, "status", "--json"); /* options after the command work too */
	assert_ok(&r);
	assert_out(&r, STATUS_JSON);
}
END_TEST

/* Claim: an agent with nothing configured is not an error. */
START_TEST(test_status_empty)
{
	struct run r;

	RUN(&r, "status");
	assert_ok(&r);
	assert_out(&r, "No groups.\n");
	RUN(&r, "--json", "status");
	assert_ok(&r);
	assert_out(&r, "{\"groups\":[]}\n");
}
END_TEST

/* Claim: every resource and group state has its contract name, in text and JSON. */
START_TEST(test_state_names)
{
	static const struct {
		int32_t state;
		const char *name;
	} rs[] =
		{
			{HAGENT_RESOURCE_OFFLINE, "offline"},
			{HAGENT_RESOURCE_ONLINE_PENDING, "online-pending"},
			{HAGENT_RESOURCE_ONLINE, "online"},
			{HAGENT_RESOURCE_OFFLINE_PENDING, "offline-pending"},
			{HAGENT_RESOURCE_FAILED, "failed"},
			{HAGENT_RESOURCE_INITIALIZING, "initializing"},
			{77, "unknown"},
		},
	  gs[] = {
		  {HAGENT_GROUP_ONLINE, "online"},
		  {HAGENT_GROUP_OFFLINE, "offline"},
		  {HAGENT_GROUP_FAILED, "failed"},
		  {HAGENT_GROUP_PARTIAL_ONLINE, "partial-online"},
		  {HAGENT_GROUP_PENDING, "pending"},
		  {-1, "unknown"},
	  };
	char name[64], want[256];
	struct run r;

	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	for (uint32_t i = 0; i < ELEMENTSOF(gs); i++) {
		uint32_t slot = shm_writer_resource_slot(w, i);
		struct shm_object o;

		snprintf(name, sizeof(name), "r-%s", rs[i].name);
		o = res(name, "t", rs[i].state, 1, shm_writer_group_slot(w, i), 0);
		put(slot, &o);
		snprintf(name, sizeof(name), "g-%s", gs[i].name);
		put_group(shm_writer_group_slot(w, i), name, gs[i].state, 1, 0, &slot, 1);
	}
	ck_assert_int_eq(shm_writer_commit(w), 0);

	RUN(&r, "--json", "status");
	assert_ok(&r);
	for (size_t i = 0; i < ELEMENTSOF(gs); i++) {
		snprintf(want, sizeof(want),
			 "{\"name\":\"g-%s\",\"id\":\"000102030405060708090a0b0c0d0e0f\","
			 "\"state\":\"%s\",\"sequence\":1,\"failover_count\":0,"
			 "\"persistent_state\":0,\"waiting\":false,\"provider_groups\":[],"
			 "\"resources\":[{\"name\":\"r-%s\","
			 "\"id\":\"000102030405060708090a0b0c0d0e0f\",\"group\":\"g-%s\","
			 "\"type\":\"t\",\"state\":\"%s\",",
			 gs[i].name, gs[i].name, rs[i].name, gs[i].name, rs[i].name);
		assert_out_has(&r, want);
	}
	RUN(&r, "status");
	assert_ok(&r);
	for (size_t i = 0; i < ELEMENTSOF(gs); i++) {
		snprintf(want, sizeof(want), "\n`- r-%-17s%-17s1 ", rs[i].name, rs[i].name);
		assert_out_has(&r, want);
		snprintf(want, sizeof(want), "\ng-%-20s%-17s1%25spersistent state offline\n",
			 gs[i].name, gs[i].name, "");
		assert_out_has(&r, want);
	}
	/* The seventh resource state, without a group of its own. */
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	{
		struct shm_object o =
			res("r-unknown", "t", rs[6].state, 1, shm_writer_group_slot(w, 0), 0);

		put(shm_writer_resource_slot(w, 6), &o);
	}
	ck_assert_int_eq(shm_writer_commit(w), 0);
	RUN(&r, "--json", "show", "r-unknown");
	assert_ok(&r);
	assert_out_has(&r, "\"group\":\"g-online\",\"type\":\"t\",\"state\":\"unknown\",");
}
END_TEST

/* =================================== show =================================== */

#define SHOW_WEB_SERVER                                                                            \
	"Resource:         web-server\n"                                                           \
	"Id:               a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\n"                                     \
	"Type:             test\n"                                                                 \
	"Group:            web\n"                                                                  \
	"State:            online-pending\n"                                                       \
	"Sequence:         7\n"                                                                    \
	"Checkpoint:       3\n"                                                                    \
	"Wait hint:        5000 ms\n"                                                              \
	"Locked:           yes\n"                                                                  \
	"Monitor PID:      1240\n"                                                                 \
	"Restart count:    1\n"                                                                    \
	"Last error:       none\n"                                                                 \
	"Persistent state: offline\n"                                                              \
	"State changed:    -\n"                                                                    \
	"Pending deadline: -\n"                                                                    \
	"Dependencies:     web-ip\n"                                                               \
	"Properties:\n"                                                                            \
	"  PendingTimeout = 180000\n"                                                              \
	"  Command = /bin/echo \"hi\"\n"

#define SHOW_WEB_SERVER_JSON                                                                       \
	"{\"resource\":{" WEB_SERVER_FIELDS ",\"last_error\":0,\"persistent_state\":0,"            \
	"\"state_change_ns\":0,\"pending_deadline_ns\":0,\"dependencies\":[\"web-ip\"],"           \
	"\"properties\":{\"PendingTimeout\":\"180000\",\"Command\":\"/bin/echo \\\"hi\\\"\"}}}\n"

/* Claim: show of a resource prints all its fields, its dependencies and its properties. */
START_TEST(test_show_resource)
{
	struct run r;

	load_fixed();
	RUN(&r, "show", "web-server");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB_SERVER);
	RUN(&r, "--json", "show", "web-server");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB_SERVER_JSON);

	RUN(&r, "show", "web-ip");
	assert_ok(&r);
	assert_out_has(&r, "\nState changed:    2023-11-14T22:13:20.123Z\n");
	assert_out_has(&r, "\nPersistent state: online\n");
	assert_out_has(&r, "\nProperties:       -\n");
	RUN(&r, "show", WEIRD_RES);
	assert_ok(&r);
	assert_out_has(&r, "Resource:         caf\xc3\xa9\xff\n");
	assert_out_has(&r, "\nGroup:            q\"b\\c\\x01\xc3\xbc\n");
	assert_out_has(&r, "\nLast error:       -5 (Input/output error)\n");
	assert_out_has(&r, "\nMonitor PID:      -\n");
}
END_TEST

#define SHOW_WEB                                                                                   \
	"Group:            web\n"                                                                  \
	"Id:               101112131415161718191a1b1c1d1e1f\n"                                     \
	"State:            online\n"                                                               \
	"Sequence:         12\n"                                                                   \
	"Members:          2\n"                                                                    \
	"Failover count:   2\n"                                                                    \
	"Persistent state: online\n"                                                               \
	"State changed:    -\n"                                                                    \
	"Dependencies:     " WEB_EXPR "\n"                                                         \
	"Provider groups:  empty\n"                                                                \
	"Properties:       -\n"                                                                    \
	"\n"                                                                                       \
	"NAME           STATE           SEQ  TYPE        PID   RESTARTS  NOTE\n"                   \
	"web            online          12                               persistent state "        \
	"online, after empty, 2 failovers\n"                                                                    \
	"|- web-ip      online          4    IP Address  1234  0\n"                                \
	"`- web-server  online-pending  7    test        1240  1         depends on web-ip; "      \
	"locked, checkpoint 3, wait hint 5000 ms\n"

#define SHOW_WEB_JSON                                                                              \
	"{\"group\":{\"name\":\"web\",\"id\":\"101112131415161718191a1b1c1d1e1f\","                \
	"\"state\":\"online\",\"sequence\":12,\"failover_count\":2,\"persistent_state\":1,"        \
	"\"waiting\":false,\"state_change_ns\":0,\"dependency_expression\":\"" WEB_EXPR "\","      \
	"\"provider_groups\":[\"empty\"],\"properties\":{},"                                         \
	"\"resources\":[" WEB_IP_JSON ",{" WEB_SERVER_FIELDS                                       \
	",\"dependencies\":[\"web-ip\"]}]}}\n"

/* Claim: show of a group prints the group and its members, in member order. */
START_TEST(test_show_group)
{
	struct run r;

	load_fixed();
	RUN(&r, "show", "web");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB);
	RUN(&r, "--json", "show", "web");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB_JSON);
	RUN(&r, "--json", "show", "empty");
	assert_ok(&r);
	assert_out(&r, "{\"group\":{\"name\":\"empty\","
		       "\"id\":\"303132333435363738393a3b3c3d3e3f\",\"state\":\"offline\","
		       "\"sequence\":1,\"failover_count\":0,\"persistent_state\":0,"
		       "\"waiting\":true,\"state_change_ns\":0,\"dependency_expression\":null,"
		       "\"provider_groups\":[],\"properties\":{},\"resources\":[]}}\n");
}
END_TEST

/* Claim: names are looked up case-insensitively, for resources and groups. */
START_TEST(test_show_case)
{
	struct run r;

	load_fixed();
	RUN(&r, "show", "WEB-Server");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB_SERVER);
	RUN(&r, "--json", "show", "wEb");
	assert_ok(&r);
	assert_out(&r, SHOW_WEB_JSON);
	RUN(&r, "show", "CAF\xc3\xa9\xff"); /* ASCII letters fold, the rest must match */
	assert_ok(&r);
}
END_TEST

/* Claim: an unknown name exits 3, names the name on stderr, prints nothing on stdout. */
START_TEST(test_show_not_found)
{
	struct run r;

	load_fixed();
	RUN(&r, "show", "nope");
	assert_fails(&r, 3, "monitorctl: no resource or group named 'nope'\n");
	RUN(&r, "--json", "show", "web-i");
	assert_fails(&r, 3, "monitorctl: no resource or group named 'web-i'\n");
}
END_TEST

/* ================================== failures ================================== */

/* Claim: no agent (empty or missing runtime dir) is exit 7, also through HAGENT_RUNTIME_DIR. */
START_TEST(test_not_running)
{
	char empty[64], missing[96], msg[256];
	struct run r;

	snprintf(empty, sizeof(empty), "/tmp/test-monitorctl-empty-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(empty));
	snprintf(missing, sizeof(missing), "%s/nonexistent", empty);

	run_env(&r, NULL, (const char *const[]){"--runtime-dir", empty, "status", NULL});
	snprintf(msg, sizeof(msg), "monitorctl: hagentd is not running (no state socket in %s)\n",
		 empty);
	assert_fails(&r, 7, msg);
	run_env(&r, NULL, (const char *const[]){"--runtime-dir", missing, "show", "x", NULL});
	snprintf(msg, sizeof(msg), "monitorctl: hagentd is not running (no state socket in %s)\n",
		 missing);
	assert_fails(&r, 7, msg);
	run_env(&r, missing, (const char *const[]){"--json", "status", NULL});
	assert_fails(&r, 7, msg);

	/* --runtime-dir wins over the environment; the environment alone works. */
	load_fixed();
	run_env(&r, missing, (const char *const[]){"--runtime-dir", rundir, "status", NULL});
	assert_ok(&r);
	assert_out(&r, STATUS_TEXT);
	run_env(&r, rundir, (const char *const[]){"--json", "status", NULL});
	assert_ok(&r);
	assert_out(&r, STATUS_JSON);
	ck_assert_int_eq(rmdir(empty), 0);
}
END_TEST

/* Claim: a socket nobody listens on (a dead agent's) is exit 7 as well. */
START_TEST(test_dead_agent)
{
	char msg[256];
	struct run r;

	/* Stop serving: the socket file stays, connections are refused. */
	ck_assert_int_eq(eventfd_write(stop_fd, 1), 0);
	ck_assert_int_eq(pthread_join(server, NULL), 0);
	listen_fd = safe_close(listen_fd);
	ck_assert_int_eq(eventfd_read(stop_fd, &(eventfd_t){0}), 0);
	ck_assert_int_eq(pthread_create(&server, NULL, server_main, NULL), 0);

	RUN(&r, "status");
	snprintf(msg, sizeof(msg), "monitorctl: hagentd is not running (no state socket in %s)\n",
		 rundir);
	assert_fails(&r, 7, msg);
}
END_TEST

/* Claim: bad options and arguments exit 2 with a message (and usage), nothing on stdout. */
START_TEST(test_bad_arguments)
{
	struct run r;

	load_fixed();
	RUN(&r, "--bogus", "status");
	assert_fails(&r, 2, NULL);
	ck_assert_ptr_nonnull(strstr(r.err, "monitorctl: invalid option '--bogus'\n"));
	ck_assert_ptr_nonnull(strstr(r.err, "Usage: monitorctl [--runtime-dir DIR] [--json]"));
	RUN(&r, "-x", "status");
	assert_fails(&r, 2, NULL);
	ck_assert_ptr_nonnull(strstr(r.err, "monitorctl: invalid option '-x'\n"));
	RUN(&r, "--json=yes", "status");
	assert_fails(&r, 2, NULL);
	run_env(&r, NULL, (const char *const[]){"status", "--runtime-dir", NULL});
	assert_fails(&r, 2, NULL);
	ck_assert_ptr_nonnull(strstr(r.err, "option '--runtime-dir' needs an argument\n"));
	run_env(&r, NULL, (const char *const[]){NULL});
	assert_fails(&r, 2, NULL);
	ck_assert_ptr_nonnull(strstr(r.err, "monitorctl: no command given\n"));
	RUN(&r, "show");
	assert_fails(&r, 2, "monitorctl: usage: monitorctl show NAME\n");
	RUN(&r, "show", "web", "web-ip");
	assert_fails(&r, 2, "monitorctl: usage: monitorctl show NAME\n");
	RUN(&r, "status", "web");
	assert_fails(&r, 2, "monitorctl: usage: monitorctl status\n");
	RUN(&r, "frobnicate");
	assert_fails(&r, 2, "monitorctl: unknown command 'frobnicate' (see 'monitorctl --help')\n");

	run_env(&r, NULL, (const char *const[]){"--help", NULL});
	assert_ok(&r);
	assert_out_has(&r, "Usage: monitorctl [--runtime-dir DIR] [--json]");
}
END_TEST

/*
 * Claim: every command that changes something checks its arguments and
 * options before it contacts the agent: exit 2, a message naming the
 * problem, nothing on stdout (the fixture has no control.sock, so a check
 * that were skipped would show as exit 7).
 */
START_TEST(test_mutation_usage)
{
	static const struct {
		const char *args[10];
		const char *err; /* the first line of stderr */
	} cases[] = {
		{{"group"}, "monitorctl: 'group' needs a subcommand (see 'monitorctl --help')\n"},
		{{"resource"},
		 "monitorctl: 'resource' needs a subcommand (see 'monitorctl --help')\n"},
		{{"group", "start", "web"},
		 "monitorctl: unknown command 'group start' (see 'monitorctl --help')\n"},
		{{"resource", "start", "web-ip"},
		 "monitorctl: unknown command 'resource start' (see 'monitorctl --help')\n"},
		{{"group", "add"}, "monitorctl: usage: monitorctl group add NAME\n"},
		{{"group", "add", "a", "b"}, "monitorctl: usage: monitorctl group add NAME\n"},
		{{"group", "remove"}, "monitorctl: usage: monitorctl group remove NAME\n"},
		{{"group", "add", "db", "--force"},
		 "monitorctl: option '--force' does not apply to 'group add'\n"},
		{{"resource", "add", "--group", "g", "--type", "test"},
		 "monitorctl: usage: monitorctl resource add NAME --group GROUP --type TYPE "
		 "[--set KEY=VALUE]... [--depends-on RESOURCE]...\n"},
		{{"resource", "add", "db", "--group", "g", "--type", "t", "--depends-on"},
		 "monitorctl: option '--depends-on' needs an argument\n"},
		{{"resource", "online", "db", "--depends-on", "x"},
		 "monitorctl: option '--depends-on' does not apply to 'resource online'\n"},
		{{"resource", "offline", "db", "--ignore-locked"},
		 "monitorctl: option '--ignore-locked' does not apply to 'resource offline'\n"},
		{{"resource", "add-dependency", "db"},
		 "monitorctl: usage: monitorctl resource add-dependency NAME PROVIDER\n"},
		{{"resource", "remove-dependency", "db", "a", "b"},
		 "monitorctl: usage: monitorctl resource remove-dependency NAME PROVIDER\n"},
		{{"resource", "add-dependency", "db", "ip", "--wait"},
		 "monitorctl: option '--wait' does not apply to 'resource add-dependency'\n"},
		{{"group", "online"},
		 "monitorctl: usage: monitorctl group online NAME [--wait] [--timeout SEC]\n"},
		{{"group", "online", "web", "--bogus"}, "monitorctl: invalid option '--bogus'\n"},
		{{"group", "online", "web", "--timeout", "1"},
		 "monitorctl: --timeout needs --wait\n"},
		{{"group", "online", "web", "--ignore-locked"},
		 "monitorctl: option '--ignore-locked' does not apply to 'group online'\n"},
		{{"group", "online", "web", "--param", "a=b"},
		 "monitorctl: option '--param' does not apply to 'group online'\n"},
		{{"group", "offline", "a", "b"},
		 "monitorctl: usage: monitorctl group offline NAME [--ignore-locked] "
		 "[--param KEY=VALUE]... [--wait] [--timeout SEC]\n"},
		{{"group", "offline", "web", "--param", "Mode"},
		 "monitorctl: invalid parameter 'Mode': want KEY=VALUE with a non-empty KEY\n"},
		{{"group", "offline", "web", "--param", "=fast"},
		 "monitorctl: invalid parameter '=fast': want KEY=VALUE with a non-empty KEY\n"},
		{{"group", "offline", "web", "--param"},
		 "monitorctl: option '--param' needs an argument\n"},
		{{"group", "offline", "web", "--ignore-locked", "--timeout", "1"},
		 "monitorctl: --timeout needs --wait\n"},
		{{"group", "offline", "web", "--force"},
		 "monitorctl: option '--force' does not apply to 'group offline'\n"},
		{{"group", "offline", "web", "--param", "K=\xff"},
		 "monitorctl: invalid parameter 'K=\xff': the key and value must be UTF-8, the key "
		 "at most 255 bytes\n"},
		{{"group", "set", "web"},
		 "monitorctl: usage: monitorctl group set NAME KEY=VALUE...\n"},
		{{"group", "set", "web", "FailoverThreshold"},
		 "monitorctl: invalid property 'FailoverThreshold': want KEY=VALUE with a "
		 "non-empty KEY\n"},
		{{"resource", "add", "db", "--type", "test"},
		 "monitorctl: 'resource add' needs --group\n"},
		{{"resource", "add", "db", "--group", "g"},
		 "monitorctl: 'resource add' needs --type\n"},
		{{"resource", "add", "db", "--group", "g", "--type", "test", "--set", "Foo"},
		 "monitorctl: invalid property 'Foo': want KEY=VALUE with a non-empty KEY\n"},
		{{"resource", "add", "db", "--group", "g", "--type", "test", "--set", "=1"},
		 "monitorctl: invalid property '=1': want KEY=VALUE with a non-empty KEY\n"},
		{{"resource", "add", "db", "--group", "g", "--type", "test", "--wait"},
		 "monitorctl: option '--wait' does not apply to 'resource add'\n"},
		{{"resource", "add", "db", "--group"},
		 "monitorctl: option '--group' needs an argument\n"},
		{{"resource", "remove"},
		 "monitorctl: usage: monitorctl resource remove NAME "
		 "[--force]\n"},
		{{"resource", "remove", "db", "--wait"},
		 "monitorctl: option '--wait' does not apply to 'resource remove'\n"},
		{{"resource", "set", "db"},
		 "monitorctl: usage: monitorctl resource set NAME KEY=VALUE...\n"},
		{{"resource", "set", "db", "A=1", "B"},
		 "monitorctl: invalid property 'B': want KEY=VALUE with a non-empty KEY\n"},
		{{"resource", "set", "db", "=x"},
		 "monitorctl: invalid property '=x': want KEY=VALUE with a non-empty KEY\n"},
		{{"resource", "set", "db", "A=1", "--set", "B=2"},
		 "monitorctl: option '--set' does not apply to 'resource set'\n"},
		{{"resource", "online"},
		 "monitorctl: usage: monitorctl resource online NAME [--wait] [--timeout SEC]\n"},
		{{"resource", "online", "a", "b"},
		 "monitorctl: usage: monitorctl resource online NAME [--wait] [--timeout SEC]\n"},
		{{"resource", "online", "db", "--force"},
		 "monitorctl: option '--force' does not apply to 'resource online'\n"},
		{{"resource", "online", "db", "--timeout", "1"},
		 "monitorctl: --timeout needs --wait\n"},
		{{"resource", "online", "db", "--wait", "--timeout", "0"},
		 "monitorctl: invalid --timeout '0': want a positive number of seconds, e.g. 5 or "
		 "0.5\n"},
		{{"resource", "online", "db", "--wait", "--timeout", "-1"},
		 "monitorctl: invalid --timeout '-1': want a positive number of seconds, e.g. 5 or "
		 "0.5\n"},
		{{"resource", "online", "db", "--wait", "--timeout", "1s"},
		 "monitorctl: invalid --timeout '1s': want a positive number of seconds, e.g. 5 or "
		 "0.5\n"},
		{{"resource", "online", "db", "--wait", "--timeout", "."},
		 "monitorctl: invalid --timeout '.': want a positive number of seconds, e.g. 5 or "
		 "0.5\n"},
		{{"resource", "online", "db", "--wait", "--timeout", "0.0000000001"},
		 "monitorctl: invalid --timeout '0.0000000001': want a positive number of seconds, "
		 "e.g. 5 or 0.5\n"},
		{{"resource", "online", "db", "--wait", "--timeout"},
		 "monitorctl: option '--timeout' needs an argument\n"},
		{{"resource", "offline"},
		 "monitorctl: usage: monitorctl resource offline NAME "
		 "[--wait] [--timeout SEC] [--force]\n"},
		{{"resource", "offline", "db", "--type", "x"},
		 "monitorctl: option '--type' does not apply to 'resource offline'\n"},
		{{"resource", "offline", "db", "--timeout", "2.5", "--force"},
		 "monitorctl: --timeout needs --wait\n"},
		{{"status", "--force"},
		 "monitorctl: option '--force' does not apply to 'status'\n"},
		{{"show", "web", "--set", "a=b"},
		 "monitorctl: option '--set' does not apply to 'show'\n"},
	};
	struct run r;

	load_fixed();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const char *argv[14] = {"--runtime-dir", rundir};

		for (size_t k = 0; cases[i].args[k]; k++)
			argv[k + 2] = cases[i].args[k];
		run_env(&r, NULL, argv);
		ck_assert_msg(r.code == 2, "case %zu: exit %d; stderr: %s", i, r.code, r.err);
		assert_out(&r, "");
		ck_assert_msg(strncmp(r.err, cases[i].err, strlen(cases[i].err)) == 0,
			      "case %zu: stderr %s", i, r.err);
	}
	/* A --param list longer than the agent takes: refused before the call. */
	{
		char big[700];

		memset(big, 'v', sizeof(big) - 1);
		big[0] = 'K';
		big[1] = '=';
		big[sizeof(big) - 1] = '\0';
		RUN(&r, "group", "offline", "web", "--param", big);
		assert_fails(&r, 2,
			     "monitorctl: the --param list does not fit in 992 bytes (hagentd's "
			     "limit)\n");
	}
	/* Nothing changed. */
	RUN(&r, "status");
	assert_ok(&r);
	assert_out(&r, STATUS_TEXT);
	RUN(&r, "watch", "--count", "0");
	assert_fails(&r, 2, "monitorctl: invalid --count '0': want a positive number of lines\n");
}
END_TEST

/* Every mutation command, well-formed. */
static const char *const mutations[][12] = {
	{"group", "add", "db"},
	{"group", "remove", "web"},
	{"resource", "add", "db", "--group", "web", "--type", "test", "--set", "A=1", "--set",
	 "B="},
	{"resource", "remove", "web-ip"},
	{"resource", "remove", "web-ip", "--force"},
	{"resource", "set", "web-ip", "PendingTimeout=1000", "Command="},
	{"resource", "online", "web-ip"},
	{"resource", "online", "web-ip", "--wait", "--timeout", "0.5"},
	{"resource", "offline", "web-ip"},
	{"resource", "offline", "web-ip", "--wait", "--force"},
	{"resource", "add", "db", "--group", "web", "--type", "test", "--depends-on", "web-ip"},
	{"resource", "add-dependency", "web-server", "web-ip"},
	{"resource", "remove-dependency", "web-server", "web-ip"},
	{"group", "online", "web"},
	{"group", "online", "web", "--wait", "--timeout", "1"},
	{"group", "offline", "web", "--ignore-locked", "--param", "Mode=fast", "--wait"},
	{"group", "set", "web", "FailoverThreshold=1"},
};

/* Runs every mutation (with --json too) against dir and expects exit 7 and msg. */
static void mutations_not_running(const char *dir, const char *msg)
{
	struct run r;

	for (size_t i = 0; i < ELEMENTSOF(mutations); i++)
		for (int json = 0; json < 2; json++) {
			const char *argv[16] = {"--runtime-dir", dir};
			size_t n = 2;

			if (json)
				argv[n++] = "--json";
			for (size_t k = 0; mutations[i][k]; k++)
				argv[n++] = mutations[i][k];
			run_env(&r, NULL, argv);
			ck_assert_msg(r.code == 7, "%s %s: exit %d; stderr: %s", mutations[i][0],
				      mutations[i][1], r.code, r.err);
			assert_out(&r, "");
			ck_assert_str_eq(r.err, msg);
		}
}

/*
 * Claim: every mutation command exits 7 when hagentd is not running: no
 * control.sock (though state.sock is served), a control.sock nobody listens
 * on, a missing runtime dir; HAGENT_RUNTIME_DIR is honoured.
 */
START_TEST(test_mutation_not_running)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char msg[256], missing[96];
	struct run r;
	int fd;

	load_fixed();
	snprintf(msg, sizeof(msg), "monitorctl: hagentd is not running (no control socket in %s)\n",
		 rundir);
	mutations_not_running(rundir, msg);
	run_env(&r, rundir, (const char *const[]){"group", "add", "db", NULL});
	assert_fails(&r, 7, msg);

	/* A dead agent's socket: the file is there, nobody listens. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", rundir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	safe_close(fd);
	mutations_not_running(rundir, msg);

	snprintf(missing, sizeof(missing), "%s/nonexistent", rundir);
	snprintf(msg, sizeof(msg), "monitorctl: hagentd is not running (no control socket in %s)\n",
		 missing);
	mutations_not_running(missing, msg);

	/* Nothing changed. */
	RUN(&r, "status");
	assert_ok(&r);
	assert_out(&r, STATUS_TEXT);
}
END_TEST

/* ============================ against a scripted agent ============================ */

/*
 * Claim: each command sends its method on the contract's object and
 * interface with the arguments given (properties in order, split at the
 * first '=', an empty value kept; --force as flag 1) and prints the answer:
 * the id, the state reached or "pending", nothing for the others.
 */
START_TEST(test_control_calls)
{
	struct run r;

	load_fixed();
	control_start();
	mock_answer(NULL, NULL, 0, 0, 0);
	RUN(&r, "group", "add", "db");
	assert_ok(&r);
	assert_out(&r, MOCK_ID "\n");
	assert_call("AddGroup db");
	RUN(&r, "--json", "group", "add", "db");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"db\",\"id\":\"" MOCK_ID "\"}\n");
	RUN(&r, "group", "remove", "db");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("RemoveGroup db");

	RUN(&r, "resource", "add", "db", "--set", "A=1", "--group", "web", "--set",
	    "Empty=", "--type", "test", "--set", "Note=a=b");
	assert_ok(&r);
	assert_out(&r, MOCK_ID "\n");
	assert_call("AddResource db web test A=1 Empty= Note=a=b []");
	RUN(&r, "--json", "resource", "add", "db", "--group", "web", "--type", "test");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"db\",\"id\":\"" MOCK_ID "\"}\n");
	assert_call("AddResource db web test []");
	RUN(&r, "resource", "add", "db", "--depends-on", "web-ip", "--group", "web", "--type",
	    "test", "--set", "A=1", "--depends-on", "web-server");
	assert_ok(&r);
	assert_out(&r, MOCK_ID "\n");
	assert_call("AddResource db web test A=1 [web-ip,web-server]");
	RUN(&r, "resource", "add-dependency", "web-server", "web-ip");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("AddResourceDependency web-server web-ip");
	RUN(&r, "resource", "remove-dependency", "web-server", "web-ip");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("RemoveResourceDependency web-server web-ip");
	RUN(&r, "group", "set", "web", "FailoverThreshold=1", "FailoverPeriod=");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("SetGroupProperties web FailoverThreshold=1 FailoverPeriod=");
	RUN(&r, "resource", "remove", "db");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("RemoveResource db 0");
	RUN(&r, "resource", "remove", "db", "--force");
	assert_call("RemoveResource db 1");
	RUN(&r, "resource", "set", "db", "PendingTimeout=", "X=y=z");
	assert_ok(&r);
	assert_out(&r, "");
	assert_call("SetResourceProperties db PendingTimeout= X=y=z");

	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_RESOURCE_ONLINE, 9);
	RUN(&r, "resource", "online", "db");
	assert_ok(&r);
	assert_out(&r, "online\n");
	assert_call("OnlineResource db");
	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_RESOURCE_OFFLINE, 10);
	RUN(&r, "resource", "offline", "db", "--force", "--wait"); /* nothing to wait for */
	assert_ok(&r);
	assert_out(&r, "offline\n");
	assert_call("OfflineResource db 1");
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_OFFLINE_PENDING, 11);
	RUN(&r, "resource", "offline", "db");
	assert_ok(&r);
	assert_out(&r, "pending\n");
	assert_call("OfflineResource db 0");

	/* --json: the id from the segment (null for a resource it does not show). */
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 5);
	RUN(&r, "--json", "resource", "online", "WEB-ip");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"WEB-ip\",\"id\":\"000102030405060708090a0b0c0d0e0f\","
		       "\"state\":\"online-pending\",\"sequence\":5,\"pending\":true}\n");
	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_RESOURCE_OFFLINE, 3);
	RUN(&r, "--json", "resource", "offline", "db");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"db\",\"id\":null,\"state\":\"offline\",\"sequence\":3,"
		       "\"pending\":false}\n");
}
END_TEST

/* PROPERTY_LIST bytes (hex) of "Mode=fast" and "A=b=c", written out by hand from the spec. */
#define PARAM_MODE_FAST                                                                            \
	"03000400"		   /* CLUSPROP_SYNTAX_NAME */                                      \
	"0a000000"		   /* its size: 5 UTF-16 units */                                  \
	"4d006f006400650000000000" /* "Mode", its NUL, 2 bytes of padding */                       \
	"03000100"		   /* CLUSPROP_SYNTAX_LIST_VALUE_SZ */                             \
	"0a000000"                                                                                 \
	"660061007300740000000000" /* "fast" */                                                    \
	"00000000"		   /* CLUSPROP_SYNTAX_ENDMARK */
#define PARAM_A_BEQC                                                                               \
	"03000400"                                                                                 \
	"04000000"                                                                                 \
	"41000000" /* "A" */                                                                       \
	"03000100"                                                                                 \
	"08000000"                                                                                 \
	"62003d0063000000" /* "b=c": the key ends at the first '=' */                              \
	"00000000"

/*
 * Claim: the group commands send their methods with the arguments given:
 * OnlineGroup flags 0; OfflineGroup flags 0, or 1 with --ignore-locked, and
 * the --param pairs as one MS-CMRP property list, in order (no --param: an
 * empty array); they print the state reached or "pending", with --json the
 * group's id from the segment (null for a group it does not show).
 */
START_TEST(test_group_calls)
{
	struct run r;

	load_fixed();
	control_start();
	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_GROUP_ONLINE, 9);
	RUN(&r, "group", "online", "web");
	assert_ok(&r);
	assert_out(&r, "online\n");
	assert_call("OnlineGroup web 0");
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 10);
	RUN(&r, "group", "offline", "web");
	assert_ok(&r);
	assert_out(&r, "pending\n");
	assert_call("OfflineGroup web 0 y:");
	RUN(&r, "group", "offline", "web", "--ignore-locked", "--param", "Mode=fast");
	assert_ok(&r);
	assert_out(&r, "pending\n");
	assert_call("OfflineGroup web 1 y:01000000" PARAM_MODE_FAST);
	RUN(&r, "group", "offline", "web", "--param", "Mode=fast", "--param", "A=b=c");
	assert_ok(&r);
	assert_call("OfflineGroup web 0 y:02000000" PARAM_MODE_FAST PARAM_A_BEQC);
	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_GROUP_OFFLINE, 11);
	RUN(&r, "group", "offline", "web", "--wait"); /* nothing to wait for */
	assert_ok(&r);
	assert_out(&r, "offline\n");
	assert_call("OfflineGroup web 0 y:");

	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 5);
	RUN(&r, "--json", "group", "online", "WEB");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"WEB\",\"id\":\"101112131415161718191a1b1c1d1e1f\","
		       "\"state\":\"pending\",\"sequence\":5,\"pending\":true}\n");
	mock_answer(NULL, NULL, CONTROL_RESULT_SUCCESS, HAGENT_GROUP_OFFLINE, 3);
	RUN(&r, "--json", "group", "offline", "db");
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"db\",\"id\":null,\"state\":\"offline\",\"sequence\":3,"
		       "\"pending\":false}\n");
	mock_answer(CONTROL_ERROR_RESOURCE_LOCKED, "Group 'web' has a locked member.", 0, 0, 0);
	RUN(&r, "group", "offline", "web", "--param", "Mode=fast", "--wait");
	assert_fails(&r, 5, "monitorctl: Group 'web' has a locked member.\n");
}
END_TEST

/*
 * Claim: the exit code of a refusal comes from the D-Bus error name (the
 * contract's table: ResourceLocked and InvalidState are both EBUSY, 5 and
 * 1), the agent's message is printed after "monitorctl: "; an error outside
 * the contract, an answer without a message, a hang-up and a result outside
 * the contract are exit 1 (4 for a D-Bus AccessDenied) and say what failed.
 */
START_TEST(test_control_errors)
{
	static const struct {
		const char *name;
		int code;
	} errors[] = {
		{CONTROL_ERROR_INVALID_ARGUMENT, 2},
		{CONTROL_ERROR_OUT_OF_RANGE, 2},
		{CONTROL_ERROR_TOO_BIG, 2},
		{CONTROL_ERROR_NOT_FOUND, 3},
		{CONTROL_ERROR_ACCESS_DENIED, 4},
		{CONTROL_ERROR_RESOURCE_LOCKED, 5},
		{CONTROL_ERROR_INVALID_STATE, 1},
		{CONTROL_ERROR_RESOURCE_ONLINE, 1},
		{CONTROL_ERROR_RESOURCE_FAILED, 1},
		{CONTROL_ERROR_EXISTS, 1},
		{CONTROL_ERROR_NOT_EMPTY, 1},
		{CONTROL_ERROR_BUSY, 1},
		{CONTROL_ERROR_FULL, 1},
		{CONTROL_ERROR_NOT_READY, 1},
		{CONTROL_ERROR_FAILED, 1},
		{CONTROL_ERROR_CIRCULAR_DEPENDENCY, 2},
		{CONTROL_ERROR_TREE_TOO_COMPLEX, 2},
		{"org.freedesktop.DBus.Error.AccessDenied", 4},
		{"org.freedesktop.DBus.Error.UnknownMethod", 1},
		{"com.example.Error.Strange", 1},
	};
	struct run r;

	load_fixed();
	control_start();
	for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
		char msg[256];

		mock_answer(errors[i].name, "Resource 'web-ip' says no.", 0, 0, 0);
		RUN(&r, "resource", "offline", "web-ip", "--wait");
		ck_assert_msg(r.code == errors[i].code, "%s: exit %d, want %d", errors[i].name,
			      r.code, errors[i].code);
		assert_out(&r, "");
		if (strncmp(errors[i].name, "org.hagent.", 11) == 0)
			snprintf(msg, sizeof(msg), "monitorctl: Resource 'web-ip' says no.\n");
		else
			snprintf(msg, sizeof(msg),
				 "monitorctl: cannot offline resource 'web-ip': Resource 'web-ip' "
				 "says no.\n");
		ck_assert_str_eq(r.err, msg);
	}
	mock_answer(CONTROL_ERROR_EXISTS, NULL, 0, 0, 0);
	RUN(&r, "group", "add", "db");
	assert_fails(&r, 1, "monitorctl: cannot add group 'db': org.hagent.Error.Exists\n");
	mock_answer(CONTROL_ERROR_RESOURCE_LOCKED, NULL, 0, 0, 0);
	RUN(&r, "--json", "resource", "offline", "db");
	assert_fails(&r, 5,
		     "monitorctl: cannot offline resource 'db': org.hagent.Error.ResourceLocked\n");

	mock_answer(CONTROL_ERROR_CIRCULAR_DEPENDENCY, NULL, 0, 0, 0);
	RUN(&r, "resource", "add-dependency", "web-ip", "web-server");
	assert_fails(&r, 2,
		     "monitorctl: cannot add a dependency to resource 'web-ip': "
		     "org.hagent.Error.CircularDependency\n");
	mock_answer(CONTROL_ERROR_TREE_TOO_COMPLEX, NULL, 0, 0, 0);
	RUN(&r, "resource", "add", "r101", "--group", "web", "--type", "test", "--depends-on",
	    "r100");
	assert_fails(&r, 2,
		     "monitorctl: cannot add resource 'r101': org.hagent.Error.TreeTooComplex\n");

	mock_answer(NULL, NULL, 5, HAGENT_RESOURCE_ONLINE, 1);
	RUN(&r, "resource", "online", "db", "--wait");
	assert_fails(&r, 1, "monitorctl: cannot online resource 'db': hagentd answered result 5\n");

	mock_answer(NULL, NULL, 0, 0, 0);
	mock_hang_up(true, false);
	RUN(&r, "resource", "set", "db", "A=1");
	assert_fails(&r, 1,
		     "monitorctl: cannot set properties of resource 'db': hagentd closed the "
		     "connection\n");
}
END_TEST

/* The resource at slot r0 ("web-ip", the fixed id) in that state, one transaction. */
static void web_ip_put(int32_t state, uint32_t seq, int32_t persistent, int32_t last_error)
{
	struct shm_object o =
		res("web-ip", "IP Address", state, seq, shm_writer_group_slot(w, 0), 0x00);

	o.u.res.persistent_state = persistent;
	o.u.res.last_error = last_error;
	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	put(shm_writer_resource_slot(w, 0), &o);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	shm_writer_heartbeat(w);
}

/* True while pid has not exited (not reaped: run_collect() still gets its status). */
static bool still_running(pid_t pid)
{
	siginfo_t si = {};

	ck_assert_int_eq(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	return si.si_pid == 0;
}

/*
 * Waits (bounded) until process pid has mapped the state segment (it is past
 * the agent's answer), or has exited.
 */
static void wait_segment_mapped(pid_t pid)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 10 * NSEC_PER_SEC;
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
		if (mapped || !still_running(pid)) /* done already (e.g. a short --timeout) */
			return;
		ck_assert_msg(now_ns(CLOCK_MONOTONIC) < end, "monitorctl never mapped the segment");
		usleep(1000);
	}
}

/* Starts "resource VERB web-ip --wait [--timeout SEC]" against the agent's answer. */
static pid_t wait_start(const char *verb, const char *timeout, int *out, int *err)
{
	const char *const args[] = {"--runtime-dir",
				    rundir,
				    "resource",
				    verb,
				    "web-ip",
				    "--wait",
				    timeout ? "--timeout" : NULL,
				    timeout,
				    NULL};

	pid_t pid;

	shm_writer_heartbeat(w);
	pid = spawn_env(NULL, args, out, err);
	wait_segment_mapped(pid);
	return pid;
}

/* Gives a waiting monitorctl time to see the segment, and checks it still waits. */
static void assert_waiting(pid_t pid)
{
	usleep(50 * 1000);
	ck_assert_msg(still_running(pid), "monitorctl stopped waiting");
}

/*
 * Claim: online --wait of an Initializing resource (the online queued) waits
 * through Offline (the persistent state online) and OnlinePending, and
 * ends at Online: "online", exit 0.
 */
START_TEST(test_wait_initializing)
{
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_ip_put(HAGENT_RESOURCE_INITIALIZING, 20, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_INITIALIZING, 20);
	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_OFFLINE, 21, 1, 0);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 22, 1, 0);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_ONLINE, 23, 1, 0);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "online\n");
}
END_TEST

/*
 * Claim: only states newer than the answer count: a record still at the
 * answered sequence, whatever its state, keeps monitorctl waiting until
 * --timeout (exit 6, naming the resource and its state).
 */
START_TEST(test_wait_sequence)
{
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_ip_put(HAGENT_RESOURCE_ONLINE, 30, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 30);
	pid = wait_start("online", "0.2", &out, &err);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 6,
		     "monitorctl: timed out after 0.200 s waiting for resource 'web-ip' to go "
		     "online (it is online)\n");

	web_ip_put(HAGENT_RESOURCE_ONLINE, 31, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 30);
	pid = wait_start("online", "0.2", &out, &err);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "online\n");
}
END_TEST

/*
 * Claim: an operation that ends elsewhere than asked is exit 1 with the
 * state: online answered pending, then Offline (taken back); online of an
 * Initializing resource, then Offline with the persistent state offline;
 * offline, then Online; either, then Failed (with its error); the resource
 * removed.
 */
START_TEST(test_wait_ends_elsewhere)
{
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 40, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 40);
	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_OFFLINE, 41, 0, 0);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1,
		     "monitorctl: Resource 'web-ip' is offline: the online ended without reaching "
		     "online\n");

	web_ip_put(HAGENT_RESOURCE_INITIALIZING, 42, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_INITIALIZING, 42);
	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_OFFLINE, 43, 0, 0);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1,
		     "monitorctl: Resource 'web-ip' is offline: the online ended without reaching "
		     "online\n");

	web_ip_put(HAGENT_RESOURCE_OFFLINE_PENDING, 44, 0, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_OFFLINE_PENDING, 44);
	pid = wait_start("offline", NULL, &out, &err);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_ONLINE, 46, 1, 0);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1,
		     "monitorctl: Resource 'web-ip' is online: the offline ended without "
		     "reaching offline\n");

	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_OFFLINE_PENDING, 46);
	pid = wait_start("offline", NULL, &out, &err);
	assert_waiting(pid);
	web_ip_put(HAGENT_RESOURCE_FAILED, 47, 0, -EIO);
	run_collect(&r, pid, out, err);
	snprintf(r.out, sizeof(r.out), "monitorctl: Resource 'web-ip' failed: %s\n", strerror(EIO));
	ck_assert_int_eq(r.code, 1);
	ck_assert_str_eq(r.err, r.out);

	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 48, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 48);
	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	{
		struct shm_object tomb = {.kind = SHM_KIND_FREE};

		ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
		put(shm_writer_resource_slot(w, 0), &tomb);
		ck_assert_int_eq(shm_writer_commit(w), 0);
	}
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1, "monitorctl: Resource 'web-ip' was removed\n");
}
END_TEST

/*
 * Claim: an agent that stops while monitorctl waits is exit 7: its segment
 * superseded (a new agent), or its heartbeat stale: 5 s old, or 0.5 s once
 * the agent has closed the control connection (a heartbeat 1 s old is not
 * stale while the connection is open).
 */
START_TEST(test_wait_agent_gone)
{
	struct shm_header *h = (struct shm_header *) shm_writer_header(w);
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 50, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 50);
	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	/* The writer's own mapping is writable: a heartbeat from a minute ago. */
	atomic_store(&h->heartbeat_ns, now_ns(CLOCK_MONOTONIC) - 60 * NSEC_PER_SEC);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 7, "monitorctl: hagentd stopped while waiting for resource 'web-ip'\n");

	pid = wait_start("online", NULL, &out, &err);
	assert_waiting(pid);
	shm_writer_supersede(w);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 7, "monitorctl: hagentd stopped while waiting for resource 'web-ip'\n");
}
END_TEST

/* Claim: see above; the heartbeat 1 s old, then the connection closed after the answer. */
START_TEST(test_wait_connection_closed)
{
	struct shm_header *h = (struct shm_header *) shm_writer_header(w);
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 60, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 60);
	pid = wait_start("online", NULL, &out, &err);
	atomic_store(&h->heartbeat_ns, now_ns(CLOCK_MONOTONIC) - NSEC_PER_SEC);
	usleep(200 * 1000);
	ck_assert_msg(still_running(pid), "a heartbeat 1 s old counted as stale");
	web_ip_put(HAGENT_RESOURCE_ONLINE, 61, 1, 0);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "online\n");

	web_ip_put(HAGENT_RESOURCE_ONLINE_PENDING, 62, 1, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_RESOURCE_ONLINE_PENDING, 62);
	mock_hang_up(false, true);
	pid = wait_start("online", NULL, &out, &err);
	atomic_store(&h->heartbeat_ns, now_ns(CLOCK_MONOTONIC) - NSEC_PER_SEC);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 7, "monitorctl: hagentd stopped while waiting for resource 'web-ip'\n");
}
END_TEST

/* ================================= group --wait ================================= */

/*
 * Group "web" (the fixed id) in group state gstate at gseq, web-ip in
 * ip_state and web-server in server_state with server_error: one
 * transaction, as the agent derives and publishes them.
 */
static void web_put(int32_t gstate, uint32_t gseq, int32_t ip_state, int32_t server_state,
		    int32_t server_error)
{
	uint32_t r0 = shm_writer_resource_slot(w, 0), r1 = shm_writer_resource_slot(w, 1);
	uint32_t g0 = shm_writer_group_slot(w, 0), members[] = {r0, r1};
	struct shm_object o;

	ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
	o = res("web-ip", "IP Address", ip_state, gseq, g0, 0x00);
	put(r0, &o);
	o = res("web-server", "test", server_state, gseq, g0, 0xa0);
	o.u.res.last_error = server_error;
	o.u.res.dependencies = blob(&r0, sizeof(r0));
	put(r1, &o);
	put_group(g0, "web", gstate, gseq, 0x10, members, 2);
	ck_assert_int_eq(shm_writer_commit(w), 0);
	shm_writer_heartbeat(w);
}

/* Starts "[--json] group VERB web --wait [--timeout SEC]" against the agent's answer. */
static pid_t group_wait_start(const char *verb, const char *timeout, bool json, int *out, int *err)
{
	const char *args[10] = {"--runtime-dir", rundir};
	size_t n = 2;
	pid_t pid;

	if (json)
		args[n++] = "--json";
	args[n++] = "group";
	args[n++] = verb;
	args[n++] = "web";
	args[n++] = "--wait";
	if (timeout) {
		args[n++] = "--timeout";
		args[n++] = timeout;
	}
	shm_writer_heartbeat(w);
	pid = spawn_env(NULL, args, out, err);
	wait_segment_mapped(pid);
	return pid;
}

/*
 * Claim: group online --wait follows the group past the answer's sequence:
 * a partial-online between two members (web-ip online, web-server not yet
 * started) does not end it, nor does a partial-online while a member is
 * initializing; it ends at Online with "online" (--json: the group's id and
 * the sequence reached).  group offline --wait ends at Offline.
 */
START_TEST(test_group_wait)
{
	const int32_t ON = HAGENT_RESOURCE_ONLINE, OFF = HAGENT_RESOURCE_OFFLINE;
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_put(HAGENT_GROUP_PENDING, 20, HAGENT_RESOURCE_ONLINE_PENDING, OFF, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 20);
	pid = group_wait_start("online", NULL, false, &out, &err);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_PARTIAL_ONLINE, 21, ON, OFF, 0);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_PENDING, 22, ON, HAGENT_RESOURCE_ONLINE_PENDING, 0);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_ONLINE, 23, ON, ON, 0);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "online\n");

	/* A member still opening (Initializing counts as Offline): not settled, however long. */
	web_put(HAGENT_GROUP_PARTIAL_ONLINE, 30, ON, HAGENT_RESOURCE_INITIALIZING, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PARTIAL_ONLINE, 29);
	pid = group_wait_start("online", NULL, true, &out, &err);
	usleep(800 * 1000); /* longer than WAIT_SETTLE_NS */
	ck_assert_msg(still_running(pid), "monitorctl stopped waiting");
	web_put(HAGENT_GROUP_ONLINE, 31, ON, ON, 0);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "{\"name\":\"web\",\"id\":\"101112131415161718191a1b1c1d1e1f\","
		       "\"state\":\"online\",\"sequence\":31}\n");

	web_put(HAGENT_GROUP_PENDING, 40, ON, HAGENT_RESOURCE_OFFLINE_PENDING, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 40);
	pid = group_wait_start("offline", "10", false, &out, &err);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_PARTIAL_ONLINE, 41, ON, OFF, 0);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_OFFLINE, 42, OFF, OFF, 0);
	run_collect(&r, pid, out, err);
	assert_ok(&r);
	assert_out(&r, "offline\n");
}
END_TEST

/*
 * Claim: a group wait that ends elsewhere than asked is exit 1 and says
 * why: Failed names the failed members and their errors (at once); a
 * partial-online (online) or online (offline) that has settled -- no newer
 * state for WAIT_SETTLE_NS (0.5 s), no member pending -- names the members
 * that are not there; the group removed.  Only states newer than the
 * answer count: the answered one runs into --timeout (exit 6).
 */
START_TEST(test_group_wait_ends_elsewhere)
{
	const int32_t ON = HAGENT_RESOURCE_ONLINE, OFF = HAGENT_RESOURCE_OFFLINE;
	char msg[256];
	int out, err;
	struct run r;
	uint64_t t0;
	pid_t pid;

	load_fixed();
	control_start();
	web_put(HAGENT_GROUP_PENDING, 50, ON, HAGENT_RESOURCE_ONLINE_PENDING, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 50);
	pid = group_wait_start("online", NULL, false, &out, &err);
	assert_waiting(pid);
	t0 = now_ns(CLOCK_MONOTONIC);
	web_put(HAGENT_GROUP_PARTIAL_ONLINE, 51, ON, OFF, 0);
	run_collect(&r, pid, out, err);
	assert_fails(
		&r, 1,
		"monitorctl: Group 'web' stopped at partial-online: 1 of 2 online; not online: "
		"web-server (offline)\n");
	ck_assert_uint_ge(now_ns(CLOCK_MONOTONIC) - t0, 500 * NSEC_PER_MSEC);

	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 51);
	web_put(HAGENT_GROUP_PENDING, 52, ON, HAGENT_RESOURCE_ONLINE_PENDING, 0);
	pid = group_wait_start("online", NULL, false, &out, &err);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_FAILED, 53, ON, HAGENT_RESOURCE_FAILED, -EIO);
	run_collect(&r, pid, out, err);
	snprintf(msg, sizeof(msg),
		 "monitorctl: Group 'web' failed: resource 'web-server' failed: %s\n",
		 strerror(EIO));
	assert_fails(&r, 1, msg);

	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 54);
	web_put(HAGENT_GROUP_PENDING, 54, ON, HAGENT_RESOURCE_OFFLINE_PENDING, 0);
	pid = group_wait_start("offline", NULL, false, &out, &err);
	assert_waiting(pid);
	web_put(HAGENT_GROUP_ONLINE, 55, ON, ON, 0);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1,
		     "monitorctl: Group 'web' stopped at online: 0 of 2 offline; not offline: "
		     "web-ip (online), web-server (online)\n");

	/* Nothing newer than the answer: even its Online does not count. */
	web_put(HAGENT_GROUP_ONLINE, 60, ON, ON, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 60);
	pid = group_wait_start("online", "0.2", false, &out, &err);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 6,
		     "monitorctl: timed out after 0.200 s waiting for group 'web' to go online (it "
		     "is online, 2 of 2 online)\n");

	web_put(HAGENT_GROUP_PENDING, 61, ON, HAGENT_RESOURCE_ONLINE_PENDING, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 61);
	pid = group_wait_start("online", NULL, false, &out, &err);
	assert_waiting(pid);
	{
		struct shm_object tomb = {.kind = SHM_KIND_FREE};

		ck_assert_int_eq(shm_writer_begin(w, NULL), 0);
		put(shm_writer_group_slot(w, 0), &tomb);
		ck_assert_int_eq(shm_writer_commit(w), 0);
	}
	run_collect(&r, pid, out, err);
	assert_fails(&r, 1, "monitorctl: Group 'web' was removed\n");
}
END_TEST

/* Claim: an agent that stops during a group wait is exit 7 (its segment superseded). */
START_TEST(test_group_wait_agent_gone)
{
	int out, err;
	struct run r;
	pid_t pid;

	load_fixed();
	control_start();
	web_put(HAGENT_GROUP_PENDING, 70, HAGENT_RESOURCE_ONLINE_PENDING, HAGENT_RESOURCE_OFFLINE,
		0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 70);
	pid = group_wait_start("online", NULL, false, &out, &err);
	assert_waiting(pid);
	shm_writer_supersede(w);
	run_collect(&r, pid, out, err);
	assert_fails(&r, 7, "monitorctl: hagentd stopped while waiting for group 'web'\n");
}
END_TEST

/*
 * Claim: on a terminal the group wait shows its progress on stderr, one
 * line rewritten in place ("\r") when it changes, and clears it at the end
 * (blanks over it, then "\r"); stdout keeps only the result.  (On a pipe,
 * as in every other test here, stderr holds nothing of it.)
 */
START_TEST(test_group_wait_progress)
{
	const int32_t ON = HAGENT_RESOURCE_ONLINE;
	char tty[1024] = "", stdout_text[64] = "", want[256];
	int master, slave, out[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	load_fixed();
	control_start();
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(slave, 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);

	web_put(HAGENT_GROUP_PENDING, 80, ON, HAGENT_RESOURCE_ONLINE_PENDING, 0);
	mock_answer(NULL, NULL, CONTROL_RESULT_IO_PENDING, HAGENT_GROUP_PENDING, 80);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* After fork() in a threaded process: only async-signal-safe calls. */
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0)
			_exit(127);
		execl(getenv("MONITORCTL_BIN"), "monitorctl", "--runtime-dir", rundir, "group",
		      "online", "web", "--wait", (char *) NULL);
		_exit(127);
	}
	safe_close(slave);
	safe_close(out[1]);
	wait_segment_mapped(pid);
	usleep(100 * 1000);
	web_put(HAGENT_GROUP_ONLINE, 81, ON, ON, 0);
	for (;;) {
		struct pollfd pf = {.fd = master, .events = POLLIN};

		ck_assert_int_gt(poll(&pf, 1, 10000), 0);
		n = read(master, tty + len, sizeof(tty) - 1 - len);
		if (n <= 0) /* EIO: the child has exited, the terminal has no writer left */
			break;
		len += (size_t) n;
		tty[len] = '\0';
	}
	n = read(out[0], stdout_text, sizeof(stdout_text) - 1);
	ck_assert_int_ge(n, 0);
	stdout_text[n] = '\0';
	safe_close(out[0]);
	safe_close(master);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	ck_assert_str_eq(stdout_text, "online\n");
	snprintf(want, sizeof(want), "\rweb: pending, 1 of 2 online\r%27s\r", "");
	ck_assert_str_eq(tty, want);
}
END_TEST

/* Claim: a segment of another ABI (or no segment at all) is exit 1 with the reader's reason. */
START_TEST(test_other_abi)
{
	struct shm_header *h = (struct shm_header *) shm_writer_header(w);
	char msg[256];
	struct run r;

	load_fixed();
	h->abi_version = SHM_ABI_VERSION + 1; /* the writer's own mapping is writable */
	RUN(&r, "status");
	snprintf(msg, sizeof(msg), "monitorctl: cannot read hagentd's state in %s: %s\n", rundir,
		 hagent_shm_strerror(-EPROTONOSUPPORT));
	assert_fails(&r, 1, msg);
	h->abi_version = SHM_ABI_VERSION;
	h->magic = 0;
	RUN(&r, "show", "web");
	snprintf(msg, sizeof(msg), "monitorctl: cannot read hagentd's state in %s: %s\n", rundir,
		 hagent_shm_strerror(-EPROTO));
	assert_fails(&r, 1, msg);
}
END_TEST

/* Claim: a reader the agent refuses (its peer check) gets exit 4, access denied. */
START_TEST(test_access_denied)
{
	char msg[256];
	struct run r;

	load_fixed();
	refuse = true;
	RUN(&r, "status");
	snprintf(msg, sizeof(msg), "monitorctl: hagentd refused access to its state in %s\n",
		 rundir);
	assert_fails(&r, 4, msg);
	refuse = false;
	RUN(&r, "status");
	assert_ok(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("monitorctl");
	TCase *tc = tcase_create("monitorctl");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_status_json);
	tcase_add_test(tc, test_status_empty);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_show_resource);
	tcase_add_test(tc, test_show_group);
	tcase_add_test(tc, test_show_case);
	tcase_add_test(tc, test_show_not_found);
	tcase_add_test(tc, test_not_running);
	tcase_add_test(tc, test_dead_agent);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_mutation_usage);
	tcase_add_test(tc, test_mutation_not_running);
	tcase_add_test(tc, test_control_calls);
	tcase_add_test(tc, test_group_calls);
	tcase_add_test(tc, test_control_errors);
	tcase_add_test(tc, test_wait_initializing);
	tcase_add_test(tc, test_wait_sequence);
	tcase_add_test(tc, test_wait_ends_elsewhere);
	tcase_add_test(tc, test_wait_agent_gone);
	tcase_add_test(tc, test_wait_connection_closed);
	tcase_add_test(tc, test_group_wait);
	tcase_add_test(tc, test_group_wait_ends_elsewhere);
	tcase_add_test(tc, test_group_wait_agent_gone);
	tcase_add_test(tc, test_group_wait_progress);
	tcase_add_test(tc, test_other_abi);
	tcase_add_test(tc, test_access_denied);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
