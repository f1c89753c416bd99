//! Changes to the free-form `attributes` of users and groups, as JSON Merge
//! Patch (RFC 7396): a patch names only what changes, objects merge key by
//! key at every depth, `null` removes a key, anything else replaces. The
//! core applies a patch to the row it has locked, so two writers changing
//! different keys (even inside one vendor's settings object) never lose
//! each other's change, and no front-end reads, merges and writes back.

use serde_json::{Map, Value};

pub type Attributes = Map<String, Value>;

/// Applies `patch` to `target` (RFC 7396 §2).
pub fn merge(target: &mut Attributes, patch: Attributes) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(inner) => match target.get_mut(&key) {
                Some(Value::Object(existing)) => merge(existing, inner),
                _ => {
                    let mut fresh = Attributes::new();
                    merge(&mut fresh, inner);
                    target.insert(key, Value::Object(fresh));
                }
            },
            other => {
                target.insert(key, other);
            }
        }
    }
}

/// The smallest patch that [`merge`]s `before` into `after`: what a
/// front-end sends when it computed a whole new map from a read, so that
/// only the keys it changed are written.
pub fn diff(before: &Attributes, after: &Attributes) -> Attributes {
    let mut patch = Attributes::new();
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    for (key, new) in after {
        match (before.get(key), new) {
            (Some(old), new) if old == new => {}
            (Some(Value::Object(old)), Value::Object(new)) => {
                patch.insert(key.clone(), Value::Object(diff(old, new)));
            }
            // A null inside a stored object cannot be expressed by a merge
            // patch; storing the key without it is the closest state.
            (_, new) => {
                patch.insert(key.clone(), strip_nulls(new.clone()));
            }
        }
    }
    patch
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Attributes {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn check_merge(target: Value, patch: Value, expected: Value) {
        let mut t = obj(target);
        merge(&mut t, obj(patch));
        assert_eq!(Value::Object(t), expected);
    }

    /// The examples of RFC 7396 Appendix A whose target and patch are objects.
    #[test]
    fn merge_follows_rfc_7396() {
        check_merge(json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"}));
        check_merge(json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"}));
        check_merge(json!({"a": "b"}), json!({"a": null}), json!({}));
        check_merge(json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"}));
        check_merge(json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"}));
        check_merge(json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]}));
        check_merge(json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}}));
        check_merge(json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]}));
        check_merge(json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1}));
        check_merge(json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}}));
    }

    #[test]
    fn diff_then_merge_gives_the_new_map() {
        let cases = [
            (json!({}), json!({"a": 1})),
            (json!({"a": 1, "b": 2}), json!({"b": 3})),
            (json!({"x": {"a": 1, "b": 2}}), json!({"x": {"a": 1, "c": [1]}})),
            (json!({"x": {"a": 1}}), json!({"x": 5})),
            (json!({"x": 5}), json!({"x": {"a": {"b": 1}}})),
            (json!({"same": {"a": 1}}), json!({"same": {"a": 1}})),
        ];
        for (before, after) in cases {
            let (before, after) = (obj(before), obj(after));
            let patch = diff(&before, &after);
            let mut merged = before.clone();
            merge(&mut merged, patch);
            assert_eq!(merged, after);
        }
        assert!(diff(&obj(json!({"a": {"b": 1}})), &obj(json!({"a": {"b": 1}}))).is_empty());
    }

    /// Two writers that each changed one key of the same settings object
    /// both keep their change.
    #[test]
    fn patches_of_different_keys_commute() {
        let stored = obj(json!({"iguazio": {"uid": 1, "mode": "a"}, "job_title": "x"}));
        let first = diff(&stored, &obj(json!({"iguazio": {"uid": 2, "mode": "a"}, "job_title": "x"})));
        let second = diff(&stored, &obj(json!({"iguazio": {"uid": 1, "mode": "b"}, "job_title": "y"})));
        let mut t = stored.clone();
        merge(&mut t, first);
        merge(&mut t, second);
        assert_eq!(Value::Object(t), json!({"iguazio": {"uid": 2, "mode": "b"}, "job_title": "y"}));
    }
}
