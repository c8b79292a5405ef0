//! Where configuration values come from: the process environment, `<NAME>_FILE` files, and an
//! optional `KEY=VALUE` file (`HERALD_CONFIG_FILE`) layered under both.
//!
//! This module only finds raw strings; it never interprets them and never logs a value.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, bail};

/// A snapshot of the variables Herald reads, taken once at start.
#[derive(Default)]
pub struct Source {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
}

impl std::fmt::Debug for Source {
    /// Values may be secrets: only the number of variables is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("env_vars", &self.env.len())
            .field("file_vars", &self.file.len())
            .finish()
    }
}

impl Source {
    /// The real environment, plus `HERALD_CONFIG_FILE` if it is set.
    pub fn from_process() -> anyhow::Result<Source> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Source::from_map(env)
    }

    pub fn from_map(env: HashMap<String, String>) -> anyhow::Result<Source> {
        let file = match env.get("HERALD_CONFIG_FILE") {
            Some(path) => parse_file(Path::new(path))?,
            None => HashMap::new(),
        };
        Ok(Source { env, file })
    }

    /// The value of `name`: from the environment, else from the file named by `<name>_FILE`,
    /// else from the config file. Empty values count as unset.
    pub fn get(&self, name: &str) -> anyhow::Result<Option<String>> {
        if let Some(value) = self.env.get(name).filter(|v| !v.is_empty()) {
            return Ok(Some(value.clone()));
        }
        let file_var = format!("{name}_FILE");
        if let Some(path) = self.env.get(&file_var).or_else(|| self.file.get(&file_var)) {
            return read_value_file(&file_var, Path::new(path)).map(Some);
        }
        Ok(self.file.get(name).filter(|v| !v.is_empty()).cloned())
    }
}

/// Reads a `*_FILE` value. Such files hold secrets, so one readable by group or others is refused.
fn read_value_file(var: &str, path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{var}: cannot read {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{var}: {} is readable by group or others; make it 0600 (chmod 600)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{var}: cannot read {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// `KEY=VALUE` lines, `#` comments, optional `export ` and quotes, as in a dotenv file.
fn parse_file(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("HERALD_CONFIG_FILE: cannot read {}", path.display()))?;
    let mut values = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            bail!(
                "HERALD_CONFIG_FILE {} line {}: expected KEY=VALUE",
                path.display(),
                number + 1
            );
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        values.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> Source {
        Source::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn environment_beats_file_variable_beats_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-file\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = dir.path().join("herald.env");
        std::fs::write(
            &config,
            "# comment\nexport HERALD_TICK_MS=\"500\"\nHERALD_LISTEN=0.0.0.0:1\n",
        )
        .unwrap();

        let s = source(&[
            ("HERALD_CONFIG_FILE", config.to_str().unwrap()),
            ("HERALD_LISTEN", "127.0.0.1:2"),
            ("HERALD_JWT_SECRET_FILE", secret.to_str().unwrap()),
        ]);
        assert_eq!(
            s.get("HERALD_LISTEN").unwrap().as_deref(),
            Some("127.0.0.1:2")
        );
        assert_eq!(s.get("HERALD_TICK_MS").unwrap().as_deref(), Some("500"));
        assert_eq!(
            s.get("HERALD_JWT_SECRET").unwrap().as_deref(),
            Some("from-file")
        );
        assert_eq!(s.get("HERALD_REDIS_URL").unwrap(), None);
    }

    #[test]
    fn a_secret_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "x").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = source(&[("HERALD_JWT_SECRET_FILE", secret.to_str().unwrap())]);
        let err = s.get("HERALD_JWT_SECRET").unwrap_err().to_string();
        assert!(err.contains("readable by group or others"), "{err}");
    }
}
