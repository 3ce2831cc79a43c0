/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hagent-bench-agent's figures from /proc: memory, threads, descriptors, limits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-agent.h"

/* The number after "key" in a "key: value" file, e.g. /proc/PID/status. */
static int proc_field(const char *path, const char *key, uint64_t *ret)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");
	int r = -ENODATA;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			unsigned long long v;

			if (sscanf(line + klen + 1, " %llu", &v) == 1) {
				*ret = v;
				r = 0;
			}
			break;
		}
	(void) fclose(f);
	return r;
}

int proc_vmrss_kib(pid_t pid, uint64_t *ret)
{
	char path[64];

	(void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	return proc_field(path, "VmRSS", ret);
}

int proc_pss_kib(pid_t pid, uint64_t *ret)
{
	char path[64];

	(void) snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
	return proc_field(path, "Pss", ret);
}

int proc_threads(pid_t pid, unsigned *ret)
{
	char path[64];
	uint64_t v;
	int r;

	(void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	r = proc_field(path, "Threads", &v);
	if (r >= 0)
		*ret = (unsigned) v;
	return r;
}

int proc_count_fds(pid_t pid, unsigned *ret)
{
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	(void) snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	(void) closedir(d);
	*ret = n;
	return 0;
}

int proc_children(pid_t pid, unsigned *ret)
{
	char path[64], buf[4096];
	unsigned n = 0;
	bool in_word = false;
	ssize_t k;
	int fd;

	/* The children of its main thread: hagentd spawns from its event loop. */
	(void) snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k; i++) {
			bool digit = buf[i] >= '0' && buf[i] <= '9';

			if (digit && !in_word)
				n++;
			in_word = digit;
		}
	(void) close(fd);
	if (k < 0)
		return -errno;
	*ret = n;
	return 0;
}

int proc_nofile_limit(pid_t pid, uint64_t *ret)
{
	char path[64], line[256];
	unsigned long long v;
	int r = -ENODATA;
	FILE *f;

	(void) snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0) {
			if (sscanf(line + 14, " %llu", &v) == 1) {
				*ret = v;
				r = 0;
			}
			break;
		}
	(void) fclose(f);
	return r;
}

int sys_tasks(unsigned *ret)
{
	unsigned running, total;
	FILE *f = fopen("/proc/loadavg", "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%*s %*s %*s %u/%u", &running, &total);
	(void) fclose(f);
	if (n != 2)
		return -ENODATA;
	*ret = total;
	return 0;
}

int sys_pid_max(unsigned *ret)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u", ret);
	(void) fclose(f);
	return n == 1 ? 0 : -ENODATA;
}

int sys_mem_available_kib(uint64_t *ret)
{
	return proc_field("/proc/meminfo", "MemAvailable", ret);
}
