//! The two public SCIM conformance testers against a real Roster, on every
//! store: scim2-tester (through `scim2-cli`, every check must be SUCCESS)
//! and scim-sanity (no FAIL or ERROR). Their venvs come from
//! `scim/requirements-*.txt` (`.ci/run` builds them, or by hand:
//! `python3 -m venv target/scim2-venv && target/scim2-venv/bin/pip install -r scim/requirements-scim2.txt`,
//! likewise `target/sanity-venv`). Without them the tests say SKIPPED,
//! unless `ROSTER_REQUIRE_SDK` is set (as in CI).

use std::io::Write;
use std::path::PathBuf;

use crate::harness::TestServer;

fn tool(venv: &str, bin: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target").join(venv).join("bin").join(bin);
    if path.exists() {
        return Some(path);
    }
    assert!(std::env::var_os("ROSTER_REQUIRE_SDK").is_none(), "ROSTER_REQUIRE_SDK is set but target/{venv} is missing");
    let _ = writeln!(std::io::stderr(), "SKIPPED SCIM conformance ({bin}): no target/{venv} (see {})", file!());
    None
}

async fn scim2_tester(s: TestServer) {
    let Some(scim) = tool("scim2-venv", "scim") else { return };
    let out = tokio::process::Command::new(scim)
        .args(["test"])
        .env("SCIM_CLI_URL", format!("{}/scim/v2", s.base))
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {}", s.admin))
        .output()
        .await
        .expect("run scim2-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    let results: Vec<&str> =
        text.lines().filter(|l| !l.starts_with(' ') && !l.starts_with("Performing") && !l.trim().is_empty()).collect();
    let success = results.iter().filter(|l| l.starts_with("SUCCESS")).count();
    println!("scim2-tester: {success} of {} checks SUCCESS", results.len());
    for l in &results {
        println!("  {l}");
    }
    assert!(
        out.status.success() && success == results.len() && success > 100,
        "scim2-tester: {success} of {} SUCCESS\n{text}\n{}",
        results.len(),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scim_sanity(s: TestServer) {
    let Some(sanity) = tool("sanity-venv", "scim-sanity") else { return };
    let out = tokio::process::Command::new(sanity)
        .args([
            "probe",
            &format!("{}/scim/v2", s.base),
            "--token",
            &s.admin,
            "--i-accept-side-effects",
            "--json-output",
        ])
        .output()
        .await
        .expect("run scim-sanity");
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("scim-sanity output is not JSON ({e}):\n{text}"));
    let summary = &report["summary"];
    println!("scim-sanity: {summary}");
    assert!(
        out.status.success()
            && summary["failed"] == 0
            && summary["errors"] == 0
            && summary["passed"].as_i64() > Some(20),
        "scim-sanity: {summary}\n{text}"
    );
}

crate::on_every_store!(scim2_tester, scim_sanity);
