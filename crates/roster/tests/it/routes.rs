//! Every front-end answers every error in its own format, a wrong method
//! (405, with `Allow`) and an unknown path (404) included.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::TestServer;

/// Whether `body` is an error in the front-end's format with `status`.
type Shape = fn(&Value, u16) -> bool;

fn native(b: &Value, _: u16) -> bool {
    b["error"]["code"].is_string() && b["error"]["message"].is_string()
}
fn scim(b: &Value, status: u16) -> bool {
    b["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
        && b["status"].as_str() == Some(status.to_string().as_str())
}
fn posit(b: &Value, _: u16) -> bool {
    b["code"].is_u64() && b["error"].is_string() && b.get("payload").is_some()
}
fn civis(b: &Value, status: u16) -> bool {
    b["error"].is_string() && b["errorDescription"].is_string() && b["code"] == status
}
fn box_api(b: &Value, status: u16) -> bool {
    b["type"] == "error" && b["status"] == status && b["code"].is_string()
}
fn compliance(b: &Value, _: u16) -> bool {
    b["type"] == "error" && b["error"]["type"].is_string() && b["error"]["message"].is_string()
}
fn iguazio(b: &Value, status: u16) -> bool {
    b["errors"][0]["status"] == status && b["errors"][0]["detail"].is_string()
}

/// For each front-end: a known path, a method it does not take, what
/// `Allow` must list, an unknown path under the front-end's prefix, and
/// the error shape.
const FRONT_ENDS: &[(&str, Method, &str, &str, Shape)] = &[
    ("/v1/users/x", Method::POST, "GET,PATCH,DELETE", "/v1/nope", native),
    ("/scim/v2/Users/x", Method::POST, "GET,PUT,PATCH,DELETE", "/scim/v2/nope", scim),
    ("/scim/v2/ServiceProviderConfig", Method::DELETE, "GET", "/scim/v2/Users/x/nope", scim),
    ("/posit/__api__/v1/users/x", Method::POST, "GET,PUT", "/posit/__api__/v1/nope", posit),
    ("/civis/groups/1", Method::POST, "GET,PUT,PATCH,DELETE", "/civis/nope", civis),
    ("/box/2.0/users/terminate_sessions", Method::POST, "GET,PUT,DELETE", "/box/2.0/nope", box_api),
    ("/compliance/v1/compliance/groups", Method::POST, "GET", "/compliance/v1/nope", compliance),
    ("/iguazio/api/users/x", Method::POST, "GET,PUT,DELETE", "/iguazio/api/nope", iguazio),
];

/// The set of methods in an `Allow` header (HEAD, implied by GET, aside).
fn methods(list: &str) -> std::collections::BTreeSet<String> {
    list.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty() && m != "HEAD").collect()
}

async fn errors_answer_in_each_front_ends_format(s: TestServer) {
    for (path, method, allow, unknown, shape) in FRONT_ENDS {
        let r = s.call(method.clone(), path, Some(&s.admin), None).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", r.body);
        assert!(shape(&r.body, 405), "{method} {path}: not the front-end's error format: {}", r.body);
        let got = r.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(methods(got), methods(allow), "{method} {path}: Allow");
        for m in [Method::GET, Method::POST, Method::DELETE] {
            let r = s.call(m.clone(), unknown, Some(&s.admin), None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {unknown}: {}", r.body);
            assert!(shape(&r.body, 404), "{m} {unknown}: not the front-end's error format: {}", r.body);
        }
        // Without a key: still the front-end's format, never an empty body.
        let r = s.call(method.clone(), path, None, None).await;
        assert!(r.status.is_client_error() && shape(&r.body, r.status.as_u16()), "{method} {path}: {}", r.body);
    }
}

crate::on_every_store!(errors_answer_in_each_front_ends_format);
