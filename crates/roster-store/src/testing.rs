//! Throw-away databases for tests of this crate and the crates above it.
//!
//! PostgreSQL tests take the server from `ROSTER_TEST_PG_URL` and make one
//! database per test, dropped afterwards, so parallel runs never collide.
//! Without the variable they are skipped, saying so on standard error (not
//! captured by the test harness, so it is visible in every run).

use std::io::Write;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

pub const PG_URL_VAR: &str = "ROSTER_TEST_PG_URL";

/// A PostgreSQL database that exists for as long as this value.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

/// The server tests use when `ROSTER_TEST_PG_URL` is unset, if it answers:
/// the local one a developer machine (and CI) runs.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Creates a fresh database on the server named by `ROSTER_TEST_PG_URL`
/// (else on [`DEFAULT_PG_URL`] when it answers), or returns `None` and says
/// so: when the variable is `off`, or unset with no local server. A set
/// variable pointing at an unreachable server is a failure, not a skip.
pub async fn postgres(test: &str) -> Option<PgDatabase> {
    let admin_url = match std::env::var(PG_URL_VAR) {
        Ok(url) if url == "off" => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test} on PostgreSQL: {PG_URL_VAR}=off");
            return None;
        }
        Ok(url) => url,
        Err(_) => match local_server().await {
            Some(url) => url,
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} on PostgreSQL: {PG_URL_VAR} is not set and nothing answers at {DEFAULT_PG_URL}"
                );
                return None;
            }
        },
    };
    let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let url = with_database(&admin_url, &name);
    Some(PgDatabase { url, admin_url, name })
}

/// `admin_url` with its database path replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a runtime of our own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            let _ = writeln!(std::io::stderr(), "warning: could not drop test database {}", self.name);
        }
    }
}

/// [`DEFAULT_PG_URL`] when a server answers there within a second.
async fn local_server() -> Option<String> {
    let connect = PgConnection::connect(DEFAULT_PG_URL);
    match tokio::time::timeout(std::time::Duration::from_secs(1), connect).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            Some(DEFAULT_PG_URL.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
