//! (being ported from portico-store's apps.rs)
