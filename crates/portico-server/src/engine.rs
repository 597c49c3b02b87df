//! The one enforcement path. `authorize` turns a bearer token into a [`Principal`] (checking the token, its
//! credential and the owner's *current* access on every call), `principal_for_preview` does the same for a
//! credential without a token, and `execute` runs a FHIR interaction strictly inside a principal's reach.
//! Real requests and previews both call `execute`, so a preview shows exactly what the app gets.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use portico_domain::{
    effective_access, Access, AuditEvent, AuditKind, Category, Digest, Interaction, PatientId, PatientScope, PracticeId,
    ScopeSet, Secret, SecretKind,
};
use portico_fhir::bundle::SearchMode;
use portico_fhir::outcome::IssueCode;
use portico_fhir::search::{Criterion, Handling, SearchQuery, MAX_VALUES_PER_PARAMETER};
use portico_fhir::{type_def, TypeDef};
use portico_store::{CredentialRecord, PatientFilter, ReadStore, StoredResource, WriteStore};
use serde_json::Value;

use crate::error::FhirError;

/// Who is asking, and what they may reach right now.
#[derive(Clone, Debug)]
pub struct Principal {
    pub credential: CredentialRecord,
    pub access: Access,
    /// The token's granted scopes (for previews: everything the credential allows).
    pub scopes: ScopeSet,
    pub token_digest: Option<Digest>,
    /// Preview requests are audited as previews, not as the app's use.
    pub preview: bool,
}

impl Principal {
    /// Both the token's scopes and the credential's current allowance must permit it.
    fn permits(&self, resource_type: &str, i: Interaction) -> bool {
        self.scopes.allows(resource_type, i) && self.access.allowed.allows(resource_type, i)
    }

    /// The store criteria that keep `i` on `resource_type` inside the categories of granular scopes
    /// (`patient/Observation.rs?category=…`): one `category` criterion, its values ORed, for each of the
    /// token's scopes and the credential's allowance that admits only some categories; the store ANDs them
    /// with the request's own criteria in one indexed query, so totals and paging count only what may be
    /// seen. Empty when an unfiltered scope covers the whole type. `_include` and every other path that
    /// hands out resources of a type must apply these too.
    pub fn scope_criteria(&self, resource_type: &str, i: Interaction) -> Result<Vec<Criterion>, FhirError> {
        self.require(resource_type, i)?;
        let mut criteria = Vec::new();
        for set in [&self.scopes, &self.access.allowed] {
            let Some(categories) = set.categories(resource_type, i) else { continue };
            let values: Vec<(Option<&str>, &str)> = categories.iter().map(|c| (c.system.as_deref(), c.code.as_str())).collect();
            let criterion = Criterion::token_any(resource_type, Category::PARAM, &values).map_err(|e| {
                // Scope parsing admits categories only on types with the parameter, and `require` saw a scope.
                tracing::error!(error = %e, resource_type, "a granular scope has no search criterion");
                FhirError::internal()
            })?;
            criteria.push(criterion);
        }
        Ok(criteria)
    }

    fn require(&self, resource_type: &str, i: Interaction) -> Result<(), FhirError> {
        if self.permits(resource_type, i) {
            return Ok(());
        }
        let context = match self.access.patient_context {
            Some(_) => "patient",
            None => "system",
        };
        Err(FhirError::forbidden(format!(
            "this token lacks the scope {context}/{resource_type}.{} (it holds: {})",
            i.letter(),
            self.scopes
        )))
    }
}

/// Resolves a bearer token. Every failure is the same 401 to the caller; the audit log records why.
pub fn authorize(
    store: &dyn ReadStore,
    bearer: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Principal, (FhirError, Option<Box<AuditEvent>>)> {
    let unauthorized = |m: &str| FhirError::unauthorized(m);
    let Some(raw) = bearer else {
        return Err((FhirError::token_required(), None));
    };
    let Some(token) = Secret::parse(SecretKind::AccessToken, raw) else {
        return Err((unauthorized("the access token is invalid"), None));
    };
    let digest = token.digest();
    let record = store.token(&digest).map_err(|e| (FhirError::from(e), None))?;
    let Some(record) = record else {
        return Err((unauthorized("the access token is invalid"), None));
    };
    let refuse = |reason: String, cred: &str| {
        let mut e = AuditEvent::new(AuditKind::FhirRefused, now);
        e.outcome = reason;
        e.credential_id = Some(cred.to_owned());
        e.token_digest = Some(digest.to_hex());
        (unauthorized("the access token is invalid, expired or revoked"), Some(Box::new(e)))
    };
    if record.revoked_at.is_some() {
        return Err(refuse("token revoked".into(), &record.credential_id));
    }
    if record.expires_at <= now {
        return Err(refuse("token expired".into(), &record.credential_id));
    }
    let cred = store.credential(&record.credential_id).map_err(|e| (FhirError::from(e), None))?;
    let Some(cred) = cred else {
        return Err(refuse("credential missing".into(), &record.credential_id));
    };
    // A token stops with the secret that minted it: when a regeneration's grace period ends, or at once
    // when the secret is regenerated again.
    let grace_until = cred.previous.as_ref().map(|(_, until)| *until);
    if !portico_domain::minted_by_live_secret(record.secret_generation, cred.secret_generation, grace_until, now) {
        return Err(refuse("token minted with a replaced secret".into(), &cred.id));
    }
    let access = resolve(store, &cred, now).map_err(|e| (e, None))?;
    let access = match access {
        Ok(a) => a,
        Err(reason) => return Err(refuse(reason, &cred.id)),
    };
    // An app's token also records `openid`, `offline_access` and the like; the FHIR API needs its resource scopes.
    let scopes = portico_domain::RequestedScopes::parse(&record.scope).resources;
    Ok(Principal { credential: cred, access, scopes, token_digest: Some(digest), preview: false })
}

/// The principal a credential would be if its app held a token with every scope it may have.
pub fn principal_for_preview(
    store: &dyn ReadStore,
    cred: CredentialRecord,
    now: DateTime<Utc>,
) -> Result<Result<Principal, String>, FhirError> {
    Ok(resolve(store, &cred, now)?.map(|access| Principal {
        scopes: access.allowed.clone(),
        access,
        credential: cred,
        token_digest: None,
        preview: true,
    }))
}

fn resolve(store: &dyn ReadStore, cred: &CredentialRecord, now: DateTime<Utc>) -> Result<Result<Access, String>, FhirError> {
    let owner = store.user(cred.owner)?.map(|u| u.facts()).unwrap_or_default();
    let facts = store.credential_facts(cred)?;
    Ok(effective_access(&facts, &owner, now).map_err(|r| r.to_string()))
}

/// A FHIR interaction, parsed from HTTP by the handler (or built by the preview).
#[derive(Clone, Debug)]
pub enum FhirOp {
    Read {
        resource_type: String,
        id: String,
    },
    /// `handling`: what `Prefer: handling=` asked for (strict unless the client said lenient).
    Search {
        resource_type: String,
        params: Vec<(String, String)>,
        handling: Handling,
    },
    Everything {
        id: String,
    },
    Create {
        resource_type: String,
        body: Value,
    },
    Update {
        resource_type: String,
        id: String,
        body: Value,
        if_match: Option<i64>,
    },
    Delete {
        resource_type: String,
        id: String,
        if_match: Option<i64>,
    },
}

/// A successful FHIR answer.
#[derive(Debug)]
pub struct FhirOk {
    pub status: StatusCode,
    pub body: Option<Value>,
    /// A body already serialized, sent instead of `body`: the `$everything` Bundle, assembled from the
    /// stored JSON without parsing every resource.
    pub body_text: Option<String>,
    pub version: Option<(i64, String)>,
    pub location: Option<String>,
}

impl FhirOk {
    fn json(body: Value) -> FhirOk {
        FhirOk { status: StatusCode::OK, body: Some(body), body_text: None, version: None, location: None }
    }
}

impl FhirOp {
    /// Creates, updates and deletes go through the writer; everything else reads a snapshot.
    pub fn writes(&self) -> bool {
        matches!(self, FhirOp::Create { .. } | FhirOp::Update { .. } | FhirOp::Delete { .. })
    }

    /// Searches and `$everything` may touch many rows; reads touch one.
    pub fn is_heavy(&self) -> bool {
        matches!(self, FhirOp::Search { .. } | FhirOp::Everything { .. })
    }
}

/// Runs one interaction for `who` (on the writer: any interaction), returning the answer and the audit
/// events to append.
pub fn execute(
    store: &mut dyn WriteStore,
    who: &Principal,
    op: FhirOp,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> (Result<FhirOk, FhirError>, Vec<AuditEvent>) {
    recorded(who, op, now, |op, served| run(store, who, op, fhir_base, now, served))
}

/// Runs a reading interaction (read, search, `$everything`) on a reader snapshot.
pub fn execute_read(
    store: &dyn ReadStore,
    who: &Principal,
    op: FhirOp,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> (Result<FhirOk, FhirError>, Vec<AuditEvent>) {
    recorded(who, op, now, |op, served| run_read(store, who, op, fhir_base, served))
}

/// Runs `f` (which lists every resource it serves) and returns its answer with the audit events for it.
fn recorded(
    who: &Principal,
    op: FhirOp,
    now: DateTime<Utc>,
    f: impl FnOnce(FhirOp, &mut Vec<StoredResource>) -> Result<FhirOk, FhirError>,
) -> (Result<FhirOk, FhirError>, Vec<AuditEvent>) {
    let detail = describe(&op);
    let mut served: Vec<StoredResource> = Vec::new();
    let result = f(op, &mut served);
    audited(who, detail, result, served, now)
}

/// The audit events that record an interaction's outcome.
fn audited(
    who: &Principal,
    detail: String,
    result: Result<FhirOk, FhirError>,
    served: Vec<StoredResource>,
    now: DateTime<Utc>,
) -> (Result<FhirOk, FhirError>, Vec<AuditEvent>) {
    let mut events = Vec::new();
    let base_event = |kind: AuditKind| {
        let mut e = AuditEvent::new(kind, now);
        e.credential_id = Some(who.credential.id.clone());
        e.client_id = Some(who.credential.client_id.clone());
        e.token_digest = who.token_digest.map(|d| d.to_hex());
        e.detail = Some(detail.clone());
        e
    };
    let kind = if who.preview { AuditKind::Preview } else { AuditKind::FhirAccess };
    match &result {
        Ok(_) => {
            // One event per patient touched, so each patient's history shows exactly what was read of them.
            let mut per_patient: BTreeMap<Option<PatientId>, BTreeMap<String, i64>> = BTreeMap::new();
            for r in &served {
                *per_patient.entry(r.patient.clone()).or_default().entry(r.resource_type.clone()).or_default() += 1;
            }
            if per_patient.is_empty() {
                events.push(AuditEvent { count: Some(0), ..base_event(kind) });
            }
            for (patient, types) in per_patient {
                let mut e = base_event(kind);
                e.patient = patient;
                e.count = Some(types.values().sum());
                e.resource_types = types.into_iter().map(|(t, n)| format!("{t}:{n}")).collect();
                events.push(e);
            }
        }
        Err(err) => {
            let mut e = base_event(if who.preview { AuditKind::Preview } else { AuditKind::FhirRefused });
            e.outcome = format!("{} {}", err.status.as_u16(), err.message);
            e.patient = who.access.patient_context.clone();
            events.push(e);
        }
    }
    (result, events)
}

fn describe(op: &FhirOp) -> String {
    match op {
        FhirOp::Read { resource_type, .. } => format!("read {resource_type}"),
        FhirOp::Search { resource_type, .. } => format!("search {resource_type}"),
        FhirOp::Everything { .. } => "Patient $everything".into(),
        FhirOp::Create { resource_type, .. } => format!("create {resource_type}"),
        FhirOp::Update { resource_type, .. } => format!("update {resource_type}"),
        FhirOp::Delete { resource_type, .. } => format!("delete {resource_type}"),
    }
}

fn known_type(resource_type: &str) -> Result<&'static TypeDef, FhirError> {
    type_def(resource_type).ok_or_else(|| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotSupported,
            format!("resource type '{}' is not supported", truncate(resource_type)),
        )
    })
}

/// Patient is the compartment's own type; other types are in it when they have a compartment path.
fn in_compartment(td: &TypeDef) -> bool {
    td.name == "Patient" || !td.compartment.is_empty()
}

/// Who may write shared resources: nobody, through the FHIR API. Organization, Practitioner, Location,
/// Medication and every other type outside the patient compartment belong to no practice: any practice's
/// records may point at them, while a key (an administrator's too) speaks only for its owner's practices.
/// So no key may create, update or delete them, lest one practice change what another's records say (or
/// make them point at nothing); the operator writes them with `portico import`, `generate` and the demo
/// seed, which do not pass through this API. Checked before anything is read, so the answer is the same
/// whether the resource exists or not.
fn writable(td: &TypeDef) -> Result<(), FhirError> {
    if in_compartment(td) {
        return Ok(());
    }
    Err(FhirError::forbidden(format!("{} resources are shared by every practice and read-only through the FHIR API", td.name)))
}

/// May `who` see this stored resource at all? Outside its reach the answer is "not found", never "forbidden",
/// so nobody learns that another patient's resource exists.
fn visible(store: &dyn ReadStore, who: &Principal, td: &TypeDef, r: &StoredResource) -> Result<bool, FhirError> {
    if !in_compartment(td) {
        return Ok(true);
    }
    match &r.patient {
        Some(p) => Ok(store.patient_in_scope(p, &who.access.patients)?),
        None => Ok(false),
    }
}

fn reach<'a>(who: &'a Principal, td: &TypeDef) -> PatientFilter<'a> {
    if in_compartment(td) {
        PatientFilter::Scope(&who.access.patients)
    } else {
        PatientFilter::Shared
    }
}

/// Is this resource inside the categories the principal's granular scopes admit for reading? Asked of the
/// search index, so a read and a search can never disagree about a resource. (A deleted resource has left
/// the index, so a token narrowed by category gets 404 for it, not 410: whether it was in the categories
/// cannot be told, and existence outside them must not leak.)
fn in_categories(store: &dyn ReadStore, who: &Principal, td: &TypeDef, id: &str) -> Result<bool, FhirError> {
    let restrict = who.scope_criteria(td.name, Interaction::Read)?;
    if restrict.is_empty() {
        return Ok(true);
    }
    let by_id = Criterion::token_any(td.name, "_id", &[(None, id)]).map_err(|e| FhirError::bad_request(e.to_string()))?;
    let criteria: Vec<Criterion> = std::iter::once(by_id).chain(restrict).collect();
    let (found, _) = store.search(td.name, reach(who, td), &criteria, &[], 0, 0)?;
    Ok(found > 0)
}

fn not_found(resource_type: &str, id: &str) -> FhirError {
    FhirError::not_found(format!("{}/{} is not known", resource_type, truncate(id)))
}

fn parse_json(r: &StoredResource) -> Result<Value, FhirError> {
    serde_json::from_str(&r.json).map_err(|e| {
        tracing::error!(error = %e, resource_type = %r.resource_type, "stored resource is not JSON");
        FhirError::internal()
    })
}

fn run_read(
    store: &dyn ReadStore,
    who: &Principal,
    op: FhirOp,
    fhir_base: &str,
    served: &mut Vec<StoredResource>,
) -> Result<FhirOk, FhirError> {
    match op {
        FhirOp::Read { resource_type, id } => {
            let td = known_type(&resource_type)?;
            who.require(td.name, Interaction::Read)?;
            let r = store.read_resource(td.name, &id)?.ok_or_else(|| not_found(td.name, &id))?;
            if !visible(store, who, td, &r)? || !in_categories(store, who, td, &id)? {
                return Err(not_found(td.name, &id));
            }
            if r.deleted {
                return Err(FhirError::new(StatusCode::GONE, IssueCode::Deleted, format!("{}/{} was deleted", td.name, id)));
            }
            // Served as stored (meta included): a read never parses and re-serializes the resource.
            let version = Some((r.version, r.last_updated.clone()));
            let body_text = Some(r.json.clone());
            served.push(r);
            Ok(FhirOk { status: StatusCode::OK, body: None, body_text, version, location: None })
        }
        FhirOp::Search { resource_type, params, handling } => {
            let td = known_type(&resource_type)?;
            who.require(td.name, Interaction::Search)?;
            let query = SearchQuery::parse_with(td.name, &params, handling).map_err(|e| FhirError::bad_request(e.to_string()))?;
            search(store, who, td, &query, fhir_base, served)
        }
        FhirOp::Everything { id } => {
            who.require("Patient", Interaction::Read)?;
            let patient = store.read_resource("Patient", &id)?.ok_or_else(|| not_found("Patient", &id))?;
            let td = known_type("Patient")?;
            if !visible(store, who, td, &patient)? || patient.deleted {
                return Err(not_found("Patient", &id));
            }
            let patient_id = PatientId(id.clone());
            // $everything returns only the compartment types this token may search, and the shared resources
            // those records refer to (Organization, Practitioner, …) of the types it may read.
            let mut resources: Vec<StoredResource> = store
                .compartment(&patient_id)?
                .into_iter()
                .filter(|r| {
                    who.permits(&r.resource_type, Interaction::Search)
                        || (r.resource_type == "Patient" && who.permits("Patient", Interaction::Read))
                })
                .collect();
            // Types that granular scopes narrow to some categories keep only those resources, found through
            // the same index a search uses.
            let mut types: Vec<String> = resources.iter().map(|r| r.resource_type.clone()).collect();
            types.sort();
            types.dedup();
            let only_patient = PatientScope::Only(vec![patient_id.clone()]);
            for t in types {
                // The Patient may be here by `read` alone (above); every other type by `search`.
                let i = if who.permits(&t, Interaction::Search) { Interaction::Search } else { Interaction::Read };
                let restrict = who.scope_criteria(&t, i)?;
                if restrict.is_empty() {
                    continue;
                }
                let (_, admitted) = store.search(&t, PatientFilter::Scope(&only_patient), &restrict, &[], 0, usize::MAX)?;
                let admitted: std::collections::HashSet<String> = admitted.into_iter().map(|r| r.id).collect();
                resources.retain(|r| r.resource_type != t || admitted.contains(&r.id));
            }
            resources.extend(
                store.shared_referenced_by(&patient_id)?.into_iter().filter(|r| who.permits(&r.resource_type, Interaction::Read)),
            );
            let self_url = format!("{fhir_base}/Patient/{id}/$everything");
            let entries = resources.iter().map(|r| (r.resource_type.as_str(), r.id.as_str(), r.json.as_str()));
            let body = portico_fhir::bundle::searchset_json(fhir_base, resources.len(), entries, &self_url, None);
            served.extend(resources);
            Ok(FhirOk { status: StatusCode::OK, body: None, body_text: Some(body), version: None, location: None })
        }
        FhirOp::Create { .. } | FhirOp::Update { .. } | FhirOp::Delete { .. } => {
            tracing::error!("a write reached the read path");
            Err(FhirError::internal())
        }
    }
}

fn run(
    store: &mut dyn WriteStore,
    who: &Principal,
    op: FhirOp,
    fhir_base: &str,
    now: DateTime<Utc>,
    served: &mut Vec<StoredResource>,
) -> Result<FhirOk, FhirError> {
    match op {
        op @ (FhirOp::Read { .. } | FhirOp::Search { .. } | FhirOp::Everything { .. }) => {
            run_read(store, who, op, fhir_base, served)
        }
        FhirOp::Create { resource_type, body } => {
            let td = known_type(&resource_type)?;
            who.require(td.name, Interaction::Create)?;
            writable(td)?;
            let body = check_body(td, body, None)?;
            let id = uuid::Uuid::new_v4().to_string();
            let mut body = body;
            body["id"] = Value::String(id.clone());
            let (patient, register_in) = placement(store, who, td, &body, &id)?;
            let out = store.put_resource(td.name, &id, body, patient.as_ref(), register_in, None, now)?;
            written(out.resource, true, fhir_base, served)
        }
        FhirOp::Update { resource_type, id, body, if_match } => {
            let td = known_type(&resource_type)?;
            who.require(td.name, Interaction::Update)?;
            writable(td)?;
            let body = check_body(td, body, Some(&id))?;
            if let Some(existing) = store.read_resource(td.name, &id)? {
                if !visible(store, who, td, &existing)? {
                    return Err(not_found(td.name, &id));
                }
            }
            let (patient, register_in) = placement(store, who, td, &body, &id)?;
            let out =
                store.put_resource(td.name, &id, body, patient.as_ref(), register_in, if_match, now).map_err(version_conflict)?;
            written(out.resource, out.created, fhir_base, served)
        }
        FhirOp::Delete { resource_type, id, if_match } => {
            let td = known_type(&resource_type)?;
            who.require(td.name, Interaction::Delete)?;
            writable(td)?;
            let existing = store.read_resource(td.name, &id)?.ok_or_else(|| not_found(td.name, &id))?;
            if !visible(store, who, td, &existing)? {
                return Err(not_found(td.name, &id));
            }
            store.delete_resource(td.name, &id, if_match, now).map_err(version_conflict)?;
            Ok(FhirOk { status: StatusCode::NO_CONTENT, body: None, body_text: None, version: None, location: None })
        }
    }
}

fn version_conflict(e: portico_store::StoreError) -> FhirError {
    match e {
        portico_store::StoreError::VersionConflict { current } => FhirError::new(
            StatusCode::PRECONDITION_FAILED,
            IssueCode::Conflict,
            format!("If-Match does not match the current version ({current})"),
        ),
        e => e.into(),
    }
}

fn written(r: StoredResource, created: bool, fhir_base: &str, served: &mut Vec<StoredResource>) -> Result<FhirOk, FhirError> {
    let body = parse_json(&r)?;
    let location = format!("{fhir_base}/{}/{}/_history/{}", r.resource_type, r.id, r.version);
    let version = Some((r.version, r.last_updated.clone()));
    served.push(r);
    Ok(FhirOk {
        status: if created { StatusCode::CREATED } else { StatusCode::OK },
        body: Some(body),
        body_text: None,
        version,
        location: Some(location),
    })
}

/// Minimal structural checks on a written resource: a JSON object of the URL's type, with a matching id.
fn check_body(td: &TypeDef, body: Value, url_id: Option<&str>) -> Result<Value, FhirError> {
    if !body.is_object() {
        return Err(FhirError::bad_request("the body must be a FHIR resource (a JSON object)"));
    }
    if body["resourceType"].as_str() != Some(td.name) {
        return Err(FhirError::bad_request(format!("resourceType must be {}", td.name)));
    }
    if let Some(url_id) = url_id {
        if !portico_fhir::import::is_valid_id(url_id) {
            return Err(FhirError::bad_request("the id in the URL is not a valid FHIR id"));
        }
        if body["id"].as_str() != Some(url_id) {
            return Err(FhirError::bad_request("the resource id must equal the id in the URL"));
        }
    }
    Ok(body)
}

/// Which patient a written resource belongs to (it must be one the principal reaches), and for a new
/// Patient the practice it joins: the first of the key's practices. A key that reaches patients only by
/// name (provider keys) or no practice at all cannot register new patients.
fn placement(
    store: &dyn ReadStore,
    who: &Principal,
    td: &TypeDef,
    body: &Value,
    id: &str,
) -> Result<(Option<PatientId>, Option<PracticeId>), FhirError> {
    if !in_compartment(td) {
        return Ok((None, None));
    }
    if td.name == "Patient" && store.read_resource("Patient", id)?.is_none() {
        return match &who.access.patients {
            PatientScope::Practices(ps) if !ps.is_empty() => Ok((Some(PatientId(id.to_owned())), Some(ps[0]))),
            _ => Err(FhirError::forbidden("this key cannot register new patients: it reaches no practice")),
        };
    }
    let patient = if td.name == "Patient" {
        PatientId(id.to_owned())
    } else {
        PatientId(portico_fhir::compartment::patient_of(body).ok_or_else(|| {
            FhirError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                IssueCode::Processing,
                format!("a {} must reference its Patient", td.name),
            )
        })?)
    };
    if !store.patient_in_scope(&patient, &who.access.patients)? {
        return Err(FhirError::forbidden(format!("Patient/{} is outside this credential's reach", truncate(patient.as_str()))));
    }
    Ok((Some(patient), None))
}

fn search(
    store: &dyn ReadStore,
    who: &Principal,
    td: &TypeDef,
    query: &SearchQuery,
    fhir_base: &str,
    served: &mut Vec<StoredResource>,
) -> Result<FhirOk, FhirError> {
    // Matching, counting, sorting and paging all happen in the store's index; only the page is read. The
    // categories of granular scopes are criteria there too (not part of the query, so links do not show them).
    let page_size = if query.summary_count() { 0 } else { query.count() };
    let mut criteria = query.criteria().to_vec();
    criteria.extend(who.scope_criteria(td.name, Interaction::Search)?);
    let (total, rows) = store.search(td.name, reach(who, td), &criteria, query.sort_keys(), query.offset(), page_size)?;
    let page = rows.iter().map(parse_json).collect::<Result<Vec<_>, _>>()?;
    // Includes follow the page's references before `_elements` may cut them away.
    let included = included(store, who, td, query, &rows, &page)?;
    let mut entries: Vec<(Value, SearchMode)> = Vec::with_capacity(page.len() + included.len() + 1);
    for mut resource in page {
        query.subset(&mut resource);
        entries.push((resource, SearchMode::Match));
    }
    for r in &included {
        entries.push((parse_json(r)?, SearchMode::Include));
    }
    if !query.ignored().is_empty() {
        let ignored: Vec<String> = query.ignored().iter().map(|why| format!("ignored: {why}")).collect();
        entries.push((portico_fhir::outcome::warnings(IssueCode::NotSupported, &ignored), SearchMode::Outcome));
    }
    served.extend(rows);
    served.extend(included);
    Ok(searchset_page(fhir_base, td, query, total, entries))
}

/// The resources `_include` and `_revinclude` add to a page. Each is found by a search of its own type with
/// the reach (patient compartment, or shared), scope and category criteria any search of that type gets, so
/// an include never hands out what the principal could not have read directly; a type the token lacks is
/// left out silently, as a reference to it would be unreadable anyway. Resources already on the page (or
/// brought twice) appear once. `_include` needs read access to the target type, `_revinclude` search access
/// to the source type: each is the interaction the client would otherwise have used.
fn included(
    store: &dyn ReadStore,
    who: &Principal,
    td: &TypeDef,
    query: &SearchQuery,
    rows: &[StoredResource],
    page: &[Value],
) -> Result<Vec<StoredResource>, FhirError> {
    let mut seen: std::collections::HashSet<(String, String)> =
        rows.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
    let mut out: Vec<StoredResource> = Vec::new();
    let mut keep = |found: Vec<StoredResource>, out: &mut Vec<StoredResource>| {
        for r in found {
            if seen.insert((r.resource_type.clone(), r.id.clone())) {
                out.push(r);
            }
        }
    };
    if rows.is_empty() {
        return Ok(out);
    }
    let internal = |e: portico_fhir::SearchError| {
        // The ids come from parsed references and the page's own rows, which are valid ids.
        tracing::error!(error = %e, "an include produced an unparsable criterion");
        FhirError::internal()
    };
    // _include: the page's references per target type, in page order.
    let mut wanted: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for include in query.includes() {
        for (ty, id) in page.iter().flat_map(|r| include.references_of(r)) {
            let Some(target) = type_def(&ty) else { continue };
            let ids = wanted.entry(target.name).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for (ty, ids) in wanted {
        if !who.permits(ty, Interaction::Read) {
            continue;
        }
        let target = known_type(ty)?;
        let restrict = who.scope_criteria(ty, Interaction::Read)?;
        for chunk in ids.chunks(MAX_VALUES_PER_PARAMETER) {
            let values: Vec<(Option<&str>, &str)> = chunk.iter().map(|id| (None, id.as_str())).collect();
            let by_id = Criterion::token_any(ty, "_id", &values).map_err(internal)?;
            let criteria: Vec<Criterion> = std::iter::once(by_id).chain(restrict.iter().cloned()).collect();
            let (_, found) = store.search(ty, reach(who, target), &criteria, &[], 0, usize::MAX)?;
            keep(found, &mut out);
        }
    }
    // _revinclude: resources of the source type that refer to the page's resources.
    let targets: Vec<(&str, &str)> = rows.iter().map(|r| (td.name, r.id.as_str())).collect();
    for rev in query.revincludes() {
        let source = rev.source_type();
        if !who.permits(source, Interaction::Search) {
            continue;
        }
        let source_td = known_type(source)?;
        let restrict = who.scope_criteria(source, Interaction::Search)?;
        for chunk in targets.chunks(MAX_VALUES_PER_PARAMETER) {
            let referring = rev.referring_to(chunk).map_err(internal)?;
            let criteria: Vec<Criterion> = std::iter::once(referring).chain(restrict.iter().cloned()).collect();
            let (_, found) = store.search(source, reach(who, source_td), &criteria, &[], 0, usize::MAX)?;
            keep(found, &mut out);
        }
    }
    Ok(out)
}

/// One page of search results, with its self link and, when more results follow, a next link. The links
/// carry only what the search applied (a lenient search's ignored parameters are not in them).
fn searchset_page(fhir_base: &str, td: &TypeDef, query: &SearchQuery, total: usize, entries: Vec<(Value, SearchMode)>) -> FhirOk {
    let link = |offset| format!("{fhir_base}/{}?{}", td.name, query.query_string(offset));
    let paged = !query.summary_count() && query.count() > 0;
    let next_offset = query.offset().saturating_add(query.count());
    let next = (paged && next_offset < total).then(|| link(next_offset));
    let total = (!query.omits_total()).then_some(total);
    FhirOk::json(portico_fhir::bundle::searchset_entries(fhir_base, total, entries, &link(query.offset()), next.as_deref()))
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
