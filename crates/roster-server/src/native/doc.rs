//! What keeps `/openapi.json` exact, in one place: the error answers every
//! operation shares ([`CommonAnswers`]), the rules of the query parameters
//! every list shares, and the schemas of input fields whose rules the core
//! enforces (`roster_core::validate`), used by `wire.rs` through
//! `#[schema(schema_with = …)]`. A handler's `#[utoipa::path]` lists only
//! the answers particular to it (its success, and 404/409/412 where its
//! use-case can refuse that way). A test runs schemathesis against the
//! document with every check on (`tests/it/openapi.rs`).

use roster_core::model::permission::KNOWN;
use roster_core::validate::{MAX_NAME_LEN, MAX_TEXT_LEN};
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder};

/// Whitespace as `str::trim` sees it (Unicode `White_Space`).
const WS: &str = r"[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// Any character but a control character (Unicode `Cc`).
const TEXT: &str = r"[^\x00-\x1F\x7F-\x9F]";
/// A character that is neither a control character nor whitespace.
const SOLID: &str = r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// Like [`SOLID`], and not `@`.
const LOCAL: &str = r"[^\x00-\x20@\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// Adds the answers every native operation shares to each operation, and
/// the page parameters' rules to each list.
pub struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        closed_variants(openapi);
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ];
            for (write, op) in ops {
                if let Some(op) = op.as_mut() {
                    common_answers(path, write, op);
                    page_rules(op);
                }
            }
        }
    }
}

/// Every native request body refuses unknown fields; the variants of a
/// tagged body (an import record) say so too, which utoipa leaves out.
fn closed_variants(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(components) = openapi.components.as_mut() else { return };
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::OneOf(one_of)) = schema {
            for item in &mut one_of.items {
                if let RefOr::T(Schema::Object(o)) = item {
                    o.additional_properties.get_or_insert(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

fn error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
}

fn retry_after(r: ResponseBuilder) -> ResponseBuilder {
    r.header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
            .description(Some("seconds to wait before trying again"))
            .build(),
    )
}

/// The revision every successful write answers (see
/// `http::consistency_tokens`). The request's `Roster-Min-Revision` is
/// described once, in the document's description, not as a parameter of
/// each operation: its valid values end at the latest change made, which
/// no schema can say.
fn revision_header(write: bool, op: &mut Operation) {
    if !write {
        return;
    }
    for (status, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(r)) = (status.starts_with('2'), response) {
            r.headers.insert(
                "Roster-Revision".to_owned(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
                        .description(Some(
                            "the revision (change-feed seq) this write committed at, or a later one: send it as \
                             `Roster-Min-Revision` to read this write through any server",
                        ))
                        .build(),
                ),
            );
        }
    }
}

fn common_answers(path: &str, write: bool, op: &mut Operation) {
    revision_header(write, op);
    let has_params = path.contains('{') || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = op.request_body.is_some();
    let mut add = |status: &str, response: ResponseBuilder| {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| RefOr::T(response.build()));
    };
    if has_params || has_body {
        add("400", error("invalid_request: a parameter, header or the body breaks a rule; `field` names it"));
    }
    add(
        "401",
        error("unauthenticated: no key, an unknown or revoked key, or an inactive user's").header(
            "WWW-Authenticate",
            HeaderBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String))).build(),
        ),
    );
    if write {
        add("403", error("forbidden: the caller may not make this change"));
    }
    if path.contains('{') {
        add("404", error("not_found: a resource the path names does not exist or is not visible to the caller"));
    }
    if has_body {
        add("408", error("request_timeout: the body did not arrive in time"));
        add("413", error("payload_too_large: the body is over 1 MiB"));
        add("415", error("unsupported_media_type: a body that is not application/json"));
    }
    add("429", retry_after(error("rate_limited: too many requests for this key, or failed authentications")));
    add("500", error("internal: a bug, logged on the server"));
    add("503", retry_after(error("busy: concurrent writers; try again")));
}

/// `limit` 1–1000, `cursor` (an empty one is the first page), `after` ≥ 0,
/// search strings of at most 255 characters.
fn page_rules(op: &mut Operation) {
    for p in op.parameters.iter_mut().flatten() {
        let RefOr::T(p) = p else { continue };
        if p.parameter_in == ParameterIn::Header && p.name == "Last-Event-ID" {
            let seq = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(i64::MAX));
            p.schema = Some(RefOr::T(Schema::Object(seq.build())));
            continue;
        }
        if p.parameter_in != ParameterIn::Query {
            continue;
        }
        let schema = match p.name.as_str() {
            "limit" => {
                p.description = Some("page size, 1–1000 (default 100)".into());
                ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(1000)).build()
            }
            "after" => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(i64::MAX)).build(),
            "cursor" => {
                p.description =
                    Some("`next_cursor` of the previous page of this same list; empty: the first page".into());
                ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Za-z0-9_-]*$")).build()
            }
            "outcome" => one_of(&["dead"]).build(),
            "prefix" | "q" => ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_NAME_LEN))
                .pattern(Some(NO_NUL))
                .build(),
            _ => continue,
        };
        p.schema = Some(RefOr::T(Schema::Object(schema)));
    }
}

fn string(pattern: String) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern))
}

/// The same schema, also allowing `null` (absent, or "clear" in a PATCH).
fn or_null(b: ObjectBuilder) -> Object {
    b.schema_type(SchemaType::from_iter([Type::String, Type::Null])).build()
}

/// A name (`validate::name`): 1–255 characters once trimmed, no control characters.
fn name_pattern(optional: bool) -> String {
    let inner = format!("{SOLID}(?:{TEXT}{{0,{}}}{SOLID})?", MAX_NAME_LEN - 2);
    let inner = if optional { format!("(?:{inner})?") } else { inner };
    format!("^{WS}*{inner}{WS}*$")
}

pub fn name() -> Object {
    string(name_pattern(false)).description(Some("1–255 characters once trimmed; no control characters")).build()
}

pub fn name_or_null() -> Object {
    or_null(string(name_pattern(false)).description(Some("1–255 characters once trimmed; no control characters")))
}

/// An optional name (`validate::optional_name`): empty or blank clears it.
pub fn optional_name() -> Object {
    or_null(
        string(name_pattern(true))
            .description(Some("at most 255 characters once trimmed, no control characters; empty clears it")),
    )
}

fn username_builder() -> ObjectBuilder {
    string(format!("^{WS}*{SOLID}{{1,{MAX_NAME_LEN}}}{WS}*$"))
        .description(Some("1–255 characters, no whitespace (but around it) or control characters"))
}

pub fn username() -> Object {
    username_builder().build()
}

pub fn username_or_null() -> Object {
    or_null(username_builder())
}

/// `validate::email`: something@something, at most 255 characters once
/// trimmed; empty clears it.
pub fn email() -> Object {
    or_null(
        string(format!("^{WS}*(?:(?={SOLID}{{3,{MAX_NAME_LEN}}}{WS}*$){LOCAL}+@{SOLID}+)?{WS}*$"))
            .description(Some("an address local@domain, at most 255 characters; empty clears it")),
    )
}

/// `validate::optional_text`: at most 4096 characters, no NUL; empty clears it.
pub fn text() -> Object {
    or_null(ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_TEXT_LEN)).pattern(Some(NO_NUL)))
}

/// Text that holds no NUL character (no store keeps one in text).
const NO_NUL: &str = "^[^\\u0000]*$";

/// `validate::slug`: 1–255 of a-z, 0-9, `-`, `_` once trimmed; `null` or
/// absent derives it from the name.
pub fn slug() -> Object {
    or_null(
        string(format!("^{WS}*[a-z0-9_-]{{1,{MAX_NAME_LEN}}}{WS}*$"))
            .description(Some("1–255 of a-z, 0-9, '-', '_'; null or absent: derived from the name")),
    )
}

/// `validate::password`: 8–1024 characters.
pub fn password() -> Object {
    or_null(ObjectBuilder::new().schema_type(Type::String).min_length(Some(8)).max_length(Some(1024)))
}

fn one_of(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied()))
}

fn one_of_or_null(values: &[&str]) -> Object {
    let mut with_null: Vec<serde_json::Value> = values.iter().map(|v| serde_json::Value::from(*v)).collect();
    with_null.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(with_null))
        .build()
}

pub fn site_role() -> Object {
    one_of(&["admin", "user"]).build()
}

pub fn site_role_or_null() -> Object {
    one_of_or_null(&["admin", "user"])
}

pub fn member_role() -> Object {
    one_of(&["member", "admin"]).build()
}

pub fn member_role_or_null() -> Object {
    one_of_or_null(&["member", "admin"])
}

pub fn share_level() -> Object {
    one_of(&["read", "write", "manage"]).build()
}

pub fn grantee_type() -> Object {
    one_of(&["user", "group"]).build()
}

pub fn source_type() -> Object {
    one_of(&["api", "scim", "posit", "civis", "box", "iguazio", "import"]).build()
}

/// Permissions of a group admin: the known names only, each on or off;
/// `null` turns every one off.
pub fn permissions() -> Object {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("name → enabled; a permission left out is enabled; null disables every one"));
    for name in KNOWN {
        b = b.property(name, ObjectBuilder::new().schema_type(Type::Boolean));
    }
    b.build()
}

fn webhook_url_builder() -> ObjectBuilder {
    string(roster_core::webhooks::URL_PATTERN.to_owned())
        .max_length(Some(roster_core::webhooks::MAX_URL_LEN))
        .description(Some("http or https, a host (or [IPv6]), an optional port, printable ASCII; no credentials"))
}

pub fn webhook_url() -> Object {
    webhook_url_builder().build()
}

pub fn webhook_url_or_null() -> Object {
    or_null(webhook_url_builder())
}

fn event_types_builder(nullable: bool) -> ArrayBuilder {
    let mut names: Vec<String> = vec!["*".to_owned()];
    for t in roster_core::webhooks::EVENT_TYPES {
        names.push((*t).to_owned());
        let area = format!("{}.*", t.split('.').next().unwrap_or(t));
        if !names.contains(&area) {
            names.push(area);
        }
    }
    let items = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names));
    let b = ArrayBuilder::new().items(items).max_items(Some(64));
    if nullable { b.schema_type(SchemaType::from_iter([Type::Array, Type::Null])) } else { b }
}

pub fn event_types() -> utoipa::openapi::schema::Array {
    event_types_builder(false).build()
}

pub fn event_types_or_null() -> utoipa::openapi::schema::Array {
    event_types_builder(true).build()
}
