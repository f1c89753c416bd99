//! The set-at-a-time import: the same outcome as applying the records one
//! by one (see `import.rs`), with a few statements per batch instead of a
//! few per record. Users are settled first, then groups, then memberships,
//! then nesting, so a record may name a user or group made anywhere in its
//! batch. Each kind is looked up with one query per few hundred names, new
//! rows are written with multi-row inserts, counters move once per touched
//! group and user, and events are appended together: one per change, as
//! always.

use std::collections::HashMap;

use super::import::{
    ImportFailure, ImportRecord, ImportSummary, apply, imported_group, merge_group_record, merge_user_record,
};
use super::steps::{group_updated, last_admin, loses_admin, save_membership, user_updated};
use super::{audit, event};
use crate::authz::Principal;
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{Group, Member, Membership, NewEvent, Permissions, User};
use crate::store::Tx;
use crate::validate;

/// A failure in the fast path: at a known record, or somewhere in a
/// multi-row write (the caller then locates it by replaying one by one).
pub(crate) enum BatchError {
    At(ImportFailure),
    Somewhere(CoreError),
}

impl From<CoreError> for BatchError {
    fn from(e: CoreError) -> Self {
        BatchError::Somewhere(e)
    }
}

impl From<crate::error::StoreError> for BatchError {
    fn from(e: crate::error::StoreError) -> Self {
        BatchError::Somewhere(e.into())
    }
}

fn at(index: usize) -> impl Fn(CoreError) -> BatchError {
    move |error| BatchError::At(ImportFailure { index, error })
}

pub(crate) async fn import_batch(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    records: &[ImportRecord],
    t: time::OffsetDateTime,
) -> Result<ImportSummary, BatchError> {
    let mut summary = ImportSummary::default();
    let mut events: Vec<NewEvent> = Vec::new();
    let users = settle_users(tx, p, records, t, &mut summary, &mut events).await?;
    let groups = settle_groups(tx, p, records, t, &mut summary, &mut events).await?;
    settle_members(tx, p, records, t, users, groups, &mut summary, &mut events).await?;
    tx.append_events(&events).await?;
    // Nesting is rare in bulk and needs the graph lock and a cycle check
    // per edge: one by one, after everything it may name exists.
    for (i, r) in records.iter().enumerate() {
        if matches!(r, ImportRecord::Child { .. }) {
            count(&mut summary, apply(tx, p, r).await.map_err(at(i))?);
        }
    }
    Ok(summary)
}

fn count(summary: &mut ImportSummary, outcome: super::import::Outcome) {
    use super::import::Outcome;
    match outcome {
        Outcome::Created => summary.created += 1,
        Outcome::Updated => summary.updated += 1,
        Outcome::Unchanged => summary.unchanged += 1,
    }
}

async fn settle_users(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    records: &[ImportRecord],
    t: time::OffsetDateTime,
    summary: &mut ImportSummary,
    events: &mut Vec<NewEvent>,
) -> Result<HashMap<String, User>, BatchError> {
    let mut names = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let ImportRecord::User { username, .. } = r {
            names.push(validate::username(username).map_err(at(i))?);
        }
    }
    let mut users: HashMap<String, (User, bool, Option<User>)> = HashMap::new();
    for u in tx.get_users_by_usernames(&names).await? {
        users.insert(validate::fold(&u.username), (u, false, None));
    }
    let mut order: Vec<String> = Vec::new();
    // The first record that takes away an active site admin, if any.
    let mut demotes: Option<usize> = None;
    for (i, r) in records.iter().enumerate() {
        let ImportRecord::User { username, .. } = r else { continue };
        let username = validate::username(username).map_err(at(i))?;
        let key = validate::fold(&username);
        let created = !users.contains_key(&key);
        let entry = users.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            (User::new(username.clone(), t), true, None)
        });
        let before = entry.0.clone();
        let user = &mut entry.0;
        merge_user_record(user, r).map_err(at(i))?;
        if demotes.is_none() && loses_admin(&before, user) {
            demotes = Some(i);
        }
        if created {
            summary.created += 1;
        } else if *user == before {
            summary.unchanged += 1;
        } else {
            if !entry.1 && entry.2.is_none() {
                entry.2 = Some(before);
            }
            summary.updated += 1;
        }
    }
    let new: Vec<User> = order.iter().filter_map(|k| users.get(k)).map(|(u, _, _)| u.clone()).collect();
    let nums = tx.insert_users(&new).await?;
    for (u, num) in new.iter().zip(nums) {
        if let Some(entry) = users.get_mut(&validate::fold(&u.username)) {
            entry.0.num = num;
        }
        events.push(event(p.actor(), "user.created", "user", u.id, None, Some(audit::user(u))));
    }
    // Existing users this batch changed carry their earlier state (made
    // ones never do: they were inserted above).
    for (user, _, before) in users.values_mut() {
        if let Some(before) = before {
            user.mark_changed(before, t);
            tx.update_user(user).await?;
            events.push(user_updated(p, before, user));
        }
    }
    // The last active site admin stays, however many records the batch
    // demotes: counted once the batch's changes are in.
    if let Some(i) = demotes
        && tx.count_site_admins().await? == 0
    {
        return Err(at(i)(last_admin()));
    }
    Ok(users.into_iter().map(|(k, (u, _, _))| (k, u)).collect())
}

async fn settle_groups(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    records: &[ImportRecord],
    t: time::OffsetDateTime,
    summary: &mut ImportSummary,
    events: &mut Vec<NewEvent>,
) -> Result<HashMap<String, Group>, BatchError> {
    let mut names = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let ImportRecord::Group { name, .. } = r {
            names.push(validate::group_name(name).map_err(at(i))?);
        }
    }
    let mut groups: HashMap<String, (Group, bool, Option<Group>)> = HashMap::new();
    for g in tx.get_groups_by_names(&names).await? {
        groups.insert(validate::fold(&g.name), (g, false, None));
    }
    let mut order: Vec<String> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let ImportRecord::Group { name, .. } = r else { continue };
        let name = validate::group_name(name).map_err(at(i))?;
        let key = validate::fold(&name);
        let created = !groups.contains_key(&key);
        let entry = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            (imported_group(name.clone(), p, t), true, None)
        });
        let before = entry.0.clone();
        merge_group_record(&mut entry.0, r).map_err(at(i))?;
        if created {
            summary.created += 1;
        } else if entry.0 == before {
            summary.unchanged += 1;
        } else {
            if !entry.1 && entry.2.is_none() {
                entry.2 = Some(before);
            }
            summary.updated += 1;
        }
    }
    let new: Vec<Group> = order.iter().filter_map(|k| groups.get(k)).map(|(g, _, _)| g.clone()).collect();
    let nums = tx.insert_groups(&new).await?;
    for (g, num) in new.iter().zip(nums) {
        if let Some(entry) = groups.get_mut(&validate::fold(&g.name)) {
            entry.0.num = num;
        }
        events.push(event(p.actor(), "group.created", "group", g.id, None, Some(audit::group(g))));
    }
    for (group, _, before) in groups.values_mut() {
        if let Some(before) = before {
            group.updated_at = t;
            group.updated_by = Some(p.user);
            group.version += 1;
            tx.update_group(group).await?;
            events.push(group_updated(p, before, group));
        }
    }
    Ok(groups.into_iter().map(|(k, (g, _, _))| (k, g)).collect())
}

#[allow(clippy::too_many_arguments)]
async fn settle_members(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    records: &[ImportRecord],
    t: time::OffsetDateTime,
    mut users: HashMap<String, User>,
    mut groups: HashMap<String, Group>,
    summary: &mut ImportSummary,
    events: &mut Vec<NewEvent>,
) -> Result<(), BatchError> {
    // Names the batch did not itself mention: one lookup for each kind.
    let mut missing_users = Vec::new();
    let mut missing_groups = Vec::new();
    for r in records {
        let (group_names, user_name): (Vec<&String>, Option<&String>) = match r {
            ImportRecord::Member { group, user, .. } => (vec![group], Some(user)),
            ImportRecord::Child { parent, child } => (vec![parent, child], None),
            _ => continue,
        };
        // A name holding a NUL names nothing (no name may hold one, and
        // PostgreSQL would refuse the lookup): it is simply missing.
        for g in group_names.into_iter().filter(|g| !g.contains('\0')) {
            if !groups.contains_key(&validate::fold(g)) {
                missing_groups.push(g.clone());
            }
        }
        if let Some(u) = user_name.filter(|u| !u.contains('\0'))
            && !users.contains_key(&validate::fold(u))
        {
            missing_users.push(u.clone());
        }
    }
    missing_users.sort_unstable();
    missing_users.dedup();
    missing_groups.sort_unstable();
    missing_groups.dedup();
    for u in tx.get_users_by_usernames(&missing_users).await? {
        users.insert(validate::fold(&u.username), u);
    }
    for g in tx.get_groups_by_names(&missing_groups).await? {
        groups.insert(validate::fold(&g.name), g);
    }
    let mut wanted: Vec<(usize, GroupId, UserId, crate::model::MemberRole)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let ImportRecord::Member { group, user, role } = r else { continue };
        let g = groups.get(&validate::fold(group)).ok_or(CoreError::NotFound { what: "group" }).map_err(at(i))?;
        let u = users.get(&validate::fold(user)).ok_or(CoreError::NotFound { what: "user" }).map_err(at(i))?;
        wanted.push((i, g.id, u.id, *role));
    }
    let pairs: Vec<(GroupId, UserId)> = wanted.iter().map(|(_, g, u, _)| (*g, *u)).collect();
    let mut existing: HashMap<(GroupId, UserId), Membership> = HashMap::new();
    for m in tx.find_user_memberships(&pairs).await? {
        if let Member::User(u) = m.member {
            existing.insert((m.group, u), m);
        }
    }
    let mut new: Vec<Membership> = Vec::new();
    let mut pending: HashMap<(GroupId, UserId), usize> = HashMap::new();
    for (_, g, u, role) in wanted {
        if let Some(&k) = pending.get(&(g, u)) {
            if new[k].role == role {
                summary.unchanged += 1;
            } else {
                new[k].role = role;
                summary.updated += 1;
            }
            continue;
        }
        match existing.get(&(g, u)) {
            Some(m) if m.role == role => summary.unchanged += 1,
            Some(before) => {
                let m = Membership { role, updated_at: t, ..before.clone() };
                save_membership(tx, p, before, &m).await?;
                existing.insert((g, u), m);
                summary.updated += 1;
            }
            None => {
                pending.insert((g, u), new.len());
                new.push(Membership::new(g, Member::User(u), role, Permissions::default(), t));
                summary.created += 1;
            }
        }
    }
    let edges: Vec<(GroupId, UserId)> =
        new.iter().filter_map(|m| if let Member::User(u) = m.member { Some((m.group, u)) } else { None }).collect();
    let watch = if edges.is_empty() { None } else { super::watched::before_imported(tx, &edges).await? };
    let nums = tx.insert_memberships(&new).await?;
    for (m, num) in new.iter_mut().zip(nums) {
        m.num = num;
        events.push(event(p.actor(), "membership.created", "membership", m.id, None, Some(audit::membership(m))));
    }
    events.extend(super::watched::after_events(tx, p, watch, serde_json::json!({ "import": true })).await?);
    Ok(())
}
