//! Kubeconfigs as OKE writes them (token version 2.0.0): an exec user that mints a
//! short-lived token, and `oci`'s merge-by-name rules for existing files.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Why a kubeconfig could not be rendered or merged
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeconfigError {
    /// The existing file is not YAML
    #[error("the existing kubeconfig is not valid YAML: {0}")]
    Parse(String),
    /// YAML output failed
    #[error("cannot write YAML: {0}")]
    Render(String),
}

/// What goes into a kubeconfig
#[derive(Clone, Debug)]
pub struct KubeconfigSpec<'a> {
    /// The cluster's OCID
    pub cluster_id: &'a str,
    /// The region, passed to `generate-token`
    pub region: &'a str,
    /// `https://host:port/clusters/<id>`
    pub server: &'a str,
    /// PEM of the CA that signed the server's certificate, if clients need it
    pub ca_pem: Option<&'a str>,
    /// The exec command (`portcullis` or `oci`)
    pub command: &'a str,
    /// Extra exec arguments (`--config-file`, `--profile`)
    pub extra_args: &'a [String],
}

/// OKE names entries by the last 11 characters of the cluster's OCID
pub fn entry_suffix(cluster_id: &str) -> String {
    let chars: Vec<char> = cluster_id.chars().collect();
    chars
        .get(chars.len().saturating_sub(11)..)
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

/// The kubeconfig as a YAML-shaped value
pub fn kubeconfig(spec: &KubeconfigSpec<'_>) -> Value {
    let suffix = entry_suffix(spec.cluster_id);
    let mut cluster = json!({ "server": spec.server });
    if let (Some(ca), Some(map)) = (spec.ca_pem, cluster.as_object_mut()) {
        map.insert(
            "certificate-authority-data".into(),
            Value::String(STANDARD.encode(ca.as_bytes())),
        );
    }
    let mut args: Vec<Value> = [
        "ce",
        "cluster",
        "generate-token",
        "--cluster-id",
        spec.cluster_id,
        "--region",
        spec.region,
    ]
    .iter()
    .map(|a| Value::String((*a).to_owned()))
    .collect();
    args.extend(spec.extra_args.iter().cloned().map(Value::String));
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{ "name": format!("cluster-{suffix}"), "cluster": cluster }],
        "contexts": [{
            "name": format!("context-{suffix}"),
            "context": { "cluster": format!("cluster-{suffix}"), "user": format!("user-{suffix}") }
        }],
        "current-context": format!("context-{suffix}"),
        "users": [{
            "name": format!("user-{suffix}"),
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": spec.command,
                    "args": args,
                    "env": [],
                    "interactiveMode": "IfAvailable",
                    "provideClusterInfo": false
                }
            }
        }]
    })
}

/// Renders a kubeconfig value as YAML
pub fn to_yaml(value: &Value) -> Result<String, KubeconfigError> {
    // Plain scalars, as OKE writes them: long OCIDs in folded `>-` blocks parse, but read
    // oddly to anyone opening the file.
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(value, options)
        .map_err(|e| KubeconfigError::Render(e.to_string()))
}

/// Parses a kubeconfig file
pub fn from_yaml(text: &str) -> Result<Value, KubeconfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(text).map_err(|e| KubeconfigError::Parse(e.to_string()))
}

/// Merges `new` into `existing` as `oci ce cluster create-kubeconfig` does: top-level
/// `apiVersion`, `kind`, `preferences` and `current-context` come from `new`; `clusters`,
/// `contexts` and `users` merge by `name` (same name replaces, new names append)
pub fn merge(existing: Value, new: &Value) -> Value {
    let Value::Object(mut merged) = existing else {
        return new.clone();
    };
    for key in ["apiVersion", "kind", "preferences", "current-context"] {
        if let Some(v) = new.get(key) {
            merged.insert(key.to_owned(), v.clone());
        }
    }
    for list in ["clusters", "contexts", "users"] {
        let Some(Value::Array(incoming)) = new.get(list) else {
            continue;
        };
        let mut entries = match merged.remove(list) {
            Some(Value::Array(entries)) => entries,
            _ => Vec::new(),
        };
        for entry in incoming {
            let name = entry.get("name");
            match entries.iter_mut().find(|e| e.get("name") == name) {
                Some(slot) => *slot = entry.clone(),
                None => entries.push(entry.clone()),
            }
        }
        merged.insert(list.to_owned(), Value::Array(entries));
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(id: &'a str) -> KubeconfigSpec<'a> {
        KubeconfigSpec {
            cluster_id: id,
            region: "us-ashburn-1",
            server: "https://127.0.0.1:9443/clusters/x",
            ca_pem: Some("-----BEGIN CERTIFICATE-----\n"),
            command: "portcullis",
            extra_args: &[],
        }
    }

    #[test]
    fn renders_oke_shape_and_round_trips() {
        let value = kubeconfig(&spec("ocid1.cluster.oc1.iad.aaaaaaaaabcdefghijk"));
        let yaml = to_yaml(&value).unwrap();
        assert!(yaml.contains("name: cluster-abcdefghijk"), "{yaml}");
        assert!(yaml.contains("client.authentication.k8s.io/v1beta1"));
        assert_eq!(from_yaml(&yaml).unwrap(), value);
        // Real cluster OCIDs are longer than a folded line; they stay plain scalars.
        let long = kubeconfig(&spec(
            "ocid1.cluster.oc1.us-ashburn-1.aaaaaaaa23ocj4erghnzfh4pc2frcp43mxew66gkzgjdwwpvkjfdtfk4rjmy",
        ));
        let yaml = to_yaml(&long).unwrap();
        assert!(!yaml.contains(">-"), "{yaml}");
        assert_eq!(from_yaml(&yaml).unwrap(), long);
    }

    #[test]
    fn merges_by_name() {
        let first = kubeconfig(&spec("ocid1.cluster.oc1.iad.aaaaaaaaaaaaaaaaone"));
        let second = kubeconfig(&spec("ocid1.cluster.oc1.iad.aaaaaaaaaaaaaaaatwo"));
        let merged = merge(first.clone(), &second);
        assert_eq!(merged["clusters"].as_array().unwrap().len(), 2);
        assert_eq!(merged["current-context"], second["current-context"]);
        // Merging the same cluster again replaces its entries.
        let again = merge(merged.clone(), &second);
        assert_eq!(again["users"].as_array().unwrap().len(), 2);
        // Unrelated entries and keys survive.
        let mut existing = first;
        existing["clusters"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "other", "cluster": {"server": "https://x"}}));
        existing["extensions"] = json!([]);
        let merged = merge(existing, &second);
        assert_eq!(merged["clusters"].as_array().unwrap().len(), 3);
        assert!(merged.get("extensions").is_some());
    }

    #[test]
    fn suffix_of_short_ids() {
        assert_eq!(entry_suffix("abc"), "abc");
        assert_eq!(entry_suffix("0123456789abc"), "23456789abc");
    }
}
