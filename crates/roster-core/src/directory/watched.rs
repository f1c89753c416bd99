//! `member.transitive_added` / `member.transitive_removed`: when an edge
//! changes (a user added to or removed from a group, a group nested or
//! un-nested), the users whose membership at any depth of a watched group
//! changed, each an event about that group, appended in the write's
//! transaction beside the edge's own event. A group is watched when an
//! enabled subscription scoped to it takes these types: the log carries
//! them for watched groups only, since for every ancestor of every edge
//! they would multiply every write.
//!
//! Exact by construction: the users the edge can affect (the user, or
//! every user at any depth of the nested group) are looked up in the
//! watched group's closure before and after the change, in the write's
//! transaction, and only those whose answer changed get an event (a user
//! still reachable along another path gets none). The watched group is
//! locked first (`WebhookStore::lock_watched_group`), so two writes that
//! change its members at any depth, which otherwise run side by side on
//! PostgreSQL, see each other's closure.
//!
//! Deleting a user or a group counts too (every watched group the user
//! was in; the users of the group in the watched groups at or above it,
//! and in the group itself when it was watched), and so do the user
//! memberships an import adds, per batch (`via`: `{"import": true}`).

use std::collections::HashSet;

use super::event;
use crate::authz::Principal;
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{Member, NewEvent};
use crate::store::Tx;
use crate::webhooks::{TRANSITIVE_ADDED, TRANSITIVE_REMOVED, wants_type};

/// The watched groups an edge change touches, with the users it may move
/// and which of them each group held before the change.
pub(crate) struct Watch {
    scopes: Vec<(GroupId, HashSet<UserId>)>,
    users: Vec<UserId>,
}

/// The watched groups at or above `at` (every watched group when `None`),
/// in id order.
async fn watched_at(tx: &mut Box<dyn Tx>, at: Option<GroupId>) -> Result<Vec<GroupId>, CoreError> {
    let wanted = |types: &[String]| wants_type(types, TRANSITIVE_ADDED) || wants_type(types, TRANSITIVE_REMOVED);
    let mut watched: Vec<GroupId> =
        tx.scoped_subscriptions().await?.into_iter().filter(|(_, types)| wanted(types)).map(|(g, _)| g).collect();
    watched.sort();
    watched.dedup();
    let Some(at) = at else { return Ok(watched) };
    let mut scopes = Vec::new();
    for s in watched {
        if s == at || tx.group_reaches(s, at).await? {
            scopes.push(s);
        }
    }
    Ok(scopes)
}

/// Every user at any depth of `group`.
async fn users_under(tx: &mut Box<dyn Tx>, group: GroupId) -> Result<Vec<UserId>, CoreError> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = tx.list_members_transitively(group, after, 1000).await?;
        let Some(last) = page.last().map(|u| u.num) else { break };
        after = last;
        all.extend(page.into_iter().map(|u| u.id));
    }
    Ok(all)
}

/// Locks `scopes` (in id order, so writes that lock several take them in
/// one order) and notes which of `users` each holds now.
async fn snapshot(tx: &mut Box<dyn Tx>, scopes: Vec<GroupId>, users: Vec<UserId>) -> Result<Option<Watch>, CoreError> {
    let mut held = Vec::with_capacity(scopes.len());
    for s in scopes {
        tx.lock_watched_group(s).await?;
        let now: HashSet<UserId> = tx.users_in_group_among(s, &users).await?.into_iter().collect();
        held.push((s, now));
    }
    Ok(Some(Watch { scopes: held, users }))
}

/// Before changing the edge (`group`, `member`): the watched groups at or
/// above `group`, locked, and who of the users the edge may move is in
/// each at any depth now. `None` when no watched group is concerned.
pub(crate) async fn before(tx: &mut Box<dyn Tx>, group: GroupId, member: Member) -> Result<Option<Watch>, CoreError> {
    let scopes = watched_at(tx, Some(group)).await?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let users = match member {
        Member::User(u) => vec![u],
        Member::Group(child) => users_under(tx, child).await?,
    };
    snapshot(tx, scopes, users).await
}

/// Before deleting a user: every watched group, and whether the user is in it.
pub(crate) async fn before_user_deleted(tx: &mut Box<dyn Tx>, user: UserId) -> Result<Option<Watch>, CoreError> {
    let scopes = watched_at(tx, None).await?;
    if scopes.is_empty() {
        return Ok(None);
    }
    snapshot(tx, scopes, vec![user]).await
}

/// Before deleting a group: the watched groups at or above it (itself
/// included), and which of its users at any depth each holds.
pub(crate) async fn before_group_deleted(tx: &mut Box<dyn Tx>, group: GroupId) -> Result<Option<Watch>, CoreError> {
    let scopes = watched_at(tx, Some(group)).await?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let users = users_under(tx, group).await?;
    snapshot(tx, scopes, users).await
}

/// Before an import adds user memberships (`edges`, group and user): the
/// watched groups at or above any of their groups, and which of their
/// users each holds.
pub(crate) async fn before_imported(
    tx: &mut Box<dyn Tx>,
    edges: &[(GroupId, UserId)],
) -> Result<Option<Watch>, CoreError> {
    let mut scopes = Vec::new();
    for s in watched_at(tx, None).await? {
        for (g, _) in edges {
            if s == *g || tx.group_reaches(s, *g).await? {
                scopes.push(s);
                break;
            }
        }
    }
    if scopes.is_empty() {
        return Ok(None);
    }
    let mut users: Vec<UserId> = edges.iter().map(|(_, u)| *u).collect();
    users.sort();
    users.dedup();
    snapshot(tx, scopes, users).await
}

/// After the change (`via`: the membership that changed, or what was
/// deleted): an event for each user whose membership at any depth of a
/// watched group changed, appended.
pub(crate) async fn after(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    watch: Option<Watch>,
    via: serde_json::Value,
) -> Result<(), CoreError> {
    let events = after_events(tx, p, watch, via).await?;
    tx.append_events(&events).await?;
    Ok(())
}

/// As [`after`], the events returned for the caller to append.
pub(crate) async fn after_events(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    watch: Option<Watch>,
    via: serde_json::Value,
) -> Result<Vec<NewEvent>, CoreError> {
    let mut events = Vec::new();
    let Some(watch) = watch else { return Ok(events) };
    for (scope, before) in watch.scopes {
        let now: HashSet<UserId> = tx.users_in_group_among(scope, &watch.users).await?.into_iter().collect();
        for u in &watch.users {
            let (was, is) = (before.contains(u), now.contains(u));
            if was == is {
                continue;
            }
            let data = serde_json::json!({ "group_id": scope.to_string(), "user_id": u.to_string(), "via": via });
            let e = if is {
                event(p.actor(), TRANSITIVE_ADDED, "group", scope, None, Some(data))
            } else {
                event(p.actor(), TRANSITIVE_REMOVED, "group", scope, Some(data), None)
            };
            events.push(e);
        }
    }
    Ok(events)
}
