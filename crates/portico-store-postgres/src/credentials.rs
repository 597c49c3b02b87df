//! (being ported from portico-store's credentials.rs)
