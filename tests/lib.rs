//! Workspace-level end-to-end tests live in `integration/`; this library is empty.
