/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hamon-test: parsing and validating the private properties that script a
 * resource.  Strict on purpose: a script that does not say exactly what the
 * test means must fail loudly (open then fails with -EINVAL), never run a
 * different scenario.  Numbers are decimal, without sign, spaces or
 * suffix, and range-checked.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hamon-test.h"
#include "macro.h"

static const char *const point_names[_POINT_MAX] = {
	[POINT_OPEN] = "open",
	[POINT_ONLINE] = "online",
	[POINT_OFFLINE] = "offline",
	[POINT_TERMINATE] = "terminate",
	[POINT_LOOKS_ALIVE] = "looks_alive",
	[POINT_IS_ALIVE] = "is_alive",
	[POINT_CLOSE] = "close",
	[POINT_PENDING] = "pending",
};

const char *script_point_to_string(enum script_point p)
{
	return p >= 0 && p < _POINT_MAX ? point_names[p] : NULL;
}

/* Decimal digits only, n bytes of s, value in [min, max]. */
static int parse_uint_n(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *ret)
{
	char buf[24], *end;
	unsigned long long v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char) s[i]))
			return -EINVAL; /* strtoull would take a sign or leading spaces */
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	return parse_uint_n(s, strlen(s), min, max, ret);
}

static int parse_bool(const char *s, bool *ret)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
		*ret = true;
	else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* "after:MS" (prefix already matched by the caller or not): MS into *ret. */
static int parse_after(const char *s, size_t n, int64_t *ret)
{
	uint64_t v;
	int r;

	if (n < 6 || strncmp(s, "after:", 6) != 0)
		return -EINVAL;
	r = parse_uint_n(s + 6, n - 6, 0, SCRIPT_MS_MAX, &v);
	if (r < 0)
		return r;
	*ret = (int64_t) v;
	return 0;
}

static int parse_probe(const char *s, struct script_probe *ret)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*ret = (struct script_probe){.alive = true, .after_ms = SCRIPT_UNSET};
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*ret = (struct script_probe){.alive = false, .after_ms = SCRIPT_UNSET};
	else {
		ret->alive = true;
		return parse_after(s, strlen(s), &ret->after_ms);
	}
	return 0;
}

static int parse_result(const char *s, enum script_result *ret)
{
	static const char *const names[] = {
		[RESULT_OK] = "ok",
		[RESULT_FAIL] = "fail",
		[RESULT_HANG] = "hang",
		[RESULT_WRONG] = "wrong",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum script_result) i;
			return 0;
		}
	return -EINVAL;
}

static int parse_checkpoint(const char *s, enum script_checkpoint *ret, uint32_t *ret_stall)
{
	uint64_t v;

	if (strcmp(s, "increasing") == 0)
		*ret = CP_INCREASING;
	else if (strcmp(s, "constant") == 0)
		*ret = CP_CONSTANT;
	else if (strcmp(s, "decreasing") == 0)
		*ret = CP_DECREASING;
	else if (strncmp(s, "stall:", 6) == 0 && parse_uint(s + 6, 1, SCRIPT_STALL_MAX, &v) == 0) {
		*ret = CP_STALL;
		*ret_stall = (uint32_t) v;
	} else
		return -EINVAL;
	return 0;
}

/*
 * A comma-separated list of points, none twice.  allow_extra admits
 * "pending" and one "after:MS" (Crash).
 */
static int parse_points(const char *s, bool allow_extra, bool points[_POINT_MAX],
			int64_t *ret_after)
{
	bool seen_after = false;

	if (*s == '\0')
		return -EINVAL;
	for (;;) {
		size_t n = strcspn(s, ",");
		bool found = false;

		if (allow_extra && n >= 6 && strncmp(s, "after:", 6) == 0) {
			if (seen_after || parse_after(s, n, ret_after) < 0)
				return -EINVAL;
			seen_after = found = true;
		}
		for (int p = 0; !found && p < _POINT_MAX; p++) {
			if (p == POINT_PENDING && !allow_extra)
				continue;
			if (strlen(point_names[p]) == n && strncmp(s, point_names[p], n) == 0) {
				if (points[p])
					return -EINVAL;
				points[p] = found = true;
			}
		}
		if (!found)
			return -EINVAL;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r;

	r = parse_uint(s, min, max, &v);
	if (r < 0)
		return r;
	*ret = (uint32_t) v;
	return 0;
}

static int parse_errno(const char *s, uint32_t *ret)
{
	return parse_u32(s, 1, SCRIPT_ERRNO_MAX, ret);
}

static int parse_crash_signal(const char *s, bool *ret_segv)
{
	if (strcmp(s, "abort") == 0)
		*ret_segv = false;
	else if (strcmp(s, "segv") == 0)
		*ret_segv = true;
	else
		return -EINVAL;
	return 0;
}

static int parse_garbage_kind(const char *s, enum script_garbage *ret)
{
	if (strcmp(s, "ring") == 0)
		*ret = GARBAGE_RING;
	else if (strcmp(s, "register") == 0)
		*ret = GARBAGE_REGISTER;
	else
		return -EINVAL;
	return 0;
}

static int parse_ms(const char *s, uint32_t *ret)
{
	return parse_u32(s, 0, SCRIPT_MS_MAX, ret);
}

/* An optional duration: SCRIPT_UNSET unless given. */
static int parse_opt_ms(const char *s, int64_t *ret)
{
	uint32_t v;
	int r;

	r = parse_ms(s, &v);
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

static int parse_record_file(const char *s, char **ret)
{
	/* Absolute: the monitor's working directory is nobody's business. */
	if (s[0] != '/' || strlen(s) >= 4096)
		return -EINVAL;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

void script_done(struct script *s)
{
	free(s->record_file);
	s->record_file = NULL;
}

int script_parse(struct script *s, script_lookup_t lookup, void *userdata, const char **ret_key)
{
	const char *v;
	int r = 0;

	*s = (struct script){
		.online = {.result = RESULT_OK, .error = EIO},
		.offline = {.result = RESULT_OK, .error = EIO},
		.progress_cp = CP_INCREASING,
		.crash_after_ms = SCRIPT_UNSET,
		.is_alive = {.alive = true, .after_ms = SCRIPT_UNSET},
		.looks_alive = {.alive = true, .after_ms = SCRIPT_UNSET},
		.fail_after_ms = SCRIPT_UNSET,
		.lock_after_ms = SCRIPT_UNSET,
		.unlock_after_ms = SCRIPT_UNSET,
		.garbage_after_ms = SCRIPT_UNSET,
		.garbage_kind = GARBAGE_RING,
		.garbage_count = 1,
	};

/* Parses property KEY with EXPR (which may use v) if the resource has it. */
#define PROP(key, expr)                                                                            \
	do {                                                                                       \
		v = lookup(userdata, key);                                                         \
		if (v && (r = (expr)) < 0) {                                                       \
			*ret_key = key;                                                            \
			goto fail;                                                                 \
		}                                                                                  \
	} while (false)

	PROP("OpenError", parse_errno(v, &s->open_error));
	PROP("OnlineDelay", parse_ms(v, &s->online.delay_ms));
	PROP("OnlineResult", parse_result(v, &s->online.result));
	PROP("OnlineError", parse_errno(v, &s->online.error));
	PROP("OfflineDelay", parse_ms(v, &s->offline.delay_ms));
	PROP("OfflineResult", parse_result(v, &s->offline.result));
	PROP("OfflineError", parse_errno(v, &s->offline.error));
	PROP("ProgressInterval", parse_ms(v, &s->progress_interval_ms));
	PROP("ProgressCheckpoint", parse_checkpoint(v, &s->progress_cp, &s->progress_stall));
	PROP("ProgressWaitHint", parse_ms(v, &s->progress_wait_hint_ms));
	PROP("Hang", parse_points(v, false, s->hang, NULL));
	PROP("Crash", parse_points(v, true, s->crash, &s->crash_after_ms));
	PROP("CrashSignal", parse_crash_signal(v, &s->crash_segv));
	PROP("IgnoreTerminate", parse_bool(v, &s->ignore_terminate));
	PROP("IsAlive", parse_probe(v, &s->is_alive));
	PROP("LooksAlive", parse_probe(v, &s->looks_alive));
	PROP("FailAfter", parse_opt_ms(v, &s->fail_after_ms));
	PROP("Locked", parse_bool(v, &s->locked));
	PROP("LockAfter", parse_opt_ms(v, &s->lock_after_ms));
	PROP("UnlockAfter", parse_opt_ms(v, &s->unlock_after_ms));
	PROP("LockReason", parse_u32(v, 0, UINT32_MAX, &s->lock_reason));
	PROP("GarbageAfter", parse_opt_ms(v, &s->garbage_after_ms));
	PROP("GarbageKind", parse_garbage_kind(v, &s->garbage_kind));
	PROP("GarbageCount", parse_u32(v, 1, SCRIPT_GARBAGE_MAX, &s->garbage_count));
	PROP("RecordFile", parse_record_file(v, &s->record_file));
#undef PROP
	return 0;

fail:
	script_done(s);
	return r == -ENOMEM ? r : -EINVAL;
}
