//! npm: `package-lock.json` (lockfile versions 1, 2 and 3) and the `package.json` of each
//! installed package under `node_modules`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::{Ecosystem, Package, PackageError};

const LOCK: &str = "npm package-lock.json";
const MANIFEST: &str = "npm package.json";

/// Lockfile v1 nests `dependencies` inside dependencies; real trees are a few levels deep,
/// and the cap keeps a hostile file from making the walk quadratic.
const MAX_DEPTH: usize = 64;

/// The packages a `package-lock.json` installs.
///
/// Version 2 and 3 lockfiles are read from `packages`, whose keys are install paths
/// (`node_modules/a/node_modules/@s/b`): the root (`""`), links (`"link": true`) and
/// workspace folders outside `node_modules` are skipped. Version 1 lockfiles are read from
/// the nested `dependencies`. Aliases (`npm:real@1.0.0`) report the real package; versions
/// that are not registry versions (git, tarball and file references) are skipped, since no
/// advisory can be matched against them. Each name and version is reported once.
pub fn npm_package_lock(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let root = parse_object(bytes, LOCK)?;
    let mut seen = BTreeSet::new();
    if let Some(packages) = root.get("packages") {
        let packages = packages
            .as_object()
            .ok_or_else(|| invalid(LOCK, "`packages` is not an object"))?;
        for (path, entry) in packages {
            let Some(install_name) = path.rsplit_once("node_modules/").map(|(_, n)| n) else {
                continue;
            };
            let Some(entry) = entry.as_object() else {
                continue;
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(install_name);
            if let Some(version) = entry.get("version").and_then(Value::as_str) {
                add(&mut seen, name, version);
            }
        }
    } else if let Some(dependencies) = root.get("dependencies") {
        let dependencies = dependencies
            .as_object()
            .ok_or_else(|| invalid(LOCK, "`dependencies` is not an object"))?;
        // An explicit stack: hostile nesting cannot exhaust the call stack.
        let mut stack: Vec<(&Map<String, Value>, usize)> = vec![(dependencies, 1)];
        while let Some((level, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(invalid(
                    LOCK,
                    &format!("`dependencies` nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            for (name, entry) in level {
                let Some(entry) = entry.as_object() else {
                    continue;
                };
                if let Some(version) = entry.get("version").and_then(Value::as_str) {
                    add(&mut seen, name, version);
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push((nested, depth.saturating_add(1)));
                }
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|(name, version)| Package {
            ecosystem: Ecosystem::Npm,
            name,
            version,
            source: None,
        })
        .collect())
}

/// Records `name@version`, resolving `npm:` aliases and dropping non-registry versions.
fn add(seen: &mut BTreeSet<(String, String)>, name: &str, version: &str) {
    let (name, version) = match version.strip_prefix("npm:") {
        // "npm:@scope/real@1.2.3": the last '@' separates the version.
        Some(alias) => match alias.rsplit_once('@') {
            Some((real, version)) if !real.is_empty() => (real, version),
            _ => return,
        },
        None => (name, version),
    };
    if name.is_empty() || version.is_empty() || version.contains(':') || version.contains('/') {
        return;
    }
    seen.insert((name.to_owned(), version.to_owned()));
}

/// The package an installed `package.json` describes: its `name` and `version`, or nothing
/// when either is missing (private packages and build fixtures often lack one).
pub fn npm_package_json(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let root = parse_object(bytes, MANIFEST)?;
    let name = root.get("name").and_then(Value::as_str).map(str::trim);
    let version = root.get("version").and_then(Value::as_str).map(str::trim);
    Ok(match (name, version) {
        (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => vec![Package {
            ecosystem: Ecosystem::Npm,
            name: name.to_owned(),
            version: version.to_owned(),
            source: None,
        }],
        _ => Vec::new(),
    })
}

fn parse_object(bytes: &[u8], database: &'static str) -> Result<Map<String, Value>, PackageError> {
    // npm writes a UTF-8 BOM on some Windows setups; serde_json rejects it.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(database, "top level is not a JSON object")),
        Err(source) => Err(PackageError::Json { database, source }),
    }
}

fn invalid(database: &'static str, message: &str) -> PackageError {
    PackageError::Invalid {
        database,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "test code: a panic is a failed test"
    )]
    use super::*;

    fn pairs(packages: &[Package]) -> Vec<(&str, &str)> {
        packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    #[test]
    fn lockfile_v3() {
        let lock = r#"{
          "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
          "packages": {
            "": {"name": "app", "version": "1.0.0", "dependencies": {"lodash": "^4"}},
            "node_modules/lodash": {"version": "4.17.21", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz"},
            "node_modules/@types/node": {"version": "20.11.5", "dev": true},
            "node_modules/a/node_modules/lodash": {"version": "3.10.1"},
            "node_modules/dup/node_modules/lodash": {"version": "3.10.1"},
            "node_modules/aliased": {"name": "real-pkg", "version": "2.0.0"},
            "node_modules/local": {"resolved": "packages/local", "link": true},
            "packages/local": {"name": "local", "version": "0.0.1"},
            "node_modules/gitdep": {"version": "git+ssh://git@github.com/x/y.git#abc"}
          }
        }"#;
        let got = npm_package_lock(lock.as_bytes()).unwrap();
        assert_eq!(
            pairs(&got),
            [
                ("@types/node", "20.11.5"),
                ("lodash", "3.10.1"),
                ("lodash", "4.17.21"),
                ("real-pkg", "2.0.0"),
            ]
        );
        assert!(got.iter().all(|p| p.ecosystem == Ecosystem::Npm));
    }

    #[test]
    fn lockfile_v1() {
        let lock = r#"{
          "name": "app", "version": "1.0.0", "lockfileVersion": 1,
          "dependencies": {
            "express": {"version": "4.18.2", "dependencies": {
               "debug": {"version": "2.6.9", "dependencies": {"ms": {"version": "2.0.0"}}}
            }},
            "ms": {"version": "2.1.3"},
            "alias": {"version": "npm:@scope/real@1.2.3"},
            "tarball": {"version": "https://example.com/x.tgz"},
            "broken": "not an object"
          }
        }"#;
        let got = npm_package_lock(lock.as_bytes()).unwrap();
        assert_eq!(
            pairs(&got),
            [
                ("@scope/real", "1.2.3"),
                ("debug", "2.6.9"),
                ("express", "4.18.2"),
                ("ms", "2.0.0"),
                ("ms", "2.1.3"),
            ]
        );
    }

    #[test]
    fn lockfile_v1_depth_cap() {
        let mut lock = String::from(r#"{"x":1}"#);
        for _ in 0..100 {
            lock = format!(r#"{{"a":{{"version":"1.0.0","dependencies":{lock}}}}}"#);
        }
        let lock = format!(r#"{{"lockfileVersion":1,"dependencies":{lock}}}"#);
        // serde_json's own recursion limit (128) may reject it first; either way, no panic.
        let err = npm_package_lock(lock.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with(LOCK), "{err}");
    }

    #[test]
    fn lockfile_malformed() {
        assert!(
            npm_package_lock(b"[]")
                .unwrap_err()
                .to_string()
                .contains("not a JSON object")
        );
        assert!(npm_package_lock(b"{\"packages\": 3}").is_err());
        assert!(npm_package_lock(b"{\"packages\": {").is_err());
        assert!(npm_package_lock(b"\x00\x01").is_err());
        assert!(npm_package_lock(b"{}").unwrap().is_empty());
    }

    #[test]
    fn package_json() {
        let got =
            npm_package_json(b"\xef\xbb\xbf{\"name\": \"@types/node\", \"version\": \"20.11.5\"}")
                .unwrap();
        assert_eq!(pairs(&got), [("@types/node", "20.11.5")]);
        assert!(npm_package_json(b"{\"name\": \"x\"}").unwrap().is_empty());
        assert!(
            npm_package_json(b"{\"name\": \"x\", \"version\": 1}")
                .unwrap()
                .is_empty()
        );
        let err = npm_package_json(b"{\"name\": ").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("npm package.json: invalid JSON"),
            "{err}"
        );
        // Duplicate keys: serde_json keeps the last one.
        let got =
            npm_package_json(b"{\"name\":\"a\",\"version\":\"1\",\"version\":\"2\"}").unwrap();
        assert_eq!(pairs(&got), [("a", "2")]);
    }
}
