/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The re-attach state file (agent-volatile.h). */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-volatile.h"

#define VOLATILE_MAGIC UINT64_C(0x314c4f5654474148) /* "HAGTVOL1" */

struct volatile_header {
	uint64_t magic;
	uint32_t header_size;
	uint32_t slot_size;
	uint64_t n_slots;
	char build[64]; /* HAGENT_VERSION and the layout sizes: another build's file is foreign */
};

struct volatile_slot {
	_Atomic uint32_t current; /* 0: empty; 1 or 2: copy[current - 1] is complete */
	uint32_t reserved;
	struct volatile_entry copy[2];
};

struct volatile_store {
	char *path;
	struct volatile_header *map;
	struct volatile_slot *slots;
	size_t n_slots, size;
};

static void build_tag(char buf[64])
{
	memset(buf, 0, 64);
	snprintf(buf, 64, "%s/%zu/%zu", HAGENT_VERSION, sizeof(struct volatile_entry),
		 sizeof(struct res_fsm));
}

static size_t file_size(size_t n_slots)
{
	return sizeof(struct volatile_header) + n_slots * sizeof(struct volatile_slot);
}

int proc_start_time(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* The command name may hold anything, ')' included: fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	/* Fields 3..22 after it: state is 3, starttime is 22. */
	if (sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &start) != 1)
		return -EBADMSG;
	*ret = start;
	return 0;
}

/* The complete entries of a previous agent's file; 0 entries and *why if unusable. */
static int read_old(const char *path, struct volatile_entry **ret, size_t *ret_n, const char **why)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct volatile_header h;
	struct volatile_entry *out = NULL;
	char tag[64];
	struct stat st;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (fd < 0) {
		*why = errno == ENOENT ? NULL : "it cannot be opened";
		return errno == ENOENT ? 0 : -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		*why = "it is not a regular file of ours";
		return 0;
	}
	build_tag(tag);
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h) || h.magic != VOLATILE_MAGIC ||
	    h.header_size != sizeof(h) || h.slot_size != sizeof(struct volatile_slot) ||
	    memcmp(h.build, tag, sizeof(tag)) != 0) {
		*why = "another hagent build wrote it";
		return 0;
	}
	if (h.n_slots > SHM_MAX_RECORDS || (uint64_t) st.st_size < file_size(h.n_slots)) {
		*why = "it is truncated";
		return 0;
	}
	out = calloc(h.n_slots ?: 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < h.n_slots; i++) {
		struct volatile_slot slot;
		off_t off = (off_t) (sizeof(h) + i * sizeof(slot));

		if (pread(fd, &slot, sizeof(slot), off) != (ssize_t) sizeof(slot))
			break;
		if (slot.current != 1 && slot.current != 2)
			continue;
		out[n] = slot.copy[slot.current - 1];
		if ((out[n].kind == VOLATILE_RESOURCE && out[n].pid > 0) ||
		    out[n].kind == VOLATILE_GROUP)
			n++;
	}
	*ret = out;
	*ret_n = n;
	*why = NULL;
	return 0;
}

int volatile_store_open(const char *runtime_dir, size_t n_slots, struct volatile_entry **ret_old,
			size_t *ret_n_old, const char **ret_why, struct volatile_store **ret)
{
	_cleanup_(volatile_store_freep) struct volatile_store *s = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	void *map;
	int k;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (asprintf(&s->path, "%s/" VOLATILE_FILE_NAME, runtime_dir) < 0 ||
	    asprintf(&tmp, "%s/." VOLATILE_FILE_NAME ".new", runtime_dir) < 0)
		return -ENOMEM;
	k = read_old(s->path, ret_old, ret_n_old, ret_why);
	if (k < 0)
		return k;

	s->n_slots = n_slots;
	s->size = file_size(n_slots);
	(void) unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t) s->size) < 0)
		return -errno;
	map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	s->map = map;
	s->slots = (struct volatile_slot *) (s->map + 1);
	*s->map = (struct volatile_header){
		.magic = VOLATILE_MAGIC,
		.header_size = sizeof(struct volatile_header),
		.slot_size = sizeof(struct volatile_slot),
		.n_slots = n_slots,
	};
	build_tag(s->map->build);
	/* The old file stays until this one is complete: a crash here loses nothing. */
	if (rename(tmp, s->path) < 0)
		return -errno;
	*ret = TAKE_PTR(s);
	return 0;
}

struct volatile_store *volatile_store_free(struct volatile_store *s)
{
	if (!s)
		return NULL;
	if (s->map)
		(void) munmap(s->map, s->size);
	free(s->path);
	free(s);
	return NULL;
}

void volatile_store_remove(struct volatile_store *s)
{
	if (!s)
		return;
	(void) unlink(s->path);
	volatile_store_free(s);
}

void volatile_store_put(struct volatile_store *s, size_t slot, const struct volatile_entry *e)
{
	struct volatile_slot *v;
	uint32_t cur, next;

	if (!s || slot >= s->n_slots)
		return;
	v = &s->slots[slot];
	cur = atomic_load_explicit(&v->current, memory_order_relaxed);
	next = cur == 1 ? 2 : 1;
	v->copy[next - 1] = *e;
	/* A reader after our death sees the old copy or the new one, never half of one. */
	atomic_store_explicit(&v->current, next, memory_order_release);
}

void volatile_store_clear(struct volatile_store *s, size_t slot)
{
	if (!s || slot >= s->n_slots)
		return;
	atomic_store_explicit(&s->slots[slot].current, 0, memory_order_release);
}
