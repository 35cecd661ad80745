//! The `rilla` command's implementation: each subcommand is a function that the binary
//! calls after parsing its arguments, and that tests can call too.
//!
//! So far: the token tools (`rilla token keygen|sign|verify`), the configuration tools
//! (`rilla config check|example`) and the manifest tool (`rilla manifest rewrite`).

pub mod tools;
