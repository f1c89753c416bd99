//! The `roster` commands against a real server: JSON output scripts can
//! read, tables for people, and exit codes scripts can rely on.

use serde_json::Value;

use crate::harness::TestServer;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub async fn roster(s: &TestServer, key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(args).env("ROSTER_URL", &s.base).env_remove("ROSTER_KEY");
    if let Some(k) = key {
        cmd.env("ROSTER_KEY", k);
    }
    let out = cmd.output().await.expect("run roster");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect()
}

async fn cli_drives_the_api(s: TestServer) {
    let key = Some(s.admin.as_str());
    let g = roster(&s, key, &["groups", "create", "Ops", "--description", "on call", "-o", "json"]).await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    let group = json_lines(&g.stdout)[0]["id"].as_str().unwrap().to_owned();
    let u = roster(&s, key, &["users", "create", "olga", "--email", "olga@example.com", "-o", "json"]).await;
    let user = json_lines(&u.stdout)[0]["id"].as_str().unwrap().to_owned();
    let add = roster(&s, key, &["members", "add", &group, &user, "--role", "admin"]).await;
    assert_eq!(add.code, 0, "{}", add.stderr);
    let members = roster(&s, key, &["members", "list", &group, "-o", "json"]).await;
    let rows = json_lines(&members.stdout);
    assert_eq!((rows[0]["username"].as_str(), rows[0]["role"].as_str()), (Some("olga"), Some("admin")));
    let lean =
        roster(&s, key, &["members", "list", &group, "--fields", "username,membership.role", "-o", "json"]).await;
    assert_eq!(lean.code, 0, "{}", lean.stderr);
    assert_eq!(
        json_lines(&lean.stdout),
        [serde_json::json!({"id": user, "username": "olga", "membership.role": "admin"})]
    );
    let unknown = roster(&s, key, &["members", "list", &group, "--fields", "nope"]).await;
    assert_eq!(unknown.code, 5, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("field: fields"), "{}", unknown.stderr);
    let table = roster(&s, key, &["groups", "list"]).await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("MEMBER_COUNT"), "{}", table.stdout);
    assert!(lines[1].contains("Ops"), "{}", table.stdout);
    let k = roster(&s, key, &["keys", "create", &user, "laptop", "-o", "json"]).await;
    let secret = json_lines(&k.stdout)[0]["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rst_"));
    let events = roster(&s, key, &["events", "-o", "json"]).await;
    assert!(json_lines(&events.stdout).iter().any(|e| e["action"] == "membership.created"));

    // Exit codes.
    let missing = roster(&s, key, &["groups", "get", "01234567-89ab-7def-8123-456789abcdef"]).await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let forbidden = roster(&s, Some(&secret), &["groups", "create", "Nope"]).await;
    assert_eq!(forbidden.code, 4, "{}", forbidden.stderr);
    let bad_key = roster(&s, Some("rst_wrong"), &["users", "list"]).await;
    assert_eq!(bad_key.code, 4);
    let conflict = roster(&s, key, &["groups", "create", "OPS"]).await;
    assert_eq!(conflict.code, 5);
    assert!(conflict.stderr.contains("field: name"), "{}", conflict.stderr);
    let no_key = roster(&s, None, &["users", "list"]).await;
    assert_eq!(no_key.code, 2);
    let usage = roster(&s, key, &["groups", "get", "not-a-uuid"]).await;
    assert_eq!(usage.code, 2);

    // Membership at any depth: Ops ⊃ Core ⊃ olga.
    let core = roster(&s, key, &["groups", "create", "Core", "-o", "json"]).await;
    let core = json_lines(&core.stdout)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(roster(&s, key, &["children", "add", &group, &core]).await.code, 0);
    let other = roster(&s, key, &["users", "create", "pat", "-o", "json"]).await;
    let other = json_lines(&other.stdout)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(roster(&s, key, &["members", "add", &core, &other]).await.code, 0);
    let yes = roster(&s, key, &["check", &other, &group, "-o", "json"]).await;
    assert_eq!(yes.code, 0, "{}", yes.stderr);
    assert_eq!(json_lines(&yes.stdout)[0]["path"], serde_json::json!([group, core]));
    let no = roster(&s, key, &["check", &user, &core]).await;
    assert_eq!(no.code, 1, "not a member: exit 1 ({})", no.stdout);
    let all = roster(&s, key, &["members", "list", &group, "--transitive", "-o", "json"]).await;
    let names: Vec<String> =
        json_lines(&all.stdout).iter().map(|r| r["username"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["olga", "pat"]);
    let groups = roster(&s, key, &["users", "groups", &other, "--transitive", "-o", "json"]).await;
    assert_eq!(json_lines(&groups.stdout).len(), 2, "Core, and Ops through it");
}

/// With neither flags nor ROSTER_URL/ROSTER_KEY, the settings file (from
/// ROSTER_CONFIG, or ~/.config/roster/config.toml) names the server and key;
/// the environment and flags still win over it.
async fn settings_file_names_server_and_key(s: TestServer) {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/roster");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, format!("url = \"{}\"\nkey = \"{}\"\n", s.base, s.admin)).unwrap();
    let run = |envs: Vec<(&'static str, String)>, args: Vec<&'static str>| {
        let home = home.path().to_owned();
        async move {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
            cmd.args(&args)
                .env_remove("ROSTER_URL")
                .env_remove("ROSTER_KEY")
                .env_remove("ROSTER_CONFIG")
                .env_remove("XDG_CONFIG_HOME")
                .env("HOME", home);
            for (k, v) in envs {
                cmd.env(k, v);
            }
            cmd.output().await.expect("run roster")
        }
    };
    let out = run(vec![], vec!["groups", "list", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"), "a world-readable key is pointed out");
    let out = run(vec![("ROSTER_KEY", "wrong-key-0123456789".into())], vec!["groups", "list"]).await;
    assert_eq!(out.status.code(), Some(4), "the environment wins over the file");
    let elsewhere = home.path().join("other.toml");
    std::fs::write(&elsewhere, "url = \"http://127.0.0.1:9\"\nkey = \"k\"\nbogus = 1\n").unwrap();
    let out = run(vec![("ROSTER_CONFIG", elsewhere.display().to_string())], vec!["groups", "list"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad settings file is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

crate::on_every_store!(cli_drives_the_api, settings_file_names_server_and_key);
