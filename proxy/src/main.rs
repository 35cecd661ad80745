//! The `rilla` command.
fn main() {}
