//! The `roster` commands that talk to a running server over its native
//! API, through `roster-client` (no HTTP code of their own).
//!
//! Exit codes scripts can rely on: 0 success, 1 `check` found no
//! membership, 2 bad usage, 3 not found,
//! 4 not authenticated or not allowed, 5 refused (invalid or conflicting),
//! 6 the server could not be reached or failed.

use futures_util::{Stream, TryStreamExt};
use roster_client::{Client, Error, Grantee, NewGroup, NewUser, Role};
use serde_json::{Value, json};
use uuid::Uuid;

/// Where the server is when no flag, variable or settings file says.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(clap::Args)]
pub struct Connection {
    /// The server's address [default: the settings file's `url`, else http://127.0.0.1:8080].
    #[arg(long, env = "ROSTER_URL", global = true)]
    url: Option<String>,
    /// The API key to act with [default: the settings file's `key`].
    #[arg(long, env = "ROSTER_KEY", hide_env_values = true, global = true)]
    key: Option<String>,
    /// A settings file with `url` and `key` (TOML) [default: ~/.config/roster/config.toml if it exists].
    #[arg(long, env = "ROSTER_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    /// How to print results.
    #[arg(long, short, default_value = "table", value_parser = ["table", "json"], global = true)]
    output: String,
    /// Read nothing older than this revision (the `Roster-Revision` a write
    /// answered, e.g. through another server): the server waits until it
    /// has applied it.
    #[arg(long, env = "ROSTER_MIN_REVISION", global = true)]
    min_revision: Option<i64>,
}

#[derive(clap::Subcommand)]
pub enum Resource {
    /// Users: list, get, create, delete.
    Users {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Groups: list, get, create, delete.
    Groups {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// A group's members: list, add, remove.
    Members {
        #[command(subcommand)]
        action: EdgeAction,
    },
    /// Groups nested in a group: list, add, remove.
    Children {
        #[command(subcommand)]
        action: EdgeAction,
    },
    /// Roles: list, create, grant to a group, revoke.
    Roles {
        #[command(subcommand)]
        action: RoleAction,
    },
    /// Projects: list, create, bind a group with a role.
    Projects {
        #[command(subcommand)]
        action: ProjectAction,
    },
    /// Who a group is shared with: list, to a user or group, remove.
    Shares {
        #[command(subcommand)]
        action: ShareAction,
    },
    /// API keys: list, create (prints the secret once), delete.
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Webhook subscriptions: list, get, create (prints the secret once),
    /// update, enable, disable, delete, rotate-secret, ping, deliveries, redeliver.
    Webhooks {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Is USER in GROUP at any depth? Prints the path; exits 0 if so, 1 if not.
    Check { user: Uuid, group: Uuid },
    /// The change feed; `--follow` keeps printing new events.
    Events {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long)]
        follow: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum UserAction {
    List {
        #[arg(long)]
        prefix: Option<String>,
    },
    Get {
        id: Uuid,
    },
    /// The groups a user is in; `--transitive` counts nested groups.
    Groups {
        id: Uuid,
        #[arg(long)]
        transitive: bool,
    },
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = ["admin", "user"])]
        site_role: Option<String>,
    },
    Delete {
        id: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum GroupAction {
    List {
        #[arg(long)]
        prefix: Option<String>,
    },
    Get {
        id: Uuid,
    },
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        id: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum EdgeAction {
    List {
        group: Uuid,
        /// Members only: every user at any depth (through nested groups).
        #[arg(long)]
        transitive: bool,
        /// Members only: just these fields of each member, comma-separated
        /// (`username`, `email`, `membership.role`, …; the user's `id` always).
        #[arg(long)]
        fields: Option<String>,
    },
    /// Adds a user (members) or a group (children).
    Add {
        group: Uuid,
        id: Uuid,
        #[arg(long, default_value = "member", value_parser = ["member", "admin"])]
        role: String,
    },
    Remove {
        group: Uuid,
        id: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum RoleAction {
    List,
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Grant {
        group: Uuid,
        role: Uuid,
    },
    Revoke {
        group: Uuid,
        role: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum ProjectAction {
    List,
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Bind {
        project: Uuid,
        group: Uuid,
        role: String,
    },
}

#[derive(clap::Subcommand)]
pub enum ShareAction {
    List {
        group: Uuid,
    },
    User {
        group: Uuid,
        user: Uuid,
        #[arg(value_parser = ["read", "write", "manage"])]
        level: String,
    },
    Group {
        group: Uuid,
        other: Uuid,
        #[arg(value_parser = ["read", "write", "manage"])]
        level: String,
    },
    RemoveUser {
        group: Uuid,
        user: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum KeyAction {
    List {
        #[arg(long)]
        user: Option<Uuid>,
    },
    Create {
        user: Uuid,
        name: String,
    },
    Delete {
        id: Uuid,
    },
}

#[derive(clap::Subcommand)]
pub enum WebhookAction {
    List,
    Get {
        id: Uuid,
    },
    /// Subscribe URL to the change feed; prints the signing secret once.
    Create {
        /// Where to deliver (not `url`: that names the server).
        #[arg(value_name = "URL")]
        target: String,
        /// Only events of this group and the groups nested in it.
        #[arg(long)]
        group: Option<Uuid>,
        /// Event types or areas, comma-separated (`membership.*,group.created`); default: all.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    Update {
        id: Uuid,
        /// A new delivery URL.
        #[arg(long = "target", value_name = "URL")]
        target: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Enable (again): the event it was stuck on is attempted at once.
    Enable {
        id: Uuid,
    },
    Disable {
        id: Uuid,
    },
    Delete {
        id: Uuid,
    },
    /// A new secret (printed once); the old one signs too for --grace seconds.
    RotateSecret {
        id: Uuid,
        #[arg(long)]
        grace: Option<u64>,
    },
    /// Send a test ping to this subscription.
    Ping {
        id: Uuid,
    },
    /// The delivery log, newest first.
    Deliveries {
        id: Uuid,
        /// Only the dead letters (events whose last retry failed).
        #[arg(long)]
        dead: bool,
    },
    /// Deliver again every event after --after (a seq), in order; or only
    /// event --seq, once, on its own.
    Redeliver {
        id: Uuid,
        #[arg(long, required_unless_present = "seq", conflicts_with = "seq")]
        after: Option<i64>,
        #[arg(long)]
        seq: Option<i64>,
    },
}

const WEBHOOK_COLUMNS: [&str; 6] = ["id", "url", "group_id", "event_types", "enabled", "description"];

fn webhook_row(w: &roster_client::Webhook) -> Value {
    json!({
        "id": w.id, "url": w.url, "group_id": w.group_id, "event_types": w.event_types.join(","),
        "enabled": w.enabled, "description": w.description, "disabled_reason": w.disabled_reason,
    })
}

/// The exit code for a failure.
fn exit_code(e: &Error) -> i32 {
    match e.status() {
        Some(404) => 3,
        Some(401 | 403) => 4,
        Some(s) if (400..500).contains(&s) => 5,
        _ => 6,
    }
}

/// The client for `conn`, or the exit code for why there is none.
fn connect(conn: &Connection) -> Result<Client, i32> {
    let settings = if conn.url.is_some() && conn.key.is_some() {
        crate::config::Settings::default()
    } else {
        crate::config::load(conn.config.as_deref()).map_err(|e| {
            eprintln!("error: {e}");
            2
        })?
    };
    let Some(key) = conn.key.clone().or(settings.key) else {
        eprintln!("error: no API key: pass --key, set ROSTER_KEY or put `key` in the settings file");
        return Err(2);
    };
    let url = conn.url.clone().or(settings.url).unwrap_or_else(|| DEFAULT_URL.to_owned());
    let client = Client::new(&url, &key).map_err(|e| {
        eprintln!("error: {e}");
        6
    })?;
    Ok(match conn.min_revision {
        Some(r) => client.with_min_revision(r),
        None => client,
    })
}

/// Runs an import or export; returns the process exit code.
pub async fn transfer<F, Fut>(conn: Connection, job: F) -> i32
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::transfer::Failure>>,
{
    let client = match connect(&conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match job(client).await {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

/// Runs one command; returns the process exit code.
pub async fn run(conn: Connection, resource: Resource) -> i32 {
    let client = match connect(&conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let out = Output { json: conn.output == "json" };
    match execute(&client, &out, resource).await {
        Ok(code) => code,
        Err(e) => {
            match e.field() {
                Some(f) => eprintln!("error: {e} (field: {f})"),
                None => eprintln!("error: {e}"),
            }
            exit_code(&e)
        }
    }
}

struct Output {
    json: bool,
}

impl Output {
    /// Prints rows as JSON lines or as an aligned table of `columns`.
    fn rows(&self, columns: &[&str], rows: &[Value]) {
        if self.json {
            for r in rows {
                println!("{r}");
            }
            return;
        }
        let cell = |r: &Value, c: &str| match &r[c] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let widths: Vec<usize> = columns
            .iter()
            .map(|c| rows.iter().map(|r| cell(r, c).chars().count()).max().unwrap_or(0).max(c.len()))
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        println!("{}", line(columns.iter().map(|c| c.to_uppercase()).collect()));
        for r in rows {
            println!("{}", line(columns.iter().map(|c| cell(r, c)).collect()));
        }
    }

    fn one(&self, columns: &[&str], row: Value) {
        self.rows(columns, &[row]);
    }
}

async fn collect<T, S: Stream<Item = Result<T, Error>>>(s: S) -> Result<Vec<T>, Error> {
    s.try_collect().await
}

const USER: &[&str] = &["id", "username", "email", "display_name", "site_role", "active"];
const GROUP: &[&str] = &["id", "name", "member_count", "child_count", "source_type"];

fn user_row(u: &roster_client::User) -> Value {
    json!({ "id": u.id, "username": u.username, "email": u.email, "display_name": u.display_name, "site_role": u.site_role, "active": u.active })
}

fn group_row(g: &roster_client::Group) -> Value {
    json!({ "id": g.id, "name": g.name, "member_count": g.member_count, "child_count": g.child_count, "source_type": g.source_type })
}

/// A member row narrowed by `fields`, flattened under the names asked for:
/// `membership` and `membership.x` are read from the membership, every
/// other name (`username`, `user.username`, `user`) from the user.
fn narrowed_row(columns: &[&str], row: &Value) -> Value {
    let cell = |name: &str| match name.split_once('.') {
        Some(("membership", field)) => row["membership"][field].clone(),
        Some(("user", field)) => row["user"][field].clone(),
        _ if name == "membership" || name == "user" => row[name].clone(),
        _ => row["user"][name].clone(),
    };
    Value::Object(columns.iter().map(|c| ((*c).to_owned(), cell(c))).collect())
}

/// Runs a command; `Ok` carries the exit code (0, or 1 for a `check` that
/// finds no membership).
async fn execute(c: &Client, out: &Output, resource: Resource) -> Result<i32, Error> {
    match resource {
        Resource::Check { user, group } => {
            let check = c.check(user, group).await?;
            out.one(&["member", "path"], json!({ "member": check.member, "path": check.path }));
            return Ok(if check.member { 0 } else { 1 });
        }
        Resource::Users { action } => match action {
            UserAction::List { prefix } => {
                let users = collect(c.users(prefix.as_deref())).await?;
                out.rows(USER, &users.iter().map(user_row).collect::<Vec<_>>());
            }
            UserAction::Get { id } => out.one(USER, user_row(&c.user(id).await?)),
            UserAction::Groups { id, transitive: true } => {
                let groups = collect(c.transitive_groups(id)).await?;
                out.rows(GROUP, &groups.iter().map(group_row).collect::<Vec<_>>());
            }
            UserAction::Groups { id, transitive: false } => {
                let edges = collect(c.user_groups(id)).await?;
                out.rows(GROUP, &edges.iter().map(|e| group_row(&e.group)).collect::<Vec<_>>());
            }
            UserAction::Create { username, email, name, site_role } => {
                let new = NewUser { username, email, display_name: name, site_role, ..NewUser::default() };
                out.one(USER, user_row(&c.create_user(&new).await?));
            }
            UserAction::Delete { id } => c.delete_user(id).await?,
        },
        Resource::Groups { action } => match action {
            GroupAction::List { prefix } => {
                let groups = collect(c.groups(prefix.as_deref())).await?;
                out.rows(GROUP, &groups.iter().map(group_row).collect::<Vec<_>>());
            }
            GroupAction::Get { id } => out.one(GROUP, group_row(&c.group(id).await?)),
            GroupAction::Create { name, description } => {
                let new = NewGroup { name, description, ..NewGroup::default() };
                out.one(GROUP, group_row(&c.create_group(&new).await?));
            }
            GroupAction::Delete { id } => c.delete_group(id).await?,
        },
        Resource::Members { action } => match action {
            EdgeAction::List { group, transitive, fields: Some(fields) } => {
                let names: Vec<&str> = fields.split(',').collect();
                let rows: Vec<Value> = collect(c.members_with_fields(group, &names, transitive)).await?;
                let mut columns = vec!["id"];
                for n in &names {
                    if !columns.contains(n) {
                        columns.push(n);
                    }
                }
                out.rows(&columns, &rows.iter().map(|r| narrowed_row(&columns, r)).collect::<Vec<_>>());
            }
            EdgeAction::List { group, transitive: true, fields: None } => {
                let users = collect(c.transitive_members(group)).await?;
                out.rows(USER, &users.iter().map(user_row).collect::<Vec<_>>());
            }
            EdgeAction::List { group, transitive: false, fields: None } => {
                let members = collect(c.members(group)).await?;
                let rows: Vec<Value> = members
                    .iter()
                    .map(|m| json!({ "user_id": m.user.id, "username": m.user.username, "role": m.membership.role, "membership_id": m.membership.id }))
                    .collect();
                out.rows(&["user_id", "username", "role", "membership_id"], &rows);
            }
            EdgeAction::Add { group, id, role } => {
                let role = if role == "admin" { Role::Admin } else { Role::Member };
                let m = c.put_member(group, id, role).await?;
                out.one(
                    &["id", "group_id", "user_id", "role"],
                    json!({ "id": m.id, "group_id": m.group_id, "user_id": m.user_id, "role": m.role }),
                );
            }
            EdgeAction::Remove { group, id } => c.remove_member(group, id).await?,
        },
        Resource::Children { action } => match action {
            EdgeAction::List { group, .. } => {
                let children = collect(c.children(group)).await?;
                out.rows(GROUP, &children.iter().map(|e| group_row(&e.group)).collect::<Vec<_>>());
            }
            EdgeAction::Add { group, id, .. } => {
                let m = c.add_child(group, id).await?;
                out.one(
                    &["id", "group_id", "child_group_id"],
                    json!({ "id": m.id, "group_id": m.group_id, "child_group_id": m.child_group_id }),
                );
            }
            EdgeAction::Remove { group, id } => c.remove_child(group, id).await?,
        },
        Resource::Roles { action } => match action {
            RoleAction::List => {
                let roles = collect(c.roles()).await?;
                out.rows(&["id", "name", "description"], &roles.iter().map(|r| json!(r_row(r))).collect::<Vec<_>>());
            }
            RoleAction::Create { name, description } => {
                out.one(&["id", "name", "description"], r_row(&c.create_role(&name, description.as_deref()).await?));
            }
            RoleAction::Grant { group, role } => c.grant_role(group, role).await?,
            RoleAction::Revoke { group, role } => c.revoke_role(group, role).await?,
        },
        Resource::Projects { action } => match action {
            ProjectAction::List => {
                let projects = collect(c.projects()).await?;
                out.rows(&["id", "name", "description"], &projects.iter().map(r_row).collect::<Vec<_>>());
            }
            ProjectAction::Create { name, description } => {
                out.one(&["id", "name", "description"], r_row(&c.create_project(&name, description.as_deref()).await?));
            }
            ProjectAction::Bind { project, group, role } => {
                let b = c.bind_project_group(project, group, &role).await?;
                out.one(
                    &["project_id", "group_id", "role"],
                    json!({ "project_id": b.project_id, "group_id": b.group_id, "role": b.role }),
                );
            }
        },
        Resource::Shares { action } => {
            let columns = &["grantee_type", "grantee_id", "level"];
            let row = |s: &roster_client::Share| json!({ "grantee_type": s.grantee_type, "grantee_id": s.grantee_id, "level": s.level });
            match action {
                ShareAction::List { group } => {
                    let shares = collect(c.shares(group)).await?;
                    out.rows(columns, &shares.iter().map(row).collect::<Vec<_>>());
                }
                ShareAction::User { group, user, level } => {
                    out.one(columns, row(&c.share(group, Grantee::User(user), &level).await?))
                }
                ShareAction::Group { group, other, level } => {
                    out.one(columns, row(&c.share(group, Grantee::Group(other), &level).await?))
                }
                ShareAction::RemoveUser { group, user } => c.unshare(group, Grantee::User(user)).await?,
            }
        }
        Resource::Keys { action } => match action {
            KeyAction::List { user } => {
                let keys = collect(c.keys(user)).await?;
                let rows: Vec<Value> = keys
                    .iter()
                    .map(|k| json!({ "id": k.id, "user_id": k.user_id, "name": k.name, "prefix": k.prefix }))
                    .collect();
                out.rows(&["id", "user_id", "name", "prefix"], &rows);
            }
            KeyAction::Create { user, name } => {
                let k = c.create_key(user, &name).await?;
                out.one(&["id", "name", "key"], json!({ "id": k.id, "name": k.name, "key": k.key }));
            }
            KeyAction::Delete { id } => c.delete_key(id).await?,
        },
        Resource::Webhooks { action } => match action {
            WebhookAction::List => {
                let hooks = collect(c.webhooks()).await?;
                out.rows(&WEBHOOK_COLUMNS, &hooks.iter().map(webhook_row).collect::<Vec<_>>());
            }
            WebhookAction::Get { id } => out.one(&WEBHOOK_COLUMNS, webhook_row(&c.webhook(id).await?)),
            WebhookAction::Create { target, group, events, description, disabled } => {
                let new = roster_client::NewWebhook {
                    url: target,
                    event_types: events,
                    group_id: group,
                    description,
                    enabled: disabled.then_some(false),
                };
                let w = c.create_webhook(&new).await?;
                let mut row = webhook_row(&w.webhook);
                row["secret"] = json!(w.secret);
                out.one(&["id", "url", "secret"], row);
            }
            WebhookAction::Update { id, target, events, description } => {
                let patch =
                    roster_client::WebhookPatch { url: target, event_types: events, description, enabled: None };
                out.one(&WEBHOOK_COLUMNS, webhook_row(&c.update_webhook(id, &patch).await?));
            }
            WebhookAction::Enable { id } | WebhookAction::Disable { id } => {
                let enabled = matches!(action, WebhookAction::Enable { .. });
                let patch = roster_client::WebhookPatch { enabled: Some(enabled), ..Default::default() };
                out.one(&WEBHOOK_COLUMNS, webhook_row(&c.update_webhook(id, &patch).await?));
            }
            WebhookAction::Delete { id } => c.delete_webhook(id).await?,
            WebhookAction::RotateSecret { id, grace } => {
                let r = c.rotate_webhook_secret(id, grace).await?;
                let row = json!({ "secret": r.secret, "previous_secret_until": r.previous_secret_until });
                out.one(&["secret", "previous_secret_until"], row);
            }
            WebhookAction::Ping { id } => c.ping_webhook(id).await?,
            WebhookAction::Deliveries { id, dead } => {
                let log = collect(c.webhook_deliveries(id, dead)).await?;
                let rows: Vec<Value> = log
                    .iter()
                    .map(|d| {
                        json!({ "seq": d.seq, "attempt": d.attempt, "at": d.at, "status": d.status,
                        "latency_ms": d.latency_ms, "outcome": d.outcome, "detail": d.detail })
                    })
                    .collect();
                out.rows(&["seq", "attempt", "at", "status", "latency_ms", "outcome", "detail"], &rows);
            }
            WebhookAction::Redeliver { id, after: Some(after), .. } => {
                let s = c.redeliver_webhook(id, after).await?;
                out.one(&["cursor"], json!({ "cursor": s.cursor }));
            }
            WebhookAction::Redeliver { id, seq, .. } => c.redeliver_webhook_event(id, seq.unwrap_or(0)).await?,
        },
        Resource::Events { after, follow: false } => {
            let page = c.events(after, 1000).await?;
            let rows: Vec<Value> = page.items.iter().map(event_row).collect();
            out.rows(&EVENT_COLUMNS, &rows);
        }
        // Server-Sent Events: each event as it happens, resumed after the
        // last one seen when the connection drops.
        Resource::Events { after, follow: true } => {
            let mut events = std::pin::pin!(c.follow_events(after));
            while let Some(e) = events.try_next().await? {
                let row = event_row(&e);
                if out.json {
                    println!("{row}");
                } else {
                    let cells: Vec<String> = EVENT_COLUMNS
                        .iter()
                        .map(|c| row[c].as_str().map_or_else(|| row[c].to_string(), str::to_owned))
                        .collect();
                    println!("{}", cells.join("  "));
                }
            }
        }
    }
    Ok(0)
}

const EVENT_COLUMNS: [&str; 5] = ["seq", "at", "action", "target_type", "target_id"];

fn event_row(e: &roster_client::Event) -> Value {
    json!({ "seq": e.seq, "at": e.at, "action": e.action, "target_type": e.target_type, "target_id": e.target_id })
}

fn r_row(r: &roster_client::Named) -> Value {
    json!({ "id": r.id, "name": r.name, "description": r.description })
}
