//! Jobs: the records of operations that some platforms run as jobs their
//! clients poll. Roster finishes the operation before it answers, so the
//! job it records is already complete (or failed) and a poll returns at once.

use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal};
use crate::error::CoreError;
use crate::ids::JobId;
use crate::model::{Job, JobState};

impl Directory {
    /// Records a finished operation done by the caller. Errors: `Invalid`.
    pub async fn record_job(
        &self,
        p: &Principal,
        kind: &str,
        params: serde_json::Value,
        state: JobState,
        result: Option<serde_json::Value>,
    ) -> Result<Job, CoreError> {
        let kind = crate::validate::name("kind", kind)?;
        let t = now();
        let mut job = Job {
            id: JobId::new(),
            num: 0,
            kind,
            state,
            params,
            result,
            actor: Some(p.user),
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.write().await?;
        job.num = tx.insert_job(&job).await?;
        tx.append_event(&event(Some(p.user), "job.recorded", "job", job.id, None, Some(audit::job(&job)))).await?;
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
