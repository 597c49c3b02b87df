//! (being ported from portico-store's desktop.rs)
