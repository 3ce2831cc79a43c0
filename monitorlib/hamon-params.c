/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon_params_get(): how an implementation reads the property list its
 * offline entry point receives.  The parsing is hagent's one property-list
 * parser (common/proplist.c), linked in privately: the version script keeps
 * proplist_* out of libhamon's ABI.
 */

#include "hagent/hamon.h"
#include "macro.h"
#include "proplist.h"

_public_ int hamon_params_get(const void *params, size_t len, const char *name, char *buf,
			      size_t size)
{
	assert_return(params || len == 0, -EINVAL);
	return proplist_get(params, len, name, buf, size);
}
