//! The official SDKs from PyPI, unmodified, against a real Roster: each
//! suite in `sdk/` runs under pytest in the venv made from
//! `sdk/requirements.txt` (by `.ci/run`, or by hand:
//! `python3 -m venv target/sdk-venv && target/sdk-venv/bin/pip install -r sdk/requirements.txt`).
//! Without the venv the suites are skipped, visibly, unless
//! `ROSTER_REQUIRE_SDK` is set (as in CI).

use std::io::Write;
use std::path::PathBuf;

use crate::harness::TestServer;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("ROSTER_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/sdk-venv/bin/python"));
    path.exists().then_some(path)
}

async fn pytest(s: &TestServer, suite: &str) {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("ROSTER_REQUIRE_SDK").is_none(),
            "ROSTER_REQUIRE_SDK is set but the SDK venv is missing"
        );
        let _ = writeln!(std::io::stderr(), "SKIPPED sdk/{suite}: no SDK venv (see crates/roster/tests/it/sdk.rs)");
        return;
    };
    let out = tokio::process::Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", suite])
        .current_dir(workspace().join("sdk"))
        .env("ROSTER_URL", &s.base)
        .env("ROSTER_ADMIN_KEY", &s.admin)
        .output()
        .await
        .expect("run pytest");
    assert!(
        out.status.success(),
        "sdk/{suite} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn posit_sdk(s: TestServer) {
    pytest(&s, "test_posit.py").await;
}

async fn civis_sdk(s: TestServer) {
    pytest(&s, "test_civis.py").await;
}

async fn compliance_sdk(s: TestServer) {
    pytest(&s, "test_compliance.py").await;
}

async fn box_sdk(s: TestServer) {
    pytest(&s, "test_box.py").await;
}

async fn iguazio_sdk(s: TestServer) {
    pytest(&s, "test_iguazio.py").await;
}

crate::on_every_store!(posit_sdk, civis_sdk, compliance_sdk, box_sdk, iguazio_sdk);
