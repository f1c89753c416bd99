//! The two public SCIM conformance testers against a real Roster, on every
//! store: scim2-tester (through `scim2-cli`, every check must be SUCCESS)
//! and scim-sanity (no FAIL or ERROR), each from its venv made from
//! `scim/requirements-*.txt` on first use (`provision.rs`).

use crate::harness::TestServer;
use crate::provision::venv_tool;

async fn scim2_tester(s: TestServer) {
    let Some(scim) = venv_tool("scim2-venv", "scim/requirements-scim2.txt", "scim") else { return };
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
    let Some(sanity) = venv_tool("sanity-venv", "scim/requirements-sanity.txt", "scim-sanity") else { return };
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
