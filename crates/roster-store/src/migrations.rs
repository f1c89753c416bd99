//! Migrations compiled into the binary (nothing is read from disk at run
//! time) and applied by sqlx's migrator at start-up.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::AssertSqlSafe;
use sqlx::SqlSafeStr;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// An ordered, embedded list of `(version, description, sql)`.
#[derive(Debug)]
pub(crate) struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl Embedded {
    /// The version a store opened by this build is migrated to.
    pub(crate) fn last_version(&self) -> i64 {
        self.0.last().map_or(0, |(version, _, _)| *version)
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        AssertSqlSafe(*sql).into_sql_str(),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) const POSTGRES: Embedded = Embedded(&[
    (1, "directory", include_str!("../migrations/postgres/0001_directory.sql")),
    (2, "user names", include_str!("../migrations/postgres/0002_user_names.sql")),
    (3, "display name", include_str!("../migrations/postgres/0003_display_name.sql")),
    (4, "projects and jobs", include_str!("../migrations/postgres/0004_projects_and_jobs.sql")),
    (5, "closure", include_str!("../migrations/postgres/0005_closure.sql")),
    (6, "user-major keys", include_str!("../migrations/postgres/0006_user_major_keys.sql")),
    (7, "profile changed at", include_str!("../migrations/postgres/0007_profile_changed_at.sql")),
    (8, "group count slots", include_str!("../migrations/postgres/0008_group_count_slots.sql")),
    (9, "event inbox", include_str!("../migrations/postgres/0009_event_inbox.sql")),
    (10, "webhooks", include_str!("../migrations/postgres/0010_webhooks.sql")),
    (11, "no user closure", include_str!("../migrations/postgres/0011_no_user_closure.sql")),
    (12, "web sessions", include_str!("../migrations/postgres/0012_web_sessions.sql")),
]);

pub(crate) const SQLITE: Embedded = Embedded(&[
    (1, "directory", include_str!("../migrations/sqlite/0001_directory.sql")),
    (2, "user names", include_str!("../migrations/sqlite/0002_user_names.sql")),
    (3, "display name", include_str!("../migrations/sqlite/0003_display_name.sql")),
    (4, "projects and jobs", include_str!("../migrations/sqlite/0004_projects_and_jobs.sql")),
    (5, "closure", include_str!("../migrations/sqlite/0005_closure.sql")),
    (6, "user-major keys", include_str!("../migrations/sqlite/0006_user_major_keys.sql")),
    (7, "profile changed at", include_str!("../migrations/sqlite/0007_profile_changed_at.sql")),
    (8, "group count slots", include_str!("../migrations/sqlite/0008_group_count_slots.sql")),
    (9, "event inbox", include_str!("../migrations/sqlite/0009_event_inbox.sql")),
    (10, "webhooks", include_str!("../migrations/sqlite/0010_webhooks.sql")),
    (11, "no user closure", include_str!("../migrations/sqlite/0011_no_user_closure.sql")),
    (12, "web sessions", include_str!("../migrations/sqlite/0012_web_sessions.sql")),
]);

pub(crate) async fn migrator(source: Embedded) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(source).await
}
