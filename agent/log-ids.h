/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The MESSAGE_ID= values of hagentd's structured journal records: fixed
 * 128-bit ids (systemd-id128 new), 32 lower-case hex characters, so that an
 * operator can ask for one kind of event (`journalctl MESSAGE_ID=...`).
 * They are an interface: never change one, add a new id for a new meaning.
 * docs/logging.md lists each with its fields.
 */

/* A resource changed state ("Resource %s: %s -> %s."), unless to Failed. */
#define LOG_ID_RESOURCE_STATE "bbf5b8f6b97d437ab15277772952b531"
/* A resource changed state to Failed; ERRNO= when the cause is known. */
#define LOG_ID_RESOURCE_FAILED "3ac0b82b2cfb43879df69d286301a280"
/* A group's derived state changed ("Group %s: %s -> %s."). */
#define LOG_ID_GROUP_STATE "d2a7ac71d5094e668a6ec1facbb3d79b"
/* The restart policy counted a failure of a resource ("failure %u in the restart window"). */
#define LOG_ID_RESOURCE_RESTART_POLICY "56ab4395aed74550901ec8dad9ff4b41"
