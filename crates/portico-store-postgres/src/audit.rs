//! (being ported from portico-store's audit.rs)
