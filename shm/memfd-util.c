/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "memfd-util.h"

static long page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? p : 4096;
}

int memfd_new_sealed(const char *name, size_t size, size_t populate, bool future_write,
		     void **ret_map)
{
	_cleanup_close_ int fd = -EBADF;
	void *map = MAP_FAILED;
	int seals;

	if (size == 0)
		return -EINVAL;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t) size) < 0)
		return -errno;
	/* Size first: from here on nobody can shrink the file under a mapping. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -errno;

	if (ret_map) {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | (populate >= size ? MAP_POPULATE : 0), fd, 0);
		if (map == MAP_FAILED)
			return -errno;
		/* Touch each page of the prefix: allocated now, zero as before. */
		for (size_t off = 0; populate < size && off < populate; off += (size_t) page_size())
			((volatile char *) map)[off] = 0;
	}

	seals = F_SEAL_SEAL | (future_write ? F_SEAL_FUTURE_WRITE : 0);
	if (fcntl(fd, F_ADD_SEALS, seals) < 0) {
		int r = -errno;

		if (map != MAP_FAILED)
			(void) munmap(map, size);
		return r;
	}

	if (ret_map)
		*ret_map = map;
	return TAKE_FD(fd);
}

int memfd_check_sealed(int fd, size_t *ret_size)
{
	struct stat st;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -EMEDIUMTYPE : -errno; /* not a memfd */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size <= 0)
		return -EBADMSG;
	*ret_size = (size_t) st.st_size;
	return 0;
}
