//! The official SDKs from PyPI, unmodified, against a real Roster: each
//! suite in `sdk/` runs under pytest in the venv made from
//! `sdk/requirements.txt`, which the suite makes on first use
//! (`provision.rs`).

use std::path::PathBuf;

use crate::harness::TestServer;
use crate::provision::{venv_tool, workspace};

fn python() -> Option<PathBuf> {
    match std::env::var_os("ROSTER_SDK_PYTHON") {
        Some(path) => Some(PathBuf::from(path)),
        None => venv_tool("sdk-venv", "sdk/requirements.txt", "python"),
    }
}

async fn pytest(s: &TestServer, suite: &str) {
    let Some(python) = python() else { return };
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
