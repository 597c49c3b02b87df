//! Users, roles and practices (administrators), and the patient list (staff).

use chrono::{DateTime, Utc};
use portico_api as wire;
use portico_domain::{hash_password, AuditEvent, AuditKind, PatientId, PracticeId, Role, UserId, Username};
use portico_store::{PatientQuery, ReadStore, UserListing, UserRecord, UserSort, WriteStore};

use crate::error::ApiFailure;

use super::listing::{clip, page, Params};
use super::*;

/// What `GET /api/patients` was asked: text to search (`q`, with `limit`), or the summaries of given ids.
#[derive(Clone, Debug, Default)]
pub struct PatientsRequest {
    pub q: Option<String>,
    pub limit: Option<String>,
    pub ids: Option<String>,
}

impl PatientsRequest {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> PatientsRequest {
        let mut r = PatientsRequest::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "q" => &mut r.q,
                "limit" => &mut r.limit,
                "ids" => &mut r.ids,
                _ => continue,
            };
            slot.get_or_insert(v);
        }
        r
    }

    /// The store's question and how many answers at most; the refusals are 400s.
    fn parse(&self) -> Result<(PatientQuery, usize)> {
        let limit = match self.limit.as_deref() {
            None => wire::PATIENTS_DEFAULT_LIMIT,
            Some(l) => parse_limit(l)?,
        };
        match (&self.q, &self.ids) {
            (Some(_), Some(_)) => Err(ApiFailure::invalid("ask with q (a search) or ids (given patients), not both")),
            (_, Some(ids)) => {
                if self.limit.is_some() {
                    return Err(ApiFailure::invalid("limit goes with q; ids answers every visible patient asked for"));
                }
                let ids: Vec<&str> = ids.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
                if ids.len() > wire::PATIENTS_MAX_IDS {
                    return Err(ApiFailure::invalid(format!("ids: at most {} in one request", wire::PATIENTS_MAX_IDS)));
                }
                if let Some(bad) = ids.iter().find(|i| !portico_fhir::is_valid_id(i)) {
                    let shown: String = bad.chars().take(64).collect();
                    return Err(ApiFailure::invalid(format!("ids: '{shown}' is not a patient id")));
                }
                let mut ids: Vec<PatientId> = ids.into_iter().map(|i| PatientId(i.to_owned())).collect();
                ids.sort_by(|a, b| a.0.cmp(&b.0));
                ids.dedup();
                let n = ids.len();
                Ok((PatientQuery::Ids(ids), n))
            }
            (q, None) => {
                let q = q.as_deref().unwrap_or("");
                if q.chars().count() > wire::PATIENTS_MAX_QUERY {
                    return Err(ApiFailure::invalid(format!("q: at most {} characters", wire::PATIENTS_MAX_QUERY)));
                }
                if q.chars().any(char::is_control) {
                    return Err(ApiFailure::invalid("q: text without control characters"));
                }
                Ok((PatientQuery::text(q), limit))
            }
        }
    }
}

fn parse_limit(l: &str) -> Result<usize> {
    let max = wire::PATIENTS_MAX_LIMIT;
    l.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ApiFailure::invalid(format!("limit: a whole number from 1 to {max}")))
}

/// Patients of the staff member's practices: matching `q` (a name's words by their start, a birth date
/// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`, an MRN or its start, a patient id), or those of `ids` (to show the
/// patients a key already has); never another practice's.
pub fn patients(store: &dyn ReadStore, user: &UserRecord, req: &PatientsRequest) -> Result<Vec<wire::PatientSummary>> {
    if !user.roles.iter().any(|r| r.is_staff()) {
        return Err(ApiFailure::forbidden("only staff can list patients"));
    }
    let (query, limit) = req.parse()?;
    Ok(store.patients(&user.practices, &query, limit)?.into_iter().map(to_summary).collect())
}

fn to_summary(p: portico_store::PatientSummary) -> wire::PatientSummary {
    wire::PatientSummary {
        id: p.id.0,
        name: p.name,
        birth_date: p.birth_date,
        gender: p.gender,
        mrn: p.mrn,
        practices: p.practices.into_iter().map(|x| x.0).collect(),
    }
}

pub fn practices(store: &dyn ReadStore) -> Result<Vec<wire::Practice>> {
    Ok(store.practices()?.into_iter().map(|(id, name)| wire::Practice { id: id.0, name }).collect())
}

/// `GET /api/users`: one page of the people an administrator manages (members and patients of their
/// practices, and users who belong nowhere yet), searched, filtered, sorted and paged by the store; see
/// [`wire::UserQuery`] for the parameters.
pub fn users(store: &dyn ReadStore, admin: &UserRecord, query: Vec<(String, String)>) -> Result<wire::Page<wire::User>> {
    require_admin(admin)?;
    let params = Params::new(query, &["q", "role", "practice", "sort", "dir", "offset", "limit"])?;
    let search = params.search()?;
    let role = params
        .get("role")
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                ApiFailure::invalid(format!("role: one of {} (not '{}')", names.join(", "), clip(r)))
            })
        })
        .transpose()?;
    let practice = params.practice(admin)?;
    let (sort, descending) = params.order(
        &[
            ("name", UserSort::Name),
            ("username", UserSort::Username),
            ("last_sign_in", UserSort::LastSignIn),
            ("created", UserSort::Created),
        ],
        UserSort::Name,
        false,
    )?;
    let (offset, limit) = params.window()?;
    let (total, rows) = store.users_page(&UserListing {
        visible_to: &admin.practices,
        search: search.as_deref(),
        role,
        practice,
        sort,
        descending,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit: limit as usize,
    })?;
    let names = practice_names(store)?;
    let items = rows.iter().map(|u| user_with(store, u, &names)).collect::<Result<Vec<_>>>()?;
    Ok(page(items, total, offset, limit))
}

fn parse_roles(roles: &[String]) -> Result<Vec<Role>> {
    roles
        .iter()
        .map(|r| {
            Role::parse(r)
                .ok_or_else(|| ApiFailure::invalid(format!("unknown role '{}'", r.chars().take(32).collect::<String>())))
        })
        .collect()
}

/// An administrator manages staff of their practices, patients of their practices, and new users who belong
/// nowhere yet; the same people `users` lists them.
fn admin_may_manage(store: &dyn ReadStore, admin: &UserRecord, target: UserId) -> Result<UserRecord> {
    let u = store.user(target)?.ok_or_else(|| ApiFailure::not_found("no such user"))?;
    let member = u.practices.iter().any(|p| admin.practices.contains(p));
    let our_patient = match &u.patient {
        Some(p) => store.patient_practices(p)?.iter().any(|pr| admin.practices.contains(pr)),
        None => false,
    };
    let unplaced = u.practices.is_empty() && u.patient.is_none();
    let shares = member || our_patient || unplaced;
    if shares {
        Ok(u)
    } else {
        Err(ApiFailure::not_found("no such user"))
    }
}

fn user_changed(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    target: UserId,
    detail: String,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut e = AuditEvent::new(AuditKind::UserChanged, now);
    e.actor = Some(admin.id);
    e.detail = Some(format!("user {}: {detail}", target.0));
    store.append_audit(&[e])?;
    Ok(())
}

/// Creates a user. `password_hash` was computed beforehand on the hashing pool (see [`hash_new_password`]),
/// so the writer never spends Argon2's time.
pub fn create_user(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    req: &wire::NewUser,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<wire::User> {
    require_admin(admin)?;
    let username = Username::parse(req.username.trim())
        .ok_or_else(|| ApiFailure::invalid("username: 3–64 lowercase letters, digits, '.', '_' or '-'"))?;
    let display = req.display_name.trim();
    if display.is_empty() || display.chars().count() > 100 || display.chars().any(char::is_control) {
        return Err(ApiFailure::invalid("display_name: 1–100 printable characters"));
    }
    let roles = parse_roles(&req.roles)?;
    let practices: Vec<PracticeId> = req.practices.iter().map(|p| PracticeId(*p)).collect();
    if let Some(p) = practices.iter().find(|p| !admin.practices.contains(p)) {
        return Err(ApiFailure::forbidden(format!("you are not an administrator of practice {}", p.0)));
    }
    let patient = req.patient_id.as_ref().map(|p| PatientId(p.clone()));
    if let Some(p) = &patient {
        // A patient user sees that Patient's whole record: it must exist and belong to this admin's practice.
        let exists = store.read_resource("Patient", p.as_str())?.is_some_and(|r| !r.deleted);
        let ours = store.patient_practices(p)?.iter().any(|pr| admin.practices.contains(pr));
        if !exists || !ours {
            return Err(ApiFailure::invalid("patient_id: no such patient in your practices"));
        }
        if !roles.contains(&Role::Patient) {
            return Err(ApiFailure::invalid("patient_id is only for users with the patient role"));
        }
    }
    let hash = password_hash.to_owned();
    let id = store.create_user(
        &portico_store::NewUser {
            username: username.as_str(),
            display_name: display,
            password_hash: &hash,
            roles: &roles,
            practices: &practices,
            patient: patient.as_ref(),
        },
        now,
    )?;
    user_changed(store, admin, id, "created".into(), now)?;
    let u = store.user(id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}

pub fn set_roles(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    target: i64,
    req: &wire::SetRoles,
    now: DateTime<Utc>,
) -> Result<wire::User> {
    require_admin(admin)?;
    let u = admin_may_manage(store, admin, UserId(target))?;
    let roles = parse_roles(&req.roles)?;
    if u.id == admin.id && !roles.contains(&Role::Administrator) {
        return Err(ApiFailure::invalid("you cannot remove your own administrator role"));
    }
    set_roles_noting_access(store, admin, &u, &roles, now)?;
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    user_changed(store, admin, u.id, format!("roles set to [{}]", names.join(", ")), now)?;
    let u = store.user(u.id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}

/// Sets the user's memberships among the administrator's practices; memberships elsewhere are kept.
pub fn set_practices(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    target: i64,
    req: &wire::SetPractices,
    now: DateTime<Utc>,
) -> Result<wire::User> {
    require_admin(admin)?;
    let u = admin_may_manage(store, admin, UserId(target))?;
    let wanted: Vec<PracticeId> = req.practices.iter().map(|p| PracticeId(*p)).collect();
    if let Some(p) = wanted.iter().find(|p| !admin.practices.contains(p)) {
        return Err(ApiFailure::forbidden(format!("you are not an administrator of practice {}", p.0)));
    }
    let mut practices: Vec<PracticeId> = u.practices.iter().copied().filter(|p| !admin.practices.contains(p)).collect();
    practices.extend(wanted);
    practices.sort();
    practices.dedup();
    set_practices_noting_access(store, admin, &u, &practices, now)?;
    user_changed(store, admin, u.id, format!("practices set to {:?}", practices.iter().map(|p| p.0).collect::<Vec<_>>()), now)?;
    let u = store.user(u.id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}

/// Hashes a new user's password on the bounded hashing pool, before anything is written.
pub async fn hash_new_password(state: &crate::state::AppState, password: String) -> Result<String> {
    state
        .hash(move || hash_password(&password, &mut rand::rngs::OsRng))
        .await?
        .map_err(|e| ApiFailure::invalid(format!("password: {e}")))
}
