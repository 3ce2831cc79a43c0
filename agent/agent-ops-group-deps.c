/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SetGroupDependencyExpression (semantics.md §6, seed 003): parse the
 * expression (common/group-expr.h), resolve each reference to a group (exact
 * id first, then name, case-insensitive), refuse self references and cycles,
 * store the result by group id, durable before the reply, then let the group
 * layer order starts and stops by it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent-ops-internal.h"
#include "agent-publish.h"
#include "control-api.h"
#include "group-expr.h"
#include "log.h"

#define ID_HEX_LEN (SHM_ID_SIZE * 2)

/* The group a reference names: exact id, else a case-insensitive name; -ENOENT. */
static ssize_t ref_find(const struct agent_model *m, const struct group_expr_ref *ref)
{
	char hex[ID_HEX_LEN + 1];

	if (ref->len == ID_HEX_LEN)
		for (size_t i = 0; i < m->n_groups; i++) {
			if (!m->groups[i].used)
				continue;
			agent_model_id_hex(m->groups[i].id, hex);
			if (memcmp(hex, ref->text, ID_HEX_LEN) == 0)
				return (ssize_t) i;
		}
	for (size_t i = 0; i < m->n_groups; i++) {
		const char *name = m->groups[i].name;

		if (m->groups[i].used && strlen(name) == ref->len &&
		    strncasecmp(name, ref->text, ref->len) == 0)
			return (ssize_t) i;
	}
	return -ENOENT;
}

/*
 * Does group from depend on group to, directly or not?  If so, path[0..*n)
 * is the chain from -> ... -> to.  Depth-first over the model's edges; seen
 * (n_groups entries) is the caller's scratch.
 */
static bool reaches(const struct agent_model *m, size_t from, size_t to, bool *seen, size_t *path,
		    size_t *n)
{
	const struct agent_group *g = &m->groups[from];

	path[(*n)++] = from;
	if (from == to)
		return true;
	seen[from] = true;
	for (size_t k = 0; k < g->n_providers; k++)
		if (!seen[g->providers[k]] && reaches(m, g->providers[k], to, seen, path, n))
			return true;
	(*n)--;
	return false;
}

static int expr_fail(sd_bus_error *err, const char *group, size_t pos, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

static int expr_fail(sd_bus_error *err, const char *group, size_t pos, const char *format, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, format);
	vsnprintf(reason, sizeof(reason), format, ap);
	va_end(ap);
	return ops_fail(err, CONTROL_ERROR_INVALID_ARGUMENT,
			"Dependency expression of group '%s', at byte %zu: %s.", group, pos,
			reason);
}

/* "B → C → A" for a cycle message. */
static void path_text(const struct agent_model *m, const size_t *path, size_t n, char *buf,
		      size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++) {
		int k = snprintf(buf + len, size - len, "%s%s", i ? " -> " : "",
				 m->groups[path[i]].name);

		if (k < 0)
			break;
		len += (size_t) k;
	}
}

/* Resolves e for group gi: providers (no duplicates) into ret[0..*ret_n), or an error. */
static int expr_resolve(struct agent_ops *o, size_t gi, const struct group_expr *e, size_t *ret,
			size_t *ret_n, sd_bus_error *err)
{
	const struct agent_model *m = o->model;
	const char *name = m->groups[gi].name;
	_cleanup_free_ bool *seen = NULL;
	_cleanup_free_ size_t *path = NULL;
	size_t n = 0;

	seen = calloc(m->n_groups ?: 1, sizeof(*seen));
	path = calloc(m->n_groups ?: 1, sizeof(*path));
	if (!seen || !path)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t i = 0; i < e->n_refs; i++) {
		const struct group_expr_ref *ref = &e->refs[i];
		ssize_t p = ref_find(m, ref);
		size_t len = 0;
		bool dup = false;
		char chain[1024];

		if (p < 0)
			return expr_fail(err, name, ref->pos, "no group '%.*s'",
					 (int) (ref->len < 256 ? ref->len : 256), ref->text);
		if ((size_t) p == gi)
			return expr_fail(err, name, ref->pos, "a group cannot depend on itself");
		for (size_t k = 0; k < n; k++)
			dup = dup || ret[k] == (size_t) p;
		if (dup)
			continue; /* "{[B] and [C]} and [B]" is {B, C} (scenario 57) */
		memset(seen, 0, m->n_groups * sizeof(*seen));
		if (reaches(m, (size_t) p, gi, seen, path, &len)) {
			path_text(m, path, len, chain, sizeof(chain));
			return expr_fail(err, name, ref->pos,
					 "group '%s' already depends on '%s' (%s), which would "
					 "make a cycle",
					 m->groups[p].name, name, chain);
		}
		ret[n++] = (size_t) p;
	}
	*ret_n = n;
	return 0;
}

/* The stored form: "[id] and [id]", "" for none. */
static char *expr_stored(const struct agent_model *m, const size_t *providers, size_t n)
{
	char *s = calloc(n * (ID_HEX_LEN + 7) + 1, 1), *p = s;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char hex[ID_HEX_LEN + 1];

		agent_model_id_hex(m->groups[providers[i]].id, hex);
		p += sprintf(p, "%s[%s]", i ? " and " : "", hex);
	}
	return s;
}

int agent_ops_group_set_deps(struct agent_ops *o, const char *name, const char *expr,
			     char **ret_stored, sd_bus_error *err)
{
	_cleanup_(group_expr_done) struct group_expr e = {};
	_cleanup_free_ const char **ids = NULL;
	_cleanup_free_ char *stored = NULL, *hexes = NULL;
	_cleanup_free_ size_t *providers = NULL;
	const char *reason = NULL;
	size_t gi = 0, n = 0, pos = 0, bad = 0;
	const char *gname;
	int r;

	r = ops_ready_group(o, name, &gi, err);
	if (r < 0)
		return r;
	gname = o->model->groups[gi].name;
	r = group_expr_parse(expr, strlen(expr), &e, &pos, &reason);
	if (r == -ENOMEM)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	if (r < 0)
		return expr_fail(err, gname, pos, "%s", reason ?: "invalid");
	providers = calloc(e.n_refs ?: 1, sizeof(*providers));
	if (!providers)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	r = expr_resolve(o, gi, &e, providers, &n, err);
	if (r < 0)
		return r;
	stored = expr_stored(o->model, providers, n);
	ids = calloc(n ?: 1, sizeof(*ids));
	hexes = calloc(n ?: 1, ID_HEX_LEN + 1);
	if (!stored || !ids || !hexes)
		return ops_fail(err, CONTROL_ERROR_FAILED, "Out of memory.");
	for (size_t i = 0; i < n; i++) {
		agent_model_id_hex(o->model->groups[providers[i]].id, hexes + i * (ID_HEX_LEN + 1));
		ids[i] = hexes + i * (ID_HEX_LEN + 1);
	}
	r = config_store_group_set_deps(o->store, gname, stored, ids, n, &bad);
	if (r == -ENOENT || r == -ELOOP || r == -EINVAL) /* checked above: the two disagree */
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Group '%s': the configuration database does not match hagentd's "
				"state (%s, at group '%s').",
				gname, strerror(-r),
				bad < n ? o->model->groups[providers[bad]].name : "?");
	if (r < 0)
		return ops_store_fail(err, r, "Group", gname);
	r = agent_model_group_set_deps(o->model, gi, stored, providers, n);
	if (r < 0) /* committed, but not applied: the next start applies it */
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"Group '%s': the dependency expression is stored but could not be "
				"applied now: %s.",
				gname, strerror(-r));
	if (n == 0)
		log_info("Group %s: no group dependencies now.", gname);
	else
		log_info("Group %s: depends on %zu group%s now (%s).", gname, n, n == 1 ? "" : "s",
			 expr);
	agent_groups_group_deps_changed(o->groups, gi);
	*ret_stored = TAKE_PTR(stored);
	return 0;
}

/* ---- renames ---- */

static int rename_fail(sd_bus_error *err, int r, const char *kind, const char *name,
		       const char *new_name)
{
	switch (r) {
	case -EEXIST:
		return ops_fail(err, CONTROL_ERROR_EXISTS, "%s '%s' cannot be renamed: '%s' is taken.",
				kind, name, new_name);
	case -ENOENT:
		return ops_fail(err, CONTROL_ERROR_FAILED,
				"%s '%s': the configuration database does not match hagentd's "
				"state (not there).",
				kind, name);
	default:
		return ops_store_fail(err, r, kind, name);
	}
}

/* RenameGroup (group) or RenameResource. */
static int rename_object(struct agent_ops *o, bool group, const char *name, const char *new_name,
			 sd_bus_error *err)
{
	const char *kind = group ? "Group" : "Resource";
	char old[SHM_NAME_MAX], *model_name;
	ssize_t other;
	size_t i = 0;
	int r;

	r = group ? ops_ready_group(o, name, &i, err) : ops_ready_resource(o, name, &i, err);
	if (r >= 0)
		r = ops_check_name(group ? "group" : "resource", new_name, err);
	if (r < 0)
		return r;
	model_name = group ? o->model->groups[i].name : o->model->resources[i].name;
	snprintf(old, sizeof(old), "%s", model_name);
	other = group ? agent_model_group_find(o->model, new_name)
		      : agent_model_resource_find(o->model, new_name);
	if (other >= 0 && (size_t) other != i)
		return rename_fail(err, -EEXIST, kind, old, new_name);
	r = group ? config_store_group_rename(o->store, old, new_name)
		  : config_store_resource_rename(o->store, old, new_name);
	if (r < 0)
		return rename_fail(err, r, kind, old, new_name);
	snprintf(model_name, SHM_NAME_MAX, "%s", new_name);
	log_info("%s %s: renamed to %s.", kind, old, new_name);
	if (group) {
		agent_groups_props_changed(o->groups, i); /* the record, GROUP_PROPERTY */
		return 0;
	}
	agent_resources_begin(o->resources);
	agent_resources_republish(o->resources, i, AGENT_CHANGE_RESOURCE_PROPERTY);
	agent_resources_end(o->resources);
	return 0;
}

int agent_ops_group_rename(struct agent_ops *o, const char *name, const char *new_name,
			   sd_bus_error *err)
{
	return rename_object(o, true, name, new_name, err);
}

int agent_ops_resource_rename(struct agent_ops *o, const char *name, const char *new_name,
			      sd_bus_error *err)
{
	return rename_object(o, false, name, new_name, err);
}
