/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * 1 if systemd stops this service for a restart (its pending job is a
 * restart), 0 if not or not run by systemd, a negative errno if systemd
 * could not be asked.
 */
int agent_systemd_job_is_restart(void);
