//! Bulk import: many records in one transaction, keyed by what people
//! know (usernames, group names), so that running the same import twice
//! changes nothing the second time. Site admins only.

use super::import_batch::{BatchError, import_batch};
use super::steps::{
    MemberChange, group_updated, insert_membership, keep_an_admin, refuse_cycle, save_membership, user_updated,
};
use super::{Directory, audit, event, now};
use crate::authz::{self, Principal};
use crate::error::CoreError;
use crate::model::{DEFAULT_ORG_ID, Group, Member, MemberRole, SiteRole, SourceType, User};
use crate::store::Tx;
use crate::validate;

/// A group an import makes: named, in the default organization, nothing else set.
pub(crate) fn imported_group(name: String, p: &Principal, t: time::OffsetDateTime) -> Group {
    Group::new(name, DEFAULT_ORG_ID, SourceType::Import, p.user, t)
}

/// The import's merge rule, for users: a field the record gives replaces
/// the stored one; a field it leaves out keeps it. Shared by the set-at-a-time
/// path and the one-record replay, so both reach the same state.
pub(crate) fn merge_user_record(user: &mut User, record: &ImportRecord) -> Result<(), CoreError> {
    let ImportRecord::User { email, first_name, last_name, display_name, external_id, active, site_role, .. } = record
    else {
        return Ok(());
    };
    if let Some(v) = validate::email(email.as_deref())? {
        user.email = Some(v);
    }
    for (field, given, slot) in [
        ("first_name", first_name, &mut user.first_name),
        ("last_name", last_name, &mut user.last_name),
        ("display_name", display_name, &mut user.display_name),
        ("external_id", external_id, &mut user.external_id),
    ] {
        if let Some(v) = validate::optional_name(field, given.as_deref())? {
            *slot = Some(v);
        }
    }
    user.active = active.unwrap_or(user.active);
    user.site_role = site_role.unwrap_or(user.site_role);
    Ok(())
}

/// The import's merge rule, for groups (as [`merge_user_record`]).
pub(crate) fn merge_group_record(group: &mut Group, record: &ImportRecord) -> Result<(), CoreError> {
    let ImportRecord::Group { description, unique_id, .. } = record else { return Ok(()) };
    if let Some(v) = validate::optional_text("description", description.as_deref())? {
        group.description = Some(v);
    }
    if let Some(v) = validate::optional_name("unique_id", unique_id.as_deref())? {
        group.unique_id = Some(v);
    }
    Ok(())
}

/// One line of an import.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportRecord {
    User {
        username: String,
        email: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        display_name: Option<String>,
        external_id: Option<String>,
        active: Option<bool>,
        site_role: Option<SiteRole>,
    },
    Group {
        name: String,
        description: Option<String>,
        unique_id: Option<String>,
    },
    /// `user` (a username) in `group` (a group name) with `role`.
    Member {
        group: String,
        user: String,
        role: MemberRole,
    },
    /// Group `child` nested in group `parent` (names).
    Child {
        parent: String,
        child: String,
    },
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A record the import refused, by its position in the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportFailure {
    pub index: usize,
    pub error: CoreError,
}

pub(crate) enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Directory {
    /// Applies `records` in one transaction: all of them or, on the first
    /// refusal, none. Site admins only. The batch is applied set at a time
    /// (`import_batch`); when a multi-row write fails without naming its
    /// record, the batch is replayed one record at a time in a fresh
    /// transaction to find it.
    pub async fn import(&self, p: &Principal, records: &[ImportRecord]) -> Result<ImportSummary, ImportFailure> {
        let fail = |index: usize| move |error: CoreError| ImportFailure { index, error };
        authz::require_admin(p).map_err(fail(0))?;
        let mut tx = self.write().await.map_err(fail(0))?;
        match import_batch(&mut tx, p, records, now()).await {
            Ok(summary) => {
                if summary.created + summary.updated > 0 {
                    let last = records.len().saturating_sub(1);
                    tx.commit().await.map_err(|e| ImportFailure { index: last, error: e.into() })?;
                    self.applied().await;
                }
                Ok(summary)
            }
            Err(BatchError::At(failure)) => Err(failure),
            // Contention is no record's fault: the client retries the batch.
            Err(BatchError::Somewhere(error @ (CoreError::Busy | CoreError::Internal(_)))) => {
                Err(ImportFailure { index: 0, error })
            }
            Err(BatchError::Somewhere(_)) => {
                drop(tx);
                self.import_one_by_one(p, records).await
            }
        }
    }

    /// The same import, one record after another in file order: slower, but
    /// a failure names its record.
    async fn import_one_by_one(&self, p: &Principal, records: &[ImportRecord]) -> Result<ImportSummary, ImportFailure> {
        let fail = |index: usize| move |error: CoreError| ImportFailure { index, error };
        let mut tx = self.write().await.map_err(fail(0))?;
        let mut summary = ImportSummary::default();
        for (i, record) in records.iter().enumerate() {
            match apply(&mut tx, p, record).await.map_err(fail(i))? {
                Outcome::Created => summary.created += 1,
                Outcome::Updated => summary.updated += 1,
                Outcome::Unchanged => summary.unchanged += 1,
            }
        }
        if summary.created + summary.updated > 0 {
            tx.commit().await.map_err(|e| ImportFailure { index: records.len().saturating_sub(1), error: e.into() })?;
            self.applied().await;
        }
        Ok(summary)
    }
}

async fn user_named(tx: &mut Box<dyn Tx>, username: &str) -> Result<User, CoreError> {
    // No name holds a NUL (and PostgreSQL would refuse the lookup).
    let found = if username.contains('\0') { None } else { tx.get_user_by_username(username).await? };
    found.ok_or(CoreError::NotFound { what: "user" })
}

async fn group_named(tx: &mut Box<dyn Tx>, name: &str) -> Result<Group, CoreError> {
    let found = if name.contains('\0') { None } else { tx.get_group_by_name(name).await? };
    found.ok_or(CoreError::NotFound { what: "group" })
}

pub(crate) async fn apply(tx: &mut Box<dyn Tx>, p: &Principal, record: &ImportRecord) -> Result<Outcome, CoreError> {
    let t = now();
    match record {
        ImportRecord::User { username, .. } => {
            let username = validate::username(username)?;
            let mut user = match tx.get_user_by_username(&username).await? {
                Some(u) => u,
                None => User { version: 0, ..User::new(username.clone(), t) },
            };
            let before = user.clone();
            merge_user_record(&mut user, record)?;
            if before.version == 0 {
                user.version = 1;
                user.num = tx.insert_user(&user).await?;
                tx.append_event(&event(p.actor(), "user.created", "user", user.id, None, Some(audit::user(&user))))
                    .await?;
                return Ok(Outcome::Created);
            }
            if user == before {
                return Ok(Outcome::Unchanged);
            }
            keep_an_admin(tx, &before, &user).await?;
            user.mark_changed(&before, t);
            tx.update_user(&user).await?;
            tx.append_event(&user_updated(p, &before, &user)).await?;
            Ok(Outcome::Updated)
        }
        ImportRecord::Group { name, .. } => {
            let name = validate::group_name(name)?;
            match tx.get_group_by_name(&name).await? {
                Some(before) => {
                    let mut g = before.clone();
                    merge_group_record(&mut g, record)?;
                    if g == before {
                        return Ok(Outcome::Unchanged);
                    }
                    g.updated_at = t;
                    g.updated_by = Some(p.user);
                    g.version += 1;
                    tx.update_group(&g).await?;
                    tx.append_event(&group_updated(p, &before, &g)).await?;
                    Ok(Outcome::Updated)
                }
                None => {
                    let mut g = imported_group(name, p, t);
                    merge_group_record(&mut g, record)?;
                    g.num = tx.insert_group(&g).await?;
                    tx.append_event(&event(p.actor(), "group.created", "group", g.id, None, Some(audit::group(&g))))
                        .await?;
                    Ok(Outcome::Created)
                }
            }
        }
        ImportRecord::Member { group, user, role } => {
            let g = group_named(tx, group).await?;
            let u = user_named(tx, user).await?;
            match tx.find_membership(g.id, Member::User(u.id)).await? {
                Some(m) if m.role == *role => Ok(Outcome::Unchanged),
                Some(before) => {
                    let m = crate::model::Membership { role: *role, updated_at: t, ..before.clone() };
                    save_membership(tx, p, &before, &m).await?;
                    Ok(Outcome::Updated)
                }
                None => {
                    let change = MemberChange { role: *role, ..MemberChange::default() };
                    insert_membership(tx, p, g.id, Member::User(u.id), change).await?;
                    Ok(Outcome::Created)
                }
            }
        }
        ImportRecord::Child { parent, child } => {
            let parent = group_named(tx, parent).await?;
            let child = group_named(tx, child).await?;
            if tx.find_membership(parent.id, Member::Group(child.id)).await?.is_some() {
                return Ok(Outcome::Unchanged);
            }
            tx.lock_graph().await?;
            refuse_cycle(tx, parent.id, child.id).await?;
            insert_membership(tx, p, parent.id, Member::Group(child.id), MemberChange::default()).await?;
            Ok(Outcome::Created)
        }
    }
}
