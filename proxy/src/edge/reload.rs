//! Reloading the configuration while serving: load, check, build, swap. A refused reload
//! leaves the running configuration untouched.

use std::sync::Arc;

use rilla_config::{ConfigErrors, ConfigFile};

use super::{runtime::Runtime, state::Edge};

/// A reload that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Changed settings that take effect only after a restart.
    pub restart_required: Vec<String>,
}

/// Why a reload was refused.
#[derive(Debug)]
pub enum ReloadError {
    /// The proxy was started without a configuration file.
    NoFile,
    /// The file has errors (the same as `rilla config check` reports).
    Config(ConfigErrors),
    /// The file is valid but cannot be applied (keys, origins).
    Apply(String),
}

impl ReloadOutcome {
    /// JSON for the admin API.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "status": "reloaded",
            "restart_required": self.restart_required,
        })
        .to_string()
    }
}

impl ReloadError {
    /// JSON for the admin API.
    pub fn to_json(&self) -> String {
        let (reason, errors): (&str, Vec<String>) = match self {
            Self::NoFile => ("no_config_file", vec!["started without --config".into()]),
            Self::Config(e) => (
                "invalid_config",
                e.errors.iter().map(ToString::to_string).collect(),
            ),
            Self::Apply(e) => ("cannot_apply", vec![e.clone()]),
        };
        serde_json::json!({ "status": "refused", "reason": reason, "errors": errors }).to_string()
    }
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoFile => f.write_str("started without a configuration file"),
            Self::Config(e) => write!(f, "{e}"),
            Self::Apply(e) => f.write_str(e),
        }
    }
}

/// Settings read only at start-up that differ between `old` and `new`.
pub fn restart_only_changes(old: &ConfigFile, new: &ConfigFile) -> Vec<String> {
    let mut changed = Vec::new();
    let mut check = |name: &str, differs: bool| {
        if differs {
            changed.push(name.to_owned());
        }
    };
    let (o, n) = (&old.server, &new.server);
    check("server.listen", o.listen != n.listen);
    check("server.tls_listen", o.tls_listen != n.tls_listen);
    check("server.tls_cert", o.tls_cert != n.tls_cert);
    check("server.tls_key", o.tls_key != n.tls_key);
    check("server.admin_listen", o.admin_listen != n.admin_listen);
    check("server.threads", o.threads != n.threads);
    check(
        "server.shutdown_grace",
        o.shutdown_grace != n.shutdown_grace,
    );
    check("server.log_format", o.log_format != n.log_format);
    let (o, n) = (&old.cache, &new.cache);
    check("cache.segment_bytes", o.segment_bytes != n.segment_bytes);
    check("cache.segment_ttl", o.segment_ttl != n.segment_ttl);
    check(
        "cache.manifest_max_stale",
        o.manifest_max_stale != n.manifest_max_stale,
    );
    check("holdings.ttl", old.holdings.ttl != new.holdings.ttl);
    let (o, n) = (&old.holdings, &new.holdings);
    check("holdings.max_entries", o.max_entries != n.max_entries);
    check("holdings.max_per_swarm", o.max_per_swarm != n.max_per_swarm);
    check("holdings.max_viewers", o.max_viewers != n.max_viewers);
    check("holdings.viewer_ttl", o.viewer_ttl != n.viewer_ttl);
    changed
}

/// Loads the configuration file again and swaps it in if it is valid.
pub fn reload(edge: &Edge) -> Result<ReloadOutcome, ReloadError> {
    let result = reload_inner(edge);
    let label = if result.is_ok() { "ok" } else { "refused" };
    edge.metrics.reloads.with_label_values(&[label]).inc();
    match &result {
        Ok(o) => tracing::info!(restart_required = ?o.restart_required, "configuration reloaded"),
        Err(e) => {
            tracing::error!(error = %e, "configuration reload refused; the running configuration stays")
        }
    }
    result
}

fn reload_inner(edge: &Edge) -> Result<ReloadOutcome, ReloadError> {
    let path = edge.config_path.as_ref().ok_or(ReloadError::NoFile)?;
    let config = rilla_config::load(path).map_err(ReloadError::Config)?;
    let runtime = Runtime::load(config).map_err(|e| ReloadError::Apply(format!("{e:#}")))?;
    let old = edge.runtime.load();
    let restart_required = restart_only_changes(&old.config.file, &runtime.config.file);
    edge.runtime.store(Arc::new(runtime));
    Ok(ReloadOutcome { restart_required })
}
