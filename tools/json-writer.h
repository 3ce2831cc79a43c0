/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small streaming JSON emitter for monitorctl's --json output: compact
 * (no whitespace), commas placed by the writer.  Strings are escaped per
 * RFC 8259: quote, backslash and control characters; valid UTF-8 passes
 * through, an invalid byte becomes U+FFFD.  The caller owns the FILE.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_writer {
	FILE *f;
	bool need_comma; /* a value was written at this level: the next one needs ',' */
};

void json_init(struct json_writer *j, FILE *f);

void json_object_begin(struct json_writer *j);
void json_object_end(struct json_writer *j);
void json_array_begin(struct json_writer *j);
void json_array_end(struct json_writer *j);

/* The key of the next member of the current object. */
void json_key(struct json_writer *j, const char *key);
void json_key_len(struct json_writer *j, const char *key, size_t len);

void json_string(struct json_writer *j, const char *s);
/* A string of exactly len bytes (may hold NULs, which are escaped). */
void json_string_len(struct json_writer *j, const char *s, size_t len);
void json_uint(struct json_writer *j, uint64_t v);
void json_int(struct json_writer *j, int64_t v);
void json_bool(struct json_writer *j, bool v);
void json_null(struct json_writer *j);
