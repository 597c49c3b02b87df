//! (being ported from portico-store's access_changes.rs)
