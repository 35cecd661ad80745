//! The Rilla Edge configuration: what operators write, checked before it is used.
//!
//! Two layers: [`ConfigFile`] mirrors the TOML file (unknown keys refused, every field
//! documented with its unit and default), and [`Config`] is the checked result that the
//! rest of the edge uses. [`parse`] reports every problem at once, each with its key path
//! and line. The annotated example ([`example_toml`]) and the reference
//! ([`reference_markdown`]) are generated from the doc comments of the file structs.
//!
//! Not here: loading keys or connecting to origins; those happen at start-up, with their
//! own errors.

mod duration;
mod error;
mod example;
mod file;
mod hosts;
mod validate;

use std::path::{Path, PathBuf};

pub use duration::HumanDuration;
pub use error::{ConfigError, ConfigErrors};
pub use example::{example_toml, reference_markdown};
pub use file::{
    CacheConfig, ConfigFile, EdgeConfig, HoldingsConfig, LimitsConfig, NetworkConfig, OriginConfig,
    P2pConfig, RouteConfig, ServerConfig, TokensConfig, network_of,
};
pub use hosts::{HostSet, check_host_pattern};

use error::Positions;

/// A checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file as written (defaults filled in).
    pub file: ConfigFile,
    /// Directory that relative paths in the file are relative to.
    pub base_dir: PathBuf,
    /// The hosts whose URIs are signed: `edge.public_hosts` plus every origin's host and
    /// `hosts`.
    pub signing_hosts: HostSet,
}

impl Config {
    /// The key directory, resolved against [`Config::base_dir`].
    pub fn keys_dir(&self) -> PathBuf {
        self.base_dir.join(&self.file.tokens.keys_dir)
    }

    /// A path from the file, resolved against [`Config::base_dir`].
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The routing rule for a request path: the longest matching prefix.
    pub fn route_for(&self, path: &str) -> Option<&RouteConfig> {
        self.file
            .routes
            .iter()
            .filter(|r| path.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
    }

    /// The origin a route names.
    pub fn origin(&self, name: &str) -> Option<&OriginConfig> {
        self.file.origins.iter().find(|o| o.name == name)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from_file(ConfigFile::default(), PathBuf::from("."))
    }
}

impl Config {
    fn from_file(file: ConfigFile, base_dir: PathBuf) -> Self {
        let mut signing_hosts = HostSet::new(file.edge.public_hosts.iter().map(String::as_str));
        for origin in &file.origins {
            if let Ok(url) = url::Url::parse(&origin.url)
                && let Some(host) = url.host_str()
            {
                match url.port() {
                    Some(port) => signing_hosts.insert(&format!("{host}:{port}")),
                    None => signing_hosts.insert(host),
                }
            }
            for host in &origin.hosts {
                signing_hosts.insert(host);
            }
        }
        Self {
            file,
            base_dir,
            signing_hosts,
        }
    }
}

/// Cleans a message from the TOML parser: returns its line (if it names one) and its last
/// line of text, without the source excerpt.
fn split_toml_message(message: &str) -> (Option<usize>, String) {
    let line = message
        .split("at line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok());
    let text = message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|') && !l.contains('^'))
        .unwrap_or(message)
        .trim()
        .to_owned();
    (line, text)
}

/// Parses and checks a configuration. `source_name` names it in errors; relative paths in
/// it are resolved against `base_dir`.
pub fn parse(text: &str, source_name: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let positions = Positions::new(text);
    let mut errors: Vec<ConfigError> = Vec::new();
    let file = match eserde::toml::from_str::<ConfigFile>(text) {
        Ok(file) => Some(file),
        Err(errs) => {
            for e in errs {
                let path = e.path().map(|p| p.to_string()).unwrap_or_default();
                let path = if path == "." { String::new() } else { path };
                let (line_in_message, message) = split_toml_message(e.message());
                let (path, line) = positions.locate(&path);
                let line = line_in_message.or(line);
                errors.push(ConfigError {
                    path,
                    line,
                    message,
                });
            }
            None
        }
    };
    if let Some(file) = &file {
        for (path, message) in validate::validate(file) {
            errors.push(ConfigError {
                line: positions.line_of(&path),
                path,
                message,
            });
        }
    }
    match file {
        Some(file) if errors.is_empty() => Ok(Config::from_file(file, base_dir.to_path_buf())),
        _ => {
            errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
            Err(ConfigErrors {
                source_name: source_name.to_owned(),
                errors,
            })
        }
    }
}

/// Reads, parses and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        source_name: name.clone(),
        errors: vec![ConfigError {
            path: String::new(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(&text, &name, base_dir)
}

#[cfg(test)]
mod tests;
