/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A resource's identity: the OPEN record (docs/monitor-protocol.md), parsed
 * once by the dispatcher into a private copy that lives until the slot is
 * released after close, and the accessors an implementation reads it with.
 */
#include <ctype.h>
#include <string.h>

#include "hamon-internal.h"

#define N_FIXED 3 /* .name, .type, .id: the record's first three strings */

static const char *const fixed_keys[N_FIXED] = {".name", ".type", ".id"};

static const worker_fn worker_fns[_WORKER_MAX] = {
	[WORKER_TRANSITION] = entry_transition,
	[WORKER_TERMINATE] = entry_terminate,
	[WORKER_PROBE] = entry_probe,
	[WORKER_CONTROL] = entry_control,
};

void resource_init(struct hamon_resource *r, struct hamon_ctx *ctx, uint32_t index)
{
	*r = (struct hamon_resource){
		.ctx = ctx,
		.index = index,
		.failure_fd = -EBADF,
		.state = HAMON_STATE_OFFLINE,
	};
	for (int i = 0; i < _WORKER_MAX; i++)
		worker_init(&r->workers[i], r, worker_fns[i]);
}

void resource_release(struct hamon_resource *r)
{
	free(r->record);
	r->record = NULL;
	r->record_len = 0;
	r->name = r->type = r->id = NULL;
	r->failure_fd = safe_close(r->failure_fd);
}

static bool is_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char) s[i]))
			return false;
	return true;
}

/* Length of the key of "key=value" s, 0 if there is none. */
static size_t key_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t) (eq - s) : 0;
}

/* Whether a string before offset end in rec has the key of s. */
static bool key_seen(const char *rec, size_t end, const char *s, size_t klen)
{
	for (size_t off = 0; off < end; off += strlen(rec + off) + 1)
		if (key_len(rec + off) == klen && memcmp(rec + off, s, klen) == 0)
			return true;
	return false;
}

static int fixed_index(const char *s, size_t klen)
{
	for (int i = 0; i < N_FIXED; i++)
		if (strlen(fixed_keys[i]) == klen && memcmp(s, fixed_keys[i], klen) == 0)
			return i;
	return -1;
}

/* Checks every string of rec (NUL-terminated, len > 0) and finds the fixed values. */
static int parse_strings(const char *rec, uint32_t len, const char *ret_fixed[N_FIXED])
{
	const char *fixed[N_FIXED] = {};
	unsigned n = 0;

	for (size_t off = 0; off < len; off += strlen(rec + off) + 1, n++) {
		const char *s = rec + off;
		size_t klen = key_len(s);
		int k;

		if (klen == 0 || key_seen(rec, off, s, klen))
			return -EINVAL;
		if (n < N_FIXED) {
			k = fixed_index(s, klen);
			if (k < 0)
				return -EINVAL;
			fixed[k] = s + klen + 1;
		}
	}
	/* Three strings with unique keys, each one of the three: all are set. */
	if (n < N_FIXED || fixed[0][0] == '\0' || fixed[1][0] == '\0' || !is_id(fixed[2]))
		return -EINVAL;
	memcpy(ret_fixed, fixed, sizeof(fixed));
	return 0;
}

int resource_parse_record(struct hamon_resource *r, const void *rec, uint32_t len)
{
	_cleanup_free_ char *copy = NULL;
	const char *fixed[N_FIXED];
	int k;

	if (len == 0 || len > CHAN_ARGS_MAX || ((const char *) rec)[len - 1] != '\0')
		return -EINVAL;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rec, len);
	k = parse_strings(copy, len, fixed);
	if (k < 0)
		return k;

	free(r->record);
	r->name = fixed[0];
	r->type = fixed[1];
	r->id = fixed[2];
	r->record_len = len;
	r->record = TAKE_PTR(copy);
	return 0;
}

_public_ const char *hamon_resource_name(hamon_resource *r)
{
	assert_return(r, NULL);
	return r->name;
}

_public_ const char *hamon_resource_type(hamon_resource *r)
{
	assert_return(r, NULL);
	return r->type;
}

_public_ const char *hamon_resource_id(hamon_resource *r)
{
	assert_return(r, NULL);
	return r->id;
}

_public_ const char *hamon_resource_property(hamon_resource *r, const char *key)
{
	size_t klen, off = 0;

	assert_return(r && key, NULL);
	if (!r->record)
		return NULL;
	klen = strlen(key);
	for (unsigned n = 0; off < r->record_len; off += strlen(r->record + off) + 1, n++) {
		const char *s = r->record + off;

		if (n >= N_FIXED && key_len(s) == klen && memcmp(s, key, klen) == 0)
			return s + klen + 1;
	}
	return NULL;
}

_public_ void *hamon_resource_userdata(hamon_resource *r)
{
	assert_return(r, NULL);
	return r->ctx->userdata;
}

_public_ int hamon_failure_fd(hamon_resource *r)
{
	assert_return(r, -EINVAL);
	/* The declaration (hamon.h); ordered before the Online report by the caller's own report.
	 */
	atomic_store_explicit(&r->failure_fd_used, true, memory_order_relaxed);
	return r->failure_fd;
}

_public_ bool hamon_terminate_requested(hamon_resource *r)
{
	assert_return(r, true);
	/* Pairs with the release stores in set_terminate() (hamon-dispatch.c). */
	return atomic_load_explicit(&r->terminate_requested, memory_order_acquire);
}
