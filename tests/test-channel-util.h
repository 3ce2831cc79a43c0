/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the monitor channel suites (test-channel.c and
 * test-channel-torture.c): creating the agent end and attaching a monitor.
 */
#pragma once

#include <check.h>
#include <stdint.h>

#include "channel.h"

/* A channel for n_res resources; its id is only stored in the page, nothing reads it. */
static inline struct chan_agent *agent_new(uint32_t n_res)
{
	struct chan_agent *a = NULL;

	ck_assert_int_eq(chan_agent_new(n_res, 42, &a), 0);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* A monitor attached in this process through the fds the agent hands out. */
static inline struct chan_monitor *monitor_attach(const struct chan_agent *a)
{
	struct chan_monitor *m = NULL;
	struct chan_fds fds;

	chan_agent_fds(a, &fds);
	ck_assert_int_eq(chan_monitor_attach(&fds, &m), 0);
	ck_assert_ptr_nonnull(m);
	return m;
}
