/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The smallest useful monitor: the resource is a file.  Online creates it
 * (taking OnlineSeconds, to show the pending protocol), offline removes it,
 * is_alive checks that it is still there.  Property: Path=/some/file.
 * Build: cc hamon-example-file.c $(pkg-config --cflags --libs hamon)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <hagent/hamon.h>
#include <stdlib.h>
#include <unistd.h>

struct file_res {
	const char *path;
};

static int file_open(hamon_resource *r, void **ret_instance)
{
	struct file_res *f;
	const char *path = hamon_resource_property(r, "Path");

	if (!path || path[0] != '/')
		return -EINVAL; /* the resource shows as failed with this error */
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = path; /* valid until close returns */
	*ret_instance = f;
	return 0;
}

static void file_close(hamon_resource *r, void *instance)
{
	(void) r;
	free(instance);
}

/* Runs on a libhamon worker: may take its time, reports progress, stops on terminate. */
static int file_online(hamon_resource *r, void *instance)
{
	struct file_res *f = instance;
	int fd;

	for (uint32_t checkpoint = 1; checkpoint <= 3; checkpoint++) {
		if (hamon_set_resource_status(r, HAMON_STATE_ONLINE_PENDING, checkpoint, 1000) ==
		    HAMON_TERMINATE)
			return -ECANCELED;
		usleep(100 * 1000);
	}
	fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0; /* online */
}

static int file_offline(hamon_resource *r, void *instance, const void *params, size_t len)
{
	struct file_res *f = instance;

	(void) r;
	(void) params;
	(void) len;
	if (unlink(f->path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Must be quick and idempotent; may run while file_online() is still running. */
static void file_terminate(hamon_resource *r, void *instance)
{
	struct file_res *f = instance;

	(void) r;
	(void) unlink(f->path);
}

static int file_is_alive(hamon_resource *r, void *instance)
{
	struct file_res *f = instance;

	(void) r;
	return access(f->path, F_OK) == 0;
}

int main(void)
{
	static const struct hamon_ops ops = {
		.size = sizeof(ops),
		.open = file_open,
		.close = file_close,
		.online = file_online,
		.offline = file_offline,
		.terminate = file_terminate,
		.looks_alive = file_is_alive,
		.is_alive = file_is_alive,
	};
	int r = hamon_run(&ops, NULL);

	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
