//! (being ported from portico-store's retention.rs)
