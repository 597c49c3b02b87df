//! (being ported from portico-store's accounts.rs)
