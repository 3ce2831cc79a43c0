/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Sealed memfds for everything hagent shares: a size fixed before any fd
 * leaves its creator (so nobody can ftruncate it and SIGBUS the others), and
 * optionally no new writable access after the creator's own mapping.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * Creates a memfd of size bytes (zero-filled), sealed against shrink and
 * grow.  If ret_map is non-NULL it is mapped read-write and its first
 * populate bytes (all of it if populate >= size) are allocated at once, so
 * that writing them later cannot fault for memory; the rest costs nothing
 * until it is touched.
 * If future_write is true, F_SEAL_FUTURE_WRITE is added after the mapping:
 * the creator's mapping keeps working, every other writer is refused.
 * Finally F_SEAL_SEAL.  Returns the fd or a negative errno.
 */
int memfd_new_sealed(const char *name, size_t size, size_t populate, bool future_write,
		     void **ret_map);

/* Checks that fd is a memfd with at least the size seals; returns its size in *ret_size. */
int memfd_check_sealed(int fd, size_t *ret_size);
