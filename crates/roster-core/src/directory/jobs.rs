//! Jobs: the records of operations that some platforms run as jobs their
//! clients poll. Roster finishes the operation before it answers, so the
//! job it records is already complete (or failed) and a poll returns at once.
//! A job that records a change is written in the change's own transaction
//! (`delete_user_as_job`, …), so no change goes unrecorded and no record
//! claims a change that did not happen.

use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal};
use crate::error::CoreError;
use crate::ids::JobId;
use crate::model::{Job, JobState};
use crate::store::Tx;

/// What a finished job records: its kind, what it was asked, how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub kind: String,
    pub params: serde_json::Value,
    pub state: JobState,
    pub result: Option<serde_json::Value>,
}

impl JobSpec {
    /// A job of `kind` with `params` that completed with no result.
    pub fn completed(kind: impl Into<String>, params: serde_json::Value) -> Self {
        Self { kind: kind.into(), params, state: JobState::Completed, result: None }
    }
}

/// Writes a job done by the caller with its event, inside the caller's
/// transaction.
pub(crate) async fn insert_job(tx: &mut Box<dyn Tx>, p: &Principal, spec: JobSpec) -> Result<Job, CoreError> {
    let kind = crate::validate::name("kind", &spec.kind)?;
    let t = now();
    let mut job = Job {
        id: JobId::new(),
        num: 0,
        kind,
        state: spec.state,
        params: spec.params,
        result: spec.result,
        actor: Some(p.user),
        created_at: t,
        updated_at: t,
    };
    job.num = tx.insert_job(&job).await?;
    tx.append_event(&event(p.actor(), "job.recorded", "job", job.id, None, Some(audit::job(&job)))).await?;
    Ok(job)
}

impl Directory {
    /// Records a finished operation done by the caller. Errors: `Invalid`.
    pub async fn record_job(&self, p: &Principal, spec: JobSpec) -> Result<Job, CoreError> {
        self.retrying(|| self.record_job_once(p, spec.clone())).await
    }

    /// One run of [`Self::record_job`], in one transaction.
    async fn record_job_once(&self, p: &Principal, spec: JobSpec) -> Result<Job, CoreError> {
        let mut tx = self.write().await?;
        let job = insert_job(&mut tx, p, spec).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// A job the caller recorded (site admins see every job). Errors: `NotFound`.
    pub async fn get_job(&self, p: &Principal, id: JobId) -> Result<Job, CoreError> {
        let job = found(self.read().await?.get_job(id).await?, "job")?;
        if !authz::can_read_job(p, &job) {
            return Err(CoreError::NotFound { what: "job" });
        }
        Ok(job)
    }
}
