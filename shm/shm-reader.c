/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading side of the state segment (public API, include/hagent/shm.h).
 *
 * Every consistent read follows one protocol (docs/shm-layout.md):
 *   1. T = commit (acquire): the newest fully published transaction;
 *   2. for each record needed, walk its versions from the newest back and
 *      take the first whose txn <= T; each version is copied first and then
 *      validated (even, unchanged seqcount; the generation we looked for);
 *   3. if a needed version has been overwritten meanwhile, start again with a
 *      fresh T, at most READ_RESTARTS_MAX times, then give up with -EBUSY.
 * Every index and length taken from the segment is bounds-checked before
 * use.  Readers never store into the segment: a stopped or dead reader
 * cannot affect the writer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "hagent/shm.h"
#include "macro.h"
#include "memfd-util.h"
#include "shm-layout.h"
#include "shm-publish.h"
#include "shm-reader-internal.h"

#define READ_RESTARTS_MAX 64
#define MEMBERS_ON_STACK  256

/*
 * The mapping, shared by a handle and the handles cloned from it (a
 * notification port keeps its own): unmapped when the last one goes.
 */
struct shm_mapping {
	_Atomic unsigned refs;
	size_t size;
	const uint8_t *base;
};

struct hagent_shm {
	struct shm_mapping *map;
	size_t size;
	const uint8_t *base;
	struct shm_header h;	       /* validated copy of the immutable header fields */
	const struct shm_header *live; /* for the fields the writer updates */
	const struct shm_record *records;
	const uint8_t *blobs;
	const struct shm_event *events;
	unsigned debug;
	struct hagent_shm_stats stats;
};

static_assert(HAGENT_NAME_MAX == SHM_NAME_MAX && HAGENT_TYPE_MAX == SHM_TYPE_MAX, "same sizes");

static bool area_ok(const struct shm_header *h, uint64_t off, uint64_t len, uint64_t min_off)
{
	return off >= min_off && off <= h->segment_size && len <= h->segment_size - off;
}

static int header_check(const struct shm_header *h, size_t file_size)
{
	uint64_t n_records, records_len;

	if (h->magic != SHM_MAGIC)
		return -EPROTO;
	if (h->abi_version != SHM_ABI_VERSION)
		return -EPROTONOSUPPORT;
	if (h->header_size != sizeof(struct shm_header) || h->n_versions != SHM_VERSIONS ||
	    h->version_size != sizeof(struct shm_version) ||
	    h->record_size != sizeof(struct shm_record) || h->blob_chunk_size != SHM_BLOB_CHUNK ||
	    h->event_size != sizeof(struct shm_event))
		return -EBADMSG;
	if (h->segment_size != file_size)
		return -EBADMSG;
	n_records = (uint64_t) h->max_resources + h->max_groups;
	if (h->max_resources == 0 || h->max_groups == 0 || n_records > SHM_MAX_RECORDS)
		return -EBADMSG;
	if (h->event_capacity == 0 || (h->event_capacity & (h->event_capacity - 1)) != 0)
		return -EBADMSG;
	records_len = n_records * sizeof(struct shm_record);
	if (!area_ok(h, h->records_offset, records_len, SHM_HEADER_AREA) ||
	    !area_ok(h, h->blob_offset, (uint64_t) h->blob_chunks * SHM_BLOB_CHUNK,
		     h->records_offset + records_len) ||
	    !area_ok(h, h->events_offset, (uint64_t) h->event_capacity * sizeof(struct shm_event),
		     h->blob_offset + (uint64_t) h->blob_chunks * SHM_BLOB_CHUNK))
		return -EBADMSG;
	if (h->records_offset % SHM_CACHELINE || h->events_offset % SHM_CACHELINE ||
	    h->blob_offset % SHM_CACHELINE)
		return -EBADMSG;
	return 0;
}

_public_ int hagent_shm_open_fd(int fd, hagent_shm **ret)
{
	_cleanup_free_ hagent_shm *s = NULL;
	size_t size;
	void *map;
	int r;

	assert_return(fd >= 0, -EBADF);
	assert_return(ret, -EINVAL);

	r = memfd_check_sealed(fd, &size);
	if (r < 0)
		return r;
	if (size < SHM_HEADER_AREA)
		return -EBADMSG;

	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;

	s = calloc(1, sizeof(*s));
	if (s)
		s->map = calloc(1, sizeof(*s->map));
	if (!s || !s->map) {
		if (s)
			free(s->map);
		(void) munmap(map, size);
		return -ENOMEM;
	}
	/* Copy, then validate: the checks must see the bytes we will use. */
	memcpy(&s->h, map, sizeof(s->h));
	r = header_check(&s->h, size);
	if (r < 0) {
		free(s->map);
		(void) munmap(map, size);
		return r;
	}
	*s->map = (struct shm_mapping){.refs = 1, .size = size, .base = map};
	s->size = size;
	s->base = map;
	s->live = map;
	s->records = (const struct shm_record *) (s->base + s->h.records_offset);
	s->blobs = s->base + s->h.blob_offset;
	s->events = (const struct shm_event *) (s->base + s->h.events_offset);
	*ret = TAKE_PTR(s);
	return 0;
}

_public_ int hagent_shm_open(const char *runtime_dir, hagent_shm **ret)
{
	_cleanup_close_ int fd = -EBADF;
	char path[4096];
	int r;

	assert_return(ret, -EINVAL);
	if (!runtime_dir)
		runtime_dir = getenv("HAGENT_RUNTIME_DIR");
	if (!runtime_dir || !*runtime_dir)
		runtime_dir = "/run/hagent";
	if ((size_t) snprintf(path, sizeof(path), "%s/%s", runtime_dir, HAGENT_SHM_SOCKET) >=
	    sizeof(path))
		return -ENAMETOOLONG;

	r = shm_socket_receive_fd(path, &fd);
	if (r < 0)
		return r;
	return hagent_shm_open_fd(fd, ret);
}

_public_ hagent_shm *hagent_shm_unref(hagent_shm *s)
{
	if (!s)
		return NULL;
	/* acq_rel: the last one out sees every other user's reads finished. */
	if (atomic_fetch_sub_explicit(&s->map->refs, 1, memory_order_acq_rel) == 1) {
		(void) munmap((void *) s->map->base, s->map->size);
		free(s->map);
	}
	free(s);
	return NULL;
}

int shm_reader_clone(hagent_shm *s, hagent_shm **ret)
{
	hagent_shm *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = *s;
	c->stats = (struct hagent_shm_stats){};
	atomic_fetch_add_explicit(&s->map->refs, 1, memory_order_relaxed);
	*ret = c;
	return 0;
}

uint64_t shm_reader_event_head(const hagent_shm *s)
{
	/* Pairs with the release store of event_head in shm_writer_commit(). */
	return atomic_load_explicit(&s->live->event_head, memory_order_acquire);
}

const uint32_t *shm_reader_event_head_word(const hagent_shm *s)
{
	return shm_event_head_word(s->live);
}

uint32_t shm_reader_event_capacity(const hagent_shm *s)
{
	return s->h.event_capacity;
}

_public_ const char *hagent_shm_strerror(int r)
{
	switch (r) {
	case -EPROTO:
		return "not a hagent state segment (bad magic)";
	case -EPROTONOSUPPORT:
		return "state segment has another ABI version than this reader";
	case -EBADMSG:
		return "state segment layout does not match this reader (sizes or offsets)";
	case -EMEDIUMTYPE:
		return "not a sealed memfd";
	case -EBUSY:
		return "state changed too fast for a consistent read, retry";
	case -ESTALE:
		return "data changed meanwhile, read the object again";
	default:
		return strerror(r < 0 ? -r : r);
	}
}

void shm_reader_set_debug(hagent_shm *s, unsigned flags)
{
	s->debug = flags;
}

_public_ int hagent_shm_get_info(hagent_shm *s, struct hagent_shm_info *ret)
{
	assert_return(s && ret, -EINVAL);
	*ret = (struct hagent_shm_info){
		.abi_version = s->h.abi_version,
		.segment_size = s->h.segment_size,
		.max_resources = s->h.max_resources,
		.max_groups = s->h.max_groups,
		.writer_pid = s->h.writer_pid,
		.event_capacity = s->h.event_capacity,
		.commit = atomic_load_explicit(&s->live->commit, memory_order_acquire),
		.heartbeat_ns = atomic_load_explicit(&s->live->heartbeat_ns, memory_order_relaxed),
		.event_head = atomic_load_explicit(&s->live->event_head, memory_order_acquire),
		.superseded = atomic_load_explicit(&s->live->superseded, memory_order_acquire) != 0,
	};
	memcpy(ret->incarnation, s->h.incarnation, sizeof(ret->incarnation));
	return 0;
}

_public_ int hagent_shm_get_stats(hagent_shm *s, struct hagent_shm_stats *ret)
{
	assert_return(s && ret, -EINVAL);
	*ret = s->stats;
	return 0;
}

/*
 * Copies one version and validates the copy: seqcount even and unchanged
 * across the copy, and the generation we walked to.  The memcpy races with
 * the writer by design; the fences make the check see any overlap (the
 * kernel's seqcount idiom, cf. Boehm, MSPC 2012).
 */
static bool version_copy(const hagent_shm *s, const struct shm_version *src, uint64_t gen,
			 struct shm_version *dst)
{
	uint32_t s1, s2;

	/* Pairs with the release store of the even seq in shm_writer_put(). */
	s1 = atomic_load_explicit(&src->seq, memory_order_acquire);
	memcpy(dst, (const void *) src, sizeof(*dst));
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&src->seq, memory_order_relaxed);
	if (s->debug & SHM_DEBUG_NO_SEQ)
		return true;
	return (s1 & 1u) == 0 && s1 == s2 && dst->gen == gen;
}

/*
 * The version of the record at slot that was current at commit T.
 * 0: found; -ENOENT: no live object there at T; -EAGAIN: overwritten, restart.
 */
static int record_at(const hagent_shm *s, uint32_t slot, uint64_t T, struct shm_version *ret)
{
	const struct shm_record *rec = &s->records[slot];
	uint64_t latest, g;

	/* Pairs with the release store of latest in shm_writer_put(). */
	latest = atomic_load_explicit(&rec->latest, memory_order_acquire);
	if (latest == 0)
		return -ENOENT;
	for (g = latest; g > 0 && latest - g < SHM_VERSIONS; g--) {
		if (!version_copy(s, &rec->v[g % SHM_VERSIONS], g, ret))
			return -EAGAIN;
		if (ret->txn <= T || (s->debug & SHM_DEBUG_NO_TXN))
			return ret->kind == SHM_KIND_FREE ? -ENOENT : 0;
	}
	/* The oldest version we hold is newer than T: did the record exist at T? */
	return g == 0 ? -ENOENT : -EAGAIN;
}

static uint64_t read_begin(const hagent_shm *s)
{
	/* Pairs with the release store of commit in shm_writer_commit(). */
	return atomic_load_explicit(&s->live->commit, memory_order_acquire);
}

static void blob_from(const struct shm_blob_ref *b, uint32_t slot, uint64_t gen,
		      struct hagent_shm_blob *ret)
{
	*ret = (struct hagent_shm_blob){
		.chunk = b->chunk,
		.len = b->len,
		.blob_id = b->blob_id,
		.origin_slot = slot,
		.origin_gen = gen,
	};
}

/*
 * Field by field, not with a compound literal: this runs for every record of
 * a table read, and zero-filling the whole struct first doubled its cost.
 */
static void resource_from(const struct shm_version *v, uint32_t slot, struct hagent_resource *r)
{
	const struct shm_resource_data *d = &v->u.res;

	r->slot = slot;
	r->gen = v->gen;
	r->txn = v->txn;
	memcpy(r->id, v->id, sizeof(r->id));
	/* Never trust a terminator in shared memory. */
	memcpy(r->name, v->name, sizeof(r->name) - 1);
	r->name[sizeof(r->name) - 1] = '\0';
	memcpy(r->type, d->type, sizeof(r->type) - 1);
	r->type[sizeof(r->type) - 1] = '\0';
	r->state = d->state;
	r->state_seq = d->state_seq;
	r->group_slot = d->group_slot;
	r->flags = d->flags;
	r->checkpoint = d->checkpoint;
	r->wait_hint_ms = d->wait_hint_ms;
	r->monitor_pid = d->monitor_pid;
	r->restart_count = d->restart_count;
	r->last_error = d->last_error;
	r->persistent_state = d->persistent_state;
	r->state_change_ns = d->state_change_ns;
	r->pending_deadline_ns = d->pending_deadline_ns;
	blob_from(&d->properties, slot, v->gen, &r->properties);
	blob_from(&d->dependencies, slot, v->gen, &r->dependencies);
}

static void group_from(const struct shm_version *v, uint32_t slot, struct hagent_group *g)
{
	const struct shm_group_data *d = &v->u.grp;

	*g = (struct hagent_group){
		.slot = slot,
		.gen = v->gen,
		.txn = v->txn,
		.state = d->state,
		.state_seq = d->state_seq,
		.flags = d->flags,
		.persistent_state = d->persistent_state,
		.n_members = d->n_members,
		.failover_count = d->failover_count,
		.state_change_ns = d->state_change_ns,
	};
	memcpy(g->id, v->id, sizeof(g->id));
	memcpy(g->name, v->name, sizeof(g->name) - 1);
	blob_from(&d->members, slot, v->gen, &g->members);
	blob_from(&d->properties, slot, v->gen, &g->properties);
	blob_from(&d->dependency_expression, slot, v->gen, &g->dependency_expression);
	blob_from(&d->provider_groups, slot, v->gen, &g->provider_groups);
}

/*
 * Copies a blob and validates the copy.  -EBADMSG: bad reference; -ESTALE:
 * gone.  A blob is immutable and the writer reuses its chunks only after the
 * last version naming it has been overwritten, so the blob is intact if the
 * version it came from (ref->origin_*) is unchanged across the copy: the
 * same seqcount test as for versions, bracketing the blob copy.  The blob's
 * own header is checked too, but cannot prove anything alone: freed chunks
 * are overwritten by arbitrary new payload.
 */
static int blob_copy(const hagent_shm *s, const struct hagent_shm_blob *ref, void *buf, size_t size,
		     size_t *ret_len)
{
	const struct shm_blob_header *bh;
	const struct shm_version *v;
	uint64_t blob_id, gen;
	uint32_t s1, s2, len;
	size_t n;

	if (ref->blob_id == 0) {
		*ret_len = 0;
		return 0;
	}
	if (ref->len > SHM_BLOB_MAX || ref->chunk >= s->h.blob_chunks ||
	    (16u + (uint64_t) ref->len + 63u) / 64u > s->h.blob_chunks - ref->chunk ||
	    ref->origin_slot >= s->h.max_resources + s->h.max_groups)
		return -EBADMSG;

	v = &s->records[ref->origin_slot].v[ref->origin_gen % SHM_VERSIONS];
	bh = (const struct shm_blob_header *) (s->blobs + (size_t) ref->chunk * SHM_BLOB_CHUNK);
	n = ref->len < size ? ref->len : size;

	/* Pairs with the release store of the even seq in shm_writer_put(). */
	s1 = atomic_load_explicit(&v->seq, memory_order_acquire);
	gen = v->gen;
	len = bh->len;
	blob_id = bh->blob_id;
	if (n > 0)
		memcpy(buf, (const uint8_t *) bh + sizeof(*bh), n);
	/* Pairs with the release fence before chunk reuse in blob_heap_new(). */
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&v->seq, memory_order_relaxed);
	if ((s1 & 1u) || s1 != s2 || gen != ref->origin_gen || blob_id != ref->blob_id ||
	    len != ref->len)
		return -ESTALE;
	*ret_len = ref->len;
	return 0;
}

_public_ int hagent_shm_read_blob(hagent_shm *s, const struct hagent_shm_blob *ref, void *buf,
				  size_t size, size_t *ret_len)
{
	size_t len;
	int r;

	assert_return(s && ref && ret_len, -EINVAL);
	assert_return(buf || size == 0, -EINVAL);
	r = blob_copy(s, ref, buf, size, &len);
	if (r < 0)
		return r;
	*ret_len = len;
	return 0;
}

static bool read_retry(hagent_shm *s, unsigned *attempt)
{
	if (++*attempt > READ_RESTARTS_MAX) {
		s->stats.failures++;
		return false;
	}
	s->stats.restarts++;
	return true;
}

_public_ int hagent_shm_read_resource(hagent_shm *s, uint32_t slot, struct hagent_resource *ret)
{
	struct shm_version v;
	unsigned attempt = 0;
	int r;

	assert_return(s && ret, -EINVAL);
	if (slot >= s->h.max_resources)
		return -ERANGE;
	do {
		r = record_at(s, slot, read_begin(s), &v);
		if (r == 0) {
			if (v.kind != SHM_KIND_RESOURCE)
				return -EBADMSG;
			resource_from(&v, slot, ret);
			s->stats.reads++;
			return 0;
		}
		if (r != -EAGAIN)
			return r;
	} while (read_retry(s, &attempt));
	return -EBUSY;
}

/*
 * The group at slot and its members, all as of commit T.  members gets up
 * to max entries; *ret_n the member count.
 */
static int group_at(hagent_shm *s, uint32_t slot, uint64_t T, struct hagent_group *ret,
		    struct hagent_resource *members, size_t max, size_t *ret_n)
{
	uint32_t stack_slots[MEMBERS_ON_STACK];
	_cleanup_free_ uint32_t *heap_slots = NULL;
	uint32_t *slots = stack_slots;
	struct shm_version v;
	size_t len, n;
	int r;

	r = record_at(s, slot, T, &v);
	if (r < 0)
		return r;
	if (v.kind != SHM_KIND_GROUP)
		return -EBADMSG;
	group_from(&v, slot, ret);

	n = ret->members.len / sizeof(uint32_t);
	if (ret->members.len % sizeof(uint32_t) || n != ret->n_members || n > s->h.max_resources)
		return -EBADMSG;
	if (n > MEMBERS_ON_STACK) {
		heap_slots = malloc(n * sizeof(uint32_t));
		if (!heap_slots)
			return -ENOMEM;
		slots = heap_slots;
	}
	r = blob_copy(s, &ret->members, slots, n * sizeof(uint32_t), &len);
	if (r == -ESTALE)
		return -EAGAIN; /* the group version we read has been replaced */
	if (r < 0)
		return r;

	for (size_t i = 0; i < n && i < max; i++) {
		if (slots[i] >= s->h.max_resources)
			return -EBADMSG;
		r = record_at(s, slots[i], T, &v);
		if (r == -ENOENT)
			return -EBADMSG; /* a member that did not exist at T */
		if (r < 0)
			return r;
		if (v.kind != SHM_KIND_RESOURCE || v.u.res.group_slot != slot)
			return -EBADMSG;
		resource_from(&v, slots[i], &members[i]);
	}
	*ret_n = n;
	return 0;
}

_public_ int hagent_shm_read_group(hagent_shm *s, uint32_t slot, struct hagent_group *ret,
				   struct hagent_resource *members, size_t max_members,
				   size_t *ret_n_members)
{
	struct hagent_group g;
	unsigned attempt = 0;
	size_t n;
	int r;

	assert_return(s && ret && ret_n_members, -EINVAL);
	assert_return(members || max_members == 0, -EINVAL);
	if (slot < s->h.max_resources || slot - s->h.max_resources >= s->h.max_groups)
		return -ERANGE;
	do {
		r = group_at(s, slot, read_begin(s), &g, members, max_members, &n);
		if (r == 0) {
			*ret = g;
			*ret_n_members = n;
			s->stats.reads++;
			return 0;
		}
		if (r != -EAGAIN)
			return r;
	} while (read_retry(s, &attempt));
	return -EBUSY;
}

_public_ struct hagent_shm_table *hagent_shm_table_free(struct hagent_shm_table *t)
{
	if (!t)
		return NULL;
	free(t->groups);
	free(t->resources);
	free(t);
	return NULL;
}

static uint32_t high_mark(const _Atomic uint32_t *p, uint32_t max)
{
	/* Pairs with the release store in raise_high(); clamp: never trust a bound. */
	uint32_t v = atomic_load_explicit(p, memory_order_acquire);

	return v < max ? v : max;
}

/* Makes room for at least n_res resources and n_grp groups in t. */
static int table_reserve(struct hagent_shm_table *t, size_t *cap_res, size_t *cap_grp,
			 uint32_t n_res, uint32_t n_grp)
{
	void *p;

	if (n_res > *cap_res) {
		p = reallocarray(t->resources, n_res, sizeof(*t->resources));
		if (!p)
			return -ENOMEM;
		t->resources = p;
		*cap_res = n_res;
	}
	if (n_grp > *cap_grp) {
		p = reallocarray(t->groups, n_grp, sizeof(*t->groups));
		if (!p)
			return -ENOMEM;
		t->groups = p;
		*cap_grp = n_grp;
	}
	return 0;
}

/*
 * One attempt at the whole table as of commit T, into arrays with room for
 * cap_res/cap_grp entries.  -ENOBUFS: the table has grown past them.
 */
static int table_at(hagent_shm *s, uint64_t T, struct hagent_shm_table *t, size_t cap_res,
		    size_t cap_grp)
{
	uint32_t res_high = high_mark(&s->live->res_high, s->h.max_resources);
	uint32_t grp_high = high_mark(&s->live->grp_high, s->h.max_groups);
	struct shm_version v;
	int r;

	if (res_high > cap_res || grp_high > cap_grp)
		return -ENOBUFS;
	t->txn = T;
	t->n_resources = t->n_groups = 0;
	for (uint32_t slot = 0; slot < res_high; slot++) {
		r = record_at(s, slot, T, &v);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (v.kind != SHM_KIND_RESOURCE)
			return -EBADMSG;
		resource_from(&v, slot, &t->resources[t->n_resources++]);
	}
	for (uint32_t i = 0; i < grp_high; i++) {
		uint32_t slot = s->h.max_resources + i;

		r = record_at(s, slot, T, &v);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (v.kind != SHM_KIND_GROUP)
			return -EBADMSG;
		group_from(&v, slot, &t->groups[t->n_groups++]);
	}
	return 0;
}

_public_ int hagent_shm_read_table(hagent_shm *s, struct hagent_shm_table **ret)
{
	struct hagent_shm_table *t;
	size_t cap_res = 0, cap_grp = 0;
	unsigned attempt = 0;
	int r;

	assert_return(s && ret, -EINVAL);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (;;) {
		/* Sized by the slots in use, not the capacity: the copy is the cost. */
		r = table_reserve(t, &cap_res, &cap_grp,
				  high_mark(&s->live->res_high, s->h.max_resources),
				  high_mark(&s->live->grp_high, s->h.max_groups));
		if (r < 0)
			break;
		r = table_at(s, read_begin(s), t, cap_res, cap_grp);
		if (r == 0) {
			s->stats.reads++;
			*ret = t;
			return 0;
		}
		if (r == -ENOBUFS)
			continue; /* grown meanwhile; the high marks only grow, and are bounded */
		if (r != -EAGAIN || !read_retry(s, &attempt))
			break;
	}
	hagent_shm_table_free(t);
	return r == -EAGAIN ? -EBUSY : r;
}

_public_ int hagent_shm_find(hagent_shm *s, unsigned kind, const char *name, uint32_t *ret_slot)
{
	uint32_t first, high;
	struct shm_version v;
	unsigned attempt = 0;
	uint64_t T;
	int r;

	assert_return(s && name && ret_slot, -EINVAL);
	assert_return(kind == SHM_KIND_RESOURCE || kind == SHM_KIND_GROUP, -EINVAL);
	if (kind == SHM_KIND_RESOURCE) {
		first = 0;
		high = high_mark(&s->live->res_high, s->h.max_resources);
	} else {
		first = s->h.max_resources;
		high = high_mark(&s->live->grp_high, s->h.max_groups);
	}
restart:
	T = read_begin(s);
	for (uint32_t i = 0; i < high; i++) {
		r = record_at(s, first + i, T, &v);
		if (r == -ENOENT)
			continue;
		if (r == -EAGAIN) {
			if (!read_retry(s, &attempt))
				return -EBUSY;
			goto restart;
		}
		if (r < 0)
			return r;
		v.name[SHM_NAME_MAX - 1] = '\0';
		if (v.kind == kind && strcasecmp(v.name, name) == 0) {
			s->stats.reads++;
			*ret_slot = first + i;
			return 0;
		}
	}
	return -ENOENT;
}

_public_ int hagent_shm_read_event(hagent_shm *s, uint64_t pos, struct hagent_event *ret)
{
	const struct shm_event *e;
	struct shm_event copy;
	uint64_t head, s1, s2;

	assert_return(s && ret, -EINVAL);
	/* Pairs with the release store of event_head in shm_writer_commit(). */
	head = atomic_load_explicit(&s->live->event_head, memory_order_acquire);
	if (pos >= head)
		return -EAGAIN;
	if (head - pos > s->h.event_capacity)
		return -ESTALE;

	e = &s->events[pos & (s->h.event_capacity - 1)];
	s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
	memcpy(&copy, (const void *) e, sizeof(copy));
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
	if (s1 != pos + 1 || s2 != s1)
		return -ESTALE; /* rewritten for a later position meanwhile */

	*ret = (struct hagent_event){
		.position = pos,
		.change = copy.change,
		.slot = copy.slot,
		.kind = copy.kind,
		.state_seq = copy.state_seq,
		.state = copy.state,
		.txn = copy.txn,
		.time_ns = copy.time_ns,
	};
	memcpy(ret->id, copy.id, sizeof(ret->id));
	memcpy(ret->name, copy.name, sizeof(ret->name));
	ret->name[sizeof(ret->name) - 1] = '\0';
	return 0;
}

/*
 * Cheap, unvalidated look at a slot: may any version of it hold this id?
 * Only a filter in front of the validated read (a torn id costs a miss on
 * a slot being rewritten, and record_at() decides); an object lives in one
 * slot for its whole life and every version of it there carries its id, so
 * at least one complete version shows it while the writer rewrites another.
 */
static bool slot_may_hold(const hagent_shm *s, uint32_t slot, const uint8_t id[SHM_ID_SIZE])
{
	const struct shm_record *rec = &s->records[slot];

	for (unsigned i = 0; i < SHM_VERSIONS; i++)
		if (memcmp((const void *) rec->v[i].id, id, SHM_ID_SIZE) == 0)
			return true;
	return false;
}

/* 0: the live object id at slot at T; -ENOENT: not there; -EAGAIN: restart. */
static int id_at(hagent_shm *s, uint32_t slot, unsigned kind, const uint8_t id[SHM_ID_SIZE],
		 uint64_t T, struct shm_reader_object *ret)
{
	struct shm_version v;
	int r;

	if (!slot_may_hold(s, slot, id))
		return -ENOENT;
	r = record_at(s, slot, T, &v);
	if (r < 0)
		return r;
	if (v.kind != kind || memcmp(v.id, id, SHM_ID_SIZE) != 0)
		return -ENOENT;
	*ret = (struct shm_reader_object){
		.slot = slot,
		.kind = v.kind,
		.txn = T,
	};
	if (kind == SHM_KIND_RESOURCE) {
		ret->state = v.u.res.state;
		ret->state_seq = v.u.res.state_seq;
	} else {
		ret->state = v.u.grp.state;
		ret->state_seq = v.u.grp.state_seq;
	}
	memcpy(ret->name, v.name, sizeof(ret->name) - 1);
	ret->name[sizeof(ret->name) - 1] = '\0';
	return 0;
}

int shm_reader_find_id(hagent_shm *s, unsigned kind, const uint8_t id[SHM_ID_SIZE], uint32_t hint,
		       struct shm_reader_object *ret)
{
	uint32_t first, high;
	unsigned attempt = 0;
	uint64_t T;
	int r;

	if (kind == SHM_KIND_RESOURCE) {
		first = 0;
		high = high_mark(&s->live->res_high, s->h.max_resources);
	} else if (kind == SHM_KIND_GROUP) {
		first = s->h.max_resources;
		high = high_mark(&s->live->grp_high, s->h.max_groups);
	} else
		return -EINVAL;
restart:
	T = read_begin(s);
	/* The slot it was in last time first: objects never move while they live. */
	r = hint >= first && hint - first < high ? id_at(s, hint, kind, id, T, ret) : -ENOENT;
	for (uint32_t i = 0; r == -ENOENT && i < high; i++)
		if (first + i != hint)
			r = id_at(s, first + i, kind, id, T, ret);
	if (r == -EAGAIN) {
		if (!read_retry(s, &attempt))
			return -EBUSY;
		goto restart;
	}
	if (r == 0)
		s->stats.reads++;
	return r;
}
