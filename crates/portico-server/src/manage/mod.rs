//! The management API's logic, one module per concern: `sessions` (sign-in, sign-out, the session's user),
//! `credentials` (create, list, change, regenerate, delete), `previews` (what a credential reaches, run
//! through the engine), `history` (audit views and revocation receipts), `export` (a patient's access
//! history as CSV or FHIR AuditEvents), `nudges` (stale, expiring and stranded credentials),
//! `access_changes` (what a change of a user's roles or practices did to their credentials' access: notices
//! and their acknowledgement), `users` (users, roles, practices, patients) and `apps` (third-party
//! app registrations, practice approvals, connected apps, developer signup). Functions over the store,
//! called by the thin handlers in `api`. Authorization rules for people live here: owners manage their own
//! credentials; administrators see and revoke staff keys of their practices and manage users of their
//! practices.

mod access_changes;
mod apps;
mod credentials;
mod export;
mod history;
mod listing;
mod nudges;
mod previews;
mod sessions;
mod users;

use std::collections::BTreeMap;

use portico_api as wire;
use portico_domain::{PracticeId, Role, UserId};
use portico_store::{ReadStore, UserRecord};

use crate::error::ApiFailure;

pub use access_changes::*;
pub use apps::*;
pub use credentials::*;
pub use export::*;
pub use history::*;
pub use nudges::*;
pub use previews::*;
pub use sessions::*;
pub use users::*;

type Result<T> = std::result::Result<T, ApiFailure>;

pub fn to_user(store: &dyn ReadStore, u: &UserRecord) -> Result<wire::User> {
    user_with(store, u, &practice_names(store)?)
}

/// Every practice's name by id.
pub(crate) fn practice_names(store: &dyn ReadStore) -> Result<BTreeMap<PracticeId, String>> {
    Ok(store.practices()?.into_iter().collect())
}

pub(super) fn wire_practices(ids: &[PracticeId], names: &BTreeMap<PracticeId, String>) -> Vec<wire::Practice> {
    ids.iter().map(|p| wire::Practice { id: p.0, name: names.get(p).cloned().unwrap_or_default() }).collect()
}

/// A user as the API shows them, with the practice names already read.
fn user_with(store: &dyn ReadStore, u: &UserRecord, names: &BTreeMap<PracticeId, String>) -> Result<wire::User> {
    let patient_of = match &u.patient {
        Some(p) => wire_practices(&store.patient_practices(p)?, names),
        None => Vec::new(),
    };
    Ok(wire::User {
        id: u.id.0,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        practices: wire_practices(&u.practices, names),
        patient_id: u.patient.as_ref().map(|p| p.0.clone()),
        patient_of,
        last_sign_in_at: u.last_sign_in_at,
    })
}

fn username_of(store: &dyn ReadStore, id: UserId) -> Result<String> {
    Ok(store.user(id)?.map(|u| u.username).unwrap_or_else(|| format!("user {}", id.0)))
}

pub fn require_admin(user: &UserRecord) -> Result<()> {
    if user.has(Role::Administrator) {
        Ok(())
    } else {
        Err(ApiFailure::forbidden("this needs the administrator role"))
    }
}
