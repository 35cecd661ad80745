//! The Rilla Edge configuration.
