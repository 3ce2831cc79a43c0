/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The group layer (semantics.md §5, §4.3 failover): orders the members of a
 * group by their resource dependencies and acts on failures that concern
 * the whole group.  It owns no state of the members: it reads their state
 * machines and asks agent-resource.h for requests, from the reconcile hook
 * that runs before every segment commit in which a member changed.  So it is
 * declarative: each member's persistent state says what the operator wants,
 * and a pass over the group takes the next steps toward it:
 *
 *   - a member that should be online and is Offline goes online once every
 *     provider is Online and should stay so (providers first, independent
 *     branches in parallel);
 *   - a member that should be offline and is Online goes offline once no
 *     dependent is Online or pending (dependents first); one still coming
 *     online is taken offline when it gets there;
 *   - a member whose provider is no longer Online is taken down, the
 *     persistent state kept (a system request), so that it follows its
 *     provider back online; a restart or retry of a member whose providers
 *     are down waits for them (the may_restart hook);
 *   - group dependency expressions (semantics.md §6.6) order whole groups:
 *     a member starts only once every provider group is Online and meant to
 *     stay so (meanwhile the group shows the WAITING flag), and a member
 *     going offline waits while a group depending on its group has a member
 *     up; a provider group that fails does nothing to its dependents (only
 *     starts are ordered, and OfflineGroup takes the dependents down first:
 *     agent-ops);
 *   - a failure escalated by RestartAction 2 restarts the whole group, as a
 *     failover to the same node: every member down, dependents first, then
 *     online again, providers first, each from a fresh restart window; the
 *     failover policy (failover-policy.h, FailoverThreshold in
 *     FailoverPeriod) counts these, and beyond the threshold the group is
 *     left as it is, failed.
 *
 * A group online or offline is therefore: store the persistent states (the
 * caller, agent-ops), then agent_groups_set_targets(), whose pass issues
 * the first requests before it returns; the group shows Pending in the same
 * segment commit.  Main-loop thread only.
 */

#include <stdbool.h>
#include <stddef.h>

#include "agent-model.h"
#include "agent-resource.h"

struct agent_groups;

/* The group layer over m and rs; installs its hooks in rs.  Both must outlive it. */
int agent_groups_new(struct agent_model *m, struct agent_resources *rs, struct agent_groups **ret);
struct agent_groups *agent_groups_free(struct agent_groups *gs);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct agent_groups *, agent_groups_free);

/*
 * The model's persistent states of resources idx[0..n) (members of group
 * gi; n may be 0) are now online (or offline): tell their state machines,
 * and act in one segment transaction.  Online: Failed members among them get an online
 * attempt (the operator acted).  Offline: members that are Online now get
 * params (params_len bytes, may be 0 with params NULL: none) with their
 * offline, and nothing else does.  The group record is written too (its
 * persistent state may have changed).
 */
void agent_groups_set_targets(struct agent_groups *gs, size_t gi, const size_t *idx, size_t n,
			      bool online, const void *params, size_t params_len);

/* True if every provider of resource i is Online (and meant to stay so). */
bool agent_groups_providers_online(struct agent_groups *gs, size_t i);
/* True if a dependent of resource i is Online or pending. */
bool agent_groups_dependents_up(const struct agent_groups *gs, size_t i);

/*
 * Resource i and every resource it depends on (providers: true) or that
 * depends on it (false), transitively: *ret (malloc'd, i first) and *ret_n.
 */
int agent_groups_closure(const struct agent_groups *gs, size_t i, bool providers, size_t **ret,
			 size_t *ret_n);

/* Group gi's properties changed (FailoverThreshold...): the record, with GROUP_PROPERTY. */
void agent_groups_props_changed(struct agent_groups *gs, size_t gi);
/* Group gi's dependency expression changed: the record (GROUP_PROPERTY), and a pass. */
void agent_groups_group_deps_changed(struct agent_groups *gs, size_t gi);
/*
 * Group gi and every group that depends on it, directly or not (gi first,
 * then by distance): *ret (malloc'd) and *ret_n.
 */
int agent_groups_dependents_closure(const struct agent_groups *gs, size_t gi, size_t **ret,
				    size_t *ret_n);
/*
 * A graceful stop of the agent: every resource goes offline in order, as if
 * each group were taken offline (dependents first, dependent groups first),
 * but the persistent states stay: the next start brings back what was
 * online.  No restart or retry runs from now on.
 */
void agent_groups_shutdown(struct agent_groups *gs);
/* Resources that are up (Online or pending). */
size_t agent_groups_n_up(const struct agent_groups *gs);

/* Group gi was removed: its counters go. */
void agent_groups_removed(struct agent_groups *gs, size_t gi);
/* The resource dependencies of group gi changed: a pass, and the records of dependent d. */
void agent_groups_deps_changed(struct agent_groups *gs, size_t gi, size_t d);
