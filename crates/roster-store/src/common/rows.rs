//! Row ↔ entity conversions, shared by every SQL backend: a child module of
//! each backend (`crate::sqlite`, `crate::postgres`), which defines `Db`
//! (the sqlx database type). No SQL statement runs here.

use roster_core::StoreError;
use roster_core::webhooks;
use roster_core::*;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Db;

type DbRow = <Db as sqlx::Database>::Row;

pub(crate) type R<T> = Result<T, StoreError>;

/// Timestamps are stored as microseconds since the Unix epoch.
/// A column list (`USER_COLS`, …) with each column qualified by `alias`,
/// for selecting an entity out of a join.
pub(crate) fn qualified(cols: &str, alias: &str) -> String {
    cols.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_ts(micros: i64) -> R<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000).map_err(|e| StoreError::Other(e.to_string()))
}

fn get<'r, T: sqlx::Decode<'r, Db> + sqlx::Type<Db>>(row: &'r DbRow, col: &str) -> R<T> {
    row.try_get(col).map_err(|e| StoreError::Other(e.to_string()))
}

fn time(row: &DbRow, col: &str) -> R<OffsetDateTime> {
    from_ts(get(row, col)?)
}

fn json_map(row: &DbRow, col: &str) -> R<serde_json::Map<String, serde_json::Value>> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Other(format!("{col}: {e}")))
}

/// A nullable column of JSON text.
fn json_opt(row: &DbRow, col: &str) -> R<Option<serde_json::Value>> {
    let text: Option<String> = get(row, col)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Other(format!("{col}: {e}")))).transpose()
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("unexpected {what} {value:?} in the database"))
}

pub(crate) fn json_text(v: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(v.clone()).to_string()
}

pub(crate) fn permissions_text(p: &Permissions) -> String {
    p.to_json().to_string()
}

fn permissions(row: &DbRow) -> R<Permissions> {
    let text: String = get(row, "permissions")?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Null) => Ok(Permissions::Disabled),
        Ok(serde_json::Value::Object(m)) => {
            Ok(Permissions::Map(m.into_iter().map(|(k, v)| (k, v.as_bool().unwrap_or(false))).collect()))
        }
        _ => Err(bad("permissions", &text)),
    }
}

pub(crate) fn level_num(l: ShareLevel) -> i64 {
    match l {
        ShareLevel::Read => 1,
        ShareLevel::Write => 2,
        ShareLevel::Manage => 3,
    }
}

pub(crate) fn level_from(n: i64) -> R<ShareLevel> {
    match n {
        1 => Ok(ShareLevel::Read),
        2 => Ok(ShareLevel::Write),
        3 => Ok(ShareLevel::Manage),
        _ => Err(bad("share level", &n.to_string())),
    }
}

pub(crate) const USER_COLS: &str = "num, id, username, email, first_name, last_name, display_name, active, site_role, \
     primary_group, external_id, role_label, attributes, created_at, updated_at, version, groups_changed_at, \
     profile_changed_at";

pub(crate) fn user(row: &DbRow) -> R<User> {
    let role: String = get(row, "site_role")?;
    Ok(User {
        id: UserId(get(row, "id")?),
        num: get(row, "num")?,
        username: get(row, "username")?,
        email: get(row, "email")?,
        first_name: get(row, "first_name")?,
        last_name: get(row, "last_name")?,
        display_name: get(row, "display_name")?,
        active: get(row, "active")?,
        site_role: SiteRole::parse(&role).ok_or_else(|| bad("site role", &role))?,
        primary_group: get::<Option<Uuid>>(row, "primary_group")?.map(GroupId),
        external_id: get(row, "external_id")?,
        role_label: get(row, "role_label")?,
        attributes: json_map(row, "attributes")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
        groups_changed_at: time(row, "groups_changed_at")?,
        profile_changed_at: time(row, "profile_changed_at")?,
    })
}

/// The columns [`group`] reads, for a statement that reads `groups` (not
/// aliased): the group's own, then its counts (`n_members`, `n_admins`,
/// `n_children`) where the backend keeps them (`dialect::GROUP_COUNTS`).
/// Written with `{}` in a `format!`.
pub(crate) const GROUP_COLS: GroupCols = GroupCols;

#[derive(Clone, Copy)]
pub(crate) struct GroupCols;

impl std::fmt::Display for GroupCols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "num, id, name, unique_id, slug, description, org_id, source_type, attributes, \
             created_by, updated_by, created_at, updated_at, version, ",
        )?;
        f.write_str(super::dialect::GROUP_COUNTS)
    }
}

pub(crate) fn group(row: &DbRow) -> R<Group> {
    let source: String = get(row, "source_type")?;
    Ok(Group {
        id: GroupId(get(row, "id")?),
        num: get(row, "num")?,
        name: get(row, "name")?,
        unique_id: get(row, "unique_id")?,
        slug: get(row, "slug")?,
        description: get(row, "description")?,
        org: OrgId(get(row, "org_id")?),
        source_type: SourceType::parse(&source).ok_or_else(|| bad("source type", &source))?,
        attributes: json_map(row, "attributes")?,
        created_by: get::<Option<Uuid>>(row, "created_by")?.map(UserId),
        updated_by: get::<Option<Uuid>>(row, "updated_by")?.map(UserId),
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
        counts: GroupCounts {
            members: get(row, "n_members")?,
            admins: get(row, "n_admins")?,
            children: get(row, "n_children")?,
        },
    })
}

pub(crate) const MEMBERSHIP_COLS: &str =
    "num, id, group_id, user_id, child_id, role, permissions, created_at, updated_at";

pub(crate) fn membership(row: &DbRow) -> R<Membership> {
    let role: String = get(row, "role")?;
    let member = member_ref(row)?;
    Ok(Membership {
        id: MembershipId(get(row, "id")?),
        num: get(row, "num")?,
        group: GroupId(get(row, "group_id")?),
        member,
        role: MemberRole::parse(&role).ok_or_else(|| bad("member role", &role))?,
        permissions: permissions(row)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// The member a membership row names (its `user_id` or `child_id`).
pub(crate) fn member_ref(row: &DbRow) -> R<Member> {
    match (get::<Option<Uuid>>(row, "user_id")?, get::<Option<Uuid>>(row, "child_id")?) {
        (Some(u), None) => Ok(Member::User(UserId(u))),
        (None, Some(g)) => Ok(Member::Group(GroupId(g))),
        _ => Err(bad("membership", "without exactly one member")),
    }
}

pub(crate) fn role(row: &DbRow) -> R<Role> {
    Ok(Role {
        id: RoleId(get(row, "id")?),
        num: get(row, "num")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn org(row: &DbRow) -> R<Organization> {
    Ok(Organization {
        id: OrgId(get(row, "id")?),
        num: get(row, "num")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn project(row: &DbRow) -> R<Project> {
    Ok(Project {
        id: ProjectId(get(row, "id")?),
        num: get(row, "num")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        org: OrgId(get(row, "org_id")?),
        attributes: json_map(row, "attributes")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn binding(row: &DbRow) -> R<ProjectBinding> {
    let principal = match (get::<Option<Uuid>>(row, "user_id")?, get::<Option<Uuid>>(row, "group_id")?) {
        (Some(u), None) => Grantee::User(UserId(u)),
        (None, Some(g)) => Grantee::Group(GroupId(g)),
        _ => return Err(bad("project binding", "without exactly one principal")),
    };
    Ok(ProjectBinding {
        project: ProjectId(get(row, "project_id")?),
        principal,
        num: get(row, "num")?,
        role: get(row, "role")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn share(row: &DbRow) -> R<Share> {
    let grantee = match (get::<Option<Uuid>>(row, "user_id")?, get::<Option<Uuid>>(row, "to_group")?) {
        (Some(u), None) => Grantee::User(UserId(u)),
        (None, Some(g)) => Grantee::Group(GroupId(g)),
        _ => return Err(bad("share", "without exactly one grantee")),
    };
    Ok(Share {
        id: ShareId(get(row, "id")?),
        num: get(row, "num")?,
        group: GroupId(get(row, "group_id")?),
        grantee,
        level: level_from(get(row, "level")?)?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn web_session(row: &DbRow) -> R<WebSession> {
    Ok(WebSession {
        user: UserId(get(row, "user_id")?),
        key: get::<Option<uuid::Uuid>>(row, "key_id")?.map(KeyId),
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
    })
}

pub(crate) fn key(row: &DbRow) -> R<ApiKey> {
    Ok(ApiKey {
        id: KeyId(get(row, "id")?),
        num: get(row, "num")?,
        user: UserId(get(row, "user_id")?),
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn event(row: &DbRow) -> R<Event> {
    Ok(Event {
        seq: get(row, "seq")?,
        at: time(row, "at")?,
        actor: get::<Option<Uuid>>(row, "actor")?.map(UserId),
        action: get(row, "action")?,
        target_type: get(row, "target_type")?,
        target_id: get(row, "target_id")?,
        before: json_opt(row, "before")?,
        after: json_opt(row, "after")?,
    })
}

pub(crate) fn job(row: &DbRow) -> R<Job> {
    let state: String = get(row, "state")?;
    Ok(Job {
        id: JobId(get(row, "id")?),
        num: get(row, "num")?,
        kind: get(row, "kind")?,
        state: JobState::parse(&state).ok_or_else(|| bad("job state", &state))?,
        params: json_opt(row, "params")?.unwrap_or(serde_json::Value::Null),
        result: json_opt(row, "result")?,
        actor: get::<Option<Uuid>>(row, "actor")?.map(UserId),
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// A subscription's columns, without its secrets.
pub(crate) const WEBHOOK_COLS: &str = "num, id, url, event_types, group_id, description, enabled, disabled_reason, \
     created_by, created_at, updated_at, previous_secret_until, delivered_seq, attempts, next_attempt_at";

fn time_opt(row: &DbRow, col: &str) -> R<Option<OffsetDateTime>> {
    get::<Option<i64>>(row, col)?.map(from_ts).transpose()
}

pub(crate) fn webhook(row: &DbRow) -> R<webhooks::Webhook> {
    let types: String = get(row, "event_types")?;
    Ok(webhooks::Webhook {
        id: WebhookId(get(row, "id")?),
        num: get(row, "num")?,
        url: get(row, "url")?,
        event_types: serde_json::from_str(&types).map_err(|e| StoreError::Other(format!("event_types: {e}")))?,
        group: get::<Option<Uuid>>(row, "group_id")?.map(GroupId),
        description: get(row, "description")?,
        enabled: get(row, "enabled")?,
        disabled_reason: get(row, "disabled_reason")?,
        created_by: get::<Option<Uuid>>(row, "created_by")?.map(UserId),
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        previous_secret_until: time_opt(row, "previous_secret_until")?,
    })
}

pub(crate) fn delivery_state(row: &DbRow) -> R<webhooks::DeliveryState> {
    Ok(webhooks::DeliveryState {
        webhook: WebhookId(get(row, "id")?),
        cursor: get(row, "delivered_seq")?,
        attempts: u32::try_from(get::<i64>(row, "attempts")?).unwrap_or(0),
        next_attempt_at: time_opt(row, "next_attempt_at")?,
    })
}

pub(crate) fn webhook_secrets(row: &DbRow) -> R<webhooks::WebhookSecrets> {
    use base64::Engine;
    let decode = |text: String| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(webhooks::WebhookSecret::from_bytes)
            .map_err(|_| StoreError::Other("a webhook secret is not base64".into()))
    };
    let previous = match (get::<Option<String>>(row, "previous_secret")?, time_opt(row, "previous_secret_until")?) {
        (Some(s), Some(until)) => Some((decode(s)?, until)),
        _ => None,
    };
    Ok(webhooks::WebhookSecrets { current: decode(get(row, "secret")?)?, previous })
}

pub(crate) fn secret_text(s: &webhooks::WebhookSecret) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.bytes())
}

pub(crate) fn delivery_attempt(row: &DbRow) -> R<webhooks::DeliveryAttempt> {
    let outcome: String = get(row, "outcome")?;
    Ok(webhooks::DeliveryAttempt {
        num: get(row, "num")?,
        webhook: WebhookId(get(row, "webhook_id")?),
        seq: get(row, "seq")?,
        message_id: get(row, "message_id")?,
        attempt: u32::try_from(get::<i64>(row, "attempt")?).unwrap_or(0),
        at: time(row, "at")?,
        status: get::<Option<i64>>(row, "status")?.and_then(|s| u16::try_from(s).ok()),
        latency_ms: get(row, "latency_ms")?,
        outcome: webhooks::Outcome::parse(&outcome).ok_or_else(|| bad("delivery outcome", &outcome))?,
        detail: get(row, "detail")?,
    })
}
