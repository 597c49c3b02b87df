//! The table of resource types Portico stores and the R4 search parameters it supports for each.
//!
//! Everything the server knows about a type lives in this one table so that search, compartment
//! resolution and the CapabilityStatement cannot drift apart: adding a parameter here makes it
//! searchable and advertised at the same time.

/// The FHIR search parameter types Portico implements. Quantity, number, uri and composite
/// parameters are deliberately absent: nothing in the supported clients needs them yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Token,
    Date,
    Reference,
    String,
}

impl ParamKind {
    /// The lowercase code used in CapabilityStatement.rest.resource.searchParam.type.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::Token => "token",
            ParamKind::Date => "date",
            ParamKind::Reference => "reference",
            ParamKind::String => "string",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    /// Dotted element paths (arrays are flattened at every step). Choice types are spelled out
    /// concretely, e.g. `effectiveDateTime`, `effectivePeriod`.
    pub paths: &'static [&'static str],
    pub description: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TypeDef {
    pub name: &'static str,
    /// dotted paths whose Reference points at the owning Patient; empty = shared (non-patient) resource like Organization
    pub compartment: &'static [&'static str],
    /// type-specific params only (not _id/_lastUpdated)
    pub params: &'static [ParamDef],
}

impl TypeDef {
    /// The type-specific search parameter with this name, if any.
    pub fn param(&self, name: &str) -> Option<&'static ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Shared resources (Organization, Practitioner, …) belong to no patient and are visible to
    /// anyone allowed to read the type.
    pub fn is_shared(&self) -> bool {
        self.compartment.is_empty()
    }
}

const fn tok(name: &'static str, paths: &'static [&'static str], description: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Token, paths, description }
}
const fn date(name: &'static str, paths: &'static [&'static str], description: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Date, paths, description }
}
const fn refp(name: &'static str, paths: &'static [&'static str], description: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Reference, paths, description }
}
const fn string(name: &'static str, paths: &'static [&'static str], description: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::String, paths, description }
}

/// The parameters every type supports (FHIR "Resource" parameters). They are not in
/// `TypeDef::params` because they are evaluated on `id`/`meta` rather than on the element table.
pub static COMMON_PARAMS: &[ParamDef] = &[
    tok("_id", &["id"], "Logical id of this artifact"),
    date("_lastUpdated", &["meta.lastUpdated"], "When the resource version last changed"),
];

/// Patient-compartment parameters that are identical on many types.
const PATIENT_SUBJECT: ParamDef = refp("patient", &["subject"], "Who the resource is about (a Patient)");
const SUBJECT: ParamDef = refp("subject", &["subject"], "Who the resource is about");
const PATIENT_PATIENT: ParamDef = refp("patient", &["patient"], "The patient the resource is about");
const IDENTIFIER: ParamDef = tok("identifier", &["identifier"], "A business identifier");
const ENCOUNTER: ParamDef = refp("encounter", &["encounter"], "The Encounter this resource was created during");
const STATUS: ParamDef = tok("status", &["status"], "The status of the resource");

const ADDRESS: ParamDef =
    string("address", &["address"], "Any part of the address (line, city, district, state, postal code, country, text)");
const ADDRESS_CITY: ParamDef = string("address-city", &["address.city"], "A city specified in an address");
const ADDRESS_STATE: ParamDef = string("address-state", &["address.state"], "A state specified in an address");
const ADDRESS_POSTALCODE: ParamDef =
    string("address-postalcode", &["address.postalCode"], "A postal code specified in an address");
const TELECOM: ParamDef = tok("telecom", &["telecom"], "The value in any kind of telecom details");

static TYPES: &[TypeDef] = &[
    TypeDef {
        name: "Patient",
        // The Patient is its own compartment; `patient_of` special-cases it. `link.other` is the
        // R4 CompartmentDefinition entry (a linked Patient record).
        compartment: &["link.other"],
        params: &[
            IDENTIFIER,
            string("name", &["name"], "Any part of the name (family, given, prefix, suffix, text)"),
            string("family", &["name.family"], "A portion of the family name"),
            string("given", &["name.given"], "A portion of the given name"),
            date("birthdate", &["birthDate"], "The patient's date of birth"),
            tok("gender", &["gender"], "Gender of the patient"),
            tok("active", &["active"], "Whether the patient record is active"),
            date("death-date", &["deceasedDateTime"], "The date of death"),
            tok("deceased", &["deceasedBoolean"], "Whether the patient is recorded as deceased"),
            ADDRESS,
            ADDRESS_CITY,
            ADDRESS_STATE,
            ADDRESS_POSTALCODE,
            TELECOM,
            tok("language", &["communication.language"], "Language code (irrespective of use value)"),
            refp("general-practitioner", &["generalPractitioner"], "The patient's nominated general practitioner"),
            refp("organization", &["managingOrganization"], "The organization that is the custodian of the record"),
            refp("link", &["link.other"], "All patients linked to the given patient"),
        ],
    },
    TypeDef {
        name: "Observation",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("category", &["category"], "The classification of the type of observation"),
            tok("code", &["code"], "The code of the observation type"),
            tok("combo-code", &["code", "component.code"], "The code of the observation or a component"),
            tok("component-code", &["component.code"], "The component code of the observation type"),
            date(
                "date",
                &["effectiveDateTime", "effectivePeriod", "effectiveInstant"],
                "Obtained date/time (effective[x])",
            ),
            ENCOUNTER,
            refp("performer", &["performer"], "Who performed the observation"),
            refp("based-on", &["basedOn"], "Reference to the service request"),
            refp("part-of", &["partOf"], "Part of referenced event"),
            refp("derived-from", &["derivedFrom"], "Related measurements the observation is made from"),
            refp("has-member", &["hasMember"], "Related resource that belongs to the observation group"),
            refp("specimen", &["specimen"], "Specimen used for this observation"),
            refp("device", &["device"], "The Device that generated the observation data"),
            refp("focus", &["focus"], "The focus of an observation when it is not the subject"),
            tok("method", &["method"], "The method used for the observation"),
            tok("data-absent-reason", &["dataAbsentReason"], "The reason why the expected value is missing"),
            tok("value-concept", &["valueCodeableConcept"], "The value of the observation, if it is a CodeableConcept"),
            date("value-date", &["valueDateTime", "valuePeriod"], "The value of the observation, if it is a date or period"),
            string("value-string", &["valueString"], "The value of the observation, if it is a string"),
        ],
    },
    TypeDef {
        name: "Encounter",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("class", &["class"], "Classification of patient encounter"),
            tok("type", &["type"], "Specific type of encounter"),
            date("date", &["period"], "A date within the period the Encounter lasted"),
            refp("participant", &["participant.individual"], "Persons involved in the encounter other than the patient"),
            refp("practitioner", &["participant.individual"], "Persons involved in the encounter other than the patient"),
            tok("participant-type", &["participant.type"], "Role of participant in encounter"),
            refp("service-provider", &["serviceProvider"], "The organization (facility) responsible for this encounter"),
            refp("location", &["location.location"], "Location the encounter takes place"),
            tok("reason-code", &["reasonCode"], "Coded reason the encounter takes place"),
            refp("reason-reference", &["reasonReference"], "Reason the encounter takes place (reference)"),
            refp("part-of", &["partOf"], "Another Encounter this encounter is part of"),
            refp("episode-of-care", &["episodeOfCare"], "Episode(s) of care that this encounter should be recorded against"),
            refp("based-on", &["basedOn"], "The ServiceRequest that initiated this encounter"),
            refp("appointment", &["appointment"], "The appointment that scheduled this encounter"),
            refp("account", &["account"], "The set of accounts that may be used for billing for this Encounter"),
        ],
    },
    TypeDef {
        name: "Condition",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            tok("clinical-status", &["clinicalStatus"], "The clinical status of the condition"),
            tok("verification-status", &["verificationStatus"], "The verification status of the condition"),
            tok("category", &["category"], "The category of the condition"),
            tok("code", &["code"], "Code for the condition"),
            tok("severity", &["severity"], "The severity of the condition"),
            tok("body-site", &["bodySite"], "Anatomical location, if relevant"),
            date("onset-date", &["onsetDateTime", "onsetPeriod"], "Date related onsets (dateTime and Period)"),
            date(
                "abatement-date",
                &["abatementDateTime", "abatementPeriod"],
                "Date-related abatements (dateTime and period)",
            ),
            date("recorded-date", &["recordedDate"], "Date record was first recorded"),
            ENCOUNTER,
            refp("asserter", &["asserter"], "Person who asserts this condition"),
            refp("recorder", &["recorder"], "Who recorded the condition"),
            refp("evidence-detail", &["evidence.detail"], "Supporting information found elsewhere"),
        ],
    },
    TypeDef {
        name: "Procedure",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("code", &["code"], "A code to identify a procedure"),
            tok("category", &["category"], "Classification of the procedure"),
            date("date", &["performedDateTime", "performedPeriod"], "When the procedure was performed (performed[x])"),
            ENCOUNTER,
            refp("performer", &["performer.actor"], "The reference to the practitioner"),
            refp("location", &["location"], "Where the procedure happened"),
            tok("reason-code", &["reasonCode"], "Coded reason procedure performed"),
            refp("reason-reference", &["reasonReference"], "The justification that the procedure was performed"),
            refp("based-on", &["basedOn"], "A request for this procedure"),
            refp("part-of", &["partOf"], "Part of referenced event"),
        ],
    },
    TypeDef {
        name: "DiagnosticReport",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("category", &["category"], "Which diagnostic discipline/department created the report"),
            tok("code", &["code"], "The code for the report, as opposed to codes for the atomic results"),
            date("date", &["effectiveDateTime", "effectivePeriod"], "The clinically relevant time of the report (effective[x])"),
            date("issued", &["issued"], "When the report was issued"),
            ENCOUNTER,
            refp("performer", &["performer"], "Who is responsible for the report"),
            refp("results-interpreter", &["resultsInterpreter"], "Who was the source of the report"),
            refp("result", &["result"], "Link to an atomic result (Observation)"),
            refp("specimen", &["specimen"], "The specimen details"),
            refp("based-on", &["basedOn"], "Reference to the service request"),
            refp("media", &["media.link"], "A reference to the image source"),
            tok("conclusion", &["conclusionCode"], "A coded conclusion (interpretation/impression) on the report"),
        ],
    },
    TypeDef {
        name: "MedicationRequest",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("intent", &["intent"], "Returns prescriptions with different intents"),
            tok("category", &["category"], "Returns prescriptions with different categories"),
            tok("priority", &["priority"], "Returns prescriptions with different priorities"),
            tok("code", &["medicationCodeableConcept"], "Return prescriptions of this medication code"),
            refp("medication", &["medicationReference"], "Return prescriptions for this medication reference"),
            date("authoredon", &["authoredOn"], "Return prescriptions written on this date"),
            date("date", &["dosageInstruction.timing.event"], "Returns medication request to be administered on a specific date"),
            ENCOUNTER,
            refp("requester", &["requester"], "Returns prescriptions prescribed by this prescriber"),
            refp("intended-performer", &["performer"], "Returns the intended performer of the administration"),
        ],
    },
    TypeDef {
        name: "Immunization",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            STATUS,
            tok("vaccine-code", &["vaccineCode"], "Vaccine Product Administered"),
            date("date", &["occurrenceDateTime"], "Vaccination (non)-Administration Date"),
            refp("location", &["location"], "The service delivery location or facility in which the vaccine was / was to be administered"),
            refp("performer", &["performer.actor"], "The practitioner or organization who played a role in the vaccination"),
            refp("manufacturer", &["manufacturer"], "Vaccine Manufacturer"),
            string("lot-number", &["lotNumber"], "Vaccine Lot Number"),
            tok("reason-code", &["reasonCode"], "Reason why the vaccine was administered"),
            tok("status-reason", &["statusReason"], "Reason why the vaccine was not administered"),
            tok("target-disease", &["protocolApplied.targetDisease"], "The target disease the dose is being administered against"),
        ],
    },
    TypeDef {
        name: "AllergyIntolerance",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            tok("clinical-status", &["clinicalStatus"], "active | inactive | resolved"),
            tok("verification-status", &["verificationStatus"], "unconfirmed | confirmed | refuted | entered-in-error"),
            tok("type", &["type"], "allergy | intolerance - Underlying mechanism (if known)"),
            tok("category", &["category"], "food | medication | environment | biologic"),
            tok("criticality", &["criticality"], "low | high | unable-to-assess"),
            tok("code", &["code", "reaction.substance"], "Code that identifies the allergy or intolerance"),
            date("date", &["recordedDate"], "Date first version of the resource instance was recorded"),
            date("onset", &["reaction.onset"], "Date(/time) when manifestations showed"),
            date("last-date", &["lastOccurrence"], "Date(/time) of last known occurrence of a reaction"),
            tok("manifestation", &["reaction.manifestation"], "Clinical symptoms/signs associated with the Event"),
            tok("severity", &["reaction.severity"], "mild | moderate | severe (of event as a whole)"),
            tok("route", &["reaction.exposureRoute"], "How the subject was exposed to the substance"),
            refp("recorder", &["recorder"], "Who recorded the sensitivity"),
            refp("asserter", &["asserter"], "Source of the information about the allergy"),
        ],
    },
    TypeDef {
        name: "CarePlan",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("intent", &["intent"], "proposal | plan | order | option"),
            tok("category", &["category"], "Type of plan"),
            date("date", &["period"], "Time period plan covers"),
            ENCOUNTER,
            tok("activity-code", &["activity.detail.code"], "Detail type of activity"),
            date(
                "activity-date",
                &["activity.detail.scheduledTiming.event", "activity.detail.scheduledPeriod"],
                "Specified date occurs within period specified by CarePlan.activity.detail.scheduled[x]",
            ),
            refp("care-team", &["careTeam"], "Who's involved in plan?"),
            refp("condition", &["addresses"], "Health issues this plan addresses"),
            refp("goal", &["goal"], "Desired outcome of plan"),
            refp("based-on", &["basedOn"], "Fulfills CarePlan"),
            refp("part-of", &["partOf"], "Part of referenced CarePlan"),
            refp("replaces", &["replaces"], "CarePlan replaced by this CarePlan"),
            refp("performer", &["activity.detail.performer"], "Matches if the practitioner is listed as a performer in any of the activities"),
        ],
    },
    TypeDef {
        name: "CareTeam",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("category", &["category"], "Type of team"),
            date("date", &["period"], "Time period team covers"),
            ENCOUNTER,
            refp("participant", &["participant.member"], "Who is involved"),
        ],
    },
    TypeDef {
        name: "Claim",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            STATUS,
            tok("use", &["use"], "The kind of financial resource"),
            tok("priority", &["priority"], "Processing priority requested"),
            date("created", &["created"], "The creation date for the Claim"),
            refp("provider", &["provider"], "Provider responsible for the Claim"),
            refp("insurer", &["insurer"], "The target payor/insurer for the Claim"),
            refp("enterer", &["enterer"], "The party responsible for the entry of the Claim"),
            refp("facility", &["facility"], "Facility where the products or services have been or will be provided"),
            refp("care-team", &["careTeam.provider"], "Member of the CareTeam"),
            refp("encounter", &["item.encounter"], "Encounters associated with a billed line item"),
            refp("payee", &["payee.party"], "The party receiving any payment for the Claim"),
        ],
    },
    TypeDef {
        name: "ExplanationOfBenefit",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            STATUS,
            date("created", &["created"], "The creation date for the EOB"),
            refp("provider", &["provider"], "The reference to the provider"),
            refp("claim", &["claim"], "The reference to the claim"),
            refp("coverage", &["insurance.coverage"], "The plan under which the claim was adjudicated"),
            refp("care-team", &["careTeam.provider"], "Member of the CareTeam"),
            refp("encounter", &["item.encounter"], "Encounters associated with a billed line item"),
            refp("enterer", &["enterer"], "The party responsible for the entry of the Claim"),
            refp("facility", &["facility"], "Facility responsible for the goods and services"),
            refp("payee", &["payee.party"], "The party receiving any payment for the Claim"),
            string("disposition", &["disposition"], "The contents of the disposition message"),
        ],
    },
    TypeDef {
        name: "DocumentReference",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("category", &["category"], "Categorization of document"),
            tok("type", &["type"], "Kind of document (LOINC if possible)"),
            date("date", &["date"], "When this document reference was created"),
            date("period", &["context.period"], "Time of service that is being documented"),
            refp("encounter", &["context.encounter"], "Context of the document content"),
            refp("author", &["author"], "Who and/or what authored the document"),
            refp("authenticator", &["authenticator"], "Who/what authenticated the document"),
            refp("custodian", &["custodian"], "Organization which maintains the document"),
            tok("contenttype", &["content.attachment.contentType"], "Mime type of the content, with charset etc."),
            tok("format", &["content.format"], "Format/content rules for the document"),
            tok("language", &["content.attachment.language"], "Human language of the content (BCP-47)"),
            tok("setting", &["context.practiceSetting"], "Additional details about where the content was created (e.g. clinical specialty)"),
            tok("facility", &["context.facilityType"], "Kind of facility where patient was seen"),
            tok("event", &["context.event"], "Main clinical acts documented"),
            refp("related", &["context.related"], "Related identifiers or resources"),
            refp("relatesto", &["relatesTo.target"], "Target of the relationship"),
            string("description", &["description"], "Human-readable description"),
        ],
    },
    TypeDef {
        name: "Goal",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            tok("lifecycle-status", &["lifecycleStatus"], "proposed | planned | accepted | active | on-hold | completed | cancelled | entered-in-error | rejected"),
            tok("achievement-status", &["achievementStatus"], "in-progress | improving | worsening | no-change | achieved | sustaining | not-achieved | no-progress | not-attainable"),
            tok("category", &["category"], "E.g. Treatment, dietary, behavioral, etc."),
            date("start-date", &["startDate"], "When goal pursuit begins"),
            date("target-date", &["target.dueDate"], "Reach goal on or before"),
        ],
    },
    TypeDef {
        name: "Device",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            STATUS,
            tok("type", &["type"], "The type of the device"),
            string("device-name", &["deviceName.name", "type.text", "type.coding.display"], "A server defined search that may match any of the string fields in Device.deviceName or Device.type"),
            string("manufacturer", &["manufacturer"], "The manufacturer of the device"),
            string("model", &["modelNumber"], "The model of the device"),
            string("udi-carrier", &["udiCarrier.carrierHRF"], "UDI Barcode (RFID or other technology) string in HRF format"),
            string("udi-di", &["udiCarrier.deviceIdentifier"], "The udi Device Identifier (DI)"),
            refp("organization", &["owner"], "The organization responsible for the device"),
            refp("location", &["location"], "A location, where the resource is found"),
        ],
    },
    TypeDef {
        name: "MedicationDispense",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("code", &["medicationCodeableConcept"], "Returns dispenses of this medicine code"),
            refp("medication", &["medicationReference"], "Returns dispenses of this medicine resource"),
            tok("type", &["type"], "Returns dispenses of a specific type"),
            refp("performer", &["performer.actor"], "Returns dispenses performed by a specific individual"),
            refp("prescription", &["authorizingPrescription"], "Multiple Resources: The identity of a prescription to list dispenses from"),
            refp("receiver", &["receiver"], "The identity of a receiver to list dispenses for"),
            refp("destination", &["destination"], "Returns dispenses that should be sent to a specific destination"),
            refp("context", &["context"], "Returns dispenses with a specific context (episode or episode of care)"),
            date("whenhandedover", &["whenHandedOver"], "Returns dispenses handed over on this date"),
            date("whenprepared", &["whenPrepared"], "Returns dispenses prepared on this date"),
        ],
    },
    TypeDef {
        name: "ServiceRequest",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("intent", &["intent"], "proposal | plan | directive | order | original-order | reflex-order | filler-order | instance-order | option"),
            tok("category", &["category"], "Classification of service"),
            tok("code", &["code"], "What is being requested/ordered"),
            tok("priority", &["priority"], "routine | urgent | asap | stat"),
            tok("body-site", &["bodySite"], "Where procedure is going to be done"),
            date("authored", &["authoredOn"], "Date request signed"),
            date("occurrence", &["occurrenceDateTime", "occurrencePeriod", "occurrenceTiming.event"], "When service should occur"),
            ENCOUNTER,
            refp("requester", &["requester"], "Who/what is requesting service"),
            refp("performer", &["performer"], "Requested performer"),
            refp("based-on", &["basedOn"], "What request fulfills"),
            refp("replaces", &["replaces"], "What request replaces"),
            refp("specimen", &["specimen"], "Specimen to be tested"),
            tok("requisition", &["requisition"], "Composite Request ID"),
        ],
    },
    TypeDef {
        name: "Provenance",
        compartment: &["target"],
        params: &[
            refp("patient", &["target"], "Target Reference(s) (usually version specific) that are Patients"),
            refp("target", &["target"], "Target Reference(s) (usually version specific)"),
            refp("agent", &["agent.who"], "Who participated"),
            tok("agent-type", &["agent.type"], "How the agent participated"),
            tok("agent-role", &["agent.role"], "What the agents role was"),
            refp("entity", &["entity.what"], "Identity of entity"),
            refp("location", &["location"], "Where the activity occurred, if relevant"),
            date("recorded", &["recorded"], "When the activity was recorded / updated"),
            date("when", &["occurredDateTime", "occurredPeriod"], "When the activity occurred"),
            tok("signature-type", &["signature.type"], "Indication of the reason the entity signed the object(s)"),
        ],
    },
    TypeDef {
        name: "ImagingStudy",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            date("started", &["started"], "When the study was started"),
            tok("modality", &["series.modality"], "The modality of the series"),
            tok("bodysite", &["series.bodySite"], "The body site studied"),
            tok("reason", &["reasonCode"], "The reason for the study"),
            tok("series", &["series.uid"], "DICOM Series Instance UID for a series"),
            tok("instance", &["series.instance.uid"], "SOP Instance UID for an instance"),
            tok("dicom-class", &["series.instance.sopClass"], "The type of the instance"),
            ENCOUNTER,
            refp("basedon", &["basedOn"], "The order for the image"),
            refp("endpoint", &["endpoint", "series.endpoint"], "The endpoint for the study or series"),
            refp("interpreter", &["interpreter"], "Who interpreted the images"),
            refp("performer", &["series.performer.actor"], "The person who performed the study"),
            refp("referrer", &["referrer"], "The referring physician"),
        ],
    },
    TypeDef {
        name: "Coverage",
        compartment: &["beneficiary"],
        params: &[
            refp("patient", &["beneficiary"], "Retrieve coverages for a patient"),
            refp("beneficiary", &["beneficiary"], "Covered party"),
            IDENTIFIER,
            STATUS,
            tok("type", &["type"], "The kind of coverage (health plan, auto, Workers Compensation)"),
            refp("payor", &["payor"], "The identity of the insurer or party paying for services"),
            refp("policy-holder", &["policyHolder"], "Reference to the policyholder"),
            refp("subscriber", &["subscriber"], "Reference to the subscriber"),
            tok("class-type", &["class.type"], "Coverage class (eg. plan, group)"),
            string("class-value", &["class.value"], "Value of the class (eg. Plan number, group number)"),
            string("dependent", &["dependent"], "Dependent number"),
        ],
    },
    TypeDef {
        name: "RelatedPerson",
        compartment: &["patient"],
        params: &[
            PATIENT_PATIENT,
            IDENTIFIER,
            string("name", &["name"], "A server defined search that may match any of the string fields in the HumanName"),
            tok("relationship", &["relationship"], "The relationship between the patient and the relatedperson"),
            tok("gender", &["gender"], "Gender of the related person"),
            date("birthdate", &["birthDate"], "The Related Person's date of birth"),
            tok("active", &["active"], "Indicates if the related person record is active"),
            ADDRESS,
            ADDRESS_CITY,
            ADDRESS_STATE,
            ADDRESS_POSTALCODE,
            TELECOM,
        ],
    },
    TypeDef {
        name: "Specimen",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("type", &["type"], "The specimen type"),
            tok("accession", &["accessionIdentifier"], "The accession number associated with the specimen"),
            tok("bodysite", &["collection.bodySite"], "The code for the body site from where the specimen originated"),
            date("collected", &["collection.collectedDateTime", "collection.collectedPeriod"], "The date the specimen was collected"),
            refp("collector", &["collection.collector"], "Who collected the specimen"),
            refp("parent", &["parent"], "The parent of the specimen"),
        ],
    },
    TypeDef {
        name: "QuestionnaireResponse",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            date("authored", &["authored"], "When the questionnaire response was last changed"),
            refp("author", &["author"], "The author of the questionnaire response"),
            ENCOUNTER,
            refp("based-on", &["basedOn"], "Plan/proposal/order fulfilled by this questionnaire response"),
            refp("part-of", &["partOf"], "Procedure or observation this questionnaire response was performed as a part of"),
            refp("source", &["source"], "The individual providing the information reflected in the questionnaire respose"),
            refp("questionnaire", &["questionnaire"], "The questionnaire the answers are provided for"),
        ],
    },
    TypeDef {
        name: "Media",
        compartment: &["subject"],
        params: &[
            PATIENT_SUBJECT,
            SUBJECT,
            IDENTIFIER,
            STATUS,
            tok("type", &["type"], "Classification of media as image, video, or audio"),
            tok("modality", &["modality"], "The type of acquisition equipment/process"),
            tok("view", &["view"], "Imaging view, e.g. Lateral or Antero-posterior"),
            tok("site", &["bodySite"], "Observed body part"),
            date("created", &["createdDateTime", "createdPeriod"], "When Media was collected"),
            ENCOUNTER,
            refp("operator", &["operator"], "The person who generated the image"),
            refp("device", &["device"], "Observing Device"),
            refp("based-on", &["basedOn"], "Procedure that caused this media to be created"),
        ],
    },
    // Shared resources: no owning patient.
    TypeDef {
        name: "Organization",
        compartment: &[],
        params: &[
            IDENTIFIER,
            string("name", &["name", "alias"], "A portion of the organization's name or alias"),
            tok("type", &["type"], "A code for the type of organization"),
            tok("active", &["active"], "Is the Organization record active"),
            ADDRESS,
            ADDRESS_CITY,
            ADDRESS_STATE,
            ADDRESS_POSTALCODE,
            refp("partof", &["partOf"], "An organization of which this organization forms a part"),
            refp("endpoint", &["endpoint"], "Technical endpoints providing access to services operated for the organization"),
        ],
    },
    TypeDef {
        name: "Practitioner",
        compartment: &[],
        params: &[
            IDENTIFIER,
            string("name", &["name"], "A server defined search that may match any of the string fields in the HumanName"),
            string("family", &["name.family"], "A portion of the family name"),
            string("given", &["name.given"], "A portion of the given name"),
            tok("gender", &["gender"], "Gender of the practitioner"),
            tok("active", &["active"], "Whether the practitioner record is active"),
            tok("communication", &["communication"], "One of the languages that the practitioner can communicate with"),
            ADDRESS,
            ADDRESS_CITY,
            ADDRESS_STATE,
            ADDRESS_POSTALCODE,
            TELECOM,
        ],
    },
    TypeDef {
        name: "Location",
        compartment: &[],
        params: &[
            IDENTIFIER,
            STATUS,
            string("name", &["name", "alias"], "A portion of the location's name or alias"),
            tok("type", &["type"], "A code for the type of location"),
            tok("operational-status", &["operationalStatus"], "Searches for locations (typically bed/room) that have an operational status"),
            ADDRESS,
            ADDRESS_CITY,
            ADDRESS_STATE,
            ADDRESS_POSTALCODE,
            refp("organization", &["managingOrganization"], "Searches for locations that are managed by the provided organization"),
            refp("partof", &["partOf"], "A location of which this location is a part"),
            refp("endpoint", &["endpoint"], "Technical endpoints providing access to services operated for the location"),
        ],
    },
    TypeDef {
        name: "PractitionerRole",
        compartment: &[],
        params: &[
            IDENTIFIER,
            refp("practitioner", &["practitioner"], "Practitioner that is able to provide the defined services for the organization"),
            refp("organization", &["organization"], "The identity of the organization the practitioner represents / acts on behalf of"),
            tok("role", &["code"], "The practitioner can perform this role at for the organization"),
            tok("specialty", &["specialty"], "The practitioner has this specialty at an organization"),
            tok("active", &["active"], "Whether this practitioner role record is in active use"),
            date("date", &["period"], "The period during which the practitioner is authorized to perform in these role(s)"),
            refp("location", &["location"], "One of the locations at which this practitioner provides care"),
            refp("service", &["healthcareService"], "The list of healthcare services that this worker provides for this role's Organization/Location(s)"),
            refp("endpoint", &["endpoint"], "Technical endpoints providing access to services operated for the practitioner with this role"),
            TELECOM,
        ],
    },
    TypeDef {
        name: "Endpoint",
        compartment: &[],
        params: &[
            IDENTIFIER,
            STATUS,
            string("name", &["name"], "A name that this endpoint can be identified by"),
            tok("connection-type", &["connectionType"], "Protocol/Profile/Standard to be used with this endpoint connection"),
            tok("payload-type", &["payloadType"], "The type of content that may be used at this endpoint"),
            refp("organization", &["managingOrganization"], "The organization that is managing the endpoint"),
        ],
    },
    TypeDef {
        name: "Medication",
        compartment: &[],
        params: &[
            IDENTIFIER,
            STATUS,
            tok("code", &["code"], "Returns medications for a specific code"),
            tok("form", &["form"], "Returns medications for a specific dose form"),
            refp("manufacturer", &["manufacturer"], "Returns medications made or sold for this manufacturer"),
            refp("ingredient", &["ingredient.itemReference"], "Returns medications for this ingredient reference"),
            tok("ingredient-code", &["ingredient.itemCodeableConcept"], "Returns medications for this ingredient code"),
            tok("lot-number", &["batch.lotNumber"], "Returns medications in a batch with this lot number"),
            date("expiration-date", &["batch.expirationDate"], "Returns medications in a batch with this expiration date"),
        ],
    },
];

/// The definition of a supported resource type, or None for types Portico does not store.
pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| t.name == name)
}

/// Every supported type, patient-compartment types first, then shared ones.
pub fn supported_types() -> &'static [TypeDef] {
    TYPES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for t in supported_types() {
            assert!(names.insert(t.name), "duplicate type {}", t.name);
            let mut params = std::collections::HashSet::new();
            for p in t.params {
                assert!(params.insert(p.name), "duplicate param {}.{}", t.name, p.name);
                assert!(!p.paths.is_empty() && !p.description.is_empty());
                assert!(!p.name.starts_with('_'), "{}.{} shadows a common parameter", t.name, p.name);
            }
            if !t.is_shared() {
                let patient = t.param("patient");
                assert!(
                    matches!(patient, Some(ParamDef { kind: ParamKind::Reference, .. })) || t.name == "Patient",
                    "{} lacks a patient reference parameter",
                    t.name
                );
            }
        }
        assert_eq!(supported_types().len(), 31);
    }

    #[test]
    fn required_params_exist() {
        let check = |ty: &str, param: &str, kind: ParamKind| {
            let def = type_def(ty).and_then(|t| t.param(param));
            assert_eq!(def.map(|d| d.kind), Some(kind), "{ty}.{param}");
        };
        for (ty, param) in [
            ("Observation", "date"),
            ("Encounter", "date"),
            ("Procedure", "date"),
            ("DiagnosticReport", "date"),
            ("Immunization", "date"),
            ("AllergyIntolerance", "date"),
            ("CarePlan", "date"),
            ("CareTeam", "date"),
            ("DocumentReference", "date"),
            ("Condition", "onset-date"),
            ("Condition", "recorded-date"),
            ("MedicationRequest", "authoredon"),
            ("Claim", "created"),
            ("ExplanationOfBenefit", "created"),
            ("Patient", "birthdate"),
        ] {
            check(ty, param, ParamKind::Date);
        }
        for (ty, param) in [
            ("Condition", "clinical-status"),
            ("AllergyIntolerance", "clinical-status"),
            ("Observation", "code"),
            ("Observation", "category"),
            ("Observation", "status"),
            ("Patient", "gender"),
            ("Patient", "identifier"),
        ] {
            check(ty, param, ParamKind::Token);
        }
        for param in ["name", "family", "given"] {
            check("Patient", param, ParamKind::String);
        }
        for t in supported_types().iter().filter(|t| t.compartment.contains(&"subject")) {
            check(t.name, "subject", ParamKind::Reference);
        }
    }
}
