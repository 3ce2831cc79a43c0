/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd: arguments, directories, the sd-event loop, sd_notify.  Loads the
 * configuration, publishes it in the state segment, serves state.sock and
 * keeps the heartbeat until SIGTERM or SIGINT; runs the resources' lifecycle
 * (agent-resource.h): a monitor each, Online for those whose persistent state
 * is online.  On SIGTERM or SIGINT the monitors get SIGTERM and hagentd exits
 * once they are gone (at most AGENT_STOP_TIMEOUT_USEC later).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent-control.h"
#include "agent-group.h"
#include "agent-model.h"
#include "agent-publish.h"
#include "agent-reattach.h"
#include "agent-resource.h"
#include "agent-scope.h"
#include "agent-status.h"
#include "agent-stop-mode.h"
#include "agent-volatile.h"
#include "agent-socket.h"
#include "config-store.h"
#include "control-api.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "shm-writer.h"

#define DEFAULT_RUNTIME_DIR "/run/hagent"
#define DEFAULT_STATE_DIR   "/var/lib/hagent"
#define DEFAULT_ADMIN_GROUP "haclient"
#ifndef DEFAULT_MONITOR_DIR
#define DEFAULT_MONITOR_DIR "/usr/libexec/hagent/monitors" /* meson passes the real one */
#endif

#define AGENT_MAX_RECORDS	(SHM_MAX_RECORDS / 2) /* per kind: --max-resources, --max-groups */
#define AGENT_STOP_TIMEOUT_USEC (5 * 1000 * 1000)     /* for the monitors to exit */
#define AGENT_ADOPT_TIMEOUT_USEC (10 * 1000 * 1000)   /* for live monitors to re-attach */
/* A graceful stop: resources offline in order, each bounded by its own timeouts; then this. */
#define AGENT_SHUTDOWN_TIMEOUT_USEC (10 * 60 * UINT64_C(1000000))
#define AGENT_SHUTDOWN_POLL_USEC    (20 * 1000)

enum stop_mode {
	STOP_OFFLINE, /* a stop takes the resources offline */
	STOP_LEAVE,   /* a stop leaves them running, for the next agent to re-attach */
};

static const char *arg_runtime_dir = NULL;
static const char *arg_state_dir = NULL;
static const char *arg_monitor_dir = NULL;
static const char *arg_admin_group = NULL;
static uint32_t arg_max_resources = 0; /* 0: shm_params_default()'s */
static uint32_t arg_max_groups = 0;
static enum stop_mode arg_stop_mode = STOP_OFFLINE;
static uint64_t arg_orphan_timeout_ms = 0; /* 0: orphaned monitors wait for an agent for ever */
static enum agent_scope_mode arg_scopes = AGENT_SCOPE_AUTO;

/* Everything the running agent owns; freed in reverse order of creation. */
struct agent {
	sd_event *event;
	struct shm_writer *writer;
	struct agent_socket *socket;
	struct config_store *store;
	struct agent_model *model;
	struct agent_resources *resources;
	struct agent_groups *groups;
	struct agent_ops ops;
	struct agent_control *control;
	struct agent_reattach *reattach;
	struct agent_scope *scope;
	struct agent_status *status;
	sd_event_source *heartbeat;
	sd_event_source *shutdown_timer;
	uint64_t shutdown_deadline;
};

static void agent_done(struct agent *a)
{
	a->control = agent_control_free(a->control);
	a->reattach = agent_reattach_free(a->reattach);
	a->groups = agent_groups_free(a->groups);
	a->resources = agent_resources_free(a->resources);
	a->scope = agent_scope_free(a->scope);
	a->status = agent_status_free(a->status);
	a->heartbeat = sd_event_source_disable_unref(a->heartbeat);
	a->shutdown_timer = sd_event_source_disable_unref(a->shutdown_timer);
	a->socket = agent_socket_free(a->socket);
	a->model = agent_model_free(a->model);
	a->store = config_store_free(a->store);
	a->writer = shm_writer_free(a->writer);
	a->event = sd_event_unref(a->event);
}

static void help(void)
{
	printf("Usage: hagentd [OPTIONS]\n\n"
	       "The hagent high-availability agent.\n\n"
	       "  -h --help               show this help\n"
	       "     --version            show the version\n"
	       "     --runtime-dir DIR    state segment socket (env HAGENT_RUNTIME_DIR,\n"
	       "                          default " DEFAULT_RUNTIME_DIR ")\n"
	       "     --state-dir DIR      configuration database (env HAGENT_STATE_DIR,\n"
	       "                          default " DEFAULT_STATE_DIR ")\n"
	       "     --monitor-dir DIR    monitor programs hamon-<type> (env HAGENT_MONITOR_DIR,\n"
	       "                          default " DEFAULT_MONITOR_DIR ")\n"
	       "     --admin-group NAME   members may change the configuration (env\n"
	       "                          HAGENT_ADMIN_GROUP, default " DEFAULT_ADMIN_GROUP ")\n"
	       "     --max-resources N    resource records of the state segment (default 4096)\n"
	       "     --max-groups N       group records of the state segment (default 1024)\n"
	       "     --stop-mode MODE     what SIGTERM does to the resources: 'offline' takes\n"
	       "                          them offline, 'leave' leaves them running for the next\n"
	       "                          hagentd (env HAGENT_STOP_MODE, default offline)\n"
	       "     --orphan-timeout SEC how long monitors wait for a new hagentd after this one\n"
	       "                          died before they close their resources; 0: for ever\n"
	       "                          (env HAGENT_ORPHAN_TIMEOUT, default 0)\n"
	       "     --scopes MODE        a transient scope unit per monitor: 'auto' (when run\n"
	       "                          by systemd), 'yes' or 'no' (env HAGENT_SCOPES,\n"
	       "                          default auto)\n");
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *e = getenv(name);

	return e && *e ? e : fallback;
}

/* A count of records: 1..AGENT_MAX_RECORDS. */
static int parse_count(const char *opt, const char *s, uint32_t *ret)
{
	unsigned long long v;

	if (parse_range(s, 1, AGENT_MAX_RECORDS, &v) < 0)
		return log_error_errno(-EINVAL, "Invalid value '%s' for --%s: expected 1..%u.", s,
				       opt, AGENT_MAX_RECORDS);
	*ret = (uint32_t) v;
	return 0;
}

/* Whole seconds, 0..one year, into milliseconds. */
static int parse_seconds(const char *s, uint64_t *ret_ms)
{
	unsigned long long v;

	if (parse_range(s, 0, 31536000ULL, &v) < 0)
		return -EINVAL;
	*ret_ms = (uint64_t) v * 1000;
	return 0;
}

/* 1: exit with success (--help, --version); 0: run; -EINVAL: bad arguments. */
static int parse_argv(int argc, char *argv[])
{
	enum {
		ARG_VERSION = 0x100,
		ARG_RUNTIME_DIR,
		ARG_STATE_DIR,
		ARG_MONITOR_DIR,
		ARG_MAX_RESOURCES,
		ARG_MAX_GROUPS,
		ARG_ADMIN_GROUP,
		ARG_STOP_MODE,
		ARG_ORPHAN_TIMEOUT,
		ARG_SCOPES,
	};
	const char *stop_mode = NULL, *orphan_timeout = NULL, *scopes = NULL;
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, ARG_VERSION},
		{"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
		{"state-dir", required_argument, NULL, ARG_STATE_DIR},
		{"monitor-dir", required_argument, NULL, ARG_MONITOR_DIR},
		{"max-resources", required_argument, NULL, ARG_MAX_RESOURCES},
		{"max-groups", required_argument, NULL, ARG_MAX_GROUPS},
		{"admin-group", required_argument, NULL, ARG_ADMIN_GROUP},
		{"stop-mode", required_argument, NULL, ARG_STOP_MODE},
		{"orphan-timeout", required_argument, NULL, ARG_ORPHAN_TIMEOUT},
		{"scopes", required_argument, NULL, ARG_SCOPES},
		{},
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 1;
		case ARG_VERSION:
			printf("hagentd %s\n", HAGENT_VERSION);
			return 1;
		case ARG_RUNTIME_DIR:
			arg_runtime_dir = optarg;
			break;
		case ARG_STATE_DIR:
			arg_state_dir = optarg;
			break;
		case ARG_MONITOR_DIR:
			arg_monitor_dir = optarg;
			break;
		case ARG_MAX_RESOURCES:
			if (parse_count("max-resources", optarg, &arg_max_resources) < 0)
				return -EINVAL;
			break;
		case ARG_ADMIN_GROUP:
			arg_admin_group = optarg;
			break;
		case ARG_MAX_GROUPS:
			if (parse_count("max-groups", optarg, &arg_max_groups) < 0)
				return -EINVAL;
			break;
		case ARG_STOP_MODE:
			stop_mode = optarg;
			break;
		case ARG_ORPHAN_TIMEOUT:
			orphan_timeout = optarg;
			break;
		case ARG_SCOPES:
			scopes = optarg;
			break;
		default:
			return -EINVAL; /* getopt printed why */
		}
	}
	if (optind < argc)
		return log_error_errno(-EINVAL, "Unexpected argument '%s'.", argv[optind]);
	if (!arg_runtime_dir)
		arg_runtime_dir = env_or("HAGENT_RUNTIME_DIR", DEFAULT_RUNTIME_DIR);
	if (!arg_state_dir)
		arg_state_dir = env_or("HAGENT_STATE_DIR", DEFAULT_STATE_DIR);
	if (!arg_monitor_dir)
		arg_monitor_dir = env_or("HAGENT_MONITOR_DIR", DEFAULT_MONITOR_DIR);
	if (!arg_admin_group)
		arg_admin_group = env_or("HAGENT_ADMIN_GROUP", DEFAULT_ADMIN_GROUP);
	if (!stop_mode)
		stop_mode = env_or("HAGENT_STOP_MODE", "offline");
	if (strcmp(stop_mode, "offline") == 0)
		arg_stop_mode = STOP_OFFLINE;
	else if (strcmp(stop_mode, "leave") == 0)
		arg_stop_mode = STOP_LEAVE;
	else
		return log_error_errno(-EINVAL,
				       "Invalid stop mode '%s' (--stop-mode or HAGENT_STOP_MODE): "
				       "expected 'offline' or 'leave'.",
				       stop_mode);
	if (!scopes)
		scopes = env_or("HAGENT_SCOPES", "auto");
	r = agent_scope_mode_from_string(scopes);
	if (r < 0)
		return log_error_errno(-EINVAL,
				       "Invalid scope mode '%s' (--scopes or HAGENT_SCOPES): "
				       "expected 'auto', 'yes' or 'no'.",
				       scopes);
	arg_scopes = (enum agent_scope_mode) r;
	if (!orphan_timeout)
		orphan_timeout = env_or("HAGENT_ORPHAN_TIMEOUT", "0");
	if (parse_seconds(orphan_timeout, &arg_orphan_timeout_ms) < 0)
		return log_error_errno(-EINVAL,
				       "Invalid orphan timeout '%s' (--orphan-timeout or "
				       "HAGENT_ORPHAN_TIMEOUT): expected seconds, 0 to 31536000.",
				       orphan_timeout);
	if (!*arg_runtime_dir || !*arg_state_dir || !*arg_monitor_dir)
		return log_error_errno(-EINVAL,
				       "The runtime, state and monitor directories must not be "
				       "empty.");
	/* Monitors are started by absolute path (monitor-spawn.h). */
	if (arg_monitor_dir[0] != '/') {
		static char abs_monitor_dir[PATH_MAX];
		char cwd[PATH_MAX];
		int n;

		if (!getcwd(cwd, sizeof(cwd)))
			return log_error_errno(-errno, "Failed to get the working directory: %m");
		n = snprintf(abs_monitor_dir, sizeof(abs_monitor_dir), "%s/%s", cwd,
			     arg_monitor_dir);
		if (n < 0 || (size_t) n >= sizeof(abs_monitor_dir))
			return log_error_errno(-ENAMETOOLONG,
					       "The monitor directory %s/%s is too "
					       "long.",
					       cwd, arg_monitor_dir);
		arg_monitor_dir = abs_monitor_dir;
	}
	return 0;
}

/* Creates path with mode unless it exists; it must then be a directory. */
static int dir_ensure(const char *what, const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "Failed to create the %s directory %s: %m", what,
				       path);
	if (stat(path, &st) < 0)
		return log_error_errno(-errno, "Failed to access the %s directory %s: %m", what,
				       path);
	if (!S_ISDIR(st.st_mode))
		return log_error_errno(-ENOTDIR, "The %s directory %s is not a directory.", what,
				       path);
	return 0;
}

/* Every resource down (or the bound passed): the monitors end, then so do we. */
static int on_shutdown_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent *a = userdata;
	size_t up = agent_groups_n_up(a->groups);

	if (up > 0 && usec < a->shutdown_deadline) {
		(void) sd_notifyf(false, "STATUS=Stopping: %zu resources still up.", up);
		return sd_event_source_set_time(s, usec + AGENT_SHUTDOWN_POLL_USEC) < 0 ||
				       sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0
			       ? agent_resources_stop(a->resources, AGENT_STOP_TIMEOUT_USEC)
			       : 0;
	}
	if (up > 0)
		log_warning("%zu resources are still up after %llu s; terminating them.", up,
			    (unsigned long long) (AGENT_SHUTDOWN_TIMEOUT_USEC / 1000000));
	else
		log_info("Every resource is offline.");
	return agent_resources_stop(a->resources, AGENT_STOP_TIMEOUT_USEC);
}

/* A graceful stop: resources offline in dependency order, persistent states kept. */
static int shutdown_start(struct agent *a)
{
	uint64_t now;
	int r;

	log_info("Taking %zu resources offline in order.", agent_groups_n_up(a->groups));
	agent_groups_shutdown(a->groups);
	r = sd_event_now(a->event, CLOCK_MONOTONIC, &now);
	if (r >= 0) {
		a->shutdown_deadline = now + AGENT_SHUTDOWN_TIMEOUT_USEC;
		r = sd_event_add_time(a->event, &a->shutdown_timer, CLOCK_MONOTONIC, now, 0,
				      on_shutdown_poll, a);
	}
	if (r < 0) {
		log_warning_errno(r, "Cannot follow the ordered stop, terminating everything: %m");
		return agent_resources_stop(a->resources, AGENT_STOP_TIMEOUT_USEC);
	}
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct agent *a = userdata;

	bool leave = arg_stop_mode == STOP_LEAVE;
	int k;

	if (!leave && si->ssi_signo == SIGTERM) {
		/* A restart leaves the resources to the next hagentd, whatever the stop mode. */
		k = agent_systemd_job_is_restart();
		if (k < 0)
			log_warning_errno(k, "Cannot ask systemd whether this is a restart; "
					     "stopping: %m");
		leave = k > 0;
	}
	log_info("Received %s, %s%s.", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
		 leave && arg_stop_mode != STOP_LEAVE ? "restarting" : "stopping",
		 leave ? "; the resources stay as they are" : "");
	if (a->ops.stopping)
		return 0; /* a second SIGTERM: the first one's stop goes on */
	a->ops.stopping = true;
	if (a->resources && leave)
		return agent_resources_detach(a->resources);
	if (a->groups)
		return shutdown_start(a);
	if (a->resources)
		return agent_resources_stop(a->resources, AGENT_STOP_TIMEOUT_USEC);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int event_setup(struct agent *a)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	r = -sigprocmask(SIG_BLOCK, &mask, NULL); /* sd_event_add_signal() requires it */
	if (r < 0)
		return log_error_errno(-errno, "Failed to block SIGTERM and SIGINT: %m");
	r = sd_event_default(&a->event);
	if (r < 0)
		return log_error_errno(r, "Failed to create the event loop: %m");
	r = sd_event_add_signal(a->event, NULL, SIGTERM, on_signal, a);
	if (r >= 0)
		r = sd_event_add_signal(a->event, NULL, SIGINT, on_signal, a);
	if (r < 0)
		return log_error_errno(r, "Failed to watch SIGTERM and SIGINT: %m");
	r = sd_event_set_watchdog(a->event, true);
	if (r < 0)
		return log_error_errno(r, "Failed to enable the watchdog: %m");
	return 0;
}

static int config_explain(int r)
{
	if (r == -EBADMSG)
		return log_error_errno(r,
				       "The configuration database %s/hagent.db is not a "
				       "database or is corrupt: %m",
				       arg_state_dir);
	if (r == -EPROTONOSUPPORT)
		return log_error_errno(r,
				       "The configuration database %s/hagent.db was written by "
				       "a newer hagent: %m",
				       arg_state_dir);
	return log_error_errno(r, "Failed to load the configuration database %s/hagent.db: %m",
			       arg_state_dir);
}

static int model_load(struct agent *a, const struct shm_params *p)
{
	_cleanup_(config_snapshot_freep) struct config_snapshot *snap = NULL;
	int r;

	r = config_store_open(arg_state_dir, &a->store);
	if (r < 0)
		return config_explain(r);
	r = config_store_load(a->store, &snap);
	if (r < 0)
		return config_explain(r);
	r = agent_model_new(snap, a->writer, p->max_resources, p->max_groups, &a->model);
	if (r == -E2BIG)
		return log_error_errno(r,
				       "The configuration has more than %u resources or %u "
				       "groups.",
				       p->max_resources, p->max_groups);
	if (r < 0)
		return log_error_errno(r, "Failed to build the model from the configuration: %m");
	return 0;
}

/* The gid of the admin group, or (gid_t) -1 if there is no such group. */
static gid_t admin_gid(void)
{
	struct group *g;

	errno = 0;
	g = getgrnam(arg_admin_group);
	if (!g) {
		log_info("No admin group '%s'%s%s: only root and uid %u may change the "
			 "configuration.",
			 arg_admin_group, errno ? ": " : "", errno ? strerror(errno) : "",
			 (unsigned) geteuid());
		return (gid_t) -1;
	}
	return g->gr_gid;
}

static int control_start(struct agent *a)
{
	struct control_access access = {.agent_uid = geteuid(), .admin_gid = admin_gid()};
	int r;

	a->ops = (struct agent_ops){
		.store = a->store,
		.writer = a->writer,
		.model = a->model,
		.resources = a->resources,
		.groups = a->groups,
		.monitor_dir = arg_monitor_dir,
	};
	r = agent_control_new(a->event, arg_runtime_dir, &access, &a->ops, &a->control);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s/%s: %m", arg_runtime_dir,
				       CONTROL_SOCKET_NAME);
	return 0;
}

/*
 * The monitors a previous agent left: their state from the store, then
 * the loop runs until each live one re-attached (or was given up on), so
 * that READY=1 means the state is complete.
 */
static int reattach_start(struct agent *a, const struct shm_params *p)
{
	_cleanup_free_ struct volatile_entry *old = NULL;
	struct volatile_store *store = NULL;
	const char *why = NULL;
	size_t n_old = 0, n;
	int r;

	r = volatile_store_open(arg_runtime_dir, (size_t) p->max_resources + p->max_groups, &old,
				&n_old, &why, &store);
	if (r < 0)
		return log_error_errno(r, "Failed to create %s/" VOLATILE_FILE_NAME ": %m",
				       arg_runtime_dir);
	if (why)
		log_warning("Ignoring %s/" VOLATILE_FILE_NAME ": %s.  Monitors that a previous "
			    "hagentd left running are refused and close their resources.",
			    arg_runtime_dir, why);
	r = agent_resources_set_reattach(a->resources, arg_runtime_dir, arg_orphan_timeout_ms,
					 store);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the re-attach: %m");
	r = agent_reattach_new(a->event, arg_runtime_dir, agent_resources_adopt, a->resources,
			       &a->reattach);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s/monitor.sock: %m",
				       arg_runtime_dir);
	n = agent_resources_restore(a->resources, old, n_old, AGENT_ADOPT_TIMEOUT_USEC);
	if (n == 0)
		return 0;
	log_info("Waiting for %zu monitors to re-attach.", n);
	(void) sd_notifyf(false, "STATUS=Re-attaching %zu monitors.", n);
	while (agent_resources_adopting(a->resources) > 0 && !a->ops.stopping) {
		r = sd_event_run(a->event, UINT64_MAX);
		if (r < 0)
			return log_error_errno(r, "Event loop failed: %m");
	}
	return 0;
}

static int agent_start(struct agent *a)
{
	struct shm_params p;
	int r;

	shm_params_default(&p);
	if (arg_max_resources)
		p.max_resources = arg_max_resources;
	if (arg_max_groups)
		p.max_groups = arg_max_groups;
	/* The default heap gives 1 KiB of blobs per record; keep that ratio when it grows. */
	if ((uint64_t) (p.max_resources + p.max_groups) * 1024 > p.blob_bytes)
		p.blob_bytes = (uint32_t) MIN((uint64_t) (p.max_resources + p.max_groups) * 1024,
					      UINT64_C(1) << 30);
	r = shm_writer_new(&p, &a->writer);
	if (r < 0)
		return log_error_errno(r, "Failed to create the state segment: %m");
	/* Event watchers sleep on the segment; one thread wakes them, so commits stay cheap. */
	r = shm_writer_start_waker(a->writer);
	if (r < 0)
		return log_error_errno(r, "Failed to start the event waker: %m");
	/* Listen first: a second agent on this runtime dir stops before touching anything. */
	r = agent_socket_new(a->event, arg_runtime_dir, shm_writer_fd(a->writer), &a->socket);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "Another hagentd serves %s.", arg_runtime_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s/state.sock: %m", arg_runtime_dir);
	(void) sd_notify(false, "STATUS=Loading the configuration.");
	r = model_load(a, &p);
	if (r < 0)
		return r;
	r = agent_publish_all(a->writer, a->model);
	if (r < 0)
		return log_error_errno(r, "Failed to publish the state segment: %m");
	r = agent_heartbeat_start(a->event, a->writer, &a->heartbeat);
	if (r < 0)
		return log_error_errno(r, "Failed to start the heartbeat: %m");
	r = agent_resources_new(a->event, a->writer, a->model, arg_monitor_dir, &a->resources);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the resources: %m");
	r = agent_scope_new(a->event, arg_scopes, &a->scope);
	if (r < 0)
		return log_error_errno(r, "Failed to connect to systemd for the monitors' scopes: %m");
	r = agent_status_new(a->event, &a->status);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the STATUS= line: %m");
	agent_resources_set_systemd(a->resources, a->scope, a->status);
	r = agent_groups_new(a->model, a->resources, &a->groups);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the groups: %m");
	r = reattach_start(a, &p);
	if (r < 0)
		return r;
	return control_start(a);
}

/*
 * Each resource costs hagentd a few descriptors (its monitor's pidfd, the
 * channel's doorbells): use all the hard limit allows, as systemd services
 * are expected to (the soft limit stays 1024 for select() users).
 */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(-errno, "Failed to raise the descriptor limit to %llu: %m",
				  (unsigned long long) rl.rlim_max);
}

static int run(void)
{
	_cleanup_(agent_done) struct agent a = {};
	int r;

	nofile_raise();
	r = dir_ensure("runtime", arg_runtime_dir, 0755);
	if (r >= 0)
		r = dir_ensure("state", arg_state_dir, 0700);
	if (r >= 0)
		r = event_setup(&a);
	if (r >= 0)
		r = agent_start(&a);
	if (r < 0)
		return r;
	r = agent_socket_serve(a.socket);
	if (r < 0)
		return log_error_errno(r, "Failed to serve %s/state.sock: %m", arg_runtime_dir);
	log_info("Serving %zu groups and %zu resources in %s.", a.model->live_groups,
		 a.model->live_resources, arg_runtime_dir);
	(void) sd_notifyf(false, "READY=1\nSTATUS=Serving %zu groups and %zu resources.",
			  a.model->live_groups, a.model->live_resources);
	agent_resources_start(a.resources);
	r = sd_event_loop(a.event);
	(void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping.");
	/* Readers move to the next agent's segment on their own. */
	shm_writer_supersede(a.writer);
	if (r < 0)
		return log_error_errno(r, "Event loop failed: %m");
	return 0;
}

int main(int argc, char *argv[])
{
	int r;

	r = parse_argv(argc, argv);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	r = run();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
