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

/// The most candidates a list matches here when the core cannot answer its
/// filter or sort; beyond it the client is asked to narrow the query.
pub const SCAN_CAP: usize = 100_000;

/// How a list reaches the core.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan<'a> {
    /// By an exact name: one lookup.
    Named(&'a str),
    /// In an order the store keeps (`true`: descending), with the core's
    /// own filters: a page costs its size.
    Ordered(&'a str, bool),
    /// Conditions the core cannot answer: a bounded scan, matched and sorted
    /// here over the rendered resources.
    Scan,
}

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

    /// The value of `filter[attr]`, if given.
    pub fn filter(&self, attr: &str) -> Option<&str> {
        self.filters.iter().find(|(k, _)| k == attr).map(|(_, v)| v.as_str())
    }

    /// How to answer this list: `name` is the attribute looked up exactly,
    /// `orders` the sort attributes the core keeps an order for, `pushed`
    /// the other filters the core answers. Sort attributes outside `known`
    /// are refused.
    pub fn plan(&self, name: &str, orders: &[&'static str], pushed: &[&str], known: &[&str]) -> IgzResult<Plan<'_>> {
        self.check_sort(known)?;
        let others_pushed = self.filters.iter().all(|(k, _)| k == name || pushed.contains(&k.as_str()));
        if let Some(v) = self.filter(name)
            && others_pushed
        {
            return Ok(Plan::Named(v));
        }
        let order = match self.sort.as_slice() {
            [] => Some((orders[0], false)),
            [(attr, desc)] => orders.iter().find(|o| **o == attr).map(|o| (*o, *desc)),
            _ => None,
        };
        match order {
            Some((attr, desc)) if others_pushed && self.filter(name).is_none() => Ok(Plan::Ordered(attr, desc)),
            _ => Ok(Plan::Scan),
        }
    }

    fn check_sort(&self, known: &[&str]) -> IgzResult<()> {
        for (attr, _) in &self.sort {
            if !known.contains(&attr.as_str()) {
                return Err(invalid("sort", format!("cannot sort by {attr:?}; one of {}", known.join(", "))));
            }
        }
        Ok(())
    }

    /// Sorts resources of a small list (one read whole) by the requested
    /// attributes, refusing attributes outside `known`.
    pub fn sort_known(&self, items: &mut [Value], known: &[&str]) -> IgzResult<()> {
        self.check_sort(known)?;
        self.sort(items);
        Ok(())
    }

    /// The refusal of a scan that would read more than [`SCAN_CAP`] items.
    pub fn too_many(&self, narrow_by: &str) -> super::error::IgzError {
        invalid("filter", format!("the list would match more than {SCAN_CAP} resources here; filter by {narrow_by}"))
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
    /// order is total); [`ListQuery::plan`] has refused unknown ones.
    pub fn sort(&self, items: &mut [Value]) {
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
    }

    /// The slice of `items` the page asks for (all of them without paging).
    pub fn window<T>(&self, items: Vec<T>) -> Vec<T> {
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
    fn plans_what_the_core_can_answer() {
        let plan = |raw: &str| {
            let q = ListQuery::parse(Some(raw)).unwrap();
            format!("{:?}", q.plan("name", &["name", "created_at"], &["kind"], &["name", "created_at", "gid"]).unwrap())
        };
        assert_eq!(plan(""), "Ordered(\"name\", false)");
        assert_eq!(plan("sort=-created_at&page[size]=5"), "Ordered(\"created_at\", true)");
        assert_eq!(plan("filter[name]=a"), "Named(\"a\")");
        assert_eq!(plan("filter[name]=a&filter[kind]=x"), "Named(\"a\")");
        assert_eq!(plan("filter[gid]=7"), "Scan");
        assert_eq!(plan("sort=gid"), "Scan");
        assert_eq!(plan("sort=name,created_at"), "Scan");
    }

    #[test]
    fn windows_and_sorts() {
        let items: Vec<Value> =
            (0..5).map(|i| serde_json::json!({ "id": i.to_string(), "attributes": { "n": 4 - i } })).collect();
        let mut q = ListQuery::parse(Some("sort=n&page[number]=1&page[size]=2")).unwrap();
        let mut sorted = items.clone();
        assert_eq!(q.plan("name", &["name"], &[], &["n"]).unwrap(), Plan::Scan);
        q.sort(&mut sorted);
        assert_eq!(q.window(sorted)[0]["attributes"]["n"], 2);
        q.sort = vec![("x".into(), false)];
        assert!(q.plan("name", &["name"], &[], &["n"]).is_err());
    }
}
