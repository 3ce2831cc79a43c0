/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API server: control.sock, one sd-bus server connection per
 * client (peer to peer, no bus daemon), the access level from the peer's
 * credentials, and the org.hagent.Agent1 methods, which unpack their
 * arguments and call agent-ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include "agent-control-internal.h"
#include "agent-control.h"
#include "control-api.h"
#include "log.h"

#define CONTROL_UNPRIVILEGED_MAX 8 /* connections without full access, of the 64 */

/* A quiet online/offline call waiting for its outcome (agent-ops.h). */
struct deferred_call {
	sd_bus_message *call;
	bool online;
};

/* A ControlResource call waiting for the monitor's answer. */
struct deferred_control {
	sd_bus_message *call;
	uint32_t code;
};

struct agent_control {
	sd_event *event;
	sd_event_source *io;
	int fd;
	char *path;
	struct control_access access;
	struct agent_ops *ops;
	sd_id128_t server_id;
	struct control_conn *conns;
	unsigned n_conns, n_unprivileged;
	struct deferred_call *deferred; /* by resource index */
	struct deferred_control *controls;
	size_t n_deferred;
};

bool control_access_full(const struct control_access *a, uid_t uid, gid_t gid, const gid_t *groups,
			 size_t n_groups)
{
	if (uid == 0 || uid == a->agent_uid)
		return true;
	if (a->admin_gid == (gid_t) -1)
		return false;
	if (gid == a->admin_gid)
		return true;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] == a->admin_gid)
			return true;
	return false;
}

/* ---- connections ---- */

static void conn_free(struct control_conn *c)
{
	struct agent_control *ctl = c->ctl;

	for (struct control_conn **p = &ctl->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	ctl->n_conns--;
	if (!c->full)
		ctl->n_unprivileged--;
	c->bus = sd_bus_close_unref(c->bus); /* never flush: that would wait for the peer */
	free(c);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;

	(void) m, (void) err;
	log_debug("Control connection of uid %u (pid %d) closed.", (unsigned) c->uid, (int) c->pid);
	conn_free(c);
	return 0;
}

struct agent_ops *control_ops(const struct control_conn *c)
{
	return c->ctl->ops;
}

int control_check_access(const struct control_conn *c, sd_bus_error *err)
{
	if (c->full)
		return 0;
	return sd_bus_error_setf(err, CONTROL_ERROR_ACCESS_DENIED,
				 "Access denied: uid %u is not root, not hagentd's user and not in "
				 "its admin group.",
				 (unsigned) c->uid);
}

/* Reads an a(ss) into a new array of n entries pointing into the message. */
int control_read_props(sd_bus_message *m, struct config_prop **ret, size_t *ret_n,
		       sd_bus_error *err)
{
	_cleanup_free_ struct config_prop *props = NULL;
	size_t n = 0;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "(ss)");
	if (r < 0)
		return r;
	for (;;) {
		const char *k, *v;

		r = sd_bus_message_read(m, "(ss)", &k, &v);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (n == CONTROL_PROPS_MAX)
			return sd_bus_error_setf(err, CONTROL_ERROR_TOO_BIG,
						 "More than %d properties in one call.",
						 CONTROL_PROPS_MAX);
		if (n % 16 == 0) {
			struct config_prop *p = reallocarray(props, n + 16, sizeof(*p));

			if (!p)
				return -ENOMEM;
			props = p;
		}
		props[n++] = (struct config_prop){k, v};
	}
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(props);
	*ret_n = n;
	return 0;
}

static void strv_freep(char ***p)
{
	for (char **s = *p; s && *s; s++)
		free(*s);
	free(*p);
}

static size_t strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

/* ---- methods ---- */

static int method_add_group(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	char id[CONFIG_ID_LEN + 1];
	const char *name;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = agent_ops_group_add(c->ctl->ops, name, id, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "s", id);
}

static int method_remove_group(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	const char *name;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = agent_ops_group_remove(c->ctl->ops, name, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

static int method_add_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	_cleanup_free_ struct config_prop *props = NULL;
	_cleanup_(strv_freep) char **deps = NULL;
	const char *name, *group, *type;
	char id[CONFIG_ID_LEN + 1];
	size_t n = 0;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "sss", &name, &group, &type);
	if (r >= 0)
		r = control_read_props(m, &props, &n, err);
	if (r >= 0)
		r = sd_bus_message_read_strv(m, &deps);
	if (r >= 0 && strv_length(deps) > CONTROL_DEPS_MAX)
		r = sd_bus_error_setf(err, CONTROL_ERROR_TOO_BIG,
				      "Resource '%s': more than %d dependencies in one call.", name,
				      CONTROL_DEPS_MAX);
	if (r >= 0)
		r = agent_ops_resource_add(c->ctl->ops, name, group, type, props, n,
					   (const char *const *) deps, strv_length(deps), id, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "s", id);
}

static int method_remove_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	const char *name;
	uint32_t flags;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "su", &name, &flags);
	if (r >= 0)
		r = agent_ops_resource_remove(c->ctl->ops, name, flags, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

static int method_set_resource_properties(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	_cleanup_free_ struct config_prop *props = NULL;
	const char *name;
	size_t n = 0;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = control_read_props(m, &props, &n, err);
	if (r >= 0)
		r = agent_ops_resource_set(c->ctl->ops, name, props, n, err);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

int control_reply_state(sd_bus_message *m, const struct agent_ops_result *res)
{
	return sd_bus_reply_method_return(m, "uiu", res->result, res->state, res->state_seq);
}

/* Keeps the call until the state machine answers (on_deferred_reply). */
static int defer(struct agent_control *ctl, sd_bus_message *m, size_t i, bool online)
{
	struct deferred_call *d = &ctl->deferred[i];

	if (d->call) { /* cannot happen: a second request gets InvalidState meanwhile */
		(void) sd_bus_reply_method_errorf(d->call, CONTROL_ERROR_FAILED,
						  "Superseded by another request.");
		d->call = sd_bus_message_unref(d->call);
	}
	d->call = sd_bus_message_ref(m);
	d->online = online;
	return 1;
}

static void on_deferred_reply(void *userdata, size_t i, int error, uint32_t win32)
{
	struct agent_control *ctl = userdata;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	struct agent_ops_result res;
	sd_bus_message *m;
	int r;

	(void) win32;
	if (i >= ctl->n_deferred || !ctl->deferred[i].call)
		return;
	m = TAKE_PTR(ctl->deferred[i].call);
	r = agent_ops_deferred_reply(ctl->ops, i, ctl->deferred[i].online, error, &res, &err);
	r = r < 0 ? sd_bus_reply_method_error(m, &err) : control_reply_state(m, &res);
	if (r < 0) /* the caller went away: nothing to do */
		log_debug_errno(r, "Failed to send a deferred reply: %m");
	sd_bus_error_free(&err);
	sd_bus_message_unref(m);
}

static void on_control_answer(void *userdata, size_t i, int result, const uint8_t *data, size_t len)
{
	struct agent_control *ctl = userdata;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m, *reply = NULL;
	int r;

	if (i >= ctl->n_deferred || !ctl->controls[i].call)
		return;
	m = TAKE_PTR(ctl->controls[i].call);
	r = agent_ops_control_reply(ctl->ops, i, ctl->controls[i].code, result, &err);
	if (r < 0)
		r = sd_bus_reply_method_error(m, &err);
	else {
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append_array(reply, 'y', data, result > 0 ? len : 0);
		if (r >= 0)
			r = sd_bus_send(NULL, reply, NULL);
	}
	if (r < 0)
		log_debug_errno(r, "Failed to answer a control call: %m");
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	sd_bus_message_unref(m);
}

static int method_control_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	const void *in = NULL;
	const char *name;
	size_t len = 0, i = 0;
	uint32_t code;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "su", &name, &code);
	if (r >= 0)
		r = sd_bus_message_read_array(m, 'y', &in, &len);
	if (r >= 0)
		r = agent_ops_resource_control(c->ctl->ops, name, code, in, len, &i, err);
	if (r < 0)
		return r;
	/* agent-resource allows one control code at a time per resource: the slot is free. */
	c->ctl->controls[i] = (struct deferred_control){sd_bus_message_ref(m), code};
	return 1;
}

static int method_online_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	struct agent_ops_result res;
	const char *name;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = agent_ops_resource_online(c->ctl->ops, name, &res, err);
	if (r < 0)
		return r;
	if (r > 0)
		return defer(c->ctl, m, res.index, true);
	return control_reply_state(m, &res);
}

static int method_offline_resource(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct control_conn *c = userdata;
	struct agent_ops_result res;
	const char *name;
	uint32_t flags;
	int r;

	r = control_check_access(c, err);
	if (r >= 0)
		r = sd_bus_message_read(m, "su", &name, &flags);
	if (r >= 0)
		r = agent_ops_resource_offline(c->ctl->ops, name, flags, &res, err);
	if (r < 0)
		return r;
	if (r > 0)
		return defer(c->ctl, m, res.index, false);
	return control_reply_state(m, &res);
}

static const sd_bus_vtable control_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("AddGroup", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", id),
				method_add_group, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RemoveGroup", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
				method_remove_group, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AddResource",
				SD_BUS_ARGS("s", name, "s", group, "s", type, "a(ss)", properties,
					    "as", depends_on),
				SD_BUS_RESULT("s", id), method_add_resource,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RemoveResource", SD_BUS_ARGS("s", name, "u", flags),
				SD_BUS_NO_RESULT, method_remove_resource,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetResourceProperties",
				SD_BUS_ARGS("s", name, "a(ss)", properties), SD_BUS_NO_RESULT,
				method_set_resource_properties, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OnlineResource", SD_BUS_ARGS("s", name),
				SD_BUS_RESULT("u", result, "i", state, "u", state_seq),
				method_online_resource, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OfflineResource", SD_BUS_ARGS("s", name, "u", flags),
				SD_BUS_RESULT("u", result, "i", state, "u", state_seq),
				method_offline_resource, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ControlResource", SD_BUS_ARGS("s", name, "u", code, "ay", input),
				SD_BUS_RESULT("ay", output), method_control_resource,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AddResourceDependency", SD_BUS_ARGS("s", dependent, "s", provider),
				SD_BUS_NO_RESULT, control_method_add_dependency,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RemoveResourceDependency",
				SD_BUS_ARGS("s", dependent, "s", provider), SD_BUS_NO_RESULT,
				control_method_remove_dependency, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OnlineGroup", SD_BUS_ARGS("s", name, "u", flags),
				SD_BUS_RESULT("u", result, "i", state, "u", state_seq),
				control_method_online_group, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OfflineGroup", SD_BUS_ARGS("s", name, "u", flags, "ay", params),
				SD_BUS_RESULT("u", result, "i", state, "u", state_seq),
				control_method_offline_group, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetGroupProperties", SD_BUS_ARGS("s", name, "a(ss)", properties),
				SD_BUS_NO_RESULT, control_method_set_group_properties,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetGroupDependencyExpression",
				SD_BUS_ARGS("s", name, "s", expression), SD_BUS_RESULT("s", stored),
				control_method_set_group_deps, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RenameGroup", SD_BUS_ARGS("s", name, "s", new_name),
				SD_BUS_NO_RESULT, control_method_rename_group,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RenameResource", SD_BUS_ARGS("s", name, "s", new_name),
				SD_BUS_NO_RESULT, control_method_rename_resource,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

/* ---- accepting ---- */

/* The peer's supplementary groups; *ret NULL and *ret_n 0 if there are none. */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 32 * sizeof(gid_t);

	for (;;) {
		_cleanup_free_ gid_t *g = malloc(len ?: sizeof(gid_t));

		if (!g)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) >= 0) {
			*ret_n = len / sizeof(gid_t);
			*ret = TAKE_PTR(g);
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
		/* len now holds the size needed */
	}
}

static int conn_setup(struct agent_control *ctl, int fd)
{
	_cleanup_free_ struct control_conn *c = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	size_t n_groups = 0;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	r = peer_groups(fd, &groups, &n_groups);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct control_conn){.ctl = ctl, .uid = cred.uid, .pid = cred.pid};
	c->full = control_access_full(&ctl->access, cred.uid, cred.gid, groups, n_groups);
	if (!c->full && ctl->n_unprivileged >= CONTROL_UNPRIVILEGED_MAX)
		return -EUSERS;
	r = sd_bus_new(&c->bus);
	if (r < 0)
		return r;
	r = sd_bus_set_fd(c->bus, fd, fd);
	if (r < 0) {
		c->bus = sd_bus_unref(c->bus);
		return r;
	}
	/* The bus owns fd from here; conn_free closes it. */
	r = sd_bus_set_server(c->bus, true, ctl->server_id);
	if (r >= 0)
		r = sd_bus_set_description(c->bus, "control-connection");
	if (r >= 0)
		r = sd_bus_start(c->bus);
	if (r >= 0)
		r = sd_bus_attach_event(c->bus, ctl->event, SD_EVENT_PRIORITY_NORMAL);
	if (r >= 0)
		r = sd_bus_match_signal_async(
			c->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
			"org.freedesktop.DBus.Local", "Disconnected", on_disconnected, NULL, c);
	if (r >= 0)
		r = sd_bus_add_object_vtable(c->bus, NULL, CONTROL_OBJECT_PATH, CONTROL_INTERFACE,
					     control_vtable, c);
	if (r < 0) {
		sd_bus_close_unref(c->bus);
		return 1; /* fd is closed already */
	}
	log_debug("Control connection of uid %u (pid %d), %s access.", (unsigned) cred.uid,
		  (int) cred.pid, c->full ? "full" : "no");
	ctl->n_conns++;
	if (!c->full)
		ctl->n_unprivileged++;
	c->next = ctl->conns;
	ctl->conns = TAKE_PTR(c);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct agent_control *ctl = userdata;

	(void) s, (void) revents;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), r;

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ECONNABORTED)
				continue;
			log_warning_errno(-errno, "Failed to accept a control connection: %m");
			return 0;
		}
		if (ctl->n_conns >= CONTROL_CONNECTIONS_MAX) {
			log_warning("Refusing a control connection: %d are open already.",
				    CONTROL_CONNECTIONS_MAX);
			close(cfd);
			continue;
		}
		r = conn_setup(ctl, cfd);
		if (r == 0)
			continue;
		if (r < 0) {
			close(cfd);
			if (r == -EUSERS)
				log_warning("Refusing a control connection: %d without access are "
					    "open already.",
					    CONTROL_UNPRIVILEGED_MAX);
			else
				log_warning_errno(r, "Failed to set up a control connection: %m");
		} else
			log_warning("Failed to set up a control connection.");
	}
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The caller holds state.sock: a file here is a leftover of a dead agent. */
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		goto fail;
	/* Anyone may connect; the credentials decide what they may do. */
	if (chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:;
	int r = -errno;

	close(fd);
	return r;
}

int agent_control_new(sd_event *e, const char *runtime_dir, const struct control_access *access,
		      struct agent_ops *ops, struct agent_control **ret)
{
	_cleanup_(agent_control_freep) struct agent_control *ctl = NULL;
	int r;

	r = sd_bus_error_add_map(control_error_map);
	if (r < 0)
		return r;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->fd = -EBADF;
	ctl->event = sd_event_ref(e);
	ctl->access = *access;
	ctl->ops = ops;
	ctl->n_deferred = ops->model->max_resources;
	ctl->deferred = calloc(ctl->n_deferred ?: 1, sizeof(*ctl->deferred));
	ctl->controls = calloc(ctl->n_deferred ?: 1, sizeof(*ctl->controls));
	if (!ctl->deferred || !ctl->controls)
		return -ENOMEM;
	r = sd_id128_randomize(&ctl->server_id);
	if (r < 0)
		return r;
	if (asprintf(&ctl->path, "%s/%s", runtime_dir, CONTROL_SOCKET_NAME) < 0) {
		ctl->path = NULL;
		return -ENOMEM;
	}
	r = listen_at(ctl->path);
	if (r < 0)
		return r;
	ctl->fd = r;
	r = sd_event_add_io(e, &ctl->io, ctl->fd, EPOLLIN, on_accept, ctl);
	if (r < 0)
		return r;
	agent_resources_set_reply_handler(ops->resources, on_deferred_reply, ctl);
	agent_resources_set_control_handler(ops->resources, on_control_answer, ctl);
	*ret = TAKE_PTR(ctl);
	return 0;
}

struct agent_control *agent_control_free(struct agent_control *ctl)
{
	if (!ctl)
		return NULL;
	if (ctl->ops && ctl->deferred) {
		agent_resources_set_reply_handler(ctl->ops->resources, NULL, NULL);
		agent_resources_set_control_handler(ctl->ops->resources, NULL, NULL);
	}
	for (size_t i = 0; i < ctl->n_deferred; i++) { /* the connections close next */
		if (ctl->deferred)
			sd_bus_message_unref(ctl->deferred[i].call);
		if (ctl->controls)
			sd_bus_message_unref(ctl->controls[i].call);
	}
	free(ctl->deferred);
	free(ctl->controls);
	while (ctl->conns)
		conn_free(ctl->conns);
	ctl->io = sd_event_source_disable_unref(ctl->io);
	if (ctl->fd >= 0 && ctl->path)
		(void) unlink(ctl->path);
	ctl->fd = safe_close(ctl->fd);
	free(ctl->path);
	sd_event_unref(ctl->event);
	free(ctl);
	return NULL;
}
