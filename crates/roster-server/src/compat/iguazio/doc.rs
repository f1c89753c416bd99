//! JSON:API-style documents as `igz-mgmt` reads and writes them
//! (dialects/iguazio.md §4): resources are `{type, id, attributes,
//! relationships}`, relationships are `{"data": …}`. Reading a request names
//! the offending member on any type error; writing never emits `null` for
//! an attribute the SDK declares non-nullable (absent values are omitted).

use axum::Json;
use serde_json::{Map, Value, json};

use super::error::{IgzResult, invalid};

pub type Attrs = Map<String, Value>;

/// A resource object to send.
pub fn resource(kind: &str, id: impl ToString, attributes: Attrs) -> Value {
    json!({ "type": kind, "id": id.to_string(), "attributes": attributes, "relationships": {} })
}

/// Adds a relationship to a resource made by [`resource`].
pub fn relate(res: &mut Value, name: &str, data: Value) {
    res["relationships"][name] = json!({ "data": data });
}

/// The `{type, id}` identifier of a resource.
pub fn ident(kind: &str, id: impl ToString) -> Value {
    json!({ "type": kind, "id": id.to_string() })
}

/// `{"data": resource, "included": [...]}`.
pub fn single(data: Value, included: Vec<Value>) -> Json<Value> {
    if included.is_empty() {
        Json(json!({ "data": data }))
    } else {
        Json(json!({ "data": data, "included": included }))
    }
}

/// `{"data": [...]}`.
pub fn list(items: Vec<Value>) -> Json<Value> {
    Json(json!({ "data": items }))
}

/// Puts a string attribute in when there is one.
pub fn put_str(attrs: &mut Attrs, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        attrs.insert(name.into(), Value::String(v.to_owned()));
    }
}

/// The `data` member of a request document.
pub struct Incoming {
    pub attributes: Attrs,
    pub relationships: Attrs,
}

/// Reads `data` out of a request document.
pub fn incoming(body: Value) -> IgzResult<Incoming> {
    let Value::Object(mut doc) = body else { return Err(invalid("body", "must be a JSON object")) };
    let Some(Value::Object(mut data)) = doc.remove("data") else {
        return Err(invalid("data", "must be an object holding the resource"));
    };
    let attributes = match data.remove("attributes") {
        None | Some(Value::Null) => Attrs::new(),
        Some(Value::Object(a)) => a,
        Some(_) => return Err(invalid("data.attributes", "must be an object")),
    };
    let relationships = match data.remove("relationships") {
        None | Some(Value::Null) => Attrs::new(),
        Some(Value::Object(r)) => r,
        Some(_) => return Err(invalid("data.relationships", "must be an object")),
    };
    Ok(Incoming { attributes, relationships })
}

impl Incoming {
    /// Drops the attributes that equal what `shown` (the resource as this
    /// server renders it now) holds: the SDK echoes every attribute it read,
    /// and an echo is no request to change anything.
    pub fn keep_changed(&mut self, shown: &Value) {
        self.attributes.retain(|k, v| shown["attributes"].get(k) != Some(v));
    }

    /// A string attribute; absent or `null` is `None`.
    pub fn text(&self, name: &str) -> IgzResult<Option<String>> {
        match self.attributes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("data.attributes.{name}"), "must be a string")),
        }
    }

    /// An integer attribute; absent or `null` is `None`.
    pub fn int(&self, name: &str) -> IgzResult<Option<i64>> {
        match self.attributes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| invalid(format!("data.attributes.{name}"), "must be an integer"))
            }
            Some(_) => Err(invalid(format!("data.attributes.{name}"), "must be an integer")),
        }
    }

    /// A list of strings, each one of `allowed` when given.
    pub fn texts(&self, name: &str, allowed: Option<&[&str]>) -> IgzResult<Option<Vec<String>>> {
        let field = || format!("data.attributes.{name}");
        match self.attributes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(s) = item else { return Err(invalid(field(), "must be a list of strings")) };
                    if let Some(allowed) = allowed
                        && !allowed.contains(&s.as_str())
                    {
                        return Err(invalid(field(), format!("{s:?} is not one of {}", allowed.join(", "))));
                    }
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
                Ok(Some(out))
            }
            Some(_) => Err(invalid(field(), "must be a list of strings")),
        }
    }

    /// A list of `{"name": str, "value": str}` objects (labels, annotations,
    /// node selectors), kept as sent.
    pub fn pairs(&self, name: &str) -> IgzResult<Option<Value>> {
        let field = || format!("data.attributes.{name}");
        match self.attributes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => {
                for item in items {
                    let ok = item.as_object().is_some_and(|o| {
                        o.len() == 2
                            && o.get("name").is_some_and(Value::is_string)
                            && o.get("value").is_some_and(Value::is_string)
                    });
                    if !ok {
                        return Err(invalid(field(), "must be a list of {\"name\": string, \"value\": string}"));
                    }
                }
                Ok(Some(Value::Array(items.clone())))
            }
            Some(_) => Err(invalid(field(), "must be a list")),
        }
    }

    /// The ids of a to-many relationship; `None` when the relationship is
    /// absent. Entries with an empty id are placeholders and are skipped.
    pub fn to_many(&self, name: &str) -> IgzResult<Option<Vec<String>>> {
        let field = || format!("data.relationships.{name}.data");
        let Some(rel) = self.relationships.get(name) else { return Ok(None) };
        match rel.get("data") {
            None | Some(Value::Null) => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    match item.get("id") {
                        Some(Value::String(id)) if id.is_empty() => {}
                        Some(Value::String(id)) => ids.push(id.clone()),
                        _ => return Err(invalid(field(), "each entry must be {\"type\", \"id\"} with a string id")),
                    }
                }
                Ok(Some(ids))
            }
            Some(_) => Err(invalid(field(), "must be a list")),
        }
    }

    /// A to-one relationship: `None` when absent, `Some(None)` when cleared
    /// (`data` null or an empty id), `Some(Some(id))` when set.
    pub fn to_one(&self, name: &str) -> IgzResult<Option<Option<String>>> {
        let Some(rel) = self.relationships.get(name) else { return Ok(None) };
        match rel.get("data") {
            None | Some(Value::Null) => Ok(Some(None)),
            Some(data) => match data.get("id") {
                Some(Value::String(id)) if id.is_empty() => Ok(Some(None)),
                Some(Value::String(id)) => Ok(Some(Some(id.clone()))),
                _ => Err(invalid(format!("data.relationships.{name}.data.id"), "must be a string")),
            },
        }
    }
}
