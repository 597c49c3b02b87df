//! (being ported from portico-store's maintenance.rs)
