//! The OCI CLI config file: INI sections named by profile, with `[DEFAULT]` supplying keys
//! every profile inherits, exactly as `oci` reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};

/// One resolved profile
#[derive(Clone, Debug, Default)]
pub(crate) struct Profile {
    values: BTreeMap<String, String>,
}

impl Profile {
    /// A key's value
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A key that must be present
    pub(crate) fn require(&self, key: &str) -> anyhow::Result<&str> {
        self.get(key)
            .ok_or_else(|| anyhow!("the config profile has no `{key}`"))
    }
}

/// Parses INI text into sections
fn parse(text: &str) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
            sections.entry(name.trim().to_owned()).or_default();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected `key=value`", number + 1);
        };
        let Some(section) = &current else {
            bail!("line {}: a key outside any [section]", number + 1);
        };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(sections)
}

/// Reads `profile` from the config file, with `[DEFAULT]` keys underneath
pub(crate) fn load(path: &Path, profile: &str) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let sections = parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut values = sections.get("DEFAULT").cloned().unwrap_or_default();
    match sections.get(profile) {
        Some(own) => values.extend(own.clone()),
        None if profile == "DEFAULT" && !values.is_empty() => {}
        None => bail!("profile `{profile}` is not in {}", path.display()),
    }
    Ok(Profile { values })
}

/// `~` expansion for paths in the config, as the SDK does
pub(crate) fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The default config location, `~/.oci/config`
pub(crate) fn default_path() -> PathBuf {
    expand("~/.oci/config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_inherit_default() {
        let text = "# comment\n[DEFAULT]\nuser=u1\nregion=us-ashburn-1\n\n[OTHER]\nuser = u2\n";
        let dir = std::env::temp_dir().join(format!("pc-config-{}", std::process::id()));
        std::fs::write(&dir, text).unwrap();
        let other = load(&dir, "OTHER").unwrap();
        assert_eq!(other.get("user"), Some("u2"));
        assert_eq!(other.get("region"), Some("us-ashburn-1"));
        assert_eq!(load(&dir, "DEFAULT").unwrap().get("user"), Some("u1"));
        assert!(load(&dir, "MISSING").is_err());
        std::fs::remove_file(&dir).unwrap();
        assert!(parse("key=value").is_err());
        assert!(parse("[a]\nnovalue").is_err());
    }
}
