/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Moves a freshly spawned monitor process into a transient scope unit of its
 * own under hagent.slice (sd-bus StartTransientUnit), so that
 * `systemctl kill hagentd` (which kills hagentd.service's whole cgroup) and
 * an agent restart leave monitors and their resources alone, and operators
 * get `systemctl status hagent-<resource>-<id>.scope`.  Asynchronous: the
 * caller is told through a callback once systemd's job for the scope is
 * finished; nothing here blocks the event loop after agent_scope_new().
 * Main-loop thread only.  Failures are logged (warning, once per cause) and
 * never fatal: the caller decides whether a monitor runs without a scope.
 */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

enum agent_scope_mode {
	AGENT_SCOPE_AUTO,
	AGENT_SCOPE_YES,
	AGENT_SCOPE_NO,
	_AGENT_SCOPE_MODE_MAX,
	_AGENT_SCOPE_MODE_INVALID = -EINVAL,
};

/* "auto", "yes", "no" (exactly); -EINVAL otherwise. */
int agent_scope_mode_from_string(const char *s);

struct agent_scope;
struct agent_scope_req;

/*
 * AUTO: scopes are used when hagentd runs as a systemd service (INVOCATION_ID
 * set) and systemd is reachable, as root on /run/systemd/private (no
 * dbus-daemon needed), else on the system bus; otherwise 0 with *ret = NULL
 * (not an error: monitors simply stay in the agent's cgroup).
 * YES: the same without the INVOCATION_ID condition, and a bus that cannot
 * be reached is an error (logged; the connect's errno, e.g. -ENOENT).
 * NO: 0 with *ret = NULL.
 * The connection is attached to e.  The scopes are ordered Before= the unit
 * hagentd runs in (sd_pid_get_unit()), so that at shutdown hagentd stops, and
 * takes resources offline in order, before systemd stops the scopes.
 */
int agent_scope_new(sd_event *e, enum agent_scope_mode mode, struct agent_scope **ret);

/*
 * Cancels pending requests (their callbacks are not called, their handles
 * become invalid) and closes the connection; takes NULL, returns NULL.
 */
struct agent_scope *agent_scope_free(struct agent_scope *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_scope *, agent_scope_free);

/* error: 0 when pid is in its scope, else a negative errno (see agent_scope_move()). */
typedef void (*agent_scope_done_fn)(void *userdata, int error);

/*
 * Asks systemd for the transient unit "hagent-<escaped name>-<first 8 hex
 * digits of id>.scope" holding pid, and calls done exactly once, from the
 * event loop, never from inside this call: 0 once systemd's job for it is
 * finished with result "done"; -EIO ("failed"), -ECANCELED ("canceled"),
 * -ETIMEDOUT ("timeout"), -ENOLINK ("dependency") for other job results; the
 * bus error's errno when systemd refuses (-ESRCH: pid is gone, -EACCES, ...);
 * -EEXIST when the name and, once, the name with "-<pid>" appended are both
 * taken; -ETIMEDOUT when nothing is finished 10 s after the call.
 * done may start new moves and cancel other requests; it must not call
 * agent_scope_free().
 *
 * *ret_req (ret_req may be NULL) identifies the request until done is called
 * or agent_scope_req_cancel() is: after either the handle is invalid.
 * Errors returned here (-ENOMEM, -EINVAL, -ENOTCONN: the connection is gone
 * and could not be reopened, ...) mean nothing was started and done is never
 * called.
 */
int agent_scope_move(struct agent_scope *s, pid_t pid, const char *resource_name,
		     const uint8_t id[16], agent_scope_done_fn done, void *userdata,
		     struct agent_scope_req **ret_req);

/*
 * Forgets a pending request: its callback is never called.  systemd's job is
 * not undone (the process may still end up in the scope; an empty scope is
 * garbage-collected by systemd).
 */
void agent_scope_req_cancel(struct agent_scope_req *req);

/*
 * A connection to systemd: as root its private socket (private_socket,
 * normally /run/systemd/private: no dbus-daemon needed), else the system bus.
 */
int agent_systemd_connect(const char *private_socket, sd_bus **ret);

/* -- Internal entry points, for tests/test-agent-scope.c -- */

/*
 * agent_scope_new() with the private socket's path given (it uses
 * "/run/systemd/private").
 */
int agent_scope_new_at(sd_event *e, enum agent_scope_mode mode, const char *private_socket,
		       struct agent_scope **ret);

/*
 * Uses an already started connection to systemd (a reference is taken; it is
 * attached to e unless it is attached to an event loop already).  agent_unit
 * (may be NULL: no ordering) is the unit the scopes are ordered Before=.
 * A closed connection is never reopened.
 */
int agent_scope_new_on_bus(sd_event *e, sd_bus *bus, const char *agent_unit,
			   struct agent_scope **ret);

/* The request timeout (default 10 s), for tests that must not wait that long. */
void agent_scope_set_timeout(struct agent_scope *s, uint64_t usec);

/*
 * The unit name for a resource: "hagent-" + name with every byte outside
 * [A-Za-z0-9:_.] and a leading '.' written as "\xNN" (lower-case hex; the
 * rules of systemd's unit_name_escape(), except that '/' is escaped too, so
 * `systemd-escape --unescape` gives the name back and '-' only separates)
 * cut at an escape boundary where the unit name would otherwise exceed
 * systemd's 255 characters, + "-" + 8 hex digits of id + ("-<suffix_pid>"
 * when suffix_pid > 0) + ".scope".  *ret is freed by the caller.
 */
int agent_scope_unit_name(const char *resource_name, const uint8_t id[16], pid_t suffix_pid,
			  char **ret);
