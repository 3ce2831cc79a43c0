/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The control API between hagentd and its clients (docs/control-api.md):
 * socket, object, interface, methods, flags and error names, with the
 * sd-bus error map both sides register so that errors carry their errno.
 */

#include <errno.h>
#include <systemd/sd-bus.h>

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_OBJECT_PATH "/org/hagent/Agent"
#define CONTROL_INTERFACE   "org.hagent.Agent1"

#define CONTROL_CONNECTIONS_MAX 64 /* served at once; more are closed at accept */

#define CONTROL_FLAG_FORCE	  UINT32_C(1) /* RemoveResource, OfflineResource */
#define CONTROL_FLAG_IGNORE_LOCKED UINT32_C(1) /* OfflineGroup: offline even if a member is locked */

#define CONTROL_PARAMS_MAX 992u /* OfflineGroup's property list: one channel command's arguments */

#define CONTROL_RESULT_SUCCESS	  UINT32_C(0)	/* ERROR_SUCCESS */
#define CONTROL_RESULT_IO_PENDING UINT32_C(997) /* ERROR_IO_PENDING */

#define CONTROL_ERROR_INVALID_ARGUMENT "org.hagent.Error.InvalidArgument"
#define CONTROL_ERROR_OUT_OF_RANGE     "org.hagent.Error.OutOfRange"
#define CONTROL_ERROR_TOO_BIG	       "org.hagent.Error.TooBig"
#define CONTROL_ERROR_NOT_FOUND	       "org.hagent.Error.NotFound"
#define CONTROL_ERROR_ACCESS_DENIED    "org.hagent.Error.AccessDenied"
#define CONTROL_ERROR_RESOURCE_LOCKED  "org.hagent.Error.ResourceLocked"
#define CONTROL_ERROR_INVALID_STATE    "org.hagent.Error.InvalidState"
#define CONTROL_ERROR_RESOURCE_ONLINE  "org.hagent.Error.ResourceOnline"
#define CONTROL_ERROR_RESOURCE_FAILED  "org.hagent.Error.ResourceFailed"
#define CONTROL_ERROR_EXISTS	       "org.hagent.Error.Exists"
#define CONTROL_ERROR_NOT_EMPTY	       "org.hagent.Error.NotEmpty"
#define CONTROL_ERROR_BUSY	       "org.hagent.Error.Busy"
#define CONTROL_ERROR_FULL	       "org.hagent.Error.Full"
#define CONTROL_ERROR_NOT_READY	       "org.hagent.Error.NotReady"
#define CONTROL_ERROR_FAILED	       "org.hagent.Error.Failed"
#define CONTROL_ERROR_NOT_SUPPORTED    "org.hagent.Error.NotSupported"
#define CONTROL_ERROR_CIRCULAR_DEPENDENCY "org.hagent.Error.CircularDependency"
#define CONTROL_ERROR_TREE_TOO_COMPLEX	  "org.hagent.Error.TreeTooComplex"
#define CONTROL_ERROR_DEPENDENTS_EXIST	  "org.hagent.Error.DependentsExist"

/* Register with sd_bus_error_add_map() before the first call. */
static const sd_bus_error_map control_error_map[] = {
	SD_BUS_ERROR_MAP(CONTROL_ERROR_INVALID_ARGUMENT, EINVAL),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_OUT_OF_RANGE, ERANGE),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_TOO_BIG, E2BIG),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_NOT_FOUND, ENOENT),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_ACCESS_DENIED, EACCES),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_RESOURCE_LOCKED, EBUSY),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_INVALID_STATE, EBUSY),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_RESOURCE_ONLINE, EBUSY),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_RESOURCE_FAILED, EIO),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_EXISTS, EEXIST),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_NOT_EMPTY, ENOTEMPTY),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_BUSY, EBUSY),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_FULL, ENOSPC),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_NOT_READY, EAGAIN),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_FAILED, EIO),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_CIRCULAR_DEPENDENCY, ELOOP),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_TREE_TOO_COMPLEX, EMLINK),
	SD_BUS_ERROR_MAP(CONTROL_ERROR_DEPENDENTS_EXIST, EBUSY),
	SD_BUS_ERROR_MAP_END,
};
