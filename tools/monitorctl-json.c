/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl --json: status and show as one JSON document on one line.
 * status: {"groups":[{"name","id","state","sequence","failover_count",
 * "persistent_state","resources":[...]}]}, a resource being {"name","id",
 * "group","type","state","sequence","checkpoint","wait_hint","locked",
 * "monitor_pid","restart_count","dependencies"}; "ungrouped" lists
 * resources of no group, only when there are any (the agent leaves none).
 * show: {"group":{...},"resource":{...}}, whichever exist, each with
 * everything the segment holds about it.
 */

#include <string.h>

#include "json-writer.h"
#include "monitorctl-output.h"

static void id_put(struct json_writer *j, const uint8_t id[HAGENT_ID_SIZE])
{
	char hex[ID_HEX_SIZE];

	id_to_hex(id, hex);
	json_key(j, "id");
	json_string(j, hex);
}

/* The members of a resource object that status and show share; the object stays open. */
static void resource_fields(struct json_writer *j, const struct hagent_resource *r,
			    const char *group)
{
	json_key(j, "name");
	json_string(j, r->name);
	id_put(j, r->id);
	json_key(j, "group");
	if (group && group[0])
		json_string(j, group);
	else
		json_null(j);
	json_key(j, "type");
	json_string(j, r->type);
	json_key(j, "state");
	json_string(j, resource_state_name(r->state));
	json_key(j, "sequence");
	json_uint(j, r->state_seq);
	json_key(j, "checkpoint");
	json_uint(j, r->checkpoint);
	json_key(j, "wait_hint");
	json_uint(j, r->wait_hint_ms);
	json_key(j, "locked");
	json_bool(j, r->flags & HAGENT_RESOURCE_LOCKED);
	json_key(j, "monitor_pid");
	json_int(j, r->monitor_pid);
	json_key(j, "restart_count");
	json_uint(j, r->restart_count);
}

/* "dependencies": the providers' names, null for one deleted meanwhile. */
static void dependencies_put(struct json_writer *j, const struct name_list *deps)
{
	json_key(j, "dependencies");
	json_array_begin(j);
	for (size_t i = 0; deps && i < deps->n; i++)
		if (deps->names[i][0])
			json_string(j, deps->names[i]);
		else
			json_null(j);
	json_array_end(j);
}

/* A resource as status lists it; deps NULL: without "dependencies". */
static void resource_short(struct json_writer *j, const struct hagent_resource *r,
			   const char *group, const struct name_list *deps)
{
	json_object_begin(j);
	resource_fields(j, r, group);
	if (deps)
		dependencies_put(j, deps);
	json_object_end(j);
}

/* The members of a group object that status and show share; the object stays open. */
static void group_fields(struct json_writer *j, const struct hagent_group *g)
{
	json_key(j, "name");
	json_string(j, g->name);
	id_put(j, g->id);
	json_key(j, "state");
	json_string(j, group_state_name(g->state));
	json_key(j, "sequence");
	json_uint(j, g->state_seq);
	json_key(j, "failover_count");
	json_uint(j, g->failover_count);
	json_key(j, "persistent_state");
	json_int(j, g->persistent_state);
	json_key(j, "waiting");
	json_bool(j, (g->flags & HAGENT_GROUP_WAITING) != 0);
}

static void provider_groups_put(struct json_writer *j, const struct name_list *l)
{
	json_key(j, "provider_groups");
	json_array_begin(j);
	for (size_t i = 0; i < l->n; i++)
		json_string(j, l->names[i]);
	json_array_end(j);
}

void status_print_json(FILE *f, const struct status_view *v)
{
	struct json_writer j;

	json_init(&j, f);
	json_object_begin(&j);
	json_key(&j, "groups");
	json_array_begin(&j);
	for (size_t i = 0; i < v->table->n_groups; i++) {
		const struct status_group *sg = &v->groups[i];

		json_object_begin(&j);
		group_fields(&j, sg->group);
		provider_groups_put(&j, &sg->provider_groups);
		json_key(&j, "resources");
		json_array_begin(&j);
		for (size_t k = 0; k < sg->n_members; k++)
			resource_short(&j, sg->members[k], sg->group->name,
				       sg->deps ? sg->deps[k] : NULL);
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	if (v->n_ungrouped) {
		json_key(&j, "ungrouped");
		json_array_begin(&j);
		for (size_t k = 0; k < v->n_ungrouped; k++)
			resource_short(&j, v->ungrouped[k], NULL, v->ungrouped_deps[k]);
		json_array_end(&j);
	}
	json_object_end(&j);
	fputc('\n', f);
}

/* A "key=value\0" list as an object; an entry without '=' has the value "". */
static void properties_put(struct json_writer *j, const struct blob *b)
{
	const char *p = b->data, *end = b->data + b->len;

	json_key(j, "properties");
	json_object_begin(j);
	while (b->data && p < end) {
		const char *entry = p, *eq = strchr(entry, '=');

		p += strlen(entry) + 1; /* data is NUL-terminated past len */
		if (!*entry)
			continue;
		json_key_len(j, entry, eq ? (size_t) (eq - entry) : strlen(entry));
		json_string(j, eq ? eq + 1 : "");
	}
	json_object_end(j);
}

static void resource_full(struct json_writer *j, const struct resource_view *v)
{
	const struct hagent_resource *r = &v->r;

	json_object_begin(j);
	resource_fields(j, r, v->group);
	json_key(j, "last_error");
	json_int(j, r->last_error);
	json_key(j, "persistent_state");
	json_int(j, r->persistent_state);
	json_key(j, "state_change_ns");
	json_uint(j, r->state_change_ns);
	json_key(j, "pending_deadline_ns");
	json_uint(j, r->pending_deadline_ns);
	dependencies_put(j, &v->deps);
	properties_put(j, &v->properties);
	json_object_end(j);
}

static void group_full(struct json_writer *j, const struct group_view *v)
{
	const struct hagent_group *g = &v->g;

	json_object_begin(j);
	group_fields(j, g);
	json_key(j, "state_change_ns");
	json_uint(j, g->state_change_ns);
	json_key(j, "dependency_expression");
	if (v->dependency_expression.data)
		json_string_len(j, v->dependency_expression.data, v->dependency_expression.len);
	else
		json_null(j);
	provider_groups_put(j, &v->provider_groups);
	properties_put(j, &v->properties);
	json_key(j, "resources");
	json_array_begin(j);
	for (size_t i = 0; i < v->n_members; i++)
		resource_short(j, &v->members[i], g->name, v->deps ? &v->deps[i] : NULL);
	json_array_end(j);
	json_object_end(j);
}

void show_print_json(FILE *f, const struct group_view *g, const struct resource_view *r)
{
	struct json_writer j;

	json_init(&j, f);
	json_object_begin(&j);
	if (g) {
		json_key(&j, "group");
		group_full(&j, g);
	}
	if (r) {
		json_key(&j, "resource");
		resource_full(&j, r);
	}
	json_object_end(&j);
	fputc('\n', f);
}
