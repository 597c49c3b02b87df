//! Effective access: what a credential reaches at this moment, computed afresh on every request from the
//! credential's own state and its owner's *current* roles and practices. Nothing here is cached, which is
//! what makes revocation, deactivation and loss of the owner's access effective on the very next request.

use chrono::{DateTime, Utc};

use crate::credential::WindowPosition;
use crate::scope::{Interaction, Scope, ScopeContext, ScopeSet};
use crate::{CredentialKind, PatientId, PracticeId, Role, ValidityWindow};

/// What the store knows about a credential, as far as access goes.
#[derive(Clone, Debug)]
pub struct CredentialFacts {
    pub kind: CredentialKind,
    pub active: bool,
    pub deleted: bool,
    pub window: ValidityWindow,
    /// Provider keys: each chosen patient with the practices that patient belongs to; connected apps: the
    /// patient in context (if any) and that patient's practices.
    pub patients: Vec<(PatientId, Vec<PracticeId>)>,
    /// Grants: their app's state and the scopes consented (or, for a backend app, registered).
    pub app: Option<AppFacts>,
}

/// A grant's app, as far as access goes.
#[derive(Clone, Debug, Default)]
pub struct AppFacts {
    pub active: bool,
    /// Practices whose administrators approved the app (and have not withdrawn it).
    pub approved: Vec<PracticeId>,
    /// The scopes the grant carries.
    pub scope: ScopeSet,
    /// The tenant base the grant was made at (`/t/{practice}/fhir`): nothing outside it.
    pub practice: Option<PracticeId>,
}

/// What the store knows about the credential's owner right now.
#[derive(Clone, Debug, Default)]
pub struct OwnerFacts {
    pub roles: Vec<Role>,
    pub practices: Vec<PracticeId>,
    /// For patient users: their own Patient resource.
    pub patient: Option<PatientId>,
}

impl OwnerFacts {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Which patients' compartments a credential reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientScope {
    /// Exactly these patients.
    Only(Vec<PatientId>),
    /// Every patient of these practices, resolved by the store at query time.
    Practices(Vec<PracticeId>),
}

/// The outcome of [`effective_access`]: the patients reached and the most a token may do there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub patients: PatientScope,
    pub allowed: ScopeSet,
    /// The patient in context (patient credentials), echoed as `patient` in token responses.
    pub patient_context: Option<PatientId>,
}

/// Why a credential reaches nothing right now. The wire never says which (it is `invalid_client` or 401);
/// the audit log does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("credential deleted")]
    Deleted,
    #[error("credential inactive")]
    Inactive,
    #[error("credential not yet valid")]
    NotYetValid,
    #[error("credential expired")]
    Expired,
    #[error("owner no longer holds the {0:?} role")]
    OwnerLacksRole(Role),
    #[error("owner has no patient record")]
    NoPatientRecord,
    #[error("the app is disabled or deleted")]
    AppDisabled,
    #[error("no practice of this data has approved the app")]
    AppNotApproved,
    #[error("the person who consented can no longer reach this patient")]
    ConsentingUserLacksAccess,
}

pub fn effective_access(cred: &CredentialFacts, owner: &OwnerFacts, now: DateTime<Utc>) -> Result<Access, Refusal> {
    if cred.deleted {
        return Err(Refusal::Deleted);
    }
    if !cred.active {
        return Err(Refusal::Inactive);
    }
    match cred.window.position(now) {
        WindowPosition::Before => return Err(Refusal::NotYetValid),
        WindowPosition::After => return Err(Refusal::Expired),
        WindowPosition::Inside => {}
    }
    if let Some(role) = cred.kind.required_role() {
        if !owner.has(role) {
            return Err(Refusal::OwnerLacksRole(role));
        }
    }
    let read = [Interaction::Read, Interaction::Search];
    let all = [Interaction::Create, Interaction::Read, Interaction::Update, Interaction::Delete, Interaction::Search];
    match cred.kind {
        CredentialKind::PatientApp => {
            let patient = owner.patient.clone().ok_or(Refusal::NoPatientRecord)?;
            Ok(Access {
                patients: PatientScope::Only(vec![patient.clone()]),
                allowed: ScopeSet(vec![Scope::new(ScopeContext::Patient, None, &read)]),
                patient_context: Some(patient),
            })
        }
        CredentialKind::Developer => {
            let writes = owner.roles.iter().any(|r| r.writes_clinical_data());
            Ok(Access {
                patients: PatientScope::Practices(owner.practices.clone()),
                allowed: ScopeSet(vec![Scope::new(ScopeContext::System, None, if writes { &all } else { &read })]),
                patient_context: None,
            })
        }
        CredentialKind::Provider => {
            // A chosen patient stays reachable only while the owner still belongs to one of that patient's practices.
            let patients = cred
                .patients
                .iter()
                .filter(|(_, practices)| practices.iter().any(|p| owner.practices.contains(p)))
                .map(|(id, _)| id.clone())
                .collect();
            Ok(Access {
                patients: PatientScope::Only(patients),
                allowed: ScopeSet(vec![Scope::new(ScopeContext::System, None, &read)]),
                patient_context: None,
            })
        }
        CredentialKind::ConnectedApp => connected_app(cred, owner),
        CredentialKind::BackendApp => {
            let app = live_app(cred)?;
            let practices = approved_within(app, &[]);
            if practices.is_empty() {
                return Err(Refusal::AppNotApproved);
            }
            Ok(Access { patients: PatientScope::Practices(practices), allowed: app.scope.clone(), patient_context: None })
        }
    }
}

fn live_app(cred: &CredentialFacts) -> Result<&AppFacts, Refusal> {
    cred.app.as_ref().filter(|a| a.active).ok_or(Refusal::AppDisabled)
}

/// The approving practices, narrowed to the grant's tenant, and (when `among` is not empty) to `among`.
fn approved_within(app: &AppFacts, among: &[PracticeId]) -> Vec<PracticeId> {
    app.approved
        .iter()
        .filter(|p| app.practice.is_none_or(|t| t == **p))
        .filter(|p| among.is_empty() || among.contains(p))
        .copied()
        .collect()
}

/// A person's consent to an app reaches the patient in context while that person still may (a patient:
/// their own record; staff: a patient of one of their practices) and while a practice of that patient
/// approves the app. Without a patient in context (a staff `user/` grant): every patient of the practices
/// the person belongs to that approve the app.
fn connected_app(cred: &CredentialFacts, owner: &OwnerFacts) -> Result<Access, Refusal> {
    let app = live_app(cred)?;
    match cred.patients.first() {
        Some((patient, practices)) => {
            let own_record = owner.patient.as_ref() == Some(patient) && owner.has(Role::Patient);
            let staff_reach = owner.roles.iter().any(|r| r.is_staff()) && practices.iter().any(|p| owner.practices.contains(p));
            if !own_record && !staff_reach {
                return Err(Refusal::ConsentingUserLacksAccess);
            }
            if approved_within(app, practices).is_empty() {
                return Err(Refusal::AppNotApproved);
            }
            Ok(Access {
                patients: PatientScope::Only(vec![patient.clone()]),
                allowed: app.scope.clone(),
                patient_context: Some(patient.clone()),
            })
        }
        None => {
            if !owner.roles.iter().any(|r| r.is_staff()) || owner.practices.is_empty() {
                return Err(Refusal::ConsentingUserLacksAccess);
            }
            let practices = approved_within(app, &owner.practices);
            if practices.is_empty() {
                return Err(Refusal::AppNotApproved);
            }
            Ok(Access { patients: PatientScope::Practices(practices), allowed: app.scope.clone(), patient_context: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn cred(kind: CredentialKind) -> CredentialFacts {
        CredentialFacts {
            kind,
            active: true,
            deleted: false,
            window: ValidityWindow::default(),
            patients: vec![(PatientId("p1".into()), vec![PracticeId(1)]), (PatientId("p2".into()), vec![PracticeId(2)])],
            app: None,
        }
    }

    fn owner(roles: &[Role]) -> OwnerFacts {
        OwnerFacts { roles: roles.to_vec(), practices: vec![PracticeId(1)], patient: Some(PatientId("me".into())) }
    }

    #[test]
    fn refusals() {
        let hour = Duration::hours(1);
        let cases: Vec<(&str, CredentialFacts, OwnerFacts, Refusal)> = vec![
            (
                "deleted",
                CredentialFacts { deleted: true, ..cred(CredentialKind::PatientApp) },
                owner(&[Role::Patient]),
                Refusal::Deleted,
            ),
            (
                "inactive",
                CredentialFacts { active: false, ..cred(CredentialKind::Provider) },
                owner(&[Role::Provider]),
                Refusal::Inactive,
            ),
            (
                "before window",
                CredentialFacts {
                    window: ValidityWindow { from: Some(now() + hour), to: None },
                    ..cred(CredentialKind::Provider)
                },
                owner(&[Role::Provider]),
                Refusal::NotYetValid,
            ),
            (
                "after window",
                CredentialFacts {
                    window: ValidityWindow { from: None, to: Some(now() - hour) },
                    ..cred(CredentialKind::Developer)
                },
                owner(&[Role::Developer]),
                Refusal::Expired,
            ),
            (
                "developer role removed",
                cred(CredentialKind::Developer),
                owner(&[Role::Nurse]),
                Refusal::OwnerLacksRole(Role::Developer),
            ),
            (
                "provider role removed",
                cred(CredentialKind::Provider),
                owner(&[Role::Developer]),
                Refusal::OwnerLacksRole(Role::Provider),
            ),
            (
                "patient without record",
                cred(CredentialKind::PatientApp),
                OwnerFacts { patient: None, ..owner(&[Role::Patient]) },
                Refusal::NoPatientRecord,
            ),
        ];
        for (name, c, o, expected) in cases {
            assert_eq!(effective_access(&c, &o, now()), Err(expected), "{name}");
        }
    }

    #[test]
    fn what_each_kind_reaches() {
        let a = effective_access(&cred(CredentialKind::PatientApp), &owner(&[Role::Patient]), now()).unwrap();
        assert_eq!(a.patients, PatientScope::Only(vec![PatientId("me".into())]));
        assert_eq!(a.allowed.to_string(), "patient/*.rs");

        let a = effective_access(&cred(CredentialKind::Developer), &owner(&[Role::Developer]), now()).unwrap();
        assert_eq!(a.patients, PatientScope::Practices(vec![PracticeId(1)]));
        assert_eq!(a.allowed.to_string(), "system/*.rs");
        let a = effective_access(&cred(CredentialKind::Developer), &owner(&[Role::Developer, Role::Provider]), now()).unwrap();
        assert_eq!(a.allowed.to_string(), "system/*.cruds");

        // p2 belongs to practice 2, which the owner is not (or no longer) a member of.
        let a = effective_access(&cred(CredentialKind::Provider), &owner(&[Role::Provider]), now()).unwrap();
        assert_eq!(a.patients, PatientScope::Only(vec![PatientId("p1".into())]));
    }
}

#[cfg(test)]
mod grant_tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn grant(kind: CredentialKind, patient: Option<(&str, &[i64])>, app: AppFacts) -> CredentialFacts {
        CredentialFacts {
            kind,
            active: true,
            deleted: false,
            window: ValidityWindow::default(),
            patients: patient
                .map(|(p, ps)| vec![(PatientId(p.into()), ps.iter().map(|&i| PracticeId(i)).collect())])
                .unwrap_or_default(),
            app: Some(app),
        }
    }

    fn app(active: bool, approved: &[i64], practice: Option<i64>) -> AppFacts {
        AppFacts {
            active,
            approved: approved.iter().map(|&i| PracticeId(i)).collect(),
            scope: ScopeSet::parse("patient/Observation.rs").unwrap(),
            practice: practice.map(PracticeId),
        }
    }

    fn patient(id: &str) -> OwnerFacts {
        OwnerFacts { roles: vec![Role::Patient], practices: vec![], patient: Some(PatientId(id.into())) }
    }

    fn staff(practices: &[i64]) -> OwnerFacts {
        OwnerFacts { roles: vec![Role::Provider], practices: practices.iter().map(|&i| PracticeId(i)).collect(), patient: None }
    }

    /// (case, grant, consenting user) → the patients reached, or the refusal.
    #[test]
    fn grants_follow_approval_consent_and_tenant() {
        use CredentialKind::{BackendApp, ConnectedApp};
        let only = |p: &str| Ok(PatientScope::Only(vec![PatientId(p.into())]));
        let practices = |ps: &[i64]| Ok(PatientScope::Practices(ps.iter().map(|&i| PracticeId(i)).collect()));
        let cases: Vec<(&str, CredentialFacts, OwnerFacts, Result<PatientScope, Refusal>)> = vec![
            ("patient, approved", grant(ConnectedApp, Some(("me", &[1])), app(true, &[1], None)), patient("me"), only("me")),
            (
                "patient, not approved",
                grant(ConnectedApp, Some(("me", &[1])), app(true, &[2], None)),
                patient("me"),
                Err(Refusal::AppNotApproved),
            ),
            (
                "approval withdrawn (no practice left)",
                grant(ConnectedApp, Some(("me", &[1])), app(true, &[], None)),
                patient("me"),
                Err(Refusal::AppNotApproved),
            ),
            (
                "app disabled",
                grant(ConnectedApp, Some(("me", &[1])), app(false, &[1], None)),
                patient("me"),
                Err(Refusal::AppDisabled),
            ),
            (
                "someone else's record",
                grant(ConnectedApp, Some(("other", &[1])), app(true, &[1], None)),
                patient("me"),
                Err(Refusal::ConsentingUserLacksAccess),
            ),
            (
                "tenant base of another practice",
                grant(ConnectedApp, Some(("me", &[1])), app(true, &[1, 2], Some(2))),
                patient("me"),
                Err(Refusal::AppNotApproved),
            ),
            (
                "staff, patient of their practice",
                grant(ConnectedApp, Some(("p", &[1])), app(true, &[1], None)),
                staff(&[1]),
                only("p"),
            ),
            (
                "staff who left the practice",
                grant(ConnectedApp, Some(("p", &[1])), app(true, &[1], None)),
                staff(&[2]),
                Err(Refusal::ConsentingUserLacksAccess),
            ),
            (
                "staff, no patient: approved practices of theirs",
                grant(ConnectedApp, None, app(true, &[1, 3], None)),
                staff(&[1, 2]),
                practices(&[1]),
            ),
            ("backend app", grant(BackendApp, None, app(true, &[1, 3], None)), OwnerFacts::default(), practices(&[1, 3])),
            (
                "backend app at a tenant base",
                grant(BackendApp, None, app(true, &[1, 3], Some(3))),
                OwnerFacts::default(),
                practices(&[3]),
            ),
            (
                "backend app, nothing approved",
                grant(BackendApp, None, app(true, &[], None)),
                OwnerFacts::default(),
                Err(Refusal::AppNotApproved),
            ),
        ];
        for (name, c, o, expected) in cases {
            assert_eq!(effective_access(&c, &o, now()).map(|a| a.patients), expected, "{name}");
        }
        let a = effective_access(&grant(ConnectedApp, Some(("me", &[1])), app(true, &[1], None)), &patient("me"), now()).unwrap();
        assert_eq!(a.allowed.to_string(), "patient/Observation.rs");
        assert_eq!(a.patient_context, Some(PatientId("me".into())));
    }
}
