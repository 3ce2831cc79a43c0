/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What monitorctl's read-only commands print, gathered from the state
 * segment before anything is printed: the whole table for status, one
 * resource or group with its blobs for show.  The caller owns each view and
 * frees it with its _free().  All functions return 0 or a negative errno
 * (-ENOENT: no such object).
 */

#include <stddef.h>

#include "hagent/shm.h"
#include "macro.h"

/* A resource's providers (its dependencies blob), by name; "" for one deleted meanwhile. */
struct name_list {
	char (*names)[HAGENT_NAME_MAX];
	size_t n;
};

/* One group of the table with its members, in the order of its member list. */
struct status_group {
	const struct hagent_group *group;
	const struct hagent_resource **members;
	const struct name_list **deps; /* the providers of members[i] */
	size_t n_members;
	struct name_list provider_groups; /* the groups its dependency expression names */
};

/* The whole table as of one commit. */
struct status_view {
	struct hagent_shm_table *table;
	struct name_list *deps;	     /* the providers of table->resources[k] */
	struct status_group *groups; /* table->n_groups entries */
	/* Resources whose group is not in the table (the agent never leaves any). */
	const struct hagent_resource **ungrouped;
	const struct name_list **ungrouped_deps;
	size_t n_ungrouped;
};

int status_view_read(hagent_shm *s, struct status_view **ret);
struct status_view *status_view_free(struct status_view *v);
/* Name of the group at slot in v, or NULL. */
const char *status_view_group_name(const struct status_view *v, uint32_t slot);

/* A blob's bytes, NUL-terminated for convenience; data is NULL when the blob is unset. */
struct blob {
	char *data;
	size_t len;
};

struct resource_view {
	struct hagent_resource r;
	char group[HAGENT_NAME_MAX]; /* "" if the group is gone */
	struct blob properties;	     /* "key=value\0" list */
	struct name_list deps;
};

int resource_view_read(hagent_shm *s, const char *name, struct resource_view **ret);
struct resource_view *resource_view_free(struct resource_view *v);

struct group_view {
	struct hagent_group g;
	struct hagent_resource *members;
	struct name_list *deps; /* the providers of members[i] */
	size_t n_members;
	struct blob properties;
	struct blob dependency_expression;
	struct name_list provider_groups;
};

int group_view_read(hagent_shm *s, const char *name, struct group_view **ret);
struct group_view *group_view_free(struct group_view *v);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct status_view *, status_view_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct resource_view *, resource_view_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct group_view *, group_view_free);
