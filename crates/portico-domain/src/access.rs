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
    /// Provider keys: each chosen patient with the practices that patient belongs to.
    pub patients: Vec<(PatientId, Vec<PracticeId>)>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
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
    let role = cred.kind.required_role();
    if !owner.has(role) {
        return Err(Refusal::OwnerLacksRole(role));
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
