//! Output shaped like `oci`'s: `{"data": ...}` with kebab-case field names, sorted keys,
//! `etag` and `opc-next-page` beside the data, and `ServiceError` on failures.

use serde_json::{Map, Value};

use super::client::Reply;

/// Maps whose keys are user data, not field names, and must not be renamed
const OPAQUE: &[&str] = &[
    "freeformTags",
    "associatedData",
    "loggingContext",
    "metadata",
    "definedTags",
    "variables",
    "attributes",
    "tags",
    // The advisory database's counts, keyed by ecosystem names (`PyPI`, `crates.io`)
    "ecosystems",
];

fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `oci` prints times as `2026-11-27T16:29:47.111000+00:00`
fn cli_time(value: Value) -> Value {
    match value
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    {
        Some(ts) => Value::String(ts.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()),
        None => value,
    }
}

/// Renames API field names to the CLI's kebab-case, recursively
pub(crate) fn to_cli(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if OPAQUE.contains(&k.as_str()) {
                        v
                    } else if k.starts_with("time") {
                        cli_time(v)
                    } else {
                        to_cli(v)
                    };
                    (kebab(&k), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(to_cli).collect()),
        other => other,
    }
}

/// Prints a successful reply's data
pub(crate) fn print_data(data: Value, etag: Option<&str>, next_page: Option<&str>) {
    let mut out = Map::new();
    out.insert("data".into(), to_cli(data));
    if let Some(etag) = etag {
        out.insert("etag".into(), Value::String(etag.to_owned()));
    }
    if let Some(page) = next_page {
        out.insert("opc-next-page".into(), Value::String(page.to_owned()));
    }
    print_json(&Value::Object(out));
}

/// Pretty-prints JSON with sorted keys (serde_json's map is ordered)
pub(crate) fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the result: {e}"),
    }
}

/// Prints a failed reply the way `oci` does and returns the exit code
pub(crate) fn print_error(reply: &Reply) -> i32 {
    let code = reply
        .body
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let message = reply
        .body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| reply.body.to_string());
    let error = serde_json::json!({
        "code": code,
        "message": message,
        "status": reply.status,
        "opc-request-id": reply.request_id,
    });
    eprintln!("ServiceError:");
    match serde_json::to_string_pretty(&error) {
        Ok(text) => eprintln!("{text}"),
        Err(_) => eprintln!("{code}: {message}"),
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_fields_but_not_tags() {
        let value = serde_json::json!({
            "compartmentId": "x",
            "freeformTags": {"myKey": "v"},
            "items": [{"lifecycleState": "ACTIVE"}]
        });
        assert_eq!(
            to_cli(value),
            serde_json::json!({
                "compartment-id": "x",
                "freeform-tags": {"myKey": "v"},
                "items": [{"lifecycle-state": "ACTIVE"}]
            })
        );
    }
}
