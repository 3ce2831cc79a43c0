/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Common resource properties: defaults, validation, setting by name.
 */

#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "macro.h"
#include "resource-props.h"
#include "time-util.h"

static const struct {
	const char *name;
	size_t offset;
} props_table[] = {
	{"PendingTimeout", offsetof(struct res_props, pending_timeout_ms)},
	{"DeadlockTimeout", offsetof(struct res_props, deadlock_timeout_ms)},
	{"LooksAlivePollInterval", offsetof(struct res_props, looks_alive_ms)},
	{"IsAlivePollInterval", offsetof(struct res_props, is_alive_ms)},
	{"RestartAction", offsetof(struct res_props, restart_action)},
	{"RestartThreshold", offsetof(struct res_props, restart_threshold)},
	{"RestartPeriod", offsetof(struct res_props, restart_period_ms)},
	{"RestartDelay", offsetof(struct res_props, restart_delay_ms)},
	{"RetryPeriodOnFailure", offsetof(struct res_props, retry_period_ms)},
};

void res_props_init(struct res_props *p)
{
	*p = (struct res_props){
		.pending_timeout_ms = 180000,
		.deadlock_timeout_ms = 300000,
		.looks_alive_ms = 5000,
		.is_alive_ms = 60000,
		.restart_action = RES_RESTART_NOTIFY,
		.restart_threshold = 3,
		.restart_period_ms = 900000,
		.restart_delay_ms = 500,
		.retry_period_ms = 3600000,
	};
}

/* A poll interval: 0 would switch the check off (not allowed), below 10 ms is out of range. */
static int check_interval(uint32_t ms)
{
	if (ms == 0)
		return -EINVAL;
	if (ms < 10)
		return -ERANGE;
	return 0;
}

static int fail_key(int r, const char *key, const char **ret_key)
{
	if (ret_key)
		*ret_key = key;
	return r;
}

int res_props_validate(const struct res_props *p, const char **ret_key)
{
	int r;

	assert_return(p, -EINVAL);

	if (p->pending_timeout_ms < 10)
		return fail_key(-ERANGE, "PendingTimeout", ret_key);
	if (p->deadlock_timeout_ms < 1000)
		return fail_key(-ERANGE, "DeadlockTimeout", ret_key);
	r = check_interval(p->looks_alive_ms);
	if (r < 0)
		return fail_key(r, "LooksAlivePollInterval", ret_key);
	r = check_interval(p->is_alive_ms);
	if (r < 0)
		return fail_key(r, "IsAlivePollInterval", ret_key);
	if (p->restart_action > RES_RESTART_NOTIFY)
		return fail_key(-EINVAL, "RestartAction", ret_key);
	if (p->restart_threshold > RES_RESTART_THRESHOLD_MAX)
		return fail_key(-ERANGE, "RestartThreshold", ret_key);
	if (p->restart_period_ms == 0)
		return fail_key(-ERANGE, "RestartPeriod", ret_key);
	/* "Must not be lower than RestartPeriod"; RES_RETRY_NEVER is never lower. */
	if (p->retry_period_ms < p->restart_period_ms)
		return fail_key(-EINVAL, "RetryPeriodOnFailure", ret_key);
	return 0;
}

int res_props_set(struct res_props *p, const char *key, uint32_t value)
{
	assert_return(p, -EINVAL);
	assert_return(key, -EINVAL);

	for (size_t i = 0; i < ELEMENTSOF(props_table); i++)
		if (strcasecmp(key, props_table[i].name) == 0) {
			*(uint32_t *) ((char *) p + props_table[i].offset) = value;
			return 0;
		}
	return -ENOENT;
}

int res_props_set_stored(struct res_props *p, const char *key, uint32_t value)
{
	struct res_props def;
	int r;

	assert_return(p, -EINVAL);
	assert_return(key, -EINVAL);

	if (value != RES_PROP_INHERIT || strcasecmp(key, "RetryPeriodOnFailure") == 0)
		return res_props_set(p, key, value);
	res_props_init(&def);
	for (size_t i = 0; i < ELEMENTSOF(props_table); i++)
		if (strcasecmp(key, props_table[i].name) == 0) {
			r = res_props_set(
				p, key,
				*(const uint32_t *) ((const char *) &def + props_table[i].offset));
			return r;
		}
	return -ENOENT;
}

uint64_t res_after_ms(uint64_t now_ns, uint32_t ms)
{
	uint64_t d = (uint64_t) ms * NSEC_PER_MSEC;

	return now_ns > UINT64_MAX - d ? UINT64_MAX : now_ns + d;
}

uint64_t res_props_pending_timeout_ns(const struct res_props *p)
{
	uint32_t ms = p->pending_timeout_ms < p->deadlock_timeout_ms ? p->pending_timeout_ms
								     : p->deadlock_timeout_ms;

	return (uint64_t) ms * NSEC_PER_MSEC;
}
