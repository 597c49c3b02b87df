//! The store boundary: what the server may ask of a database, in terms no database names.
//!
//! [`ReadStore`] holds every question the server asks (tokens, credentials, users, sessions, resources,
//! search, audit views), [`WriteStore`] every change plus nested units of work, and [`Backend`] the shared
//! handle: reads on a consistent snapshot, writes as [`WriteJob`]s that are answered only once committed.
//! The server holds an `Arc<dyn Backend>` and never names a concrete store, so a second backend (a
//! `portico-store-postgres` crate, say) implements these three traits and slots in where the database is
//! opened. The SQLite implementation is [`Store`] (one connection) and [`crate::Database`] (a reader pool
//! plus one group-commit writer thread); its methods keep the same names, so each trait method below
//! delegates to the one of the same name.

use crate::signature_types::*;
use crate::Store;

/// Every name the store boundary's signatures use, for a module that implements them (`use ...::*`).
pub mod signature_types {
    pub use chrono::{DateTime, Duration, Utc};
    pub use portico_domain::{
        ApprovalStatus, AuditEvent, AuthDoor, CredentialFacts, Digest, PatientId, PatientScope, PracticeId, Role, ThrottleEntry,
        ThrottlePolicy, UserId,
    };
    pub use portico_fhir::import::PreparedResource;
    pub use portico_fhir::search::{Criterion, SortKey};
    pub use serde_json::Value;

    pub use crate::{
        AccessChangeRecord, AppChange, AppRecord, ApprovalRecord, AuthCodeRecord, CredentialChange, CredentialRecord,
        DesktopCode, DesktopRefreshToken, ImportSummary, NewAccessChange, NewCredential, NewUser, PatientFilter, PatientQuery,
        PatientSummary, Pruned, RefreshTokenRecord, Result, StaffKeyListing, StoreError, StoredResource, TokenRecord,
        UserListing, UserRecord, WriteOutcome,
    };
}

/// Every method of the store boundary, written once. `with_store_methods!((callback))` expands to
/// `callback! { read { .. } write { .. } }` (with any further arguments first):
/// [`store_traits!`] declares the traits from them, and [`impl_store_traits!`] implements both for a backend's
/// store type by calling its inherent methods of the same names (the SQLite [`Store`] here, `PgStore` in
/// portico-store-postgres), so a signature is written here and where its SQL lives, nowhere else. The
/// names in the signatures resolve where the callback expands: import [`crate::signature_types`] there.
#[doc(hidden)]
#[macro_export]
macro_rules! with_store_methods {
    (($($callback:tt)*) $(, $arg:tt)*) => {
        $($callback)*! { $($arg)* read {
    /// Questions a store answers, on one consistent snapshot for as long as the caller holds it.
    pub trait ReadStore {
        // Practices, users, patients and sessions.
        fn practice_by_name(&self, name: &str) -> Result<Option<PracticeId>>;
        fn practices(&self) -> Result<Vec<(PracticeId, String)>>;
        fn patient_practices(&self, patient: &PatientId) -> Result<Vec<PracticeId>>;
        fn user(&self, id: UserId) -> Result<Option<UserRecord>>;
        fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
        /// Every user, or only those with a membership in one of `practices` (plus patients of those practices).
        fn users(&self, practices: Option<&[PracticeId]>) -> Result<Vec<UserRecord>>;
        /// How many users an administrator may manage match the listing, and its page of them.
        fn users_page(&self, listing: &UserListing<'_>) -> Result<(usize, Vec<UserRecord>)>;
        /// Patients of `practices` that `query` finds (at most `limit`; exact identifiers first, then by name).
        fn patients(&self, practices: &[PracticeId], query: &PatientQuery, limit: usize) -> Result<Vec<PatientSummary>>;
        /// The signed-in user of an unexpired, unrevoked session.
        fn session_user(&self, digest: &Digest, now: DateTime<Utc>) -> Result<Option<UserId>>;

        // Credentials and tokens.
        fn credential(&self, id: &str) -> Result<Option<CredentialRecord>>;
        fn credential_by_client_id(&self, client_id: &str) -> Result<Option<CredentialRecord>>;
        fn credentials_of(&self, owner: UserId) -> Result<Vec<CredentialRecord>>;
        fn deleted_credentials_of(&self, owner: UserId, limit: usize) -> Result<Vec<CredentialRecord>>;
        fn staff_credentials(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>>;
        /// How many staff keys of the administrator's practices match the listing, and its page of them.
        fn staff_credentials_page(&self, listing: &StaffKeyListing<'_>) -> Result<(usize, Vec<CredentialRecord>)>;
        fn provider_credentials_listing(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>>;
        /// What the domain needs to decide a credential's effective access (its owner's roles, practices...).
        fn credential_facts(&self, c: &CredentialRecord) -> Result<CredentialFacts>;
        fn token(&self, digest: &Digest) -> Result<Option<TokenRecord>>;
        /// Tokens of a credential that would be accepted now (neither revoked nor expired, minted by secret
        /// generation `oldest_generation` or later).
        fn live_token_count(&self, credential_id: &str, oldest_generation: i64, now: DateTime<Utc>) -> Result<i64>;
        fn token_and_session_rows(&self) -> Result<(i64, i64)>;

        // Access-change notices (what an owner's change of roles or practices did to their credentials).
        fn access_change(&self, id: i64) -> Result<Option<AccessChangeRecord>>;
        /// The owner's notices not yet acknowledged, newest first.
        fn unacknowledged_access_changes(&self, owner: UserId) -> Result<Vec<AccessChangeRecord>>;
        /// Notices since `since` concerning any of `practices`, newest first, acknowledged or not.
        fn access_changes_for_practices(&self, practices: &[PracticeId], since: DateTime<Utc>) -> Result<Vec<AccessChangeRecord>>;

        // Registered apps, approvals and the OAuth flows' state.
        fn app(&self, id: &str) -> Result<Option<AppRecord>>;
        fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>>;
        fn apps_of(&self, owner: UserId) -> Result<Vec<AppRecord>>;
        fn registered_redirect_uris(&self) -> Result<Vec<String>>;
        fn grant_of(&self, app_id: &str, owner: UserId) -> Result<Option<CredentialRecord>>;
        fn live_grant_count(&self, app_id: &str) -> Result<i64>;
        fn approvals_of_app(&self, app_id: &str) -> Result<Vec<ApprovalRecord>>;
        fn approvals_for_practices(&self, practices: &[PracticeId]) -> Result<Vec<ApprovalRecord>>;
        fn approved_practices(&self, app_id: &str) -> Result<Vec<PracticeId>>;
        fn auth_code(&self, digest: &Digest) -> Result<Option<AuthCodeRecord>>;
        fn refresh_token(&self, digest: &Digest) -> Result<Option<RefreshTokenRecord>>;
        fn live_refresh_tokens(&self, credential_id: &str, now: DateTime<Utc>) -> Result<i64>;

        // The desktop app's browser sign-in.
        fn desktop_code(&self, digest: &Digest) -> Result<Option<DesktopCode>>;
        fn desktop_refresh_token(&self, digest: &Digest) -> Result<Option<DesktopRefreshToken>>;
        /// The sign-in family a session was minted for (`None` for a password sign-in's session).
        fn session_family(&self, digest: &Digest) -> Result<Option<String>>;

        // Audit views (rolled-up daily counts included).
        fn app_events_for_credential(&self, credential_id: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>>;
        fn audit_for_patient(&self, patient: &PatientId, limit: usize) -> Result<Vec<(i64, AuditEvent)>>;
        fn last_used(&self, credential_id: &str) -> Result<Option<DateTime<Utc>>>;
        fn auth_failures(&self, limit: usize) -> Result<Vec<(String, String, String, i64)>>;
        fn audit_rows(&self) -> Result<i64>;

        // FHIR resources and search.
        fn read_resource(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>>;
        fn compartment(&self, patient: &PatientId) -> Result<Vec<StoredResource>>;
        fn patient_in_scope(&self, patient: &PatientId, scope: &PatientScope) -> Result<bool>;
        fn resource_counts(&self) -> Result<Vec<(String, i64)>>;
        fn practice_patient_ids(&self, practice: PracticeId) -> Result<Vec<PatientId>>;
        /// How many live resources inside `filter` meet every criterion, and `limit` of them from `offset` in
        /// `sort` order (ties and no sort: ascending id). `limit` 0 answers the total alone.
        fn search(
            &self,
            resource_type: &str,
            filter: PatientFilter<'_>,
            criteria: &[Criterion],
            sort: &[SortKey],
            offset: usize,
            limit: usize,
        ) -> Result<(usize, Vec<StoredResource>)>;
        /// Resources outside any compartment (a Practitioner, a Medication) that the patient's records refer to.
        fn shared_referenced_by(&self, patient: &PatientId) -> Result<Vec<StoredResource>>;

        // State every server sharing the database agrees on.
        /// What is remembered of each of `keys` that has failed lately (keys without failures are absent).
        fn throttle_entries(&self, keys: &[String]) -> Result<Vec<(String, ThrottleEntry)>>;
        /// The service's signing keys (PEM), once a server has stored them.
        fn signing_keys(&self) -> Result<Option<String>>;
    }

        } write {
    /// Changes a store makes, inside the writer's transaction. Each method is atomic on its own; use
    /// `<dyn WriteStore>::atomically` to make several one unit.
    pub trait WriteStore: ReadStore {
        /// Opens a nested unit of work (they nest to any depth); ended by `release` or `rollback_to`.
        fn savepoint(&mut self) -> Result<()>;
        /// Ends the innermost unit, keeping what it wrote (it commits with the enclosing transaction).
        fn release(&mut self) -> Result<()>;
        /// Ends the innermost unit, undoing what it wrote.
        fn rollback_to(&mut self) -> Result<()>;

        fn create_practice(&mut self, name: &str) -> Result<PracticeId>;
        fn assign_patient(&mut self, patient: &PatientId, practice: PracticeId) -> Result<()>;
        fn create_user(&mut self, user: &NewUser<'_>, now: DateTime<Utc>) -> Result<UserId>;
        /// `false` when there is no such user.
        fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool>;
        fn set_roles(&mut self, id: UserId, roles: &[Role]) -> Result<()>;
        fn set_practices(&mut self, id: UserId, practices: &[PracticeId]) -> Result<()>;
        /// Notes a successful sign-in (any door) as the user's last.
        fn record_sign_in(&mut self, id: UserId, now: DateTime<Utc>) -> Result<()>;
        fn create_session(
            &mut self,
            digest: &Digest,
            user: UserId,
            now: DateTime<Utc>,
            expires: DateTime<Utc>,
        ) -> Result<()>;
        fn revoke_session(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<()>;

        fn append_audit(&mut self, events: &[AuditEvent]) -> Result<()>;
        fn record_auth_failure(&mut self, door: AuthDoor, subject: &str, now: DateTime<Utc>) -> Result<()>;
        /// Rolls successful reads older than `older_than` into daily counts, at most `batch` rows.
        fn roll_up_audit(&mut self, older_than: DateTime<Utc>, batch: usize) -> Result<usize>;

        fn insert_credential(&mut self, c: &NewCredential<'_>, now: DateTime<Utc>) -> Result<()>;
        fn update_credential(&mut self, id: &str, change: &CredentialChange, now: DateTime<Utc>) -> Result<()>;
        /// Installs the next secret; the old one (and its tokens) keeps working until `grace_until`, or without
        /// one dies now with every token issued so far. Returns the number of tokens revoked.
        fn replace_secret(
            &mut self,
            id: &str,
            digest: Digest,
            hint: &str,
            grace_until: Option<DateTime<Utc>>,
            now: DateTime<Utc>,
        ) -> Result<usize>;
        /// Soft-deletes (history and audit stay) and revokes every token: how many, or `None` when already gone.
        fn delete_credential(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>>;
        fn insert_token(&mut self, t: &TokenRecord) -> Result<()>;
        /// Records an access-change notice (and the practices it concerns); returns its id.
        fn record_access_change(&mut self, c: &NewAccessChange<'_>, now: DateTime<Utc>) -> Result<i64>;
        /// `false` when the notice was already acknowledged (or does not exist).
        fn acknowledge_access_change(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool>;
        fn revoke_token(&mut self, digest: &Digest, credential_id: &str, now: DateTime<Utc>) -> Result<bool>;
        fn insert_app(&mut self, a: &AppRecord) -> Result<()>;
        fn update_app(&mut self, id: &str, c: &AppChange, now: DateTime<Utc>) -> Result<()>;
        fn replace_app_secret(
            &mut self,
            id: &str,
            digest: Digest,
            hint: &str,
            grace_until: Option<DateTime<Utc>>,
            now: DateTime<Utc>,
        ) -> Result<()>;
        /// Soft-deletes the app and revokes every grant made to it: how many, or `None` when already gone.
        fn delete_app(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>>;
        fn request_approval(&mut self, app_id: &str, practice: PracticeId, by: UserId, now: DateTime<Utc>) -> Result<()>;
        fn decide_approval(
            &mut self,
            app_id: &str,
            practice: PracticeId,
            status: ApprovalStatus,
            reason: Option<&str>,
            by: UserId,
            now: DateTime<Utc>,
        ) -> Result<()>;
        fn insert_auth_code(&mut self, c: &AuthCodeRecord) -> Result<()>;
        /// `false` when the code was already used.
        fn use_auth_code(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool>;
        fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()>;
        /// `false` when the refresh token was already used or revoked.
        fn use_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool>;
        fn insert_desktop_code(&mut self, c: &DesktopCode) -> Result<()>;
        /// `false` when the code was already used; otherwise it is now, by the exchange that starts `family`.
        fn use_desktop_code(&mut self, digest: &Digest, family: &str, now: DateTime<Utc>) -> Result<bool>;
        fn insert_desktop_refresh_token(&mut self, t: &DesktopRefreshToken) -> Result<()>;
        /// `false` when the refresh token was already used or revoked (a replay).
        fn use_desktop_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool>;
        fn create_family_session(
            &mut self,
            digest: &Digest,
            user: UserId,
            family: &str,
            now: DateTime<Utc>,
            expires: DateTime<Utc>,
        ) -> Result<()>;
        /// Ends a desktop sign-in: its refresh tokens and every session it minted.
        fn revoke_desktop_family(&mut self, family: &str, now: DateTime<Utc>) -> Result<()>;
        /// `false` when this client's `jti` was seen and has not expired (a replayed assertion).
        fn record_jti(&mut self, client_id: &str, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
        /// Deletes tokens and sessions expired more than `keep` ago, at most `batch` of each.
        fn prune_expired(&mut self, now: DateTime<Utc>, keep: Duration, batch: usize) -> Result<Pruned>;

        fn import(&mut self, resources: &[PreparedResource], now: DateTime<Utc>) -> Result<ImportSummary>;
        /// Creates or replaces a resource (and its search entries). `if_match` is the version the client last
        /// saw; `register_in`: a new Patient joins this practice in the same unit.
        #[allow(clippy::too_many_arguments)]
        fn put_resource(
            &mut self,
            resource_type: &str,
            id: &str,
            resource: Value,
            patient: Option<&PatientId>,
            register_in: Option<PracticeId>,
            if_match: Option<i64>,
            now: DateTime<Utc>,
        ) -> Result<WriteOutcome>;
        fn delete_resource(
            &mut self,
            resource_type: &str,
            id: &str,
            if_match: Option<i64>,
            now: DateTime<Utc>,
        ) -> Result<()>;

        /// Counts one more failure of `key` under `policy` (atomically, beside other servers counting);
        /// returns the key's entry after it.
        fn record_throttle_failure(&mut self, key: &str, policy: ThrottlePolicy, now: DateTime<Utc>) -> Result<ThrottleEntry>;
        /// A success forgets the key's failures.
        fn clear_throttle(&mut self, key: &str) -> Result<()>;
        /// Forgets keys quiet and unlocked since `before`, at most `batch`; returns how many.
        fn prune_throttle(&mut self, before: DateTime<Utc>, batch: usize) -> Result<usize>;
        /// Stores the signing keys when none are stored (`replace` false), or in place of them; returns whether
        /// `pem` was stored.
        fn store_signing_keys(&mut self, pem: &str, replace: bool, now: DateTime<Utc>) -> Result<bool>;
    }

        } }
    };
}

/// Declares [`ReadStore`] and [`WriteStore`] from the list in [`with_store_methods!`].
#[doc(hidden)]
#[macro_export]
macro_rules! store_traits {
    (
        read { $(#[$rdoc:meta])* pub trait ReadStore { $($(#[$rm:meta])* fn $rf:ident(&self $(, $ra:ident: $rt:ty)* $(,)?) -> $rr:ty;)* } }
        write { $(#[$wdoc:meta])* pub trait WriteStore: ReadStore { $($(#[$wm:meta])* fn $wf:ident(&mut self $(, $wa:ident: $wt:ty)* $(,)?) -> $wr:ty;)* } }
    ) => {
        $(#[$rdoc])*
        pub trait ReadStore { $($(#[$rm])* fn $rf(&self $(, $ra: $rt)*) -> $rr;)* }
        $(#[$wdoc])*
        pub trait WriteStore: ReadStore { $($(#[$wm])* fn $wf(&mut self $(, $wa: $wt)*) -> $wr;)* }
    };
}

/// Implements [`ReadStore`] and [`WriteStore`] for a store type whose inherent methods carry the same names
/// and signatures (each trait method calls the inherent one). `impl_store_traits!(PgStore)`, in a module that
/// imports [`crate::signature_types`]`::*`.
#[macro_export]
macro_rules! impl_store_traits {
    ($ty:ty) => {
        $crate::with_store_methods!(($crate::impl_store_traits_for), ($ty));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! impl_store_traits_for {
    (
        ($ty:ty)
        read { $(#[$rdoc:meta])* pub trait ReadStore { $($(#[$rm:meta])* fn $rf:ident(&self $(, $ra:ident: $rt:ty)* $(,)?) -> $rr:ty;)* } }
        write { $(#[$wdoc:meta])* pub trait WriteStore: ReadStore { $($(#[$wm:meta])* fn $wf:ident(&mut self $(, $wa:ident: $wt:ty)* $(,)?) -> $wr:ty;)* } }
    ) => {
        // A missing inherent method would make the call below the trait method itself: refuse to compile.
        #[deny(unconditional_recursion)]
        impl $crate::ReadStore for $ty { $($(#[$rm])* fn $rf(&self $(, $ra: $rt)*) -> $rr { <$ty>::$rf(self $(, $ra)*) })* }
        #[deny(unconditional_recursion)]
        impl $crate::WriteStore for $ty { $($(#[$wm])* fn $wf(&mut self $(, $wa: $wt)*) -> $wr { <$ty>::$wf(self $(, $wa)*) })* }
    };
}

with_store_methods!((store_traits));
impl_store_traits!(Store);

impl dyn WriteStore + '_ {
    /// Runs `f` as one unit: everything it writes commits together, or (when it returns an error) none of
    /// it does. Units nest, so an action and its audit entry are stored together inside a larger one.
    pub fn atomically<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn WriteStore) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.savepoint()?;
        match f(&mut *self) {
            Ok(v) => {
                self.release()?;
                Ok(v)
            }
            Err(e) => {
                // The unit's own error is the one worth reporting; a failed rollback surfaces at commit.
                let _ = self.rollback_to();
                Err(e)
            }
        }
    }
}

/// One unit of work for the writer.
pub trait WriteJob: Send {
    /// Runs inside the writer's transaction, in a unit of its own (a panic undoes what it wrote).
    fn run(&mut self, store: &mut dyn WriteStore);
    /// Called once the job's writes are committed (`Ok`), or could not be (`Err`: nothing it wrote was kept).
    fn finish(self: Box<Self>, committed: Result<()>);
}

/// A shared handle to one database, used from many threads at once.
pub trait Backend: Send + Sync {
    /// Runs `f` on a read-only snapshot. Blocking: call it off the async runtime. (A `FnMut` behind a
    /// reference keeps the trait object-safe without a box per read; `with_reader` wraps a `FnOnce`.)
    fn read(&self, f: &mut dyn FnMut(&dyn ReadStore)) -> Result<()>;
    /// Queues a write job; its `finish` is called once the write is committed or has failed.
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<()>;
    /// Gives back what idle connections hold (page caches); returns how many were closed.
    fn release_idle_readers(&self) -> usize {
        0
    }
    /// Whether a point read is quick enough to run on an async worker (an embedded database), rather than
    /// on a blocking thread (a database across a network).
    fn inline_reads(&self) -> bool {
        false
    }
}

/// A boxed backend is one (a server picks SQLite or PostgreSQL at start and holds either behind one type).
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadStore)) -> Result<()> {
        (**self).read(f)
    }
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<()> {
        (**self).submit(job)
    }
    fn release_idle_readers(&self) -> usize {
        (**self).release_idle_readers()
    }
    fn inline_reads(&self) -> bool {
        (**self).inline_reads()
    }
}

impl dyn Backend + '_ {
    /// Runs `f` on a read-only snapshot and returns what it returns.
    pub fn with_reader<T>(&self, f: impl FnOnce(&dyn ReadStore) -> T) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.read(&mut |store| out = f.take().map(|f| f(store)))?;
        out.ok_or_else(|| StoreError::Corrupt("the backend did not run the read".into()))
    }
}
