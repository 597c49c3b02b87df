//! (being ported from portico-store's directory.rs)
