//! FHIR R4 `AuditEvent`s (and the `collection` Bundle that carries them) for a patient's export of who
//! accessed their record. The caller says what happened in FHIR's terms ([`AuditRecord`]); this module
//! knows the code systems and the shape every event needs to validate as R4.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";

/// What kind of event, in the terms of the AuditEvent type value set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditCategory {
    /// A RESTful FHIR request (`rest`), with its interaction (`read`, `search-type`, `operation`) if known.
    Rest(Option<&'static str>),
    /// An app authenticating for a token (DICOM 110114 User Authentication): 110122 Login when a token was
    /// asked for, 110123 Logout when one was revoked.
    Authentication { logout: bool },
    /// Who may access the record changed: a credential or a consent made, changed or removed (DICOM 110137
    /// User Security Attributes Changed).
    AccessChanged,
}

/// The AuditEvent action code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl AuditAction {
    fn code(self) -> &'static str {
        match self {
            AuditAction::Create => "C",
            AuditAction::Read => "R",
            AuditAction::Update => "U",
            AuditAction::Delete => "D",
            AuditAction::Execute => "E",
        }
    }
}

/// The AuditEvent outcome: 0 success, 4 minor failure (a request refused), 8 serious failure (the server
/// failed it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    Success,
    MinorFailure,
    SeriousFailure,
}

impl AuditOutcome {
    fn code(self) -> &'static str {
        match self {
            AuditOutcome::Success => "0",
            AuditOutcome::MinorFailure => "4",
            AuditOutcome::SeriousFailure => "8",
        }
    }
}

/// One event about a patient's record.
#[derive(Clone, Debug)]
pub struct AuditRecord<'a> {
    /// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`).
    pub id: String,
    pub recorded: DateTime<Utc>,
    pub category: AuditCategory,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    /// Why it failed, in words; none on success.
    pub outcome_desc: Option<&'a str>,
    /// The application that acted: its name, and its identifier within `agent_system`.
    pub agent_name: &'a str,
    pub agent_system: &'a str,
    pub agent_id: Option<&'a str>,
    /// The Patient whose record this is.
    pub patient_id: &'a str,
    /// What was read: resource type and how many.
    pub reads: Vec<(String, i64)>,
    /// The server that recorded the event: its name and its URL.
    pub observer_name: &'a str,
    pub observer_url: &'a str,
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The R4 AuditEvent for `r`. The application is the agent (`requestor` false: it acted under a credential
/// or consent the patient or their care team granted, not as the person who asked); the Patient is the
/// entity whose record it was, and each resource type read is an entity of its own with its count.
pub fn audit_event(r: &AuditRecord<'_>) -> Value {
    let (event_type, subtype) = match r.category {
        AuditCategory::Rest(interaction) => {
            (coding(EVENT_TYPE, "rest", "RESTful Operation"), interaction.map(|i| coding(INTERACTION, i, i)))
        }
        AuditCategory::Authentication { logout } => (
            coding(DICOM, "110114", "User Authentication"),
            Some(if logout { coding(DICOM, "110123", "Logout") } else { coding(DICOM, "110122", "Login") }),
        ),
        AuditCategory::AccessChanged => (coding(DICOM, "110137", "User Security Attributes Changed"), None),
    };
    let mut who = json!({ "display": r.agent_name });
    if let Some(id) = r.agent_id {
        who["identifier"] = json!({ "system": r.agent_system, "value": id });
    }
    let mut entities = vec![json!({
        "what": { "reference": format!("Patient/{}", r.patient_id) },
        "type": coding(ENTITY_TYPE, "1", "Person"),
        "role": coding(OBJECT_ROLE, "1", "Patient"),
    })];
    for (resource_type, count) in &r.reads {
        entities.push(json!({
            "type": { "system": RESOURCE_TYPES, "code": resource_type },
            "role": coding(OBJECT_ROLE, "4", "Domain Resource"),
            "description": format!("{count} {resource_type} read"),
            "detail": [{ "type": "count", "valueString": count.to_string() }],
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": r.id,
        "type": event_type,
        "action": r.action.code(),
        "recorded": instant(r.recorded),
        "outcome": r.outcome.code(),
        "agent": [{
            "type": { "coding": [coding(DICOM, "110150", "Application")] },
            "who": who,
            "requestor": false,
        }],
        "source": {
            "site": r.observer_url,
            "observer": { "display": r.observer_name },
            "type": [coding(SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": entities,
    });
    if let Some(s) = subtype {
        event["subtype"] = json!([s]);
    }
    if let Some(d) = r.outcome_desc {
        event["outcomeDesc"] = json!(d);
    }
    event
}

/// A Bundle of type `collection` holding `resources`, stamped `now`.
pub fn collection(resources: Vec<Value>, now: DateTime<Utc>) -> Value {
    let entries: Vec<Value> = resources.into_iter().map(|r| json!({ "resource": r })).collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(now),
        // No `total`: R4 allows it only on searchsets and histories (bdl-1).
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(category: AuditCategory, outcome: AuditOutcome) -> AuditRecord<'static> {
        AuditRecord {
            id: "audit-7".into(),
            recorded: Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap(),
            category,
            action: AuditAction::Read,
            outcome,
            outcome_desc: (outcome != AuditOutcome::Success).then_some("403 scope"),
            agent_name: "Phone app",
            agent_system: "https://portico.example",
            agent_id: Some("pc_123"),
            patient_id: "p1",
            reads: vec![("Observation".into(), 14), ("Condition".into(), 2)],
            observer_name: "Portico",
            observer_url: "https://portico.example",
        }
    }

    #[test]
    fn events_carry_what_r4_requires() {
        for (category, outcome, ty, sub, code) in [
            (AuditCategory::Rest(Some("search-type")), AuditOutcome::Success, "rest", Some("search-type"), "0"),
            (AuditCategory::Rest(None), AuditOutcome::MinorFailure, "rest", None, "4"),
            (AuditCategory::Authentication { logout: false }, AuditOutcome::Success, "110114", Some("110122"), "0"),
            (AuditCategory::Authentication { logout: true }, AuditOutcome::SeriousFailure, "110114", Some("110123"), "8"),
            (AuditCategory::AccessChanged, AuditOutcome::Success, "110137", None, "0"),
        ] {
            let e = audit_event(&record(category, outcome));
            assert_eq!(e["type"]["code"], ty, "{category:?}");
            assert_eq!(e["subtype"][0]["code"].as_str(), sub, "{category:?}");
            assert_eq!(e["outcome"], code);
            assert_eq!(e["outcomeDesc"].is_string(), outcome != AuditOutcome::Success);
            assert_eq!(e["recorded"], "2024-03-10T12:00:00.000Z");
            assert_eq!(e["agent"][0]["requestor"], false);
            assert_eq!(e["agent"][0]["who"]["display"], "Phone app");
            assert_eq!(e["agent"][0]["who"]["identifier"]["value"], "pc_123");
            assert!(e["source"]["observer"]["display"].is_string());
            assert_eq!(e["entity"][0]["what"]["reference"], "Patient/p1");
            assert_eq!(e["entity"][1]["type"]["code"], "Observation");
            assert_eq!(e["entity"][1]["detail"][0]["valueString"], "14");
            assert_eq!(e["entity"].as_array().map(Vec::len), Some(3));
        }
    }

    #[test]
    fn a_collection_holds_its_entries() {
        let b = collection(vec![json!({"resourceType": "AuditEvent"}); 3], Utc::now());
        assert_eq!((b["type"].as_str(), b["entry"].as_array().map(Vec::len)), (Some("collection"), Some(3)));
        assert!(b.get("total").is_none(), "bdl-1: total only on searchsets and histories");
    }
}
