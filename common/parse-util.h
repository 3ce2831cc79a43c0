/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsing numbers from options and the environment (hagentd, libhamon). */

#include <errno.h>
#include <stdlib.h>

/*
 * A decimal number in min..max with nothing after it; not empty, not
 * negative (strtoull() alone would take "-1" as a huge number).  -EINVAL
 * otherwise.
 */
static inline int parse_range(const char *s, unsigned long long min, unsigned long long max,
			      unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}
