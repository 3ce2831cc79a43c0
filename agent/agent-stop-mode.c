/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Is this SIGTERM a restart?  systemd sends the same SIGTERM for
 * `systemctl stop` and `systemctl restart`; only its job tells them apart.
 * A restart must not take the resources offline (the next hagentd
 * re-attaches them: docs/agent-restart.md), a stop does unless told
 * otherwise (--stop-mode).  Asked once, at stop, with a short timeout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "agent-scope.h"
#include "agent-stop-mode.h"
#include "log.h"

#define STOP_QUERY_TIMEOUT_USEC (2 * 1000 * 1000)

int agent_systemd_job_is_restart(void)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ char *job_type = NULL;
	const char *unit = NULL, *job = NULL;
	uint32_t job_id = 0;
	int r;

	if (!getenv("INVOCATION_ID"))
		return 0; /* not a systemd service */
	r = agent_systemd_connect("/run/systemd/private", &bus);
	if (r < 0)
		return r;
	(void) sd_bus_set_method_call_timeout(bus, STOP_QUERY_TIMEOUT_USEC);
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "GetUnitByPID", &err, &reply,
			       "u", (uint32_t) getpid());
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &unit);
	if (r < 0)
		return r;
	unit = strdupa(unit);
	reply = sd_bus_message_unref(reply);
	r = sd_bus_get_property(bus, "org.freedesktop.systemd1", unit,
				"org.freedesktop.systemd1.Unit", "Job", &err, &reply, "(uo)");
	if (r >= 0)
		r = sd_bus_message_read(reply, "(uo)", &job_id, &job);
	if (r < 0)
		return r;
	if (job_id == 0)
		return 0; /* no job: killed by hand, or systemd itself is going down */
	r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job,
				       "org.freedesktop.systemd1.Job", "JobType", &err, &job_type);
	if (r < 0)
		return r;
	log_debug("The job that stops us: %s.", job_type);
	/* "restart", "try-restart", "reload-or-restart", "try-reload-or-restart"... */
	return strstr(job_type, "restart") != NULL;
}
