//! No client input produces a 500: every route of every front-end, with
//! ids that do not exist or are not ids at all, and bodies of every wrong
//! shape, answers a 4xx (or a 2xx where the input happens to be valid).

use reqwest::Method;

use crate::harness::TestServer;

const BODIES: &[&[u8]] = &[
    b"",
    b"{}",
    b"[]",
    b"\"text\"",
    b"null",
    b"{\"name\": null, \"username\": 12, \"role\": [], \"permissions\": \"all\"}",
    b"{\"name\": \"\\u0000\", \"user\": {\"id\": {}}, \"group\": 7}",
    b"{\"data\": {\"attributes\": 99999999999999999999999}}",
    b"\xff\xfe\xfd",
    b"{\"name\": \"x\", \"limit\": 1e400}",
    b"{\"data\": {\"attributes\": {\"name\": \"n\", \"gid\": -5, \"last_activity\": 3}, \"relationships\": {\"users\": {\"data\": [{\"id\": 9}]}, \"primary_group\": {\"data\": 1}, \"user_groups\": {\"data\": [{}]}}}}",
    b"{\"data\": {\"attributes\": {\"requests\": [{\"method\": \"put\", \"resource\": \"project_authorization_roles/01a204fd-80d0-728b-b339-be8a2b4e3400:admin\", \"body\": {\"data\": {\"relationships\": {\"principal_users\": {\"data\": [{\"id\": \"x\"}]}}}}}]}}}",
];

/// Path templates: `{…}` placeholders are filled with each of `IDS`.
const VENDOR_PATHS: &[&str] = &[
    "/posit/__api__/v1/groups",
    "/posit/__api__/v1/groups/{id}",
    "/posit/__api__/v1/groups/{id}/members",
    "/posit/__api__/v1/groups/{id}/members/{id}",
    "/posit/__api__/v1/users",
    "/posit/__api__/v1/users/{id}",
    "/posit/__api__/v1/users/{id}/lock",
    "/civis/groups",
    "/civis/groups/{id}",
    "/civis/groups/{id}/members/{id}",
    "/civis/groups/{id}/shares",
    "/civis/groups/{id}/shares/users",
    "/civis/groups/{id}/shares/groups/{id}",
    "/civis/groups/{id}/child_groups",
    "/civis/users",
    "/civis/users/{id}",
    "/box/2.0/groups",
    "/box/2.0/groups/{id}",
    "/box/2.0/groups/{id}/memberships",
    "/box/2.0/group_memberships",
    "/box/2.0/group_memberships/{id}",
    "/box/2.0/users",
    "/box/2.0/users/{id}",
    "/box/2.0/users/{id}/memberships",
    "/compliance/v1/compliance/groups",
    "/compliance/v1/compliance/groups/{id}",
    "/compliance/v1/compliance/groups/{id}/members",
    "/iguazio/api/tunnel/igz0.version.0/external_versions/{id}",
    "/iguazio/api/sessions/verifications/planes/any/internal",
    "/iguazio/api/user_groups",
    "/iguazio/api/user_groups/{id}",
    "/iguazio/api/users",
    "/iguazio/api/users/{id}",
    "/iguazio/api/self",
    "/iguazio/api/jobs/{id}",
    "/iguazio/api/projects",
    "/iguazio/api/projects/{id}",
    "/iguazio/api/async_transactions",
];

const IDS: &[&str] = &[
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "01a204fd-80d0-728b-b339-be8a2b4e3400",
    "x%20y",
    "rbac_group_01zzzzzzzzzzzzzzzzzzzzzz",
];

const QUERIES: &[&str] = &[
    "",
    "?limit=0",
    "?limit=x&offset=-3",
    "?page_number=0&page_size=-1",
    "?page=%FF&cursor=%00",
    "?page_num=99999999999999999999",
    "?filter%5Bname%5D=&include=users,user_groups,project_authorization_roles.principal_users,owner&sort=-name&page%5Bsize%5D=3&page%5Bnumber%5D=99999999999999",
];

async fn no_input_makes_a_500(s: TestServer) {
    let api: serde_json::Value =
        crate::harness::http().get(format!("{}/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    let mut paths: Vec<String> = api["paths"].as_object().unwrap().keys().cloned().collect();
    paths.extend(VENDOR_PATHS.iter().map(|p| p.to_string()));
    let http = crate::harness::http();
    let auths = [
        ("authorization", format!("Bearer {}", s.admin)),
        ("authorization", format!("Key {}", s.admin)),
        ("x-api-key", s.admin.clone()),
        ("cookie", format!("session=j:{{\"sid\": \"{}\"}}", s.admin)),
    ];
    let mut checked = 0;
    for template in &paths {
        for id in IDS {
            let path = template
                .split('/')
                .map(|seg| if seg.starts_with('{') { *id } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                for (i, body) in BODIES.iter().enumerate() {
                    let query = QUERIES[(i + checked) % QUERIES.len()];
                    let (name, value) = &auths[checked % auths.len()];
                    let res = http
                        .request(method.clone(), format!("{}{path}{query}", s.base))
                        .header(*name, value.as_str())
                        .header("content-type", "application/json")
                        .body(body.to_vec())
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    assert!(
                        status.as_u16() < 500,
                        "{method} {path}{query} with {:?} answered {status}: {}",
                        String::from_utf8_lossy(body),
                        res.text().await.unwrap_or_default()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5000, "{checked} requests");
}

crate::on_every_store!(no_input_makes_a_500);
