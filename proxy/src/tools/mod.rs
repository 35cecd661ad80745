//! Operator tools: keys and tokens, configuration, manifests, and the peer client.

pub mod config;
pub mod manifest;
pub mod peer;
pub mod token;

/// What a tool prints and how the process should exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Text for standard output.
    pub stdout: String,
    /// Text for standard error.
    pub stderr: String,
    /// Process exit code: 0 on success, 1 when the input was checked and refused.
    pub code: i32,
}

impl Outcome {
    /// Success with `stdout`.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: String::new(),
            code: 0,
        }
    }

    /// A refusal with `stderr`.
    pub fn refused(stderr: impl Into<String>) -> Self {
        Self {
            stdout: String::new(),
            stderr: stderr.into(),
            code: 1,
        }
    }
}
