/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hagent-bench-agent's result table: metric | median | floor | ratio | target, then notes. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench-agent.h"

void arow_add(struct areport *rep, const char *metric, enum aunit unit, double value, double floor,
	      const char *target)
{
	struct arow *row;

	if (rep->n_rows >= AGENT_ROWS)
		return;
	row = &rep->rows[rep->n_rows++];
	*row = (struct arow){.unit = unit, .value = value, .floor = floor};
	(void) snprintf(row->metric, sizeof(row->metric), "%s", metric);
	(void) snprintf(row->target, sizeof(row->target), "%s", target ? target : "");
}

void anote(struct areport *rep, const char *fmt, ...)
{
	va_list ap;

	if (rep->n_notes >= AGENT_NOTES)
		return;
	va_start(ap, fmt);
	(void) vsnprintf(rep->notes[rep->n_notes++], sizeof(rep->notes[0]), fmt, ap);
	va_end(ap);
}

/* Three significant digits or so. */
static void format_number(char *buf, size_t size, double v)
{
	int decimals = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;

	(void) snprintf(buf, size, "%.*f", decimals, v);
}

static void format_value(char *buf, size_t size, double v, enum aunit unit)
{
	static const char *const suffix[] = {
		[AU_US] = " µs",   [AU_MS] = " ms",   [AU_S] = " s",
		[AU_KIB] = " KiB", [AU_MIB] = " MiB", [AU_COUNT] = "",
	};
	char num[32];

	if (isnan(v)) {
		(void) snprintf(buf, size, "-");
		return;
	}
	if (unit == AU_COUNT || unit == AU_KIB)
		(void) snprintf(num, sizeof(num), "%.0f", v);
	else
		format_number(num, sizeof(num), v);
	(void) snprintf(buf, size, "%s%s", num, suffix[unit]);
}

static void format_ratio(char *buf, size_t size, const struct arow *row)
{
	char num[32];

	if (row->unit == AU_COUNT || isnan(row->value) || isnan(row->floor) || row->floor <= 0) {
		(void) snprintf(buf, size, "-");
		return;
	}
	format_number(num, sizeof(num), row->value / row->floor);
	(void) snprintf(buf, size, "%s×", num);
}

/* Columns count characters, not bytes: µ, ×, < are in the table. */
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

static void row_cells(const struct arow *row, char cells[_COL_MAX][CELL])
{
	(void) snprintf(cells[COL_METRIC], CELL, "%s", row->metric);
	format_value(cells[COL_MEDIAN], CELL, row->value, row->unit);
	format_value(cells[COL_FLOOR], CELL, row->floor, row->unit);
	format_ratio(cells[COL_RATIO], CELL, row);
	(void) snprintf(cells[COL_TARGET], CELL, "%s", row->target);
}

void areport_print(const struct areport *rep)
{
	char head[_COL_MAX][CELL] = {"metric", "median", "floor", "ratio", "target"};
	char cells[AGENT_ROWS][_COL_MAX][CELL];
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
