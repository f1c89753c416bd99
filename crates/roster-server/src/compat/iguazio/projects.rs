//! `/api/projects`, the three roles of each project, `/api/async_transactions`
//! (which replaces the holders of project roles) and `/api/jobs`. Every
//! operation the SDK would wait on finishes before the answer, and the job
//! it gets back is already complete, so its polling returns at once.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_core::{
    CoreError, Grantee, GroupId, JobId, JobSpec, NewProject, Principal, Project, ProjectId, ProjectPatch, RoleHolders,
    UserId, collect_all, list as lists,
};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Auth;
use super::doc::{self, Incoming};
use super::error::{IgzResult, invalid, not_found};
use super::map;
use super::query::ListQuery;
use crate::http::AppState;

const SORTABLE: &[&str] = &["name", "description", "created_at", "updated_at"];

/// A project named by its id, or by `name@tenant` as recent Iguazio versions do.
async fn find(s: &AppState, p: &Principal, raw: &str) -> IgzResult<Project> {
    if let Ok(id) = raw.parse::<ProjectId>() {
        return Ok(s.directory.get_project(p, id).await?);
    }
    let name = raw.split_once('@').map_or(raw, |(n, _)| n);
    match s.directory.get_project_by_name(p, name).await {
        Err(CoreError::NotFound { .. }) => Err(not_found("project")),
        other => Ok(other?),
    }
}

async fn bindings(s: &AppState, p: &Principal, id: ProjectId) -> IgzResult<Vec<roster_core::ProjectBinding>> {
    Ok(collect_all(lists::BINDINGS, |req| async move { s.directory.list_project_bindings(p, id, &req).await }).await?)
}

/// Adds what `include` asks for: the roles with every principal they name,
/// and the owner.
async fn relate(
    s: &AppState,
    p: &Principal,
    project: &Project,
    res: &mut Value,
    q: &ListQuery,
) -> IgzResult<Vec<Value>> {
    let mut included = Vec::new();
    if q.includes("project_authorization_roles") {
        let bound = bindings(s, p, project.id).await?;
        let roles = map::project_roles(project, &bound);
        let idents =
            roles.iter().map(|r| doc::ident("project_authorization_role", r["id"].as_str().unwrap_or_default()));
        doc::relate(res, "project_authorization_roles", Value::Array(idents.collect()));
        included.extend(roles);
        for b in bound.iter().filter(|b| map::PROJECT_ROLES.iter().any(|(_, r)| *r == b.role)) {
            match b.principal {
                Grantee::User(u) => included.push(map::user(&s.directory.get_user(p, u).await?)),
                Grantee::Group(g) => included.push(map::group(&s.directory.get_group(p, g).await?)),
            }
        }
    }
    if q.includes("owner")
        && let Some(owner) = map::settings(&project.attributes).get("owner").and_then(Value::as_str)
        && let Ok(id) = owner.parse::<UserId>()
    {
        match s.directory.get_user(p, id).await {
            Ok(u) => included.push(map::user(&u)),
            Err(CoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(included)
}

pub async fn list(State(s): State<AppState>, Auth(p): Auth, RawQuery(raw): RawQuery) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let by_name = q.filters.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
    let projects: Vec<Project> = match by_name {
        Some(name) => match s.directory.get_project_by_name(&p, &name).await {
            Ok(project) => vec![project],
            Err(CoreError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        },
        None => {
            let (s, p) = (&s, &p);
            collect_all(lists::PROJECTS, |req| async move { s.directory.list_projects(p, &req).await }).await?
        }
    };
    let mut items: Vec<Value> = projects.iter().map(map::project).filter(|r| q.matches(r)).collect();
    q.sort_known(&mut items, SORTABLE)?;
    let mut out = Vec::new();
    for mut res in q.window(items) {
        if let Some(project) = projects.iter().find(|pr| res["id"] == json!(pr.id.to_string())) {
            let included = relate(&s, &p, project, &mut res, &q).await?;
            if !included.is_empty() {
                res["included"] = Value::Array(included);
            }
        }
        out.push(res);
    }
    Ok(doc::list(out))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> IgzResult<Json<Value>> {
    let q = ListQuery::parse(raw.as_deref())?;
    let project = find(&s, &p, &id).await?;
    let mut res = map::project(&project);
    let included = relate(&s, &p, &project, &mut res, &q).await?;
    Ok(doc::single(res, included))
}

/// Iguazio's project settings from a request, over `current`.
async fn settings(
    s: &AppState,
    p: &Principal,
    d: &Incoming,
    mut current: Map<String, Value>,
) -> IgzResult<Map<String, Value>> {
    for key in ["labels", "annotations", "default_function_node_selector"] {
        if let Some(v) = d.pairs(key)? {
            current.insert(key.into(), v);
        }
    }
    match d.to_one("owner")? {
        None => {}
        Some(None) => {
            current.remove("owner");
        }
        Some(Some(owner)) => {
            let id = owner.parse::<UserId>().map_err(|_| not_found("user"))?;
            s.directory.get_user(p, id).await?;
            current.insert("owner".into(), json!(id.to_string()));
        }
    }
    Ok(current)
}

pub async fn create(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let d = doc::incoming(body.into_inner())?;
    let name = d.text("name")?.ok_or_else(|| invalid("data.attributes.name", "is required"))?;
    let mut attributes = Map::new();
    attributes.insert("iguazio".into(), Value::Object(settings(&s, &p, &d, Map::new()).await?));
    let new = NewProject { name, description: d.text("description")?.filter(|d| !d.is_empty()), org: None, attributes };
    let project = s.directory.create_project(&p, new).await?;
    Ok((StatusCode::CREATED, doc::single(map::project(&project), Vec::new())))
}

pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Body,
) -> IgzResult<Json<Value>> {
    let project = find(&s, &p, &id).await?;
    let d = doc::incoming(body.into_inner())?;
    if d.text("name")?.is_some_and(|n| n != project.name) {
        return Err(invalid("data.attributes.name", "a project cannot be renamed"));
    }
    let mut attributes = project.attributes.clone();
    attributes.insert("iguazio".into(), Value::Object(settings(&s, &p, &d, map::settings(&project.attributes)).await?));
    let patch = ProjectPatch {
        name: None,
        description: d.attributes.contains_key("description").then(|| d.text("description")).transpose()?,
        attributes: Some(attributes),
    };
    let project = s.directory.update_project(&p, project.id, patch).await?;
    Ok(doc::single(map::project(&project), Vec::new()))
}

/// `DELETE /api/projects` names the project in the body; answers with the
/// finished job that records the deletion.
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let d = doc::incoming(body.into_inner())?;
    let name = d.text("name")?.ok_or_else(|| invalid("data.attributes.name", "is required"))?;
    let project = find(&s, &p, &name).await?;
    let params = json!({ "project_id": project.id.to_string(), "name": project.name });
    let job = s.directory.delete_project_as_job(&p, project.id, JobSpec::completed("project.delete", params)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "data": map::job(&job) }))))
}

/// One `put` of a role in an async transaction: which project, which role,
/// and its complete list of holders.
struct RolePut {
    project: ProjectId,
    holders: RoleHolders,
}

fn role_put(i: usize, request: &Value) -> IgzResult<RolePut> {
    let at = |member: &str| format!("data.attributes.requests[{i}].{member}");
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    if !method.eq_ignore_ascii_case("put") {
        return Err(invalid(at("method"), "only put is supported"));
    }
    let resource = request.get("resource").and_then(Value::as_str).unwrap_or_default();
    let role_id = resource
        .strip_prefix("project_authorization_roles/")
        .ok_or_else(|| invalid(at("resource"), "must be project_authorization_roles/<role id>"))?;
    let (project, core_role) = role_id
        .rsplit_once(':')
        .and_then(|(p, r)| Some((p.parse::<ProjectId>().ok()?, r)))
        .filter(|(_, r)| map::PROJECT_ROLES.iter().any(|(_, known)| known == r))
        .ok_or_else(|| not_found("project_authorization_role"))?;
    let body = request.get("body").cloned().unwrap_or(Value::Null);
    let d = doc::incoming(body).map_err(|_| invalid(at("body"), "must be a project_authorization_role document"))?;
    if let Some(name) = d.text("name")?
        && !map::PROJECT_ROLES.iter().any(|(n, r)| *n == name && r == &core_role)
    {
        return Err(invalid(at("body.data.attributes.name"), format!("{name:?} is not the role {role_id}")));
    }
    let mut principals = Vec::new();
    for u in d.to_many("principal_users")?.unwrap_or_default() {
        principals.push(Grantee::User(u.parse::<UserId>().map_err(|_| not_found("user"))?));
    }
    for g in d.to_many("principal_user_groups")?.unwrap_or_default() {
        principals.push(Grantee::Group(g.parse::<GroupId>().map_err(|_| not_found("user_group"))?));
    }
    Ok(RolePut { project, holders: RoleHolders { role: core_role.to_owned(), principals } })
}

/// Replaces the holders of project roles, every project's changes and the
/// job that records them in one transaction (all or nothing), and answers
/// with the job.
pub async fn async_transaction(State(s): State<AppState>, Auth(p): Auth, body: Body) -> IgzResult<impl IntoResponse> {
    let body = body.into_inner();
    let requests = body
        .pointer("/data/attributes/requests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("data.attributes.requests", "must be a list of requests"))?;
    let mut by_project: Vec<(ProjectId, Vec<RoleHolders>)> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let put = role_put(i, request)?;
        match by_project.iter_mut().find(|(id, _)| *id == put.project) {
            Some((_, roles)) => roles.push(put.holders),
            None => by_project.push((put.project, vec![put.holders])),
        }
    }
    let projects: Vec<String> = by_project.iter().map(|(id, _)| id.to_string()).collect();
    let params = json!({ "project_ids": projects, "requests": requests.len() });
    let job = JobSpec::completed("project_authorization_roles.update", params);
    let job = s.directory.set_project_roles_as_job(&p, by_project, job).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "data": map::job(&job) }))))
}

pub async fn job(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> IgzResult<Json<Value>> {
    let id = id.parse::<JobId>().map_err(|_| not_found("job"))?;
    let job = s.directory.get_job(&p, id).await?;
    Ok(doc::single(map::job(&job), Vec::new()))
}
