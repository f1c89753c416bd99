//! List and detail query parameters (dialects/iguazio.md §4):
//! `filter[<attr>]=v` (exact match), `include=a,b`, `sort=a,-b`,
//! `page[number]` (from 0) and `page[size]`. Without paging a list returns
//! every match, as the SDK never follows pages by itself.

use std::cmp::Ordering;

use serde_json::Value;

use super::error::{IgzResult, invalid};

#[derive(Debug, Default)]
pub struct ListQuery {
    pub filters: Vec<(String, String)>,
    pub include: Vec<String>,
    /// Attribute names, each with `true` for descending.
    pub sort: Vec<(String, bool)>,
    /// `(number, size)`.
    pub page: Option<(u64, u64)>,
}

/// The largest page a caller may ask for.
const MAX_PAGE_SIZE: u64 = 10_000;

impl ListQuery {
    pub fn parse(raw: Option<&str>) -> IgzResult<Self> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| invalid("query", e.to_string()))?;
        let mut q = ListQuery::default();
        let (mut number, mut size) = (None, None);
        for (key, value) in pairs {
            if let Some(attr) = key.strip_prefix("filter[").and_then(|k| k.strip_suffix(']')) {
                q.filters.push((attr.to_owned(), value));
            } else if key == "include" {
                q.include.extend(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
            } else if key == "sort" {
                for field in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match field.strip_prefix('-') {
                        Some(f) => q.sort.push((f.to_owned(), true)),
                        None => q.sort.push((field.to_owned(), false)),
                    }
                }
            } else if key == "page[number]" {
                number = Some(value.trim().parse::<u64>().map_err(|_| invalid(key, "must be a whole number"))?);
            } else if key == "page[size]" {
                let n = value.trim().parse::<u64>().map_err(|_| invalid(&key, "must be a whole number"))?;
                if n == 0 || n > MAX_PAGE_SIZE {
                    return Err(invalid(key, format!("must be between 1 and {MAX_PAGE_SIZE}")));
                }
                size = Some(n);
            }
        }
        if number.is_some() || size.is_some() {
            q.page = Some((number.unwrap_or(0), size.unwrap_or(50)));
        }
        Ok(q)
    }

    pub fn includes(&self, name: &str) -> bool {
        self.include.iter().any(|i| i == name || i.starts_with(&format!("{name}.")))
    }

    /// Whether the resource's attributes match every filter exactly.
    pub fn matches(&self, resource: &Value) -> bool {
        self.filters.iter().all(|(attr, wanted)| match resource["attributes"].get(attr) {
            Some(Value::String(s)) => s == wanted,
            Some(Value::Number(n)) => n.to_string() == *wanted,
            Some(Value::Bool(b)) => b.to_string() == *wanted,
            _ => false,
        })
    }

    /// Sorts resources by the requested attributes (then by id, so the
    /// order is total), refusing attributes the resource does not have.
    pub fn sort(&self, items: &mut [Value], known: &[&str]) -> IgzResult<()> {
        for (attr, _) in &self.sort {
            if !known.contains(&attr.as_str()) {
                return Err(invalid("sort", format!("cannot sort by {attr:?}; one of {}", known.join(", "))));
            }
        }
        items.sort_by(|a, b| {
            for (attr, desc) in &self.sort {
                let o = compare(&a["attributes"][attr], &b["attributes"][attr]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            compare(&a["id"], &b["id"])
        });
        Ok(())
    }

    /// The slice of `items` the page asks for (all of them without paging).
    pub fn window(&self, items: Vec<Value>) -> Vec<Value> {
        match self.page {
            None => items,
            Some((number, size)) => {
                let start = number.saturating_mul(size).min(items.len() as u64) as usize;
                items.into_iter().skip(start).take(size as usize).collect()
            }
        }
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sdk_parameters() {
        let q = ListQuery::parse(Some("filter%5Bname%5D=a+b&include=users%2Cowner&sort=name,-gid&page%5Bnumber%5D=2"))
            .unwrap();
        assert_eq!(q.filters, [("name".to_owned(), "a b".to_owned())]);
        assert_eq!(q.include, ["users", "owner"]);
        assert_eq!(q.sort, [("name".to_owned(), false), ("gid".to_owned(), true)]);
        assert_eq!(q.page, Some((2, 50)));
        assert!(ListQuery::parse(Some("page[size]=0")).is_err());
        assert!(ListQuery::parse(Some("page[number]=x")).is_err());
    }

    #[test]
    fn windows_and_sorts() {
        let items: Vec<Value> =
            (0..5).map(|i| serde_json::json!({ "id": i.to_string(), "attributes": { "n": 4 - i } })).collect();
        let mut q = ListQuery::parse(Some("sort=n&page[number]=1&page[size]=2")).unwrap();
        let mut sorted = items.clone();
        q.sort(&mut sorted, &["n"]).unwrap();
        assert_eq!(q.window(sorted)[0]["attributes"]["n"], 2);
        q.sort = vec![("x".into(), false)];
        assert!(q.sort(&mut items.clone(), &["n"]).is_err());
    }
}
