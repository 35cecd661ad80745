//! Viewer tokens.
