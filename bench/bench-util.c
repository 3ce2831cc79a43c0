/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timing, statistics, the result table and helper processes for hagent-bench. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"

#define MAX_OPS (UINT64_C(1) << 32) /* bound on the calls of one timed phase */

uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

void spin(struct spinner *s)
{
	if (++s->n % 64 == 0)
		(void) sched_yield();
	else
		cpu_relax();
}

int wait_flag(_Atomic uint32_t *flag, uint64_t deadline)
{
	struct spinner s = {};

	/* Pairs with the release store of the flag by the other process. */
	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		if (now() >= deadline)
			return -ETIMEDOUT;
		spin(&s);
	}
	return 0;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t) (ns / NSEC_PER_SEC),
		.tv_nsec = (long) (ns % NSEC_PER_SEC),
	};

	/* An early return on a signal only shortens a pause between samples. */
	(void) clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

double percentile(double *v, size_t n, double p)
{
	double rank = p / 100.0 * (double) n;
	size_t k = (size_t) rank;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	if ((double) k < rank)
		k++; /* nearest rank: ceil */
	return v[k > 0 ? (k <= n ? k - 1 : n - 1) : 0];
}

void series_add(struct series *s, double v)
{
	if (s->n < MAX_RUNS)
		s->v[s->n++] = v;
}

double series_median(const struct series *s)
{
	double tmp[MAX_RUNS];

	memcpy(tmp, s->v, s->n * sizeof(double));
	return percentile(tmp, s->n, 50.0);
}

/* ---- the report ---- */

void report_row(struct report *rep, const char *metric, enum unit unit, double value, double floor,
		const char *target)
{
	struct row *row;

	if (rep->n_rows >= REPORT_ROWS)
		return;
	row = &rep->rows[rep->n_rows++];
	*row = (struct row){.unit = unit, .value = value, .floor = floor};
	(void) snprintf(row->metric, sizeof(row->metric), "%s", metric);
	(void) snprintf(row->target, sizeof(row->target), "%s", target ? target : "");
}

void report_series(struct report *rep, const char *metric, enum unit unit,
		   const struct series *value, const struct series *floor, const char *target)
{
	report_row(rep, metric, unit, series_median(value), floor ? series_median(floor) : NAN,
		   target);
}

void report_note(struct report *rep, const char *fmt, ...)
{
	va_list ap;

	if (rep->n_notes >= REPORT_NOTES)
		return;
	va_start(ap, fmt);
	(void) vsnprintf(rep->notes[rep->n_notes++], sizeof(rep->notes[0]), fmt, ap);
	va_end(ap);
}

/* Three significant digits or so, without exponents. */
static void format_number(char *buf, size_t size, double v)
{
	int decimals = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;

	(void) snprintf(buf, size, "%.*f", decimals, v);
}

static void format_value(char *buf, size_t size, double v, enum unit unit)
{
	static const char *const suffix[] = {
		[UNIT_US] = " µs", [UNIT_NS] = " ns",	[UNIT_MPS] = " M/s",
		[UNIT_PCT] = " %", [UNIT_COUNT] = "",	[UNIT_MS] = " ms",
		[UNIT_S] = " s",   [UNIT_KIB] = " KiB", [UNIT_MIB] = " MiB",
	};
	char num[32];

	if (isnan(v)) {
		(void) snprintf(buf, size, "-");
		return;
	}
	if (unit == UNIT_NS || unit == UNIT_COUNT || unit == UNIT_KIB)
		(void) snprintf(num, sizeof(num), "%.0f", v);
	else if (unit == UNIT_PCT)
		(void) snprintf(num, sizeof(num), "%.3f", v);
	else
		format_number(num, sizeof(num), v);
	(void) snprintf(buf, size, "%s%s", num, suffix[unit]);
}

static void format_ratio(char *buf, size_t size, const struct row *row)
{
	char num[32];

	if (row->unit == UNIT_PCT || row->unit == UNIT_COUNT || isnan(row->value) ||
	    isnan(row->floor) || row->floor <= 0) {
		(void) snprintf(buf, size, "-");
		return;
	}
	format_number(num, sizeof(num), row->value / row->floor);
	(void) snprintf(buf, size, "%s×", num);
}

/* Columns count characters, not bytes: the table has µ, ×, ≤ in it. */
static size_t display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xc0) != 0x80)
			w++;
	return w;
}

enum { COL_METRIC, COL_MEDIAN, COL_FLOOR, COL_RATIO, COL_TARGET, _COL_MAX };

#define CELL 80

static void print_line(char cells[_COL_MAX][CELL], const size_t width[_COL_MAX])
{
	for (unsigned c = 0; c < _COL_MAX; c++) {
		size_t pad = width[c] - display_width(cells[c]);
		bool right = c != COL_METRIC && c != COL_TARGET;

		printf("%s%*s%s%*s", c > 0 ? " | " : "", right ? (int) pad : 0, "", cells[c],
		       right || c == _COL_MAX - 1 ? 0 : (int) pad, "");
	}
	printf("\n");
}

static void row_cells(const struct row *row, char cells[_COL_MAX][CELL])
{
	(void) snprintf(cells[COL_METRIC], CELL, "%s", row->metric);
	format_value(cells[COL_MEDIAN], CELL, row->value, row->unit);
	format_value(cells[COL_FLOOR], CELL, row->floor, row->unit);
	format_ratio(cells[COL_RATIO], CELL, row);
	(void) snprintf(cells[COL_TARGET], CELL, "%s", row->target);
}

void report_print(const struct report *rep)
{
	char head[_COL_MAX][CELL] = {"metric", "median", "floor", "ratio", "target"};
	char cells[REPORT_ROWS][_COL_MAX][CELL];
	size_t width[_COL_MAX] = {}, total = 0;

	for (unsigned c = 0; c < _COL_MAX; c++)
		width[c] = display_width(head[c]);
	for (unsigned i = 0; i < rep->n_rows; i++) {
		row_cells(&rep->rows[i], cells[i]);
		for (unsigned c = 0; c < _COL_MAX; c++)
			if (display_width(cells[i][c]) > width[c])
				width[c] = display_width(cells[i][c]);
	}
	for (unsigned c = 0; c < _COL_MAX; c++)
		total += width[c] + (c > 0 ? 3 : 0);

	printf("\n");
	print_line(head, width);
	for (size_t i = 0; i < total; i++)
		putchar('-');
	printf("\n");
	for (unsigned i = 0; i < rep->n_rows; i++)
		print_line(cells[i], width);
	printf("\n");
	for (unsigned i = 0; i < rep->n_notes; i++)
		printf("* %s\n", rep->notes[i]);
}

/* ---- helper processes ---- */

int ctl_new(struct ctl **ret)
{
	void *p = mmap(NULL, sizeof(struct ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	return 0;
}

void ctl_unmapp(struct ctl **c)
{
	if (*c)
		(void) munmap(*c, sizeof(**c));
}

int child_spawn(child_fn fn, void *arg, pid_t *ret_pid)
{
	pid_t parent = getpid(), pid;
	int r;

	/* Nothing buffered may be written twice. */
	(void) fflush(stdout);
	(void) fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Die with the parent, even if it is killed (and if it already died, now). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(ECHILD);
		r = fn(arg);
		_exit(r < 0 ? -r & 0xff : EXIT_SUCCESS);
	}
	*ret_pid = pid;
	return 0;
}

void child_killp(pid_t *pid)
{
	if (*pid <= 0)
		return;
	(void) kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

int child_reap(pid_t *pid, uint64_t timeout_ns)
{
	uint64_t deadline = now() + timeout_ns;
	int status;
	pid_t p;

	for (;;) {
		p = waitpid(*pid, &status, WNOHANG);
		if (p == *pid)
			break;
		if (p < 0 && errno != EINTR)
			return -errno;
		if (now() >= deadline) {
			child_killp(pid);
			return -ETIMEDOUT;
		}
		sleep_ns(NSEC_PER_MSEC);
	}
	*pid = 0;
	if (!WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

/* ---- timing ---- */

int time_op(bench_op op, void *ctx, unsigned batch, uint64_t duration_ns, double *ret)
{
	uint64_t start = now(), end, n = 0;
	int r;

	do {
		for (unsigned k = 0; k < batch; k++) {
			r = op(ctx, n++);
			if (r < 0)
				return r;
		}
		end = now();
	} while (end - start < duration_ns && n < MAX_OPS);
	*ret = (double) (end - start) / (double) n;
	return 0;
}

double percent(uint64_t part, uint64_t whole)
{
	return whole > 0 ? 100.0 * (double) part / (double) whole : 0.0;
}

int bench_parse_argv(int argc, char *argv[], unsigned max_runs, void (*help)(void), bool *quick,
		     unsigned *runs)
{
	static const struct option options[] = {{"help", no_argument, NULL, 'h'},
						{"quick", no_argument, NULL, 'q'},
						{"runs", required_argument, NULL, 'r'},
						{}};
	unsigned long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "hqr:", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			help();
			return 0;
		case 'q':
			*quick = true;
			break;
		case 'r':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end || v < 1 || v > max_runs) {
				fprintf(stderr, "--runs: expected 1-%u, got '%s'\n", max_runs,
					optarg);
				return -EINVAL;
			}
			*runs = (unsigned) v;
			break;
		default:
			return -EINVAL;
		}
	if (optind < argc) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}
