//! Roster's integration tests: each starts a real server on a free
//! loopback port and talks HTTP to it, once on SQLite and once on
//! PostgreSQL (`ROSTER_TEST_PG_URL`, else the local server when one answers).

/// Runs each named `async fn(TestServer)` as two tests, `NAME::sqlite` and
/// `NAME::postgres`: one suite, parameterised over the store.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::TestServer::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = concat!(module_path!(), "::postgres");
                if let Some(server) = $crate::harness::TestServer::postgres(test).await {
                    super::$name(server).await
                }
            }
        }
    )*};
}

mod api;
mod authz;
mod backup;
mod bad_input;
mod cli;
mod client;
mod console;
mod console_browser;
mod contention;
mod durability;
mod fields;
mod harness;
mod iguazio;
mod index;
mod ldap;
mod ldap_consumers;
mod ldap_tls;
mod limits;
mod load;
mod openapi;
mod pagination;
mod process;
mod provision;
mod robustness;
mod routes;
mod rules;
mod scale_out;
mod scim;
mod scim_conformance;
mod sdk;
mod secrets;
mod stream;
mod strict;
mod transfer;
mod transitive;
mod webhooks;
