/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Item 7: Online of an instant `test` resource through the control API
 * (docs/control-api.md): the resource is Offline with its monitor open, so
 * no spawn is in the path; each sample calls OnlineResource on a
 * peer-to-peer sd-bus connection to <runtime dir>/control.sock and follows
 * the segment's event log to the Online event: its writer timestamp minus
 * the time just before the call (CLOCK_REALTIME both).  OfflineResource and
 * a wait for Offline separate the samples.  The state directory is on the
 * temporary directory's file system (a disk here), since every call commits
 * to SQLite durably before it acts.
 *
 * Floor, interleaved: a peer-to-peer sd-bus method call to a trivial server
 * (a forked child on a socketpair) plus one fdatasync() of 4 KiB in the
 * state directory: the IPC round trip and the durable write no
 * implementation of the contract can skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench-agent.h"
#include "control-api.h"
#include "macro.h"

#define CONTROL_WAIT_NS (30 * NSEC_PER_SEC)
#define SOCK_WAIT_NS	(3 * NSEC_PER_SEC)
#define MAX_SAMPLES	200u

enum { C_ONLINE, C_REPLY, C_FLOOR, _C_MAX };

struct control_run {
	double v[_C_MAX][MAX_SAMPLES];
	unsigned n[_C_MAX];
};

static void sample_add(struct control_run *cr, unsigned m, uint64_t ns)
{
	if (cr->n[m] < MAX_SAMPLES)
		cr->v[m][cr->n[m]++] = (double) ns / 1000.0;
}

void bench_bus_closep(sd_bus **b)
{
	if (*b)
		sd_bus_flush_close_unref(*b);
}

/* ---- the floor: a trivial p2p sd-bus server and a durable write ---- */

static int floor_method(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void) userdata, (void) error;
	return sd_bus_reply_method_return(m, "uiu", CONTROL_RESULT_IO_PENDING, 0, 0);
}

static const sd_bus_vtable floor_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("OnlineResource", "s", "uiu", floor_method, 0),
	SD_BUS_VTABLE_END,
};

static _Noreturn void floor_server(int fd, pid_t parent)
{
	sd_bus *bus = NULL;
	sd_id128_t id;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (sd_id128_randomize(&id) < 0 || sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fd, fd) < 0 ||
	    sd_bus_set_server(bus, 1, id) < 0 || sd_bus_set_anonymous(bus, 1) < 0 ||
	    sd_bus_add_object_vtable(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
				     floor_vtable, NULL) < 0 ||
	    sd_bus_start(bus) < 0)
		_exit(2);
	for (;;) {
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			_exit(0); /* the client hung up */
		if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
			_exit(0);
	}
}

struct floor_ctx {
	pid_t server;
	sd_bus *bus;
	int sync_fd;
};

static void floor_done(struct floor_ctx *f)
{
	bench_bus_closep(&f->bus);
	f->bus = NULL;
	if (f->server > 0) {
		(void) kill(f->server, SIGKILL);
		(void) waitpid(f->server, NULL, 0);
		f->server = 0;
	}
	f->sync_fd = safe_close(f->sync_fd);
}

static int floor_init(struct floor_ctx *f, const char *statedir)
{
	pid_t parent = getpid();
	char path[BENCH_PATH_MAX + 32];
	int sv[2], r;

	*f = (struct floor_ctx){.sync_fd = -EBADF};
	(void) snprintf(path, sizeof(path), "%s/fsync-floor", statedir);
	f->sync_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->sync_fd < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	(void) fflush(stdout);
	(void) fflush(stderr);
	f->server = fork();
	if (f->server < 0) {
		r = -errno;
		f->server = 0;
		(void) close(sv[0]);
		(void) close(sv[1]);
		return r;
	}
	if (f->server == 0) {
		(void) close(sv[0]);
		floor_server(sv[1], parent);
	}
	(void) close(sv[1]);
	r = sd_bus_new(&f->bus);
	if (r >= 0)
		r = sd_bus_set_fd(f->bus, sv[0], sv[0]);
	else
		(void) close(sv[0]);
	if (r >= 0)
		r = sd_bus_set_anonymous(f->bus, 1);
	if (r >= 0)
		r = sd_bus_start(f->bus);
	return r;
}

static int floor_sample(struct floor_ctx *f, struct control_run *cr)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	static char page[4096];
	uint64_t t0;
	int r;

	t0 = now();
	r = sd_bus_call_method(f->bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
			       "OnlineResource", &err, &reply, "s", "floor");
	sd_bus_message_unref(reply);
	if (r < 0)
		return r;
	if (pwrite(f->sync_fd, page, sizeof(page), 0) != (ssize_t) sizeof(page) ||
	    fdatasync(f->sync_fd) < 0)
		return -errno;
	sample_add(cr, C_FLOOR, now() - t0);
	return 0;
}

/* ---- the agent ---- */

int bench_bus_connect(const char *rundir, sd_bus **ret)
{
	char addr[BENCH_PATH_MAX + 64];
	sd_bus *bus = NULL;
	int r;

	(void) snprintf(addr, sizeof(addr), "unix:path=%s/%s", rundir, CONTROL_SOCKET_NAME);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, addr);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

static int call(sd_bus *bus, const char *method, const char *name, bool with_flags)
{
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	if (with_flags)
		r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, method,
				       &err, &reply, "su", name, UINT32_C(0));
	else
		r = sd_bus_call_method(bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE, method,
				       &err, &reply, "s", name);
	sd_bus_message_unref(reply);
	if (r < 0)
		fprintf(stderr, "hagent-bench-agent: %s(%s): %s: %s\n", method, name,
			err.name ?: "-", err.message ?: strerror(-r));
	return r;
}

/* The time of slot's next Online event from pos, relative to t0 (CLOCK_REALTIME). */
static int wait_online_event(hagent_shm *s, uint64_t pos, uint32_t slot, uint64_t t0, uint64_t *ret)
{
	uint64_t deadline = now() + CONTROL_WAIT_NS;
	struct hagent_event ev;
	int r;

	for (;;) {
		r = hagent_shm_read_event(s, pos, &ev);
		if (r == -EAGAIN) {
			if (now() >= deadline)
				return -ETIMEDOUT;
			r = bench_sleep(50 * NSEC_PER_USEC);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r;
		pos++;
		if (ev.kind == 1 && ev.slot == slot && ev.state == HAGENT_RESOURCE_ONLINE) {
			*ret = ev.time_ns > t0 ? ev.time_ns - t0 : 0;
			return 0;
		}
	}
}

static int online_sample(sd_bus *bus, hagent_shm *s, uint32_t slot, struct control_run *cr)
{
	struct hagent_shm_info info;
	uint64_t t0, t0m, online;
	int r;

	r = hagent_shm_get_info(s, &info);
	if (r < 0)
		return r;
	t0 = now_ns(CLOCK_REALTIME);
	t0m = now();
	r = call(bus, "OnlineResource", "c0", false);
	if (r < 0)
		return r;
	sample_add(cr, C_REPLY, now() - t0m);
	r = wait_online_event(s, info.event_head, slot, t0, &online);
	if (r < 0)
		return r;
	sample_add(cr, C_ONLINE, online);
	r = call(bus, "OfflineResource", "c0", true);
	if (r < 0)
		return r;
	return seg_wait_state(s, slot, HAGENT_RESOURCE_OFFLINE, CONTROL_WAIT_NS, NULL);
}

bool bench_wait_socket(const struct agent *a)
{
	uint64_t deadline = now() + SOCK_WAIT_NS;
	char path[BENCH_PATH_MAX + 32];
	struct stat st;

	(void) snprintf(path, sizeof(path), "%s/%s", a->rundir, CONTROL_SOCKET_NAME);
	while (stat(path, &st) < 0) {
		if (now() >= deadline || bench_sleep(NSEC_PER_MSEC) < 0)
			return false;
	}
	return S_ISSOCK(st.st_mode);
}

static int control_run_once(const struct bench_env *env, const char *statedir,
			    struct control_run *cr, bool *ret_missing)
{
	_cleanup_(bench_bus_closep) sd_bus *bus = NULL;
	struct floor_ctx f = {.sync_fd = -EBADF};
	struct agent a;
	uint32_t slot = 0;
	int r;

	r = agent_start(env, statedir, 0, env->max_groups, &a);
	if (r >= 0)
		r = agent_attach(&a, CONTROL_WAIT_NS);
	if (r >= 0 && !bench_wait_socket(&a)) {
		*ret_missing = true;
		agent_stop(&a);
		return bench_interrupted ? -EINTR : 0;
	}
	if (r >= 0)
		r = hagent_shm_find(a.shm, 1, "c0", &slot);
	if (r >= 0)
		r = seg_wait_state(a.shm, slot, HAGENT_RESOURCE_OFFLINE, CONTROL_WAIT_NS, NULL);
	if (r >= 0)
		r = bench_bus_connect(a.rundir, &bus);
	if (r >= 0)
		r = floor_init(&f, statedir);
	for (unsigned i = 0; r >= 0 && i < env->fault_samples; i++) {
		r = floor_sample(&f, cr);
		if (r >= 0)
			r = online_sample(bus, a.shm, slot, cr);
	}
	floor_done(&f);
	if (r < 0 && r != -EINTR)
		agent_log_tail(&a, 15);
	agent_stop(&a);
	return r;
}

int bench_control(const struct bench_env *env, struct report *rep)
{
	_cleanup_free_ struct control_run *cr = calloc(1, sizeof(*cr));
	struct series online50 = {}, online99 = {}, reply50 = {}, floor50 = {}, floor99 = {};
	char statedir[BENCH_PATH_MAX];
	bool missing = false;
	int r;

	if (!cr)
		return -ENOMEM;
	r = bench_mkdir(env->base, "control-state", statedir);
	if (r < 0)
		return r;
	r = bench_seed(statedir,
		       &(const struct seed){.type = "test", .prefix = "c", .n = 1, .group_size = 1},
		       1);
	if (r < 0)
		return r;
	for (unsigned run = 0; run < env->runs; run++) {
		memset(cr, 0, sizeof(*cr));
		r = control_run_once(env, statedir, cr, &missing);
		if (r < 0)
			return r;
		if (missing) {
			printf("control API: hagentd has no %s: not measured\n",
			       CONTROL_SOCKET_NAME);
			report_note(rep,
				    "control API: not measured: hagentd (%s) does not serve "
				    "<runtime-dir>/%s yet.",
				    env->hagentd, CONTROL_SOCKET_NAME);
			return 0;
		}
		series_add(&online50, percentile(cr->v[C_ONLINE], cr->n[C_ONLINE], 50));
		series_add(&online99, percentile(cr->v[C_ONLINE], cr->n[C_ONLINE], 99));
		series_add(&reply50, percentile(cr->v[C_REPLY], cr->n[C_REPLY], 50));
		series_add(&floor50, percentile(cr->v[C_FLOOR], cr->n[C_FLOOR], 50));
		series_add(&floor99, percentile(cr->v[C_FLOOR], cr->n[C_FLOOR], 99));
	}
	report_row(rep, "control: OnlineResource → Online in segment, p50", UNIT_US,
		   series_median(&online50), series_median(&floor50), "< 1 ms");
	report_row(rep, "control: OnlineResource → Online in segment, p99", UNIT_US,
		   series_median(&online99), series_median(&floor99), NULL);
	report_row(rep, "control: OnlineResource reply, p50", UNIT_US, series_median(&reply50),
		   series_median(&floor50), NULL);
	report_note(
		rep,
		"control: %u OnlineResource calls per run on an Offline test resource (monitor "
		"open, no spawn), each undone by OfflineResource; state dir on %s. Floor: a p2p "
		"sd-bus call to a trivial server plus one fdatasync of 4 KiB there.",
		env->fault_samples, env->base);
	return 0;
}
