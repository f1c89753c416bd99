//! What the suite needs beyond Rust, provisioned by the suite itself so that
//! the README's one test command means the same on a newcomer's machine as
//! in CI: the pinned Python venvs (the official SDKs, the SCIM conformance
//! testers), made on first use from their pin files and remade when the pins
//! change. Each venv is built once, under a file lock, however many tests
//! ask for it at the same time.
//!
//! `ROSTER_TEST_OFFLINE=1` skips the building (tests needing a missing venv
//! then say SKIPPED); `ROSTER_REQUIRE_SDK` turns any skip into a failure,
//! as in CI.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv `target/<name>` made from the pin file `pins` (relative to the
/// workspace), with `bin` in it: its path, or `None` (said on standard
/// error, or a failure under `ROSTER_REQUIRE_SDK`) when it cannot be had.
pub fn venv_tool(name: &str, pins: &str, bin: &str) -> Option<PathBuf> {
    let root = workspace();
    let venv = root.join("target").join(name);
    let tool = venv.join("bin").join(bin);
    let wanted = fs::read(root.join(pins)).unwrap_or_else(|e| panic!("{pins}: {e}"));
    let ready = |venv: &Path| tool.exists() && fs::read(venv.join("requirements.txt")).ok().as_ref() == Some(&wanted);
    if ready(&venv) {
        return Some(tool);
    }
    let why = if std::env::var_os("ROSTER_TEST_OFFLINE").is_some() {
        "ROSTER_TEST_OFFLINE is set".to_owned()
    } else {
        match build(&root, &venv, pins, &wanted, &ready) {
            Ok(()) => return Some(tool),
            Err(e) => e,
        }
    };
    assert!(std::env::var_os("ROSTER_REQUIRE_SDK").is_none(), "ROSTER_REQUIRE_SDK is set but target/{name}: {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED {bin} from target/{name}: {why}");
    None
}

/// Builds the venv under an exclusive lock; a test that waited for another
/// one's build finds it ready and returns.
fn build(root: &Path, venv: &Path, pins: &str, wanted: &[u8], ready: &dyn Fn(&Path) -> bool) -> Result<(), String> {
    fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    let lock = File::create(venv.with_extension("lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if ready(venv) {
        return Ok(());
    }
    let _ = writeln!(std::io::stderr(), "provisioning {} from {pins} (first run only)", venv.display());
    let _ = fs::remove_dir_all(venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", "-r"])
        .arg(root.join(pins)))?;
    fs::write(venv.join("requirements.txt"), wanted).map_err(|e| e.to_string())?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr))) }
}
