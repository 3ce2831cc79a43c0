/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control API's client end: connect to control.sock, call a method,
 * and turn a refusal into monitorctl's exit code.  The exit code comes from
 * the D-Bus error name, not from the errno it maps to: ResourceLocked (5)
 * and InvalidState (1) are both EBUSY.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-api.h"
#include "macro.h"
#include "monitorctl-control.h"
#include "monitorctl.h"

#define USEC_PER_SEC UINT64_C(1000000)

/* The exit code of each error of the contract (docs/control-api.md, "Errors"). */
static const struct {
	const char *name;
	int code;
} error_codes[] = {
	{CONTROL_ERROR_INVALID_ARGUMENT, EXIT_INVALID_ARGUMENT},
	{CONTROL_ERROR_OUT_OF_RANGE, EXIT_INVALID_ARGUMENT},
	{CONTROL_ERROR_TOO_BIG, EXIT_INVALID_ARGUMENT},
	{CONTROL_ERROR_NOT_FOUND, EXIT_NOT_FOUND},
	{CONTROL_ERROR_ACCESS_DENIED, EXIT_ACCESS_DENIED},
	{CONTROL_ERROR_RESOURCE_LOCKED, EXIT_RESOURCE_LOCKED},
	{CONTROL_ERROR_INVALID_STATE, EXIT_FAIL},
	{CONTROL_ERROR_RESOURCE_ONLINE, EXIT_FAIL},
	{CONTROL_ERROR_RESOURCE_FAILED, EXIT_FAIL},
	{CONTROL_ERROR_EXISTS, EXIT_FAIL},
	{CONTROL_ERROR_NOT_EMPTY, EXIT_FAIL},
	{CONTROL_ERROR_BUSY, EXIT_FAIL},
	{CONTROL_ERROR_FULL, EXIT_FAIL},
	{CONTROL_ERROR_NOT_READY, EXIT_FAIL},
	{CONTROL_ERROR_FAILED, EXIT_FAIL},
	{CONTROL_ERROR_CIRCULAR_DEPENDENCY, EXIT_INVALID_ARGUMENT},
	{CONTROL_ERROR_TREE_TOO_COMPLEX, EXIT_INVALID_ARGUMENT},
	{CONTROL_ERROR_DEPENDENTS_EXIST, EXIT_FAIL},
};

/* "unix:path=" and path, with the bytes a D-Bus address may not hold raw as %XX. */
static char *address_new(const char *path)
{
	static const char hex[] = "0123456789abcdef";
	static const char prefix[] = "unix:path=";
	char *a = malloc(sizeof(prefix) + strlen(path) * 3), *p;

	if (!a)
		return NULL;
	p = stpcpy(a, prefix);
	for (const unsigned char *c = (const unsigned char *) path; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("-_/.", *c)) {
			*p++ = (char) *c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 0xf];
		}
	}
	*p = '\0';
	return a;
}

static int open_failed(const char *runtime_dir, int r)
{
	switch (r) {
	case -ENOENT:
	case -ENOTDIR:
	case -ECONNREFUSED:
		fprintf(stderr, "monitorctl: hagentd is not running (no control socket in %s)\n",
			runtime_dir);
		return EXIT_NOT_RUNNING;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "monitorctl: cannot connect to %s/" CONTROL_SOCKET_NAME ": %s\n",
			runtime_dir, strerror(-r));
		return EXIT_ACCESS_DENIED;
	default:
		fprintf(stderr, "monitorctl: cannot connect to %s/" CONTROL_SOCKET_NAME ": %s\n",
			runtime_dir, strerror(-r));
		return EXIT_FAIL;
	}
}

int control_open(const char *runtime_dir, sd_bus **ret)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *path = NULL, *address = NULL;
	int r;

	r = sd_bus_error_add_map(control_error_map);
	if (r < 0)
		return open_failed(runtime_dir, r);
	if (asprintf(&path, "%s/%s", runtime_dir, CONTROL_SOCKET_NAME) < 0) {
		path = NULL;
		return open_failed(runtime_dir, -ENOMEM);
	}
	address = address_new(path);
	if (!address)
		return open_failed(runtime_dir, -ENOMEM);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, CONTROL_CALL_TIMEOUT_SEC * USEC_PER_SEC);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0)
		return open_failed(runtime_dir, r);
	*ret = TAKE_PTR(bus);
	return EXIT_OK;
}

/*
 * Says why "<what> '<name>'" failed: the agent's message for an error of the
 * contract, else the D-Bus error's message or the local errno.
 */
static int call_failed(const char *what, const char *name, int r, const sd_bus_error *e)
{
	const char *reason = e->message && *e->message ? e->message : strerror(-r);

	for (size_t i = 0; i < ELEMENTSOF(error_codes); i++) {
		if (!sd_bus_error_has_name(e, error_codes[i].name))
			continue;
		if (e->message && *e->message)
			fprintf(stderr, "monitorctl: %s\n", e->message);
		else
			fprintf(stderr, "monitorctl: cannot %s '%s': %s\n", what, name, e->name);
		return error_codes[i].code;
	}
	switch (r) {
	case -ETIMEDOUT:
		fprintf(stderr, "monitorctl: cannot %s '%s': hagentd did not answer within %d s\n",
			what, name, CONTROL_CALL_TIMEOUT_SEC);
		return EXIT_FAIL;
	case -ECONNRESET:
	case -ENOTCONN:
	case -EPIPE:
		fprintf(stderr, "monitorctl: cannot %s '%s': hagentd closed the connection\n", what,
			name);
		return EXIT_FAIL;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "monitorctl: cannot %s '%s': %s\n", what, name, reason);
		return EXIT_ACCESS_DENIED;
	default:
		fprintf(stderr, "monitorctl: cannot %s '%s': %s\n", what, name, reason);
		return EXIT_FAIL;
	}
}

static int message_new(sd_bus *bus, const char *method, sd_bus_message **ret)
{
	return sd_bus_message_new_method_call(bus, ret, NULL, CONTROL_OBJECT_PATH,
					      CONTROL_INTERFACE, method);
}

/* Appends props as the contract's a(ss). */
static int props_append(sd_bus_message *m, char *const *props, size_t n_props)
{
	int r;

	r = sd_bus_message_open_container(m, 'a', "(ss)");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_props; i++) {
		const char *eq = strchr(props[i], '=');
		_cleanup_free_ char *key = NULL;

		if (!eq || eq == props[i])
			return -EINVAL; /* the command line was checked: cannot happen */
		key = strndup(props[i], (size_t) (eq - props[i]));
		if (!key)
			return -ENOMEM;
		r = sd_bus_message_append(m, "(ss)", key, eq + 1);
		if (r < 0)
			return r;
	}
	return sd_bus_message_close_container(m);
}

/* Appends names as the contract's as. */
static int names_append(sd_bus_message *m, char *const *names, size_t n)
{
	int r;

	r = sd_bus_message_open_container(m, 'a', "s");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(m, "s", names[i]);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(m);
}

/* Sends m; *ret_reply (may be NULL) gets the answer.  what and name describe the request. */
static int call(sd_bus *bus, sd_bus_message *m, const char *what, const char *name,
		sd_bus_message **ret_reply)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_call(bus, m, 0, &e, ret_reply);
	if (r < 0)
		return call_failed(what, name, r, &e);
	return EXIT_OK;
}

/* A request we could not even build, or an answer we cannot read. */
static int local_failed(const char *what, const char *name, const char *step, int r)
{
	fprintf(stderr, "monitorctl: cannot %s '%s': %s: %s\n", what, name, step, strerror(-r));
	return EXIT_FAIL;
}

/* Reads a reply "s id" into a copy the caller owns. */
static int id_read(sd_bus_message *reply, const char *what, const char *name, char **ret_id)
{
	const char *id;
	char *copy;
	int r;

	r = sd_bus_message_read(reply, "s", &id);
	if (r < 0)
		return local_failed(what, name, "reading the answer", r);
	copy = strdup(id);
	if (!copy)
		return local_failed(what, name, "reading the answer", -ENOMEM);
	*ret_id = copy;
	return EXIT_OK;
}

int control_group_add(sd_bus *bus, const char *name, char **ret_id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	static const char what[] = "add group";
	int r;

	r = message_new(bus, "AddGroup", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	r = call(bus, m, what, name, &reply);
	if (r != EXIT_OK)
		return r;
	return id_read(reply, what, name, ret_id);
}

int control_group_set_deps(sd_bus *bus, const char *name, const char *expr, char **ret_stored)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	static const char what[] = "set the dependency expression of group";
	int r;

	r = message_new(bus, "SetGroupDependencyExpression", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", name, expr);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	r = call(bus, m, what, name, &reply);
	if (r != EXIT_OK)
		return r;
	return id_read(reply, what, name, ret_stored); /* one string, as AddGroup's id */
}

int control_group_remove(sd_bus *bus, const char *name)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	static const char what[] = "remove group";
	int r;

	r = message_new(bus, "RemoveGroup", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	return call(bus, m, what, name, NULL);
}

int control_resource_add(sd_bus *bus, const char *name, const char *group, const char *type,
			 char *const *props, size_t n_props, char *const *depends_on,
			 size_t n_depends_on, char **ret_id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	static const char what[] = "add resource";
	int r;

	r = message_new(bus, "AddResource", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "sss", name, group, type);
	if (r >= 0)
		r = props_append(m, props, n_props);
	if (r >= 0)
		r = names_append(m, depends_on, n_depends_on);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	r = call(bus, m, what, name, &reply);
	if (r != EXIT_OK)
		return r;
	return id_read(reply, what, name, ret_id);
}

int control_resource_remove(sd_bus *bus, const char *name, uint32_t flags)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	static const char what[] = "remove resource";
	int r;

	r = message_new(bus, "RemoveResource", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "su", name, flags);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	return call(bus, m, what, name, NULL);
}

int control_resource_set(sd_bus *bus, const char *name, char *const *props, size_t n_props)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	static const char what[] = "set properties of resource";
	int r;

	r = message_new(bus, "SetResourceProperties", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r >= 0)
		r = props_append(m, props, n_props);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	return call(bus, m, what, name, NULL);
}

/* AddResourceDependency or RemoveResourceDependency. */
static int dependency_change(sd_bus *bus, const char *method, const char *what,
			     const char *dependent, const char *provider)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r;

	r = message_new(bus, method, &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", dependent, provider);
	if (r < 0)
		return local_failed(what, dependent, "building the request", r);
	return call(bus, m, what, dependent, NULL);
}

int control_rename(sd_bus *bus, bool group, const char *name, const char *new_name)
{
	return dependency_change(bus, group ? "RenameGroup" : "RenameResource",
				 group ? "rename group" : "rename resource", name, new_name);
}

int control_dependency_add(sd_bus *bus, const char *dependent, const char *provider)
{
	return dependency_change(bus, "AddResourceDependency", "add a dependency to resource",
				 dependent, provider);
}

int control_dependency_remove(sd_bus *bus, const char *dependent, const char *provider)
{
	return dependency_change(bus, "RemoveResourceDependency", "remove a dependency of resource",
				 dependent, provider);
}

int control_group_set(sd_bus *bus, const char *name, char *const *props, size_t n_props)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	static const char what[] = "set properties of group";
	int r;

	r = message_new(bus, "SetGroupProperties", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r >= 0)
		r = props_append(m, props, n_props);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	return call(bus, m, what, name, NULL);
}

/* The optional arguments after the name of a state change. */
struct change_args {
	const uint32_t *flags; /* NULL: the method takes none */
	const void *params;    /* with has_params: ay */
	size_t params_len;
	bool has_params;
};

/*
 * OnlineResource, OfflineResource, OnlineGroup or OfflineGroup: the request,
 * then (u result, i state, u state_seq).
 */
static int state_change(sd_bus *bus, const char *method, const char *what, const char *name,
			const struct change_args *args, struct control_result *ret)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	struct control_result res;
	int r;

	r = message_new(bus, method, &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r >= 0 && args->flags)
		r = sd_bus_message_append(m, "u", *args->flags);
	if (r >= 0 && args->has_params)
		r = sd_bus_message_append_array(m, 'y', args->params, args->params_len);
	if (r < 0)
		return local_failed(what, name, "building the request", r);
	r = call(bus, m, what, name, &reply);
	if (r != EXIT_OK)
		return r;
	r = sd_bus_message_read(reply, "uiu", &res.result, &res.state, &res.state_seq);
	if (r < 0)
		return local_failed(what, name, "reading the answer", r);
	if (res.result != CONTROL_RESULT_SUCCESS && res.result != CONTROL_RESULT_IO_PENDING) {
		fprintf(stderr, "monitorctl: cannot %s '%s': hagentd answered result %u\n", what,
			name, res.result);
		return EXIT_FAIL;
	}
	*ret = res;
	return EXIT_OK;
}

int control_resource_online(sd_bus *bus, const char *name, struct control_result *ret)
{
	return state_change(bus, "OnlineResource", "online resource", name, &(struct change_args){},
			    ret);
}

int control_resource_offline(sd_bus *bus, const char *name, uint32_t flags,
			     struct control_result *ret)
{
	return state_change(bus, "OfflineResource", "offline resource", name,
			    &(struct change_args){.flags = &flags}, ret);
}

int control_group_online(sd_bus *bus, const char *name, struct control_result *ret)
{
	uint32_t flags = 0;

	return state_change(bus, "OnlineGroup", "online group", name,
			    &(struct change_args){.flags = &flags}, ret);
}

int control_group_offline(sd_bus *bus, const char *name, uint32_t flags, const void *params,
			  size_t params_len, struct control_result *ret)
{
	return state_change(bus, "OfflineGroup", "offline group", name,
			    &(struct change_args){.flags = &flags,
						  .params = params,
						  .params_len = params_len,
						  .has_params = true},
			    ret);
}
