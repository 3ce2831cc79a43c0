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
