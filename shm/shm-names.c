/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The names of states, as users see them (monitorctl, JSON, the journal):
 * lower case with dashes.  Part of the public contract.
 */
#include "hagent/shm.h"
#include "macro.h"

_public_ const char *hagent_resource_state_to_string(int32_t state)
{
	switch (state) {
	case HAGENT_RESOURCE_INITIALIZING:
		return "initializing";
	case HAGENT_RESOURCE_ONLINE:
		return "online";
	case HAGENT_RESOURCE_OFFLINE:
		return "offline";
	case HAGENT_RESOURCE_FAILED:
		return "failed";
	case HAGENT_RESOURCE_ONLINE_PENDING:
		return "online-pending";
	case HAGENT_RESOURCE_OFFLINE_PENDING:
		return "offline-pending";
	default:
		return NULL;
	}
}

_public_ const char *hagent_group_state_to_string(int32_t state)
{
	switch (state) {
	case HAGENT_GROUP_ONLINE:
		return "online";
	case HAGENT_GROUP_OFFLINE:
		return "offline";
	case HAGENT_GROUP_FAILED:
		return "failed";
	case HAGENT_GROUP_PARTIAL_ONLINE:
		return "partial-online";
	case HAGENT_GROUP_PENDING:
		return "pending";
	default:
		return NULL;
	}
}
