//! The command line's settings file, for the server address and key when
//! neither a flag nor the environment gives them (flags win, then
//! `ROSTER_URL`/`ROSTER_KEY`, then the file). A TOML file:
//!
//! ```toml
//! url = "https://roster.example.com"
//! key = "rst_…"
//! ```
//!
//! It is `--config FILE` or `ROSTER_CONFIG` when given (then it must
//! exist), else `$XDG_CONFIG_HOME/roster/config.toml` or
//! `~/.config/roster/config.toml` when that exists. Since it holds a key,
//! a file that others may read draws a warning, as ssh does.

use std::path::{Path, PathBuf};

#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub url: Option<String>,
    pub key: Option<String>,
}

/// Where the settings live when nobody says.
fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("roster").join("config.toml"))
}

/// Reads the settings: from `explicit` (which must exist), else from the
/// default place if there is a file there, else none.
pub fn load(explicit: Option<&Path>) -> Result<Settings, String> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_path() {
            Some(p) if p.exists() => p,
            _ => return Ok(Settings::default()),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    warn_if_readable_by_others(&path);
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!("warning: {} holds a key and others may read it (chmod 600 it)", path.display());
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_url_and_key_and_refuses_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "url = \"http://127.0.0.1:9\"\nkey = \"k\"\n").unwrap();
        let s = load(Some(&path)).unwrap();
        assert_eq!(s, Settings { url: Some("http://127.0.0.1:9".into()), key: Some("k".into()) });
        std::fs::write(&path, "url = \"x\"\ntoken = \"k\"\n").unwrap();
        assert!(load(Some(&path)).unwrap_err().contains("token"));
        assert!(load(Some(&dir.path().join("missing.toml"))).is_err(), "an explicit file must exist");
    }
}
