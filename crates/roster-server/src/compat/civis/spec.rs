//! The Swagger 2.0 document served at `/civis/endpoints`, from which the
//! `civis` SDK generates every method at construction time
//! (dialects/civis.md §1, §7). It is built from the same table of
//! endpoints that mounts the routes (`super::endpoints::ENDPOINTS`), so the
//! document cannot describe a route that does not exist, or miss one that
//! does.
//! Property order matters (it is the SDK's positional argument order), so
//! the document is built in order and serialised without sorting.

use serde_json::{Map, Value, json};

/// One parameter outside the body.
pub struct Param {
    pub name: &'static str,
    pub location: &'static str,
    pub kind: &'static str,
    pub required: bool,
    pub description: &'static str,
}

pub const fn path(name: &'static str, description: &'static str) -> Param {
    Param { name, location: "path", kind: "integer", required: true, description }
}

pub const fn query(name: &'static str, kind: &'static str, description: &'static str) -> Param {
    Param { name, location: "query", kind, required: false, description }
}

/// One operation: what the SDK turns into one method.
pub struct Operation {
    pub method: &'static str,
    /// The Civis path, collections with a trailing slash (`/groups/`).
    pub path: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The request body definition and whether it is required.
    pub body: Option<(&'static str, bool)>,
    pub status: u16,
    /// The response type (see [`schema`]); `None` for an empty answer.
    pub response: Option<&'static str>,
}

/// A definition: ordered `(property, type, description)`, plus which are
/// required.
pub struct Definition {
    pub name: &'static str,
    pub properties: &'static [(&'static str, &'static str, &'static str)],
    pub required: &'static [&'static str],
}

/// `"integer"` → a plain type, `"@Group"` → a reference, `"[…]"` → an array.
fn schema(kind: &str) -> Value {
    if let Some(inner) = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        return json!({ "type": "array", "items": schema(inner) });
    }
    if let Some(def) = kind.strip_prefix('@') {
        return json!({ "$ref": format!("#/definitions/{def}") });
    }
    json!({ "type": kind })
}

fn definition(d: &Definition) -> Value {
    let mut properties = Map::new();
    for (name, kind, description) in d.properties {
        let mut p = match schema(kind) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if !kind.starts_with('@') {
            p.insert("description".into(), Value::String((*description).into()));
        }
        properties.insert((*name).into(), Value::Object(p));
    }
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    out.insert("properties".into(), Value::Object(properties));
    if !d.required.is_empty() {
        out.insert("required".into(), json!(d.required));
    }
    Value::Object(out)
}

fn operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = op
        .params
        .iter()
        .map(|p| {
            let mut v = json!({ "name": p.name, "in": p.location, "required": p.required, "description": p.description, "type": p.kind });
            if p.kind == "array" {
                v["items"] = json!({ "type": "integer" });
            }
            v
        })
        .collect();
    if let Some((def, required)) = op.body {
        params.push(json!({ "name": def, "in": "body", "required": required, "schema": schema(&format!("@{def}")) }));
    }
    let response = match op.response {
        Some(kind) => json!({ "description": "success", "schema": schema(kind) }),
        None => json!({ "description": "success" }),
    };
    let mut responses = Map::new();
    responses.insert(op.status.to_string(), response);
    json!({ "summary": op.summary, "parameters": params, "responses": responses })
}

/// The whole document.
pub fn document<'a>(ops: impl Iterator<Item = &'a Operation>, definitions: &[Definition]) -> Value {
    let mut paths = Map::new();
    for op in ops {
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(op.method.to_lowercase(), operation(op));
        }
    }
    let mut defs = Map::new();
    for d in definitions {
        defs.insert(d.name.into(), definition(d));
    }
    json!({
        "swagger": "2.0",
        "info": { "title": "Roster (Civis groups and users)", "version": "1.0" },
        "produces": ["application/json"],
        "paths": paths,
        "definitions": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_order_is_kept() {
        const D: Definition = Definition {
            name: "X",
            properties: &[("zeta", "string", "z"), ("alpha", "[integer]", "a"), ("mid", "@Y", "")],
            required: &["zeta"],
        };
        let doc = document(std::iter::empty(), &[D]);
        let text = doc.to_string();
        assert!(text.find("zeta").unwrap() < text.find("alpha").unwrap());
        assert!(text.find("alpha").unwrap() < text.find("mid").unwrap());
        assert_eq!(doc["definitions"]["X"]["properties"]["alpha"]["items"]["type"], "integer");
        assert_eq!(doc["definitions"]["X"]["properties"]["mid"]["$ref"], "#/definitions/Y");
    }
}
