/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One transient scope unit per monitor, through systemd's
 * org.freedesktop.systemd1.Manager.StartTransientUnit, waited for the way
 * systemd-run --scope waits: a JobRemoved match installed before any call
 * (so the signal cannot come before we listen), the job path from the reply,
 * then the JobRemoved signal carrying that path and the job's result.
 *
 * What the scope is asked for, and why:
 *   Slice=hagent.slice             operators see and limit all monitors at once
 *   Description, PIDs=[pid]        the monitor, before it has started anything
 *   CollectMode=inactive-or-failed a scope whose processes died is gone, failed
 *                                  or not: the name is free for the next monitor
 *   KillMode=control-group         a stop of the scope (operator, shutdown) stops
 *   SendSIGKILL=yes                the monitor and what it started, SIGTERM first
 *                                  and SIGKILL after TimeoutStopSec=: shutdown must
 *                                  not hang on a resource that ignores SIGTERM
 *   TasksMax=infinity              a resource (a database, a JVM) is not capped at
 *                                  DefaultTasksMax= just because hagent runs it;
 *                                  limits, if wanted, belong on hagent.slice
 *   OOMPolicy=continue             a kernel OOM kill of one process of a resource
 *                                  is reported by its monitor and handled by the
 *                                  restart policy, not answered by systemd stopping
 *                                  the whole scope (DefaultOOMPolicy=stop); dropped
 *                                  and retried without when systemd does not know it
 *   Before=<hagentd's unit>        stop order is the reverse of start order: at
 *                                  shutdown hagentd stops first (taking resources
 *                                  offline in order), the scopes after it.  A start
 *                                  job of the scope never waits for hagentd's start
 *                                  job (only for a stop or restart of it).
 * Not asked for: no Requires/BindsTo/PartOf on hagentd (a kill or restart of
 * the agent must not touch the scopes), no AddRef (the scope must outlive the
 * connection).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "agent-scope.h"
#include "log.h"

#define SCOPE_PREFIX	"hagent-"
#define SCOPE_SUFFIX	".scope"
#define SCOPE_SLICE	"hagent.slice"
#define UNIT_NAME_CHARS 255 /* systemd's UNIT_NAME_MAX (256) less the NUL */
/* "-" + 8 hex digits, "-" + any pid_t: reserved whether used or not, so a cut is stable. */
#define NAME_ROOM                                                                                  \
	(UNIT_NAME_CHARS - (sizeof(SCOPE_PREFIX) - 1) - 9 - 11 - (sizeof(SCOPE_SUFFIX) - 1))
#define DEFAULT_TIMEOUT_USEC (10 * UINT64_C(1000000))
#define MAX_CAUSES	     32 /* distinct failure causes remembered for warn-once */

#define SYSTEMD_DEST  "org.freedesktop.systemd1"
#define SYSTEMD_PATH  "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"

struct agent_scope {
	sd_event *event;
	sd_bus *bus;
	sd_bus_slot *match;
	bool owns_bus;	      /* we opened it: close it at free, reopen it when it died */
	bool attached;	      /* we attached it to event */
	bool no_oom_policy;   /* systemd refused OOMPolicy= once: never send it again */
	char *private_socket; /* for reopening; NULL for agent_scope_new_on_bus() */
	char *agent_unit;     /* Before= this unit; NULL: no ordering */
	uint64_t timeout_usec;
	struct agent_scope_req *reqs;
	char *causes[MAX_CAUSES];
	size_t n_causes;
};

struct agent_scope_req {
	struct agent_scope *scope;
	struct agent_scope_req *prev, *next;
	pid_t pid;
	uint8_t id[16];
	char *description;
	char *unit;
	char *job;	 /* the job's object path, once systemd replied */
	char *early_job; /* a JobRemoved for unit seen before the reply (see on_job_removed()) */
	char *early_result;
	bool renamed;	      /* the "-<pid>" name is in use */
	bool sent_oom_policy; /* the pending call asks for OOMPolicy= */
	sd_bus_slot *call;
	sd_event_source *timer;
	agent_scope_done_fn done;
	void *userdata;
};

int agent_scope_mode_from_string(const char *s)
{
	static const char *const names[_AGENT_SCOPE_MODE_MAX] = {
		[AGENT_SCOPE_AUTO] = "auto",
		[AGENT_SCOPE_YES] = "yes",
		[AGENT_SCOPE_NO] = "no",
	};

	if (!s)
		return -EINVAL;
	for (int i = 0; i < _AGENT_SCOPE_MODE_MAX; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

/* Log level for a failure: warning the first time this cause is seen, debug after. */
static int cause_level(struct agent_scope *s, const char *cause)
{
	for (size_t i = 0; i < s->n_causes; i++)
		if (strcmp(s->causes[i], cause) == 0)
			return LOG_DEBUG;
	if (s->n_causes < MAX_CAUSES) {
		char *c = strdup(cause);

		if (c)
			s->causes[s->n_causes++] = c;
	}
	return LOG_WARNING;
}

static bool char_is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '_' || c == '.';
}

int agent_scope_unit_name(const char *resource_name, const uint8_t id[16], pid_t suffix_pid,
			  char **ret)
{
	char esc[NAME_ROOM + 1];
	char suffix[16] = "";
	size_t n = 0;

	assert_return(resource_name && id && ret && suffix_pid >= 0, -EINVAL);
	for (const unsigned char *p = (const unsigned char *) resource_name; *p; p++) {
		/* A leading '.' is escaped as unit_name_escape() does (no hidden-looking names). */
		bool plain = char_is_plain(*p) &&
			     !(*p == '.' && p == (const unsigned char *) resource_name);
		size_t len = plain ? 1 : 4;

		if (n + len > NAME_ROOM)
			break; /* the id keeps a cut name unique */
		if (plain)
			esc[n] = (char) *p;
		else
			(void) snprintf(esc + n, 5, "\\x%02x", *p);
		n += len;
	}
	esc[n] = '\0';
	if (suffix_pid > 0)
		(void) snprintf(suffix, sizeof(suffix), "-%d", (int) suffix_pid);
	if (asprintf(ret, SCOPE_PREFIX "%s-%02x%02x%02x%02x%s" SCOPE_SUFFIX, esc, id[0], id[1],
		     id[2], id[3], suffix) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at p, or 0 (D-Bus strings must be UTF-8). */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* "hagent monitor of resource <name>", the name's invalid UTF-8 and control bytes as \xNN. */
static char *scope_description(const char *resource_name)
{
	static const char head[] = "hagent monitor of resource ";
	size_t n = strlen(resource_name);
	char *d = malloc(sizeof(head) + 4 * n), *t;

	if (!d)
		return NULL;
	t = stpcpy(d, head);
	for (const unsigned char *p = (const unsigned char *) resource_name; *p;) {
		size_t len = utf8_seq_len(p);

		if (len == 0 || *p < 0x20 || *p == 0x7f) {
			t += sprintf(t, "\\x%02x", *p);
			p++;
		} else {
			memcpy(t, p, len);
			t += len;
			p += len;
		}
	}
	*t = '\0';
	return d;
}

static void req_free(struct agent_scope_req *req)
{
	struct agent_scope *s = req->scope;

	if (req->prev)
		req->prev->next = req->next;
	else if (s->reqs == req)
		s->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->call = sd_bus_slot_unref(req->call);
	req->timer = sd_event_source_disable_unref(req->timer);
	free(req->description);
	free(req->unit);
	free(req->job);
	free(req->early_job);
	free(req->early_result);
	free(req);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_scope_req *, req_free);

/* The request is over: forget it, then tell the caller (who may start another one). */
static void req_finish(struct agent_scope_req *req, int error)
{
	agent_scope_done_fn done = req->done;
	void *userdata = req->userdata;

	req_free(req);
	done(userdata, error);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int append_properties(struct agent_scope_req *req, sd_bus_message *m)
{
	struct agent_scope *s = req->scope;
	int r;

	r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s",
				  req->description, "Slice", "s", SCOPE_SLICE, "CollectMode", "s",
				  "inactive-or-failed", "KillMode", "s", "control-group",
				  "SendSIGKILL", "b", 1, "TasksMax", "t", UINT64_MAX, "PIDs", "au",
				  1, (uint32_t) req->pid);
	if (r < 0)
		return r;
	req->sent_oom_policy = !s->no_oom_policy;
	if (req->sent_oom_policy) {
		r = sd_bus_message_append(m, "(sv)", "OOMPolicy", "s", "continue");
		if (r < 0)
			return r;
	}
	if (s->agent_unit) {
		r = sd_bus_message_append(m, "(sv)", "Before", "as", 1, s->agent_unit);
		if (r < 0)
			return r;
	}
	return sd_bus_message_close_container(m);
}

static int req_send(struct agent_scope_req *req)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	sd_bus *bus = req->scope->bus;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE,
					   "StartTransientUnit");
	if (r < 0)
		return r;
	/* "fail": a scope of that name must not replace or be queued behind anything. */
	r = sd_bus_message_append(m, "ss", req->unit, "fail");
	if (r < 0)
		return r;
	r = append_properties(req, m);
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		return r;
	/* The call's own timeout is sd-bus's default; our timer is shorter and ends the request. */
	return sd_bus_call_async(bus, &req->call, m, on_reply, req, 0);
}

/* "hagent-x-0123abcd.scope" -> "hagent-x-0123abcd-<pid>.scope": the name left room for it. */
static int req_rename(struct agent_scope_req *req)
{
	size_t stem = strlen(req->unit) - strlen(SCOPE_SUFFIX);
	char *unit;

	if (asprintf(&unit, "%.*s-%d" SCOPE_SUFFIX, (int) stem, req->unit, (int) req->pid) < 0)
		return -ENOMEM;
	free(req->unit);
	req->unit = unit;
	req->renamed = true;
	return 0;
}

static const char *bus_error_text(const sd_bus_error *e)
{
	return e->message ? e->message : e->name;
}

/*
 * systemd refused the call.  Two refusals have a second try: the name is
 * taken (an earlier monitor's scope still holds processes: its resource, or
 * a monitor that outlived a restart) and an unknown property (a systemd that
 * does not take OOMPolicy= for scopes).  Returns 0 if the request was sent
 * again, else the error to finish it with.
 */
static int req_refused(struct agent_scope_req *req, const sd_bus_error *e)
{
	struct agent_scope *s = req->scope;
	int r;

	if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists")) {
		if (req->renamed) {
			log_full_errno(cause_level(s, "exists-twice"), -EEXIST,
				       "Scope %s exists too, %d stays in hagentd's cgroup: %s",
				       req->unit, (int) req->pid, bus_error_text(e));
			return -EEXIST;
		}
		r = req_rename(req);
		if (r < 0)
			return r;
		log_full_errno(
			cause_level(s, "exists"), 0,
			"Scope for a resource exists already (processes of an earlier monitor "
			"still run?), using %s",
			req->unit);
		return req_send(req);
	}
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_PROPERTY_READ_ONLY) && req->sent_oom_policy) {
		s->no_oom_policy = true;
		log_full_errno(cause_level(s, "oom-policy"), 0,
			       "systemd refused a property of scope %s (%s), trying again without "
			       "OOMPolicy=continue",
			       req->unit, bus_error_text(e));
		return req_send(req);
	}
	r = sd_bus_error_get_errno(e);
	r = r > 0 ? -r : -EIO;
	log_full_errno(cause_level(s, e->name), r,
		       "systemd refused scope %s for pid %d, it stays in hagentd's cgroup: %s",
		       req->unit, (int) req->pid, bus_error_text(e));
	return r;
}

static int job_result_to_errno(const char *result)
{
	static const struct {
		const char *result;
		int error;
	} map[] = {
		{"done", 0},	  {"canceled", -ECANCELED}, {"timeout", -ETIMEDOUT},
		{"failed", -EIO}, {"dependency", -ENOLINK},
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (strcmp(result, map[i].result) == 0)
			return map[i].error;
	return -EIO;
}

static void req_job_finished(struct agent_scope_req *req, const char *result)
{
	int r = job_result_to_errno(result);

	if (r < 0) {
		char cause[64];

		(void) snprintf(cause, sizeof(cause), "job-%s", result);
		log_full_errno(cause_level(req->scope, cause), r,
			       "systemd's job for scope %s ended with result '%s', pid %d stays in "
			       "hagentd's cgroup",
			       req->unit, result, (int) req->pid);
	}
	req_finish(req, r);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct agent_scope_req *req = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *path;
	int r;

	(void) ret_error;
	req->call = sd_bus_slot_unref(req->call);
	if (e) {
		r = req_refused(req, e);
		if (r < 0)
			req_finish(req, r);
		return 0;
	}
	r = sd_bus_message_read(m, "o", &path);
	if (r < 0) {
		log_full_errno(cause_level(req->scope, "bad-reply"), r,
			       "Unexpected reply to StartTransientUnit for %s: %m", req->unit);
		req_finish(req, r);
		return 0;
	}
	req->job = strdup(path);
	if (!req->job) {
		req_finish(req, -ENOMEM);
		return 0;
	}
	if (req->early_job && strcmp(req->early_job, path) == 0)
		req_job_finished(req, req->early_result);
	return 0;
}

/*
 * A job is identified by its object path, known from the reply.  systemd
 * sends the reply before it runs the job, and messages keep their order, so
 * our JobRemoved comes after the reply; one for our unit name before the
 * reply is kept anyway (path and result) and used if the reply names that
 * job.  It may also be a stale job of an earlier unit of that name, which
 * the path tells apart.
 */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct agent_scope *s = userdata;
	const char *path, *unit, *result;
	uint32_t id;
	int r;

	(void) ret_error;
	r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
	if (r < 0) {
		log_debug_errno(r, "Ignoring a JobRemoved signal we cannot read: %m");
		return 0;
	}
	for (struct agent_scope_req *req = s->reqs; req; req = req->next) {
		if (req->job) {
			if (strcmp(req->job, path) == 0) {
				req_job_finished(req, result);
				return 0; /* done() may have changed the list */
			}
		} else if (strcmp(req->unit, unit) == 0) {
			char *p = strdup(path), *res = strdup(result);

			if (!p || !res) {
				free(p);
				free(res);
				continue; /* the timeout ends it */
			}
			free(req->early_job);
			free(req->early_result);
			req->early_job = p;
			req->early_result = res;
		}
	}
	return 0;
}

static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct agent_scope *s = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void) ret_error;
	if (e)
		log_full_errno(cause_level(s, "match"), -EIO,
			       "Cannot watch systemd's jobs (%s), moves into scopes will time out",
			       bus_error_text(e));
	return 0;
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct agent_scope_req *req = userdata;

	(void) source;
	(void) usec;
	log_full_errno(cause_level(req->scope, "timeout"), -ETIMEDOUT,
		       "systemd did not finish scope %s in time, pid %d may stay in hagentd's "
		       "cgroup",
		       req->unit, (int) req->pid);
	req_finish(req, -ETIMEDOUT);
	return 0;
}

/* Attaches bus to the loop and installs the JobRemoved match, before any call on it. */
static int scope_use_bus(struct agent_scope *s, sd_bus *bus)
{
	int r;

	s->bus = sd_bus_ref(bus);
	if (!sd_bus_get_event(bus)) {
		r = sd_bus_attach_event(bus, s->event, SD_EVENT_PRIORITY_NORMAL);
		if (r < 0)
			return r;
		s->attached = true;
	}
	/* On a direct connection (the private socket) messages carry no sender. */
	return sd_bus_match_signal_async(
		bus, &s->match, sd_bus_is_bus_client(bus) > 0 ? SYSTEMD_DEST : NULL, SYSTEMD_PATH,
		MANAGER_IFACE, "JobRemoved", on_job_removed, on_match_installed, s);
}

static void scope_drop_bus(struct agent_scope *s)
{
	s->match = sd_bus_slot_unref(s->match);
	if (!s->bus)
		return;
	if (s->attached)
		(void) sd_bus_detach_event(s->bus);
	s->attached = false;
	s->bus = s->owns_bus ? sd_bus_close_unref(s->bus) : sd_bus_unref(s->bus);
}

/*
 * The connect() of the bus socket happens here (a local socket: it does not
 * wait for the other side); authentication and Hello go on in the loop.
 */
int agent_systemd_connect(const char *private_socket, sd_bus **ret)
{
	_cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *address = NULL;
	int r;

	/* systemctl's choice too: systemd itself, no dbus-daemon in between or needed. */
	if (geteuid() == 0 && access(private_socket, F_OK) == 0) {
		if (asprintf(&address, "unix:path=%s", private_socket) < 0) {
			address = NULL;
			return -ENOMEM;
		}
		r = sd_bus_new(&bus);
		if (r < 0)
			return r;
		r = sd_bus_set_address(bus, address);
		if (r >= 0)
			r = sd_bus_start(bus);
		if (r >= 0) {
			*ret = TAKE_PTR(bus);
			return 0;
		}
		log_debug_errno(r, "Cannot connect to %s, trying the system bus: %m",
				private_socket);
		bus = sd_bus_unref(bus);
	}
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(bus);
	return 0;
}

static int scope_alloc(sd_event *e, const char *agent_unit, struct agent_scope **ret)
{
	struct agent_scope *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->timeout_usec = DEFAULT_TIMEOUT_USEC;
	if (agent_unit) {
		s->agent_unit = strdup(agent_unit);
		if (!s->agent_unit) {
			agent_scope_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

int agent_scope_new_on_bus(sd_event *e, sd_bus *bus, const char *agent_unit,
			   struct agent_scope **ret)
{
	_cleanup_(agent_scope_freep) struct agent_scope *s = NULL;
	int r;

	assert_return(e && bus && ret, -EINVAL);
	r = scope_alloc(e, agent_unit, &s);
	if (r < 0)
		return r;
	r = scope_use_bus(s, bus);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int agent_scope_new_at(sd_event *e, enum agent_scope_mode mode, const char *private_socket,
		       struct agent_scope **ret)
{
	_cleanup_(agent_scope_freep) struct agent_scope *s = NULL;
	_cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *unit = NULL;
	int r;

	assert_return(e && private_socket && ret, -EINVAL);
	assert_return(mode >= 0 && mode < _AGENT_SCOPE_MODE_MAX, -EINVAL);
	if (mode == AGENT_SCOPE_NO || (mode == AGENT_SCOPE_AUTO && !getenv("INVOCATION_ID"))) {
		log_debug("Monitors stay in hagentd's cgroup (scopes %s)",
			  mode == AGENT_SCOPE_NO ? "off" : "auto, not a systemd service");
		*ret = NULL;
		return 0;
	}
	r = agent_systemd_connect(private_socket, &bus);
	if (r < 0) {
		if (mode == AGENT_SCOPE_YES)
			return log_error_errno(
				r,
				"Scopes for monitors are required, but neither %s nor "
				"the system bus can be reached: %m",
				private_socket);
		log_warning_errno(r,
				  "Neither %s nor the system bus can be reached, monitors stay in "
				  "hagentd's cgroup (a kill of the service kills them too): %m",
				  private_socket);
		*ret = NULL;
		return 0;
	}
	r = sd_pid_get_unit(0, &unit);
	if (r < 0) {
		log_debug_errno(r,
				"hagentd's unit is unknown, scopes are not ordered before it: %m");
		unit = NULL;
	}
	r = scope_alloc(e, unit, &s);
	if (r < 0)
		return r;
	s->owns_bus = true;
	s->private_socket = strdup(private_socket);
	if (!s->private_socket)
		return -ENOMEM;
	r = scope_use_bus(s, bus);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int agent_scope_new(sd_event *e, enum agent_scope_mode mode, struct agent_scope **ret)
{
	return agent_scope_new_at(e, mode, "/run/systemd/private", ret);
}

void agent_scope_set_timeout(struct agent_scope *s, uint64_t usec)
{
	if (s)
		s->timeout_usec = usec;
}

struct agent_scope *agent_scope_free(struct agent_scope *s)
{
	if (!s)
		return NULL;
	while (s->reqs)
		req_free(s->reqs);
	scope_drop_bus(s);
	s->event = sd_event_unref(s->event);
	for (size_t i = 0; i < s->n_causes; i++)
		free(s->causes[i]);
	free(s->private_socket);
	free(s->agent_unit);
	free(s);
	return NULL;
}

/*
 * A connection we opened that died (dbus-daemon or systemd restarted) is
 * opened again for the next request; requests waiting on the old one end
 * by their timeout.
 */
static int scope_ensure_bus(struct agent_scope *s)
{
	_cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
	int r;

	if (s->bus && sd_bus_is_open(s->bus) > 0)
		return 0;
	if (!s->owns_bus)
		return -ENOTCONN;
	scope_drop_bus(s);
	r = agent_systemd_connect(s->private_socket, &bus);
	if (r < 0) {
		log_full_errno(cause_level(s, "reconnect"), r, "Cannot reconnect to systemd: %m");
		return -ENOTCONN;
	}
	return scope_use_bus(s, bus);
}

int agent_scope_move(struct agent_scope *s, pid_t pid, const char *resource_name,
		     const uint8_t id[16], agent_scope_done_fn done, void *userdata,
		     struct agent_scope_req **ret_req)
{
	_cleanup_(req_freep) struct agent_scope_req *req = NULL;
	int r;

	assert_return(s && pid > 0 && resource_name && id && done, -EINVAL);
	r = scope_ensure_bus(s);
	if (r < 0)
		return r;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->scope = s;
	req->pid = pid;
	memcpy(req->id, id, sizeof(req->id));
	req->done = done;
	req->userdata = userdata;
	r = agent_scope_unit_name(resource_name, id, 0, &req->unit);
	if (r < 0)
		return r;
	req->description = scope_description(resource_name);
	if (!req->description)
		return -ENOMEM;
	r = sd_event_add_time_relative(s->event, &req->timer, CLOCK_MONOTONIC, s->timeout_usec, 0,
				       on_timeout, req);
	if (r < 0)
		return r;
	r = req_send(req);
	if (r < 0 && s->owns_bus && sd_bus_is_open(s->bus) <= 0) {
		/* The write found the connection dead before the loop did: reopen it now. */
		r = scope_ensure_bus(s);
		if (r >= 0)
			r = req_send(req);
	}
	if (r < 0)
		return r;
	req->next = s->reqs;
	if (s->reqs)
		s->reqs->prev = req;
	s->reqs = req;
	if (ret_req)
		*ret_req = req;
	TAKE_PTR(req);
	return 0;
}

void agent_scope_req_cancel(struct agent_scope_req *req)
{
	if (req)
		req_free(req);
}
