/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of configuration objects and property keys, and new object ids.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "config-store-internal.h"

/* Length of the UTF-8 sequence at p (well-formed, shortest form, not a surrogate), or 0. */
static size_t utf8_seq(const unsigned char *p, uint32_t *ret_cp)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

int config_name_check(const char *name)
{
	const unsigned char *p = (const unsigned char *) name;
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len > CONFIG_NAME_MAX)
		return -EINVAL;
	if (name[0] == ' ' || name[len - 1] == ' ')
		return -EINVAL;
	while (*p) {
		uint32_t cp;
		size_t n = utf8_seq(p, &cp);

		if (n == 0)
			return -EINVAL;
		/* C0, DEL, C1 controls, and the path separator */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == '/')
			return -EINVAL;
		p += n;
	}
	return 0;
}

int config_id_new(char ret[CONFIG_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[CONFIG_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		got += (size_t) n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		ret[2 * i] = hex[raw[i] >> 4];
		ret[2 * i + 1] = hex[raw[i] & 0xf];
	}
	ret[CONFIG_ID_LEN] = '\0';
	return 0;
}
