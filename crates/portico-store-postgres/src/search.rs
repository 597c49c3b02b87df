//! (being ported from portico-store's search.rs)
