/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource and group properties in the store: checking a request, writing
 * it, and reading back the common set for validation.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config-store-internal.h"

bool config_prop_is_common(const char *key)
{
	struct res_props scratch;

	return res_props_set(&scratch, key, 0) == 0;
}

bool config_group_prop_is_known(const char *key)
{
	struct group_props scratch;

	return group_props_set(&scratch, key, 0) == 0;
}

/* Is key's value a number (else text), and may the owner have it at all? */
static bool prop_is_number(enum config_prop_owner owner, const char *key)
{
	return owner == CONFIG_PROPS_GROUP || config_prop_is_common(key);
}

int config_prop_parse(const char *value, uint32_t *ret)
{
	unsigned long long x;
	const char *p = value;
	int base = 10;
	char *end;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	/* strtoull() would also take spaces, a sign, and an empty string. */
	if (base == 16 ? !isxdigit((unsigned char) *p) : !isdigit((unsigned char) *p))
		return -EINVAL;
	errno = 0;
	x = strtoull(p, &end, base);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || x > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t) x;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct config_prop *const *x = a, *const *y = b;

	return strcasecmp((*x)->key, (*y)->key);
}

int config_props_check(enum config_prop_owner owner, const struct config_prop *props, size_t n,
		       bool allow_remove, const char **reterr_key)
{
	_cleanup_free_ const struct config_prop **sorted = NULL;

	if (n > 0 && !props)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct config_prop *p = &props[i];
		uint32_t v;
		int r;

		if (config_name_check(p->key) < 0) {
			*reterr_key = p->key ? p->key : "key";
			return -EINVAL;
		}
		*reterr_key = p->key;
		/* Groups have no private properties: anything else is a mistake. */
		if (owner == CONFIG_PROPS_GROUP && !config_group_prop_is_known(p->key))
			return -EINVAL;
		if (!p->value) {
			if (!allow_remove)
				return -EINVAL;
			continue;
		}
		if (strlen(p->value) > CONFIG_VALUE_MAX)
			return -E2BIG;
		if (prop_is_number(owner, p->key)) {
			r = config_prop_parse(p->value, &v);
			if (r < 0)
				return r;
		}
	}

	/* The same key twice (in any case) is ambiguous: sort and compare neighbours. */
	sorted = malloc(sizeof(*sorted) * (n ? n : 1));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &props[i];
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcasecmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
			*reterr_key = sorted[i]->key;
			return -EINVAL;
		}
	*reterr_key = NULL;
	return 0;
}

int config_props_apply(struct config_store *s, enum config_prop_owner owner, const char *id,
		       const struct config_prop *props, size_t n)
{
	bool group = owner == CONFIG_PROPS_GROUP;

	for (size_t i = 0; i < n; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		char num[16];
		const char *value = props[i].value;
		uint32_t v;
		int r = 0;

		st = config_stmt(s,
				 value ? (group ? STMT_GPROP_SET : STMT_PROP_SET)
				       : (group ? STMT_GPROP_DEL : STMT_PROP_DEL),
				 &r);
		if (!st)
			return r;
		if (value && prop_is_number(owner, props[i].key)) {
			r = config_prop_parse(value, &v);
			if (r < 0)
				return r;
			(void) snprintf(num, sizeof(num), "%" PRIu32, v);
			value = num;
		}
		r = config_bind_text(st, 1, id);
		if (r >= 0)
			r = config_bind_text(st, 2, props[i].key);
		if (r >= 0 && value)
			r = config_bind_text(st, 3, value);
		if (r >= 0)
			r = config_errno(sqlite3_step(st));
		if (r < 0)
			return r;
	}
	return 0;
}

int config_props_common(struct config_store *s, const char *res_id, struct res_props *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = 0, rc;

	st = config_stmt(s, STMT_PROP_LIST, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, res_id);
	if (r < 0)
		return r;
	res_props_init(ret);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *) sqlite3_column_text(st, 0);
		const char *value = (const char *) sqlite3_column_text(st, 1);
		uint32_t v;

		if (!key || !value)
			return -ENOMEM;
		if (!config_prop_is_common(key))
			continue;
		/* Written by config_props_apply: anything else is not ours. */
		if (config_prop_parse(value, &v) < 0)
			return -EBADMSG;
		(void) res_props_set_stored(ret, key, v);
	}
	return config_errno(rc);
}

int config_group_props_read(struct config_store *s, const char *group_id, struct group_props *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = 0, rc;

	st = config_stmt(s, STMT_GPROP_LIST, &r);
	if (!st)
		return r;
	r = config_bind_text(st, 1, group_id);
	if (r < 0)
		return r;
	group_props_init(ret);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *) sqlite3_column_text(st, 0);
		const char *value = (const char *) sqlite3_column_text(st, 1);
		uint32_t v;

		if (!key || !value)
			return -ENOMEM;
		/* Written by config_props_apply: anything else is not ours. */
		if (config_prop_parse(value, &v) < 0 || group_props_set(ret, key, v) < 0)
			return -EBADMSG;
	}
	return config_errno(rc);
}
