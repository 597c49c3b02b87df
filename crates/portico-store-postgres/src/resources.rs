//! (being ported from portico-store's resources.rs)
