/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON emitter behind monitorctl --json.
 */

#include <inttypes.h>
#include <string.h>

#include "json-writer.h"

void json_init(struct json_writer *j, FILE *f)
{
	*j = (struct json_writer){.f = f};
}

static void value_begin(struct json_writer *j)
{
	if (j->need_comma)
		fputc(',', j->f);
}

void json_object_begin(struct json_writer *j)
{
	value_begin(j);
	fputc('{', j->f);
	j->need_comma = false;
}

void json_object_end(struct json_writer *j)
{
	fputc('}', j->f);
	j->need_comma = true;
}

void json_array_begin(struct json_writer *j)
{
	value_begin(j);
	fputc('[', j->f);
	j->need_comma = false;
}

void json_array_end(struct json_writer *j)
{
	fputc(']', j->f);
	j->need_comma = true;
}

void json_key_len(struct json_writer *j, const char *key, size_t len)
{
	json_string_len(j, key, len);
	fputc(':', j->f);
	j->need_comma = false;
}

void json_key(struct json_writer *j, const char *key)
{
	json_key_len(j, key, strlen(key));
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 if
 * there is none: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void escape_ascii(FILE *f, unsigned char c)
{
	switch (c) {
	case '"':
		fputs("\\\"", f);
		break;
	case '\\':
		fputs("\\\\", f);
		break;
	case '\b':
		fputs("\\b", f);
		break;
	case '\f':
		fputs("\\f", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	default:
		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

void json_string_len(struct json_writer *j, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t i = 0, n;

	value_begin(j);
	fputc('"', j->f);
	while (i < len) {
		if (p[i] < 0x80) {
			escape_ascii(j->f, p[i++]);
			continue;
		}
		n = utf8_sequence(p + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", j->f);
			i++;
			continue;
		}
		fwrite(p + i, 1, n, j->f);
		i += n;
	}
	fputc('"', j->f);
	j->need_comma = true;
}

void json_string(struct json_writer *j, const char *s)
{
	json_string_len(j, s, strlen(s));
}

void json_uint(struct json_writer *j, uint64_t v)
{
	value_begin(j);
	fprintf(j->f, "%" PRIu64, v);
	j->need_comma = true;
}

void json_int(struct json_writer *j, int64_t v)
{
	value_begin(j);
	fprintf(j->f, "%" PRId64, v);
	j->need_comma = true;
}

void json_bool(struct json_writer *j, bool v)
{
	value_begin(j);
	fputs(v ? "true" : "false", j->f);
	j->need_comma = true;
}

void json_null(struct json_writer *j)
{
	value_begin(j);
	fputs("null", j->f);
	j->need_comma = true;
}
