/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl's group commands that change something: group online, group
 * offline (its --param pairs encoded as the property list the members'
 * offline receives, common/proplist.h) and group set.  Each is one call of
 * the control API; online and offline then print the state reached as the
 * resource commands do, following the group in the segment with --wait.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-api.h"
#include "json-writer.h"
#include "macro.h"
#include "monitorctl-control.h"
#include "monitorctl-output.h"
#include "monitorctl-wait.h"
#include "monitorctl.h"
#include "proplist.h"

#define ARG_NAME(a) ((a)->cmd[2]) /* after "group online", ... */
#define KIND_GROUP  2u		  /* hagent_shm_find() */

/* Says which --param the encoder refused; EXIT_INVALID_ARGUMENT. */
static int param_refused(const struct args *a)
{
	for (size_t i = 0; i < a->params.n; i++) {
		const char *kv = a->params.items[i];
		size_t size = 64 + 4 * strlen(kv), len;
		_cleanup_free_ void *buf = malloc(size);

		if (!buf)
			break;
		if (proplist_encode((const char *const *) &a->params.items[i], 1, buf, size,
				    &len) == -EINVAL) {
			fprintf(stderr,
				"monitorctl: invalid parameter '%s': the key and value must be "
				"UTF-8, the key at most %d bytes\n",
				kv, PROPLIST_NAME_MAX);
			return EXIT_INVALID_ARGUMENT;
		}
	}
	fputs("monitorctl: invalid --param list\n", stderr);
	return EXIT_INVALID_ARGUMENT;
}

/*
 * The --param pairs as a property list in buf (CONTROL_PARAMS_MAX bytes, the
 * agent's limit); none: *ret_len 0, an empty array ("no parameters").
 */
static int params_encode(const struct args *a, uint8_t *buf, size_t *ret_len)
{
	int r;

	*ret_len = 0;
	if (a->params.n == 0)
		return EXIT_OK;
	r = proplist_encode((const char *const *) a->params.items, a->params.n, buf,
			    CONTROL_PARAMS_MAX, ret_len);
	if (r == -E2BIG) {
		fprintf(stderr,
			"monitorctl: the --param list does not fit in %u bytes (hagentd's limit)\n",
			CONTROL_PARAMS_MAX);
		return EXIT_INVALID_ARGUMENT;
	}
	if (r < 0)
		return param_refused(a);
	return EXIT_OK;
}

/*
 * After the answer: with --wait and an operation running, wait for its end
 * (*res then describes the state reached); for --json, the record (its id).
 * *ret_have says whether *g is filled.
 */
static int group_follow(const struct args *a, bool online, int control_fd,
			struct control_result *res, struct hagent_group *g, bool *ret_have)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	uint32_t slot;
	size_t n;
	int r;

	*ret_have = false;
	if ((a->given & OPT_WAIT) && res->result == CONTROL_RESULT_IO_PENDING) {
		r = state_open(a->runtime_dir, &s);
		if (r != EXIT_OK)
			return r;
		r = group_wait(s, ARG_NAME(a), online, res, a->timeout_ns, control_fd, g);
		if (r != EXIT_OK)
			return r;
		*res = (struct control_result){
			.result = CONTROL_RESULT_SUCCESS,
			.state = g->state,
			.state_seq = g->state_seq,
		};
		*ret_have = true;
	} else if (a->json) {
		/* Only for the id: without a segment the change stands and the id is null. */
		if (hagent_shm_open(a->runtime_dir, &s) >= 0 &&
		    hagent_shm_find(s, KIND_GROUP, ARG_NAME(a), &slot) >= 0 &&
		    hagent_shm_read_group(s, slot, g, NULL, 0, &n) >= 0)
			*ret_have = true;
	}
	return EXIT_OK;
}

static int group_change(const struct args *a, bool online)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	uint8_t params[CONTROL_PARAMS_MAX];
	struct control_result res;
	struct hagent_group g;
	size_t params_len = 0;
	bool have;
	int r;

	if (!online) {
		/* The command line first: a bad --param is a usage error, agent or not. */
		r = params_encode(a, params, &params_len);
		if (r != EXIT_OK)
			return r;
	}
	r = control_open(a->runtime_dir, &bus);
	if (r != EXIT_OK)
		return r;
	if (online)
		r = control_group_online(bus, ARG_NAME(a), &res);
	else
		r = control_group_offline(bus, ARG_NAME(a),
					  a->given & OPT_IGNORE_LOCKED ? CONTROL_FLAG_IGNORE_LOCKED
								       : 0,
					  params, params_len, &res);
	if (r != EXIT_OK)
		return r;
	/* The wait reads the segment; the connection stays open, to see the agent exit. */
	r = group_follow(a, online, sd_bus_get_fd(bus), &res, &g, &have);
	if (r != EXIT_OK)
		return r;
	return print_state(a, &res, group_state_name(res.state), have ? g.id : NULL);
}

int cmd_group_online(const struct args *a)
{
	return group_change(a, true);
}

int cmd_group_offline(const struct args *a)
{
	return group_change(a, false);
}

int cmd_group_set(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_group_set(bus, ARG_NAME(a), a->cmd + 3, (size_t) a->n_cmd - 3);
	return r;
}

int cmd_group_set_dependency(const struct args *a)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *stored = NULL;
	struct json_writer j;
	int r;

	r = control_open(a->runtime_dir, &bus);
	if (r == EXIT_OK)
		r = control_group_set_deps(bus, ARG_NAME(a), a->cmd[3], &stored);
	if (r != EXIT_OK)
		return r;
	if (!a->json) {
		printf("%s\n", stored);
		return output_flush();
	}
	json_init(&j, stdout);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, ARG_NAME(a));
	json_key(&j, "dependency_expression");
	json_string(&j, stored);
	json_object_end(&j);
	fputc('\n', stdout);
	return output_flush();
}
