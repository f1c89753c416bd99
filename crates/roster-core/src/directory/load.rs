//! The bulk load (`roster load`): a whole directory's users, groups,
//! nesting and memberships written in one transaction, for a first
//! migration into Roster, as `slapadd` is for OpenLDAP.
//!
//! It reads the same records as an import, with the same rules (names,
//! merge of repeated records, cycles), but decides everything in memory
//! first and then writes rows, not changes:
//! - the directory must hold no group yet (so no membership, nesting or
//!   share): nothing stored can conflict with an edge, and the nesting
//!   graph can be checked for cycles in memory;
//! - counters are summed in memory and written once, the nesting closure
//!   is rebuilt once from the edges;
//! - the log gets one `directory.loaded` event with the totals, not one
//!   event per row (at 10^7 memberships those events were most of the
//!   bytes an import wrote). A server following the log reloads its index
//!   on that event, so nothing is missed; webhook subscribers receive it
//!   instead of a creation per row. Changes to users that existed before
//!   the load keep their own `user.updated` events.
//!
//! The operator runs it with the database's address, like a backup: it
//! acts as nobody (the log's actor is empty, as for the first start).

use std::collections::HashMap;

use time::OffsetDateTime;

use super::import::{ImportRecord, merge_group_record, merge_user_record};
use super::steps::{last_admin, loses_admin};
use super::{Directory, audit, event, now};
use crate::error::CoreError;
use crate::ids::UserId;
use crate::model::{DEFAULT_ORG_ID, Group, Member, MemberRole, Membership, Permissions, SourceType, User};
use crate::store::{Counter, EdgeCounts, Tx};
use crate::validate;

/// Rows per store call while writing: large enough that a call's fixed
/// costs vanish, small enough that one chunk's rows stay small in memory.
const WRITE_CHUNK: usize = 10_000;

/// The event a load appends, once, in place of one per row.
pub const LOADED: &str = "directory.loaded";

/// Why a load stopped, with the input line at fault when there is one.
/// Nothing is written when a load fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadFailure {
    pub line: Option<usize>,
    pub error: CoreError,
}

impl From<CoreError> for LoadFailure {
    fn from(error: CoreError) -> Self {
        Self { line: None, error }
    }
}

impl From<crate::error::StoreError> for LoadFailure {
    fn from(e: crate::error::StoreError) -> Self {
        Self { line: None, error: e.into() }
    }
}

fn at(line: usize) -> impl Fn(CoreError) -> LoadFailure {
    move |error| LoadFailure { line: Some(line), error }
}

/// What a load wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub users_created: u64,
    pub users_updated: u64,
    pub groups_created: u64,
    pub memberships: u64,
    pub nesting: u64,
}

/// A user or group of the load: made by it, or (users) stored before it
/// (`before` then holds the stored row, to tell whether the load changed
/// it).
struct Entry<T> {
    row: T,
    line: usize,
    before: Option<T>,
}

/// An edge named by its ends' positions in the load's lists, with the
/// line that asked for it (the last one, when several did).
#[derive(Clone, Copy)]
struct Edge {
    from: u32,
    to: u32,
    admin: bool,
    line: usize,
}

/// Which edge a record asks for: a user in a group, or a group nested
/// in another.
#[derive(Clone, Copy)]
enum EdgeKind {
    Member,
    Child,
}

/// A record naming a user or group not seen yet: settled at the end.
struct Pending {
    line: usize,
    kind: EdgeKind,
    group: String,
    member: String,
    admin: bool,
}

/// The entry of the user or group `name` (folded to compare), made by
/// `make` the first time; `line` becomes the last record that named it.
fn slot<'a, T>(
    at: &mut HashMap<String, u32>,
    list: &'a mut Vec<Entry<T>>,
    name: String,
    line: usize,
    make: impl FnOnce(String) -> T,
) -> &'a mut Entry<T> {
    let i = *at.entry(validate::fold(&name)).or_insert_with(|| {
        list.push(Entry { row: make(name), line, before: None });
        (list.len() - 1) as u32
    });
    let entry = &mut list[i as usize];
    entry.line = line;
    entry
}

/// A load in progress: the write transaction, and everything the file
/// said so far, checked record by record as it is pushed.
pub struct Load {
    tx: Box<dyn Tx>,
    t: OffsetDateTime,
    users: Vec<Entry<User>>,
    user_at: HashMap<String, u32>,
    groups: Vec<Entry<Group>>,
    group_at: HashMap<String, u32>,
    /// group → user.
    members: Vec<Edge>,
    /// parent → child.
    children: Vec<Edge>,
    pending: Vec<Pending>,
}

impl Directory {
    /// Starts a bulk load: opens the write transaction, refuses a
    /// directory that already has groups, and reads the users it has (a
    /// record may name them).
    pub async fn begin_load(&self) -> Result<Load, LoadFailure> {
        let mut tx = self.write().await?;
        let groups = tx.count(Counter::Groups).await?;
        if groups > 0 {
            return Err(CoreError::conflict(
                "groups",
                format!(
                    "this directory already has {groups} group(s): a load fills a directory that has none \
                     (use `roster import` to add to one)"
                ),
            )
            .into());
        }
        let mut users = Vec::new();
        let mut user_at = HashMap::new();
        let mut after = 0;
        loop {
            let page = tx.scan_users(after, 1000).await?;
            let Some(last) = page.last().map(|u| u.num) else { break };
            after = last;
            for u in page {
                user_at.insert(validate::fold(&u.username), users.len() as u32);
                users.push(Entry { before: Some(u.clone()), row: u, line: 0 });
            }
        }
        Ok(Load {
            tx,
            t: now(),
            users,
            user_at,
            groups: Vec::new(),
            group_at: HashMap::new(),
            members: Vec::new(),
            children: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// Writes what `load` gathered, in its transaction, and commits: every
    /// row or none. The index of this server (and of every server that
    /// follows the log) reloads from the store on the load's event.
    pub async fn finish_load(&self, load: Load) -> Result<LoadSummary, LoadFailure> {
        let summary = load.write().await?;
        self.applied().await;
        Ok(summary)
    }
}

impl Load {
    /// Takes one record (`line`: where the input had it, for errors).
    /// Users and groups may be named before the record that makes them.
    pub fn push(&mut self, line: usize, record: ImportRecord) -> Result<(), LoadFailure> {
        let fail = at(line);
        match &record {
            ImportRecord::User { username, .. } => {
                let username = validate::username(username).map_err(&fail)?;
                let t = self.t;
                let entry = slot(&mut self.user_at, &mut self.users, username, line, |name| User::new(name, t));
                merge_user_record(&mut entry.row, &record).map_err(&fail)?;
            }
            ImportRecord::Group { name, .. } => {
                let name = validate::group_name(name).map_err(&fail)?;
                let t = self.t;
                let entry = slot(&mut self.group_at, &mut self.groups, name, line, |name| loaded_group(name, t));
                merge_group_record(&mut entry.row, &record).map_err(&fail)?;
            }
            ImportRecord::Member { group, user, role } => {
                self.edge_or_pending(EdgeKind::Member, group, user, *role == MemberRole::Admin, line);
            }
            ImportRecord::Child { parent, child } => self.edge_or_pending(EdgeKind::Child, parent, child, false, line),
        }
        Ok(())
    }

    /// Adds the edge now when both ends are known, else keeps it for
    /// [`Load::settle_pending`] (a record may name a later user or group).
    fn edge_or_pending(&mut self, kind: EdgeKind, group: &str, member: &str, admin: bool, line: usize) {
        if !self.add_edge(kind, group, member, admin, line) {
            self.pending.push(Pending { line, kind, group: group.to_owned(), member: member.to_owned(), admin });
        }
    }

    /// Adds the edge between the named ends when both are known by now;
    /// false when one is not (yet).
    fn add_edge(&mut self, kind: EdgeKind, group: &str, member: &str, admin: bool, line: usize) -> bool {
        let members = match kind {
            EdgeKind::Member => &self.user_at,
            EdgeKind::Child => &self.group_at,
        };
        let (Some(&from), Some(&to)) =
            (self.group_at.get(&validate::fold(group)), members.get(&validate::fold(member)))
        else {
            return false;
        };
        let edge = Edge { from, to, admin, line };
        match kind {
            EdgeKind::Member => self.members.push(edge),
            EdgeKind::Child => self.children.push(edge),
        }
        true
    }

    /// Names the records made before the users and groups they name, now
    /// that every record is in.
    fn settle_pending(&mut self) -> Result<(), LoadFailure> {
        for p in std::mem::take(&mut self.pending) {
            if self.add_edge(p.kind, &p.group, &p.member, p.admin, p.line) {
                continue;
            }
            let (group_field, member_field, member_kind) = match p.kind {
                EdgeKind::Member => ("group", "user", "user"),
                EdgeKind::Child => ("parent", "child", "group"),
            };
            // One end is missing: the group, else the member.
            let (field, what, name) = if self.group_at.contains_key(&validate::fold(&p.group)) {
                (member_field, member_kind, &p.member)
            } else {
                (group_field, "group", &p.group)
            };
            let reason = format!("no {what} {name:?} in the file or the directory");
            return Err(at(p.line)(CoreError::invalid(field, reason)));
        }
        Ok(())
    }

    /// Every check that needs the whole file: unique fields, the last
    /// site admin, cycles. Leaves each edge once (the last record wins).
    fn check(&mut self) -> Result<(), LoadFailure> {
        self.settle_pending()?;
        let mut external = HashMap::new();
        for e in &self.users {
            if let Some(x) = &e.row.external_id
                && let Some(other) = external.insert(x.as_str(), e.row.username.as_str())
            {
                let reason = format!("user {other:?} has this external_id too");
                return Err(at(e.line)(CoreError::conflict("external_id", reason)));
            }
        }
        let mut unique = HashMap::new();
        for e in &self.groups {
            if let Some(x) = &e.row.unique_id
                && let Some(other) = unique.insert(x.as_str(), e.row.name.as_str())
            {
                let reason = format!("group {other:?} has this unique_id too");
                return Err(at(e.line)(CoreError::conflict("unique_id", reason)));
            }
        }
        if !self.users.iter().any(|e| e.row.is_active_admin())
            && let Some(e) = self.users.iter().find(|e| e.before.as_ref().is_some_and(|b| loses_admin(b, &e.row)))
        {
            return Err(at(e.line)(last_admin()));
        }
        dedup(&mut self.members);
        dedup(&mut self.children);
        refuse_cycles(self.groups.len(), &self.children)?;
        Ok(())
    }

    async fn write(mut self) -> Result<LoadSummary, LoadFailure> {
        self.check()?;
        let mut summary = LoadSummary::default();
        let t = self.t;
        let tx = &mut self.tx;
        for e in &mut self.users {
            let Some(before) = &e.before else { continue };
            if e.row != *before {
                e.row.mark_changed(before, t);
                tx.update_user(&e.row).await?;
                let changed =
                    event(None, "user.updated", "user", e.row.id, Some(audit::user(before)), Some(audit::user(&e.row)));
                tx.append_event(&changed).await?;
                summary.users_updated += 1;
            }
        }
        let new_users: Vec<&Entry<User>> = self.users.iter().filter(|e| e.before.is_none()).collect();
        for chunk in new_users.chunks(WRITE_CHUNK) {
            let rows: Vec<User> = chunk.iter().map(|e| e.row.clone()).collect();
            tx.insert_users(&rows).await?;
        }
        summary.users_created = new_users.len() as u64;
        for chunk in self.groups.chunks(WRITE_CHUNK) {
            let rows: Vec<Group> = chunk.iter().map(|e| e.row.clone()).collect();
            tx.insert_groups(&rows).await?;
        }
        summary.groups_created = self.groups.len() as u64;
        // In the file's order: a group's members are listed in the order
        // they were made, so an export loaded reads back as it was.
        self.members.sort_unstable_by_key(|e| e.line);
        self.children.sort_unstable_by_key(|e| e.line);
        // Counters, summed here and written once.
        let mut counts = EdgeCounts::default();
        tx.begin_bulk_memberships().await?;
        for (edges, kind) in [(&self.members, EdgeKind::Member), (&self.children, EdgeKind::Child)] {
            for chunk in edges.chunks(WRITE_CHUNK) {
                let rows: Vec<Membership> = chunk
                    .iter()
                    .map(|e| {
                        let group = self.groups[e.from as usize].row.id;
                        let member = match kind {
                            EdgeKind::Member => Member::User(self.users[e.to as usize].row.id),
                            EdgeKind::Child => Member::Group(self.groups[e.to as usize].row.id),
                        };
                        let role = if e.admin { MemberRole::Admin } else { MemberRole::Member };
                        Membership::new(group, member, role, Permissions::default(), t)
                    })
                    .collect();
                rows.iter().for_each(|m| counts.add(m));
                tx.insert_membership_rows(&rows).await?;
            }
        }
        summary.memberships = self.members.len() as u64;
        summary.nesting = self.children.len() as u64;
        tx.end_bulk_memberships().await?;
        tx.add_edge_counts(&counts, t).await?;
        if !self.children.is_empty() {
            tx.rebuild_group_closure().await?;
        }
        let totals = serde_json::json!({
            "users_created": summary.users_created,
            "users_updated": summary.users_updated,
            "groups_created": summary.groups_created,
            "memberships": summary.memberships,
            "nesting": summary.nesting,
        });
        tx.append_event(&event(None, LOADED, "directory", DEFAULT_ORG_ID.0, None, Some(totals))).await?;
        self.tx.commit().await?;
        Ok(summary)
    }
}

/// A group the load makes: in the default organization, made by nobody
/// (as the first start's admin is).
fn loaded_group(name: String, t: OffsetDateTime) -> Group {
    let mut g = Group::new(name, DEFAULT_ORG_ID, SourceType::Import, UserId(uuid::Uuid::nil()), t);
    g.created_by = None;
    g.updated_by = None;
    g
}

/// Keeps each `(from, to)` once: the last record that named it. Leaves
/// them sorted by `(from, to)`.
fn dedup(edges: &mut Vec<Edge>) {
    edges.sort_by_key(|e| (e.from, e.to));
    let mut out: Vec<Edge> = Vec::with_capacity(edges.len());
    for e in edges.drain(..) {
        match out.last_mut() {
            Some(last) if (last.from, last.to) == (e.from, e.to) => {
                if e.line > last.line {
                    *last = e;
                }
            }
            _ => out.push(e),
        }
    }
    *edges = out;
}

/// Refuses a nesting that closes a cycle, naming the line of an edge on
/// it: a depth-first walk from every group, iterative (a chain of 10^5
/// groups must not exhaust the stack).
fn refuse_cycles(groups: usize, children: &[Edge]) -> Result<(), LoadFailure> {
    // `children` is sorted by parent: each group's edges are one run.
    let mut first = vec![0usize; groups + 1];
    for e in children {
        first[e.from as usize + 1] += 1;
    }
    for i in 0..groups {
        first[i + 1] += first[i];
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; groups];
    // (group, index of its next edge to follow)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..groups {
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::Open;
        stack.push((root, first[root]));
        while let Some(&mut (g, ref mut next)) = stack.last_mut() {
            if *next == first[g + 1] {
                mark[g] = Mark::Done;
                stack.pop();
                continue;
            }
            let edge = children[*next];
            *next += 1;
            let c = edge.to as usize;
            match mark[c] {
                Mark::Open => return Err(at(edge.line)(CoreError::cycle())),
                Mark::New => {
                    mark[c] = Mark::Open;
                    stack.push((c, first[c]));
                }
                Mark::Done => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: u32, to: u32, line: usize) -> Edge {
        Edge { from, to, admin: false, line }
    }

    fn check(groups: usize, mut edges: Vec<Edge>) -> Result<(), Option<usize>> {
        dedup(&mut edges);
        refuse_cycles(groups, &edges).map_err(|f| f.line)
    }

    #[test]
    fn a_forest_and_a_diamond_have_no_cycle() {
        assert_eq!(check(4, vec![edge(0, 1, 1), edge(0, 2, 2), edge(1, 3, 3), edge(2, 3, 4)]), Ok(()));
    }

    #[test]
    fn a_cycle_is_found_whatever_the_order() {
        assert!(check(3, vec![edge(2, 0, 7), edge(0, 1, 5), edge(1, 2, 6)]).is_err());
        assert_eq!(check(1, vec![edge(0, 0, 9)]), Err(Some(9)));
    }

    #[test]
    fn a_long_chain_does_not_exhaust_the_stack() {
        let n = 200_000;
        let chain: Vec<Edge> = (0..n - 1).map(|i| edge(i, i + 1, i as usize)).collect();
        assert_eq!(check(n as usize, chain.clone()), Ok(()));
        let mut closed = chain;
        closed.push(edge(n - 1, 0, 999_999));
        assert!(check(n as usize, closed).is_err());
    }

    #[test]
    fn the_last_record_of_an_edge_wins() {
        let mut edges = vec![Edge { admin: true, ..edge(0, 1, 1) }, edge(0, 1, 3), edge(1, 0, 2)];
        dedup(&mut edges);
        assert_eq!(edges.len(), 2);
        assert!(!edges[0].admin);
        assert_eq!(edges[0].line, 3);
    }
}
