/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * MS-CMRP property lists (PROPERTY_LIST, semantics.md §5.4): the parameters
 * of OfflineGroup, handed unchanged to the offline entry point of every
 * member that is Online.  Little-endian throughout:
 *
 *   u32 count
 *   count times:
 *     u32 syntax = PROPLIST_SYNTAX_NAME, u32 size, UTF-16LE name with its NUL,
 *         zero padding to a multiple of 4
 *     one or more values: u32 syntax, u32 size, data, zero padding to 4
 *     u32 PROPLIST_SYNTAX_ENDMARK
 *
 * and nothing after the last property.  hagentd validates a list once, up
 * front; monitorctl encodes KEY=VALUE pairs; libhamon lets an implementation
 * look a name up.  No allocation, no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROPLIST_SYNTAX_ENDMARK	      UINT32_C(0x00000000)
#define PROPLIST_SYNTAX_NAME	      UINT32_C(0x00040003) /* CLUSPROP_SYNTAX_NAME */
#define PROPLIST_SYNTAX_LIST_VALUE_SZ UINT32_C(0x00010003) /* CLUSPROP_SYNTAX_LIST_VALUE_SZ */
#define PROPLIST_SYNTAX_LIST_VALUE_DWORD UINT32_C(0x00010002) /* CLUSPROP_SYNTAX_LIST_VALUE_DWORD */

#define PROPLIST_NAME_MAX 255 /* UTF-8 bytes of a name, as decoded */

/*
 * 0 if buf[0..len) is exactly one well-formed list (len 0 is not: an empty
 * list is the 4 bytes of count 0).  Else -EINVAL, and *ret_offset (if not
 * NULL) is the offset of the first byte at fault and *ret_reason a static
 * English phrase ("count promises more properties than the list holds").
 * Names must be valid UTF-16 of 1..PROPLIST_NAME_MAX UTF-8 bytes,
 * NUL-terminated exactly at their size; values may hold any bytes.
 */
int proplist_validate(const void *buf, size_t len, size_t *ret_offset, const char **ret_reason);

/* One property as proplist_next() gives it: the name in UTF-8, the first value. */
struct proplist_entry {
	char name[PROPLIST_NAME_MAX + 1];
	uint32_t syntax; /* of the first value */
	const uint8_t *value;
	uint32_t value_size;
};

/*
 * Iterates a list: *offset starts at 0; returns 1 with *ret filled and
 * *offset advanced, 0 at the end, -EINVAL if the list is malformed.  The
 * call at offset 0 validates the whole list first, so any bytes are safe
 * to iterate, and the walk ends after at most len / 24 properties.
 */
int proplist_next(const void *buf, size_t len, size_t *offset, struct proplist_entry *ret);

/*
 * Encodes n KEY=VALUE strings (each value a LIST_VALUE_SZ, UTF-16LE) into
 * buf of size bytes; *ret_len gets the length.  -EINVAL: a pair without '=',
 * an empty key, a key or value that is not valid UTF-8, a key longer than
 * PROPLIST_NAME_MAX; -E2BIG: does not fit.
 */
int proplist_encode(const char *const *pairs, size_t n, void *buf, size_t size, size_t *ret_len);

/*
 * The first value of property name in buf[0..len) as NUL-terminated UTF-8
 * text in out: a LIST_VALUE_SZ as its string, a LIST_VALUE_DWORD in
 * decimal.  Names are compared ASCII-case-insensitively (bytes outside
 * ASCII exactly); the first property of that name counts.  Returns the
 * text's length; -ENOENT: no such property (len 0 is the empty list);
 * -EINVAL: the list, or that value (an SZ that is not NUL-terminated valid
 * UTF-16, a DWORD not 4 bytes), is malformed; -EOPNOTSUPP: a value of
 * another syntax; -ENOBUFS: out (size bytes) too small, left untouched.
 * libhamon exports it as hamon_params_get().
 */
int proplist_get(const void *buf, size_t len, const char *name, char *out, size_t size);
