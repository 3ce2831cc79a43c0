/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's commands that change something (but the group ones, in
 * monitorctl-group.c): each is one call of the control API, then its
 * output.  group add and resource add print the new id; resource online and
 * offline print the state reached ("pending" while the operation runs,
 * without --wait); the others (resource set, remove, add-dependency,
 * remove-dependency, group remove) print nothing.  With --json the output
 * is one JSON object on one line.
 */

#include <stdio.h>
#include <stdlib.h>

#include "control-api.h"
#include "json-writer.h"
#include "macro.h"
#include "monitorctl-control.h"
#include "monitorctl-output.h"
#include "monitorctl-wait.h"
#include "monitorctl.h"

#define ARG_NAME(a) ((a)->cmd[2]) /* after "group add", "resource online", ... */

/* The id of a new object: alone on a line, or {"name":...,"id":...}. */
static int print_added(const struct args *a, const char *name, const char *id)
{
	struct json_writer j;

	if (!a->json) {
		printf("%s\n", id);
		return output_flush();
	}
	json_init(&j, stdout);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, name);
	json_key(&j, "id");
	json_string(&j, id);
	json_object_end(&j);
	fputc('\n', stdout);
	return output_flush();
}

int cmd_group_add(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *id = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_group_add(bus, ARG_NAME(a), &id);
	return r == EXIT_OK ? print_added(a, ARG_NAME(a), id) : r;
}

int cmd_group_remove(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_group_remove(bus, ARG_NAME(a));
	return r;
}

int cmd_resource_add(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *id = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_resource_add(bus, ARG_NAME(a), a->group, a->type, a->sets.items,
					 a->sets.n, a->depends_on.items, a->depends_on.n, &id);
	return r == EXIT_OK ? print_added(a, ARG_NAME(a), id) : r;
}

int cmd_resource_remove(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_resource_remove(bus, ARG_NAME(a),
					    a->given & OPT_FORCE ? CONTROL_FLAG_FORCE : 0);
	return r;
}

int cmd_resource_set(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_resource_set(bus, ARG_NAME(a), a->cmd + 3, (size_t) a->n_cmd - 3);
	return r;
}

static int dependency_change(const struct args *a, bool add)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r != EXIT_OK)
		return r;
	if (add)
		return control_dependency_add(bus, ARG_NAME(a), a->cmd[3]);
	return control_dependency_remove(bus, ARG_NAME(a), a->cmd[3]);
}

static int rename_object(const struct args *a, bool group)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_rename(bus, group, ARG_NAME(a), a->cmd[3]);
	return r;
}

int cmd_group_rename(const struct args *a)
{
	return rename_object(a, true);
}

int cmd_resource_rename(const struct args *a)
{
	return rename_object(a, false);
}

int cmd_resource_add_dependency(const struct args *a)
{
	return dependency_change(a, true);
}

int cmd_resource_remove_dependency(const struct args *a)
{
	return dependency_change(a, false);
}

int print_state(const struct args *a, const struct control_result *res, const char *state_name,
		const uint8_t *id)
{
	bool pending = res->result == CONTROL_RESULT_IO_PENDING;
	struct json_writer j;
	char hex[ID_HEX_SIZE];

	if (!a->json) {
		printf("%s\n", pending ? "pending" : state_name);
		return output_flush();
	}
	json_init(&j, stdout);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, ARG_NAME(a));
	json_key(&j, "id");
	if (id) {
		id_to_hex(id, hex);
		json_string(&j, hex);
	} else {
		json_null(&j);
	}
	json_key(&j, "state");
	json_string(&j, state_name);
	json_key(&j, "sequence");
	json_uint(&j, res->state_seq);
	if (!(a->given & OPT_WAIT)) {
		json_key(&j, "pending");
		json_bool(&j, pending);
	}
	json_object_end(&j);
	fputc('\n', stdout);
	return output_flush();
}

/*
 * After the answer: with --wait and an operation running, wait for its end
 * (*res then describes the state reached; control_fd is the connection the
 * request went over, see resource_wait()); for --json, the record (its id).
 * *ret_have says whether *rec is filled.
 */
static int state_follow(const struct args *a, bool online, int control_fd,
			struct control_result *res, struct hagent_resource *rec, bool *ret_have)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	int r;

	*ret_have = false;
	if ((a->given & OPT_WAIT) && res->result == CONTROL_RESULT_IO_PENDING) {
		r = state_open(a->runtime_dir, &s);
		if (r != EXIT_OK)
			return r;
		r = resource_wait(s, ARG_NAME(a), online, res, a->timeout_ns, control_fd, rec);
		if (r != EXIT_OK)
			return r;
		*res = (struct control_result){
			.result = CONTROL_RESULT_SUCCESS,
			.state = rec->state,
			.state_seq = rec->state_seq,
		};
		*ret_have = true;
	} else if (a->json) {
		/* Only for the id: without a segment the change stands and the id is null. */
		if (hagent_shm_open(a->runtime_dir, &s) >= 0 &&
		    resource_lookup(s, ARG_NAME(a), rec) >= 0)
			*ret_have = true;
	}
	return EXIT_OK;
}

static int state_change(const struct args *a, bool online)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	struct hagent_resource rec;
	struct control_result res;
	bool have;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r != EXIT_OK)
		return r;
	if (online)
		r = control_resource_online(bus, ARG_NAME(a), &res);
	else
		r = control_resource_offline(bus, ARG_NAME(a),
					     a->given & OPT_FORCE ? CONTROL_FLAG_FORCE : 0, &res);
	if (r != EXIT_OK)
		return r;
	/* The wait reads the segment; the connection stays open, to see the agent exit. */
	r = state_follow(a, online, sd_bus_get_fd(bus), &res, &rec, &have);
	if (r != EXIT_OK)
		return r;
	return print_state(a, &res, resource_state_name(res.state), have ? rec.id : NULL);
}

int cmd_resource_online(const struct args *a)
{
	return state_change(a, true);
}

int cmd_resource_offline(const struct args *a)
{
	return state_change(a, false);
}
