//! Request counts per path, so tests can prove what did (and did not) reach the origin.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Distinct paths tracked individually; later paths are counted under [`OTHER`].
const MAX_PATHS: usize = 4096;
/// Longest path tracked individually; longer ones are counted under [`OTHER`].
const MAX_PATH_LEN: usize = 2048;
/// Longest request target remembered; longer ones are cut.
const MAX_TARGET_LEN: usize = 4096;
/// Key that counts requests for paths beyond [`MAX_PATHS`] or [`MAX_PATH_LEN`].
const OTHER: &str = "(other)";

#[derive(Debug, Default)]
struct Inner {
    total: u64,
    counts: BTreeMap<String, u64>,
    last_target: BTreeMap<String, String>,
}

/// Thread-safe request counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request for `path`, whose full request target was `target`.
    pub(crate) fn record(&self, path: &str, target: &str) {
        let mut inner = self.lock();
        inner.total += 1;
        let tracked = inner.counts.contains_key(path) || inner.counts.len() < MAX_PATHS;
        let key = if tracked && path.len() <= MAX_PATH_LEN {
            path
        } else {
            OTHER
        };
        *inner.counts.entry(key.to_owned()).or_default() += 1;
        let mut end = target.len().min(MAX_TARGET_LEN);
        while !target.is_char_boundary(end) {
            end -= 1;
        }
        inner
            .last_target
            .insert(key.to_owned(), target[..end].to_owned());
    }

    /// Forgets every count.
    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// `{"<path>": count, ..., "total": n, "last_target": {"<path>": "<target>"}}`.
    pub(crate) fn to_json(&self) -> String {
        let inner = self.lock();
        let mut obj = serde_json::Map::new();
        for (path, count) in &inner.counts {
            obj.insert(path.clone(), (*count).into());
        }
        obj.insert("total".into(), inner.total.into());
        let targets = inner
            .last_target
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        obj.insert("last_target".into(), serde_json::Value::Object(targets));
        serde_json::Value::Object(obj).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_paths_and_remembers_the_last_target() {
        let stats = Stats::default();
        stats.record("/a", "/a?rt=1");
        stats.record("/a", "/a?rt=2");
        stats.record("/b", "/b");
        let v: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(v["/a"], 2);
        assert_eq!(v["/b"], 1);
        assert_eq!(v["total"], 3);
        assert_eq!(v["last_target"]["/a"], "/a?rt=2");
        stats.reset();
        let v: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(v["total"], 0);
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn distinct_paths_are_bounded() {
        let stats = Stats::default();
        for i in 0..MAX_PATHS + 10 {
            stats.record(&format!("/p{i}"), "/x");
        }
        let v: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(v[OTHER], 10);
        assert_eq!(v["total"], MAX_PATHS as u64 + 10);
        stats.reset();
        let long = format!("/{}", "é".repeat(MAX_TARGET_LEN));
        stats.record(&long, &long);
        let v: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(v[OTHER], 1);
        assert!(v["last_target"][OTHER].as_str().unwrap().len() <= MAX_TARGET_LEN);
    }
}
