/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small helpers shared by every part of hagent: scope-based cleanup (as in
 * systemd's macro.h and the kernel's linux/cleanup.h), ownership hand-over,
 * and argument checks for public entry points.  Never installed.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define _public_      __attribute__((visibility("default")))
#define _unused_      __attribute__((unused))
#define _likely_(x)   __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define _cleanup_(f) __attribute__((cleanup(f)))

#define ELEMENTSOF(a)	   (sizeof(a) / sizeof((a)[0]))
#define ALIGN_TO(x, a)	   (((x) + ((a) -1)) & ~((__typeof__(x)) (a) -1))
#define DIV_ROUND_UP(x, y) (((x) + (y) -1) / (y))

/* Public entry points validate their arguments and return an error instead of crashing. */
#define assert_return(expr, r)                                                                     \
	do {                                                                                       \
		if (_unlikely_(!(expr)))                                                           \
			return (r);                                                                \
	} while (false)

/* Take ownership of a pointer or fd: the cleanup handler of the old variable then does nothing. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -EBADF;                                                                     \
		_fd;                                                                               \
	})

static inline void freep(void *p)
{
	free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if valid and returns -EBADF, so that "fd = safe_close(fd);" leaves it invalid. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void) close(fd); /* close() errors on Linux still release the fd */
		errno = saved;
	}
	return -EBADF;
}

static inline void closep(int *fd)
{
	safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Defines name##p(type **) calling func(*p) when non-NULL, for _cleanup_(name##p). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* Current errno as a negative value, never 0 (some libc paths forget to set it). */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
