//! The web console in a real headless Chromium: `console/browser/scenario.js`
//! (playwright-core driving the system's `chromium`, axe-core checking each
//! page) against a real server seeded here. Its npm dependencies, pinned by
//! `console/browser/package-lock.json`, are installed with `npm ci` into
//! `target/console-browser` on first use (again only when the lock changes).
//! Screenshots of each main page go to `target/console-screenshots`.
//!
//! `ROSTER_CHROMIUM` names another browser binary. Without node, npm or
//! chromium the test says SKIPPED and passes, unless
//! `ROSTER_REQUIRE_SDK` is set (as in CI): then it fails.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestServer;
use crate::provision::workspace;

/// Skips (said loudly) or, under `ROSTER_REQUIRE_SDK`, fails.
fn skip(why: &str) {
    assert!(std::env::var_os("ROSTER_REQUIRE_SDK").is_none(), "ROSTER_REQUIRE_SDK is set but {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED the console in Chromium: {why}");
}

/// A program on the `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn chromium() -> Option<PathBuf> {
    // A path given that is no file is no browser (and a way to try the skip).
    if let Some(p) = std::env::var_os("ROSTER_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    ["chromium", "chromium-browser"].iter().find_map(|name| on_path(name))
}

/// `target/console-browser` with the locked npm packages installed: its
/// path, or why it cannot be had.
fn node_deps() -> Result<PathBuf, String> {
    let root = workspace();
    let dir = root.join("target").join("console-browser");
    let source = root.join("console").join("browser");
    let lock = fs::read(source.join("package-lock.json")).map_err(|e| format!("package-lock.json: {e}"))?;
    let ready = |dir: &Path| {
        dir.join("node_modules/playwright-core/package.json").exists()
            && dir.join("node_modules/axe-core/axe.min.js").exists()
            && fs::read(dir.join("package-lock.json")).ok().as_ref() == Some(&lock)
    };
    if ready(&dir) {
        return Ok(dir);
    }
    if std::env::var_os("ROSTER_TEST_OFFLINE").is_some() {
        return Err("ROSTER_TEST_OFFLINE is set and target/console-browser is not ready".into());
    }
    fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    let lock_file = File::create(dir.with_extension("lock")).map_err(|e| e.to_string())?;
    lock_file.lock().map_err(|e| e.to_string())?;
    if ready(&dir) {
        return Ok(dir);
    }
    let _ = writeln!(std::io::stderr(), "provisioning {} with npm ci (first run only)", dir.display());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    fs::copy(source.join("package.json"), dir.join("package.json")).map_err(|e| e.to_string())?;
    fs::copy(source.join("package-lock.json"), dir.join("package-lock.json.pending")).map_err(|e| e.to_string())?;
    fs::rename(dir.join("package-lock.json.pending"), dir.join("package-lock.json")).map_err(|e| e.to_string())?;
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("npm ci: {e}"))?;
    if !out.status.success() {
        // Not left looking ready.
        let _ = fs::remove_file(dir.join("package-lock.json"));
        return Err(format!("npm ci failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(dir)
}

async fn console_in_chromium(s: TestServer) {
    let (Some(browser), Some(node)) = (chromium(), on_path("node")) else {
        return skip("node or chromium is not installed (apt-get install chromium nodejs npm)");
    };
    if on_path("npm").is_none() {
        return skip("npm is not installed (apt-get install npm)");
    }
    let deps = match tokio::task::spawn_blocking(node_deps).await.expect("provisioning task") {
        Ok(dir) => dir,
        Err(why) => return skip(&why),
    };

    // What the scenario finds: users to search and add, a tree to nest
    // (seeded-leaf holds carol and, nested in it, seeded-nested holds
    // dave), a private group and a stranger, a group with a long name.
    for name in ["alice", "bob", "carol", "dave"] {
        s.user(name).await;
    }
    let carol = s.get("/v1/users?prefix=carol").await.body["items"][0]["id"].as_str().expect("carol").to_owned();
    let dave = s.get("/v1/users?prefix=dave").await.body["items"][0]["id"].as_str().expect("dave").to_owned();
    let leaf = s.group("seeded-leaf").await;
    let nested = s.group("seeded-nested").await;
    s.put(&format!("/v1/groups/{leaf}/members/{carol}"), json!({})).await;
    s.put(&format!("/v1/groups/{nested}/members/{dave}"), json!({})).await;
    let r = s.put(&format!("/v1/groups/{leaf}/children/{nested}"), json!({})).await;
    assert!(r.status.is_success(), "{}", r.body);
    let private = s.group("private-plans").await;
    let (_, stranger_key) = s.user_with_key("stranger").await;
    let long = s.group(&format!("a-group-with-a-very-long-name-{}", "that-goes-on-".repeat(12))).await;
    let r = s.put(&format!("/v1/groups/{long}/members/{carol}"), json!({ "role": "admin" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let screenshots = workspace().join("target").join("console-screenshots");
    let out = tokio::process::Command::new(node)
        .arg(workspace().join("console/browser/scenario.js"))
        .env("ROSTER_URL", &s.base)
        .env("ROSTER_ADMIN_KEY", &s.admin)
        .env("ROSTER_STRANGER_KEY", &stranger_key)
        .env("ROSTER_PRIVATE_GROUP", &private)
        .env("ROSTER_LONG_GROUP", &long)
        .env("CHROMIUM", &browser)
        .env("NODE_DEPS", &deps)
        .env("SCREENSHOTS", &screenshots)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the console scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("console scenario passed"), "{stdout}");
    // What axe found on each page, for the CI log.
    for line in stdout.lines().filter(|l| l.starts_with("axe ")) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

crate::on_every_store!(console_in_chromium);
