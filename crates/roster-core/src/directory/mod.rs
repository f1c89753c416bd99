//! The use-cases of the directory. Each public method is one use-case: it
//! validates its input, opens one store transaction, authorizes the caller
//! with [`crate::authz`], writes, appends exactly one event per change, and
//! commits. Nothing is half-written: an error drops the transaction.

mod audit;
mod catalog;
mod groups;
mod import;
mod import_batch;
mod jobs;
mod keys;
mod member_sets;
mod members;
mod offsets;
mod sessions;
mod shares;
mod steps;
mod transitive;
mod user_groups;
mod users;

use std::sync::Arc;

use time::OffsetDateTime;

pub use catalog::{NewOrganization, NewProject, NewRole, OrganizationPatch, ProjectPatch, RoleHolders, RolePatch};
pub use groups::{GroupFilter, GroupPatch, NewGroup};
pub use import::{ImportFailure, ImportRecord, ImportSummary};
pub use jobs::JobSpec;
pub use keys::CreatedKey;
pub use member_sets::{MemberEdit, MemberEditOutcome};
pub use members::MembershipPatch;
pub use steps::MemberChange;
pub use transitive::MembershipCheck;
pub use user_groups::UserGroupsChange;
pub use users::{NewUser, OrgScope, UserPatch, UserQuery};

use crate::error::CoreError;
use crate::model::NewEvent;
use crate::store::{Store, Tx};

/// The directory: every rule of Roster, over a [`Store`].
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    offsets: offsets::OffsetIndex,
    sessions: sessions::Sessions,
}

impl Directory {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, offsets: offsets::OffsetIndex::new(), sessions: sessions::Sessions::new() }
    }

    async fn read(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.read().await?)
    }

    /// A read whose statements need not see one snapshot (see
    /// [`Store::read_single`]).
    async fn read_single(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.read_single().await?)
    }

    async fn write(&self) -> Result<Box<dyn Tx>, CoreError> {
        Ok(self.store.write().await?)
    }
}

/// The current time at the precision every store keeps (microseconds), so
/// a value read back equals the value written.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    let micros = t.microsecond();
    t.replace_nanosecond(micros * 1000).unwrap_or(t)
}

/// Builds the event of one change; `before`/`after` are the audit snapshots.
pub(crate) fn event(
    actor: Option<crate::ids::UserId>,
    action: &'static str,
    target_type: &'static str,
    target_id: impl ToString,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> NewEvent {
    NewEvent { at: now(), actor, action, target_type, target_id: target_id.to_string(), before, after }
}

/// Turns "no such row" into the use-case's 404.
pub(crate) fn found<T>(value: Option<T>, what: &'static str) -> Result<T, CoreError> {
    value.ok_or(CoreError::NotFound { what })
}
