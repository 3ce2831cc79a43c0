/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * systemd's view of the resources: the STATUS= line (agent-status.h) counts
 * them by state.  Counting is O(resources), so it runs at most every
 * AGENT_STATUS_INTERVAL_USEC after a commit, never per state change.
 */
#include "agent-resource-internal.h"
#include "log.h"

void agent_resources_set_systemd(struct agent_resources *rs, struct agent_scope *scope,
				 struct agent_status *status)
{
	rs->scope = scope;
	rs->status = status;
	status_due(rs);
}

static void status_count(const struct agent_resources *rs, struct agent_status_counts *c)
{
	*c = (struct agent_status_counts){.groups = rs->model->live_groups};
	for (size_t i = 0; i < rs->model->n_resources; i++) {
		const struct agent_res *r = &rs->res[i];

		if (!r->active)
			continue;
		switch (res_model(r)->state) {
		case HAGENT_RESOURCE_ONLINE:
			c->online++;
			break;
		case HAGENT_RESOURCE_OFFLINE:
			c->offline++;
			break;
		case HAGENT_RESOURCE_FAILED:
			c->failed++;
			break;
		default:
			if (res_state_is_pending(res_model(r)->state))
				c->pending++;
			else
				c->other++;
			break;
		}
	}
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent_resources *rs = userdata;
	struct agent_status_counts c;

	(void) s, (void) usec;
	if (!rs->status || rs->stopping)
		return 0;
	status_count(rs, &c);
	agent_status_update(rs->status, &c);
	return 0;
}

void status_due(struct agent_resources *rs)
{
	uint64_t now;
	int enabled = SD_EVENT_OFF, k;

	if (!rs->status || rs->stopping)
		return;
	if (rs->status_timer && sd_event_source_get_enabled(rs->status_timer, &enabled) >= 0 &&
	    enabled != SD_EVENT_OFF)
		return; /* counted soon anyway */
	k = sd_event_now(rs->event, CLOCK_MONOTONIC, &now);
	if (k < 0)
		return;
	if (!rs->status_timer)
		k = sd_event_add_time(rs->event, &rs->status_timer, CLOCK_MONOTONIC,
				      now + AGENT_STATUS_INTERVAL_USEC, TIMER_ACCURACY_USEC,
				      on_status, rs);
	else {
		k = sd_event_source_set_time(rs->status_timer, now + AGENT_STATUS_INTERVAL_USEC);
		if (k >= 0)
			k = sd_event_source_set_enabled(rs->status_timer, SD_EVENT_ONESHOT);
	}
	if (k < 0)
		log_debug_errno(k, "Failed to schedule the STATUS= line: %m");
}
