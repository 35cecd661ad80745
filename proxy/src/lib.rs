//! The `rilla` command's implementation: each subcommand is a function that the binary
//! calls after parsing its arguments, and that tests can call too.
//!
//! - [`edge`]: the edge proxy on Pingora (`rilla proxy`);
//! - [`demo`]: the built-in origin and the edge together (`rilla demo`);
//! - [`tools`]: the token tools (`rilla token keygen|sign|verify`), the configuration tools
//!   (`rilla config check|example`) and the manifest tool (`rilla manifest rewrite`).

pub mod demo;
pub mod edge;
pub mod tools;
