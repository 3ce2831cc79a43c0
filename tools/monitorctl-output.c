/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's output: state names, ids, and the human-readable status
 * table and show listing.  The --json forms are in monitorctl-json.c.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitorctl-output.h"

const char *resource_state_name(int32_t state)
{
	const char *s = hagent_resource_state_to_string(state);

	return s ? s : "unknown";
}

const char *group_state_name(int32_t state)
{
	const char *s = hagent_group_state_to_string(state);

	return s ? s : "unknown";
}

void id_to_hex(const uint8_t id[HAGENT_ID_SIZE], char ret[ID_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < HAGENT_ID_SIZE; i++) {
		ret[2 * i] = hex[id[i] >> 4];
		ret[2 * i + 1] = hex[id[i] & 0xf];
	}
	ret[2 * HAGENT_ID_SIZE] = '\0';
}

/* Control characters are written as \xHH so that a name cannot move the cursor. */
static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static size_t human_width(const char *s)
{
	size_t w = 0;

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
		if (is_control(*p))
			w += 4;
		else if ((*p & 0xc0) != 0x80) /* not a UTF-8 continuation byte */
			w++;
	return w;
}

static void human_put_len(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;

	for (size_t i = 0; i < len; i++)
		if (is_control(p[i]))
			fprintf(f, "\\x%02x", p[i]);
		else
			fputc(p[i], f);
}

static void human_put(FILE *f, const char *s)
{
	human_put_len(f, s, strlen(s));
}

/* ====================================== table ====================================== */

enum column {
	COL_NAME,
	COL_STATE,
	COL_SEQ,
	COL_TYPE,
	COL_PID,
	COL_RESTARTS,
	COL_NOTE,
	_COL_MAX,
};

static const char *const column_titles[_COL_MAX] = {
	"NAME", "STATE", "SEQ", "TYPE", "PID", "RESTARTS", "NOTE",
};

struct row {
	const char *tree; /* prefix of the name: "", "|- " or "`- " */
	const char *cell[_COL_MAX];
	char seq[16], pid[16], restarts[16];
	char *note; /* malloc()ed */
};

/* The persistent (target) state: 0 offline, 1 online (config-store.h). */
static const char *persistent_name(int32_t v)
{
	return v == 1 ? "online" : v == 0 ? "offline" : "unknown";
}

char *name_list_join(const struct name_list *l)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		fputs(l->names[i][0] ? l->names[i] : "(deleted)", f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The group's note: its persistent state, its provider groups ("after a,
 * b"), "waiting" while it waits for them, and its failovers if any.
 */
static int row_group(struct row *w, const struct status_group *sg)
{
	const struct hagent_group *g = sg->group;
	_cleanup_free_ char *providers = NULL;
	char failovers[32] = "";

	*w = (struct row){.tree = ""};
	snprintf(w->seq, sizeof(w->seq), "%" PRIu32, g->state_seq);
	if (g->failover_count)
		snprintf(failovers, sizeof(failovers), ", %" PRIu32 " failovers",
			 g->failover_count);
	if (sg->provider_groups.n > 0) {
		providers = name_list_join(&sg->provider_groups);
		if (!providers)
			return -ENOMEM;
	}
	if (asprintf(&w->note, "persistent state %s%s%s%s%s",
		     persistent_name(g->persistent_state), providers ? ", after " : "",
		     providers ?: "", g->flags & HAGENT_GROUP_WAITING ? ", waiting for provider groups" : "",
		     failovers) < 0) {
		w->note = NULL;
		return -ENOMEM;
	}
	w->cell[COL_NAME] = g->name;
	w->cell[COL_STATE] = group_state_name(g->state);
	w->cell[COL_SEQ] = w->seq;
	w->cell[COL_TYPE] = "";
	w->cell[COL_PID] = "";
	w->cell[COL_RESTARTS] = "";
	w->cell[COL_NOTE] = w->note;
	return 0;
}

static bool state_is_pending(int32_t state)
{
	return state == HAGENT_RESOURCE_ONLINE_PENDING || state == HAGENT_RESOURCE_OFFLINE_PENDING;
}

/*
 * The resource's note: its providers ("depends on a, b"), then what it is
 * doing (locked; checkpoint and wait hint while pending).  deps may be NULL.
 */
static int row_resource(struct row *w, const struct hagent_resource *r,
			const struct name_list *deps, bool last)
{
	bool locked = r->flags & HAGENT_RESOURCE_LOCKED;
	_cleanup_free_ char *providers = NULL;
	char doing[96] = "";
	int n;

	*w = (struct row){.tree = last ? "`- " : "|- "};
	snprintf(w->seq, sizeof(w->seq), "%" PRIu32, r->state_seq);
	if (r->monitor_pid > 0)
		snprintf(w->pid, sizeof(w->pid), "%" PRId32, r->monitor_pid);
	else
		snprintf(w->pid, sizeof(w->pid), "-");
	snprintf(w->restarts, sizeof(w->restarts), "%" PRIu32, r->restart_count);
	if (state_is_pending(r->state))
		snprintf(doing, sizeof(doing), "%scheckpoint %" PRIu32 ", wait hint %" PRIu32 " ms",
			 locked ? "locked, " : "", r->checkpoint, r->wait_hint_ms);
	else if (locked)
		snprintf(doing, sizeof(doing), "locked");
	if (deps && deps->n > 0) {
		providers = name_list_join(deps);
		if (!providers)
			return -ENOMEM;
	}
	n = asprintf(&w->note, "%s%s%s%s", providers ? "depends on " : "", providers ?: "",
		     providers && doing[0] ? "; " : "", doing);
	if (n < 0) {
		w->note = NULL;
		return -ENOMEM;
	}
	w->cell[COL_NAME] = r->name;
	w->cell[COL_STATE] = resource_state_name(r->state);
	w->cell[COL_SEQ] = w->seq;
	w->cell[COL_TYPE] = r->type;
	w->cell[COL_PID] = w->pid;
	w->cell[COL_RESTARTS] = w->restarts;
	w->cell[COL_NOTE] = w->note;
	return 0;
}

static size_t cell_width(const struct row *w, enum column c)
{
	return (c == COL_NAME ? strlen(w->tree) : 0) + human_width(w->cell[c]);
}

/* One line; the last non-empty cell is not padded, so no line ends in blanks. */
static void row_print(FILE *f, const struct row *w, const size_t width[_COL_MAX])
{
	int last = COL_NAME;

	for (int c = 0; c < _COL_MAX; c++)
		if (w->cell[c][0])
			last = c;
	for (int c = 0; c <= last; c++) {
		if (c == COL_NAME)
			fputs(w->tree, f);
		human_put(f, w->cell[c]);
		if (c == last)
			break;
		for (size_t i = cell_width(w, c); i < width[c] + 2; i++)
			fputc(' ', f);
	}
	fputc('\n', f);
}

static void rows_free(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].note);
	free(rows);
}

/* The rows of groups[0..n) and their members, plus the ungrouped resources; 0 or -ENOMEM. */
static int rows_fill(struct row *rows, size_t *n, const struct status_group *groups,
		     size_t n_groups, const struct hagent_resource *const *ungrouped,
		     const struct name_list *const *ungrouped_deps, size_t n_ungrouped)
{
	int r;

	*n = 0;
	for (size_t i = 0; i < n_groups; i++) {
		const struct status_group *g = &groups[i];

		r = row_group(&rows[(*n)++], g);
		if (r < 0)
			return r;
		for (size_t k = 0; k < g->n_members; k++) {
			r = row_resource(&rows[(*n)++], g->members[k], g->deps ? g->deps[k] : NULL,
					 k + 1 == g->n_members);
			if (r < 0)
				return r;
		}
	}
	for (size_t k = 0; k < n_ungrouped; k++) {
		r = row_resource(&rows[*n], ungrouped[k], ungrouped_deps[k], false);
		rows[(*n)++].tree = "";
		if (r < 0)
			return r;
	}
	return 0;
}

static int table_print(FILE *f, const struct status_group *groups, size_t n_groups,
		       const struct hagent_resource *const *ungrouped,
		       const struct name_list *const *ungrouped_deps, size_t n_ungrouped)
{
	size_t n_rows = n_groups + n_ungrouped, width[_COL_MAX];
	struct row title = {.tree = ""}, *rows;
	int r;

	for (size_t i = 0; i < n_groups; i++)
		n_rows += groups[i].n_members;
	rows = calloc(n_rows + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r = rows_fill(rows, &n_rows, groups, n_groups, ungrouped, ungrouped_deps, n_ungrouped);
	if (r < 0) {
		rows_free(rows, n_rows);
		return r;
	}
	for (int c = 0; c < _COL_MAX; c++) {
		title.cell[c] = column_titles[c];
		width[c] = strlen(column_titles[c]);
		for (size_t i = 0; i < n_rows; i++)
			if (cell_width(&rows[i], c) > width[c])
				width[c] = cell_width(&rows[i], c);
	}
	row_print(f, &title, width);
	for (size_t i = 0; i < n_rows; i++)
		row_print(f, &rows[i], width);
	rows_free(rows, n_rows);
	return 0;
}

int status_print(FILE *f, const struct status_view *v)
{
	if (v->table->n_groups == 0 && v->n_ungrouped == 0) {
		fputs("No groups.\n", f);
		return 0;
	}
	return table_print(f, v->groups, v->table->n_groups, v->ungrouped, v->ungrouped_deps,
			   v->n_ungrouped);
}

/* ====================================== show ====================================== */

#define KEY_WIDTH 18 /* "Persistent state: " */

static void key_put(FILE *f, const char *key)
{
	fprintf(f, "%-*s", KEY_WIDTH, key);
}

static void kv_str(FILE *f, const char *key, const char *value)
{
	key_put(f, key);
	human_put(f, value[0] ? value : "-");
	fputc('\n', f);
}

/* Names joined by ", " ("-" for none; a name deleted meanwhile is skipped). */
static void kv_names(FILE *f, const char *key, const struct name_list *l)
{
	bool any = false;

	key_put(f, key);
	for (size_t i = 0; i < l->n; i++) {
		if (!l->names[i][0])
			continue;
		if (any)
			fputs(", ", f);
		human_put(f, l->names[i]);
		any = true;
	}
	if (!any)
		fputc('-', f);
	fputc('\n', f);
}

__attribute__((format(printf, 3, 4))) static void kv_fmt(FILE *f, const char *key, const char *fmt,
							 ...)
{
	va_list ap;

	key_put(f, key);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void kv_id(FILE *f, const uint8_t id[HAGENT_ID_SIZE])
{
	char hex[ID_HEX_SIZE];

	id_to_hex(id, hex);
	kv_str(f, "Id:", hex);
}

/* CLOCK_REALTIME nanoseconds as UTC, ISO 8601; 0 is "-". */
static void kv_realtime(FILE *f, const char *key, uint64_t ns)
{
	time_t t = (time_t) (ns / 1000000000u);
	char buf[64];
	struct tm tm;
	size_t n;

	if (ns == 0 || !gmtime_r(&t, &tm) ||
	    (n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		kv_str(f, key, "-");
		return;
	}
	kv_fmt(f, key, "%s.%03uZ", buf, (unsigned) (ns / 1000000u % 1000u));
}

/* A CLOCK_MONOTONIC deadline relative to now; 0 is "-". */
static void kv_deadline(FILE *f, const char *key, uint64_t ns)
{
	struct timespec ts;
	double left;

	if (ns == 0 || clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		kv_str(f, key, "-");
		return;
	}
	left = ((double) ns - ((double) ts.tv_sec * 1e9 + (double) ts.tv_nsec)) / 1e9;
	if (left >= 0)
		kv_fmt(f, key, "in %.3f s", left);
	else
		kv_fmt(f, key, "%.3f s ago", -left);
}

static void kv_error(FILE *f, int32_t e)
{
	if (e == 0)
		kv_str(f, "Last error:", "none");
	else
		kv_fmt(f, "Last error:", "%" PRId32 " (%s)", e, strerror(e < 0 ? -e : e));
}

/* A "key=value\0" list, one "  key = value" line each; an entry without '=' is a bare key. */
static void kv_properties(FILE *f, const struct blob *b)
{
	const char *p = b->data, *end = b->data + b->len;

	if (!b->data || b->len == 0) {
		kv_str(f, "Properties:", "-");
		return;
	}
	fputs("Properties:\n", f);
	while (p < end) {
		const char *entry = p, *eq = strchr(entry, '=');

		p += strlen(entry) + 1; /* data is NUL-terminated past len */
		if (!*entry)
			continue;
		fputs("  ", f);
		if (eq) {
			human_put_len(f, entry, (size_t) (eq - entry));
			fputs(" = ", f);
			human_put(f, eq + 1);
		} else {
			human_put(f, entry);
		}
		fputc('\n', f);
	}
}

static int dependencies_print(FILE *f, const struct name_list *deps)
{
	_cleanup_free_ char *joined = name_list_join(deps);

	if (!joined)
		return -ENOMEM;
	kv_str(f, "Dependencies:", joined);
	return 0;
}

static int resource_print(FILE *f, const struct resource_view *v)
{
	int ret;

	const struct hagent_resource *r = &v->r;

	kv_str(f, "Resource:", r->name);
	kv_id(f, r->id);
	kv_str(f, "Type:", r->type);
	kv_str(f, "Group:", v->group);
	kv_str(f, "State:", resource_state_name(r->state));
	kv_fmt(f, "Sequence:", "%" PRIu32, r->state_seq);
	kv_fmt(f, "Checkpoint:", "%" PRIu32, r->checkpoint);
	kv_fmt(f, "Wait hint:", "%" PRIu32 " ms", r->wait_hint_ms);
	kv_str(f, "Locked:", r->flags & HAGENT_RESOURCE_LOCKED ? "yes" : "no");
	if (r->monitor_pid > 0)
		kv_fmt(f, "Monitor PID:", "%" PRId32, r->monitor_pid);
	else
		kv_str(f, "Monitor PID:", "-");
	kv_fmt(f, "Restart count:", "%" PRIu32, r->restart_count);
	kv_error(f, r->last_error);
	kv_fmt(f, "Persistent state:", "%s", persistent_name(r->persistent_state));
	kv_realtime(f, "State changed:", r->state_change_ns);
	kv_deadline(f, "Pending deadline:", r->pending_deadline_ns);
	ret = dependencies_print(f, &v->deps);
	kv_properties(f, &v->properties);
	return ret;
}

static int group_print(FILE *f, const struct group_view *v)
{
	_cleanup_free_ const struct hagent_resource **members = NULL;
	_cleanup_free_ const struct name_list **deps = NULL;
	const struct hagent_group *g = &v->g;
	struct status_group sg = {.group = g, .n_members = v->n_members};

	members = calloc(v->n_members + 1, sizeof(*members));
	deps = calloc(v->n_members + 1, sizeof(*deps));
	if (!members || !deps)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_members; i++) {
		members[i] = &v->members[i];
		deps[i] = v->deps ? &v->deps[i] : NULL;
	}
	sg.members = members;
	sg.deps = deps;
	sg.provider_groups = v->provider_groups; /* borrowed: sg is not freed */
	kv_str(f, "Group:", g->name);
	kv_id(f, g->id);
	kv_str(f, "State:", group_state_name(g->state));
	kv_fmt(f, "Sequence:", "%" PRIu32, g->state_seq);
	kv_fmt(f, "Members:", "%zu", v->n_members);
	kv_fmt(f, "Failover count:", "%" PRIu32, g->failover_count);
	kv_fmt(f, "Persistent state:", "%s", persistent_name(g->persistent_state));
	kv_realtime(f, "State changed:", g->state_change_ns);
	kv_str(f, "Dependencies:", v->dependency_expression.data ?: "");
	kv_names(f, "Provider groups:", &v->provider_groups);
	if (g->flags & HAGENT_GROUP_WAITING)
		kv_str(f, "Waiting:", "for its provider groups to be online");
	kv_properties(f, &v->properties);
	fputc('\n', f);
	return table_print(f, &sg, 1, NULL, NULL, 0);
}

int show_print(FILE *f, const struct group_view *g, const struct resource_view *r)
{
	int ret = 0;

	if (g)
		ret = group_print(f, g);
	if (g && r)
		fputc('\n', f);
	if (r) {
		int k = resource_print(f, r);

		if (ret == 0)
			ret = k;
	}
	return ret;
}
