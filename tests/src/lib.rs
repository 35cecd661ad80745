//! Shared harness for the end-to-end tests: finds the `rilla` binary built by
//! `cargo build --bins` beside the test executable and runs it, starts the built-in origin
//! and the edge proxy as processes on ephemeral loopback ports ([`stack`]), and talks HTTP
//! to them ([`http`]).

pub mod http;
pub mod players;
pub mod stack;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// The `rilla` binary of this build (`target/<profile>/rilla`).
///
/// # Panics
/// When the binary has not been built: run `cargo build --bins` first (the README's test
/// command does).
pub fn rilla_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/<test-binary> -> target/<profile>/rilla
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in target/<profile>/deps");
    let bin = profile_dir.join("rilla");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bins` before the end-to-end tests",
        bin.display()
    );
    bin
}

/// What a `rilla` invocation printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

/// Runs `rilla` with `args` and, if given, `stdin` as standard input.
///
/// # Panics
/// When the process cannot be started.
pub fn rilla(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(rilla_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rilla starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("stdin accepts the input");
    }
    drop(input);
    child.wait_with_output().expect("rilla finishes").into()
}

/// A temporary directory with a fresh signing key in `keys/`.
pub struct KeyDir {
    /// The temporary directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl KeyDir {
    /// Runs `rilla token keygen` into a new temporary directory.
    ///
    /// # Panics
    /// When key generation fails.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let keys = dir.path().join("keys");
        let run = rilla(&["token", "keygen", "--out", path_str(&keys)], None);
        assert_eq!(run.code, 0, "keygen failed: {run:?}");
        Self { dir }
    }

    /// The key directory.
    pub fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }
}

impl Default for KeyDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A path as `&str` (test paths are UTF-8).
///
/// # Panics
/// On a non-UTF-8 path.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The fixtures directory of the rewriter crate (real manifests).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest-rewriter/tests/fixtures/corpus")
}
