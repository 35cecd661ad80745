//! `rilla config check FILE` and `rilla config example`.

use std::path::Path;

use super::Outcome;

/// Checks a configuration file, reporting every problem at once.
pub fn check(path: &Path) -> Outcome {
    match rilla_config::load(path) {
        Ok(_) => Outcome::ok(format!("{}: OK\n", path.display())),
        Err(errors) => Outcome::refused(errors.to_string()),
    }
}

/// The complete annotated example configuration.
pub fn example() -> Outcome {
    Outcome::ok(rilla_config::example_toml())
}
