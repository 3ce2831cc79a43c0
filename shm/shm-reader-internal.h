/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Hooks into the reader for tests and benchmarks only.  The debug flags
 * switch off parts of the validation so that a test can show that the
 * validation is what keeps readers consistent (negative controls).
 */

#include "hagent/shm.h"

enum {
	SHM_DEBUG_NO_TXN = 1u << 0, /* take each record's newest version, ignore the commit stamp */
	SHM_DEBUG_NO_SEQ = 1u << 1, /* accept copies without the seqcount / generation check */
};

void shm_reader_set_debug(hagent_shm *s, unsigned flags);

/*
 * A second handle on the same mapping (its own stats, its own debug flags):
 * hagent_shm handles are not thread-safe, so each notification port reads
 * through its own.  The mapping goes with the last handle.
 */
int shm_reader_clone(hagent_shm *s, hagent_shm **ret);

/* event_head (acquire), and the futex word inside it that watchers sleep on. */
uint64_t shm_reader_event_head(const hagent_shm *s);
const uint32_t *shm_reader_event_head_word(const hagent_shm *s);
uint32_t shm_reader_event_capacity(const hagent_shm *s);

/* What a notification port needs to know of one object. */
struct shm_reader_object {
	uint32_t slot;
	uint32_t kind; /* enum shm_kind */
	int32_t state;
	uint32_t state_seq;
	uint64_t txn; /* the commit it was read at */
	char name[HAGENT_NAME_MAX];
};

/*
 * The live object of this kind (enum shm_kind) with this id, as of one
 * commit; hint: the slot to try first (UINT32_MAX: none).  Matches by id
 * only, never by slot or name.  -ENOENT: no such live object; -EBUSY: the
 * writer was too fast; -EINVAL: bad kind.
 */
int shm_reader_find_id(hagent_shm *s, unsigned kind, const uint8_t id[HAGENT_ID_SIZE],
		       uint32_t hint, struct shm_reader_object *ret);
