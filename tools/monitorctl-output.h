/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How monitorctl prints what it read: state names, object ids, the status
 * table and the show listing, for people (aligned columns, "key: value"
 * lines, control characters escaped) and for programs (--json, one line).
 * Nothing here reads the segment; the caller owns the FILE and the views.
 */

#include <stdint.h>
#include <stdio.h>

#include "hagent/shm.h"
#include "monitorctl-state.h"

#define ID_HEX_SIZE (HAGENT_ID_SIZE * 2 + 1)

/* "online", "offline-pending", ...; "unknown" for a value outside the enum. */
const char *resource_state_name(int32_t state);
const char *group_state_name(int32_t state);

/* "a, b" (a deleted provider is "(deleted)"), malloc()ed; NULL: out of memory. */
char *name_list_join(const struct name_list *l);

/* 32 lower-case hex digits and a NUL. */
void id_to_hex(const uint8_t id[HAGENT_ID_SIZE], char ret[ID_HEX_SIZE]);

int status_print(FILE *f, const struct status_view *v);
void status_print_json(FILE *f, const struct status_view *v);

/* The human forms return -ENOMEM when they could not lay out the table. */

/* show NAME: the group and/or the resource of that name (either may be NULL). */
int show_print(FILE *f, const struct group_view *g, const struct resource_view *r);
void show_print_json(FILE *f, const struct group_view *g, const struct resource_view *r);
