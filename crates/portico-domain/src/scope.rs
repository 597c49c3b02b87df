//! SMART App Launch 2.0 scopes (`patient/Observation.rs`, `system/*.cruds`), with the v1 forms
//! (`.read`, `.write`, `.*`) accepted as aliases because many existing clients still send them, granular
//! scopes (`patient/Observation.rs?category=…|laboratory`), the identity and launch scopes a token request
//! may carry beside them ([`RequestedScopes`]), and their plain-words descriptions for consent pages
//! ([`describe`]).
//!
//! A scope keeps the syntax it was requested in: a client that asked for `patient/*.read` is answered
//! `patient/*.read`, not `patient/*.rs` (SMART: the token's `scope` lists what was granted in the requested
//! syntax), while permissions compare by meaning.

use std::fmt;

use portico_fhir::{type_def, ParamKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeContext {
    Patient,
    User,
    System,
}

impl ScopeContext {
    fn as_str(self) -> &'static str {
        match self {
            ScopeContext::Patient => "patient",
            ScopeContext::User => "user",
            ScopeContext::System => "system",
        }
    }
}

/// The FHIR interactions a scope can permit, in SMART v2 letter order `c r u d s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    const ORDER: [(Interaction, char); 5] = [
        (Interaction::Create, 'c'),
        (Interaction::Read, 'r'),
        (Interaction::Update, 'u'),
        (Interaction::Delete, 'd'),
        (Interaction::Search, 's'),
    ];

    fn bit(self) -> u8 {
        match self {
            Interaction::Create => 1,
            Interaction::Read => 2,
            Interaction::Update => 4,
            Interaction::Delete => 8,
            Interaction::Search => 16,
        }
    }

    pub fn letter(self) -> char {
        Interaction::ORDER.iter().find(|(i, _)| *i == self).map(|(_, c)| *c).unwrap_or('?')
    }
}

/// One scope: a context, a resource type (`None` = `*`), a set of permitted interactions and, for a
/// granular scope, the one category it is narrowed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub context: ScopeContext,
    pub resource_type: Option<String>,
    perms: u8,
    category: Option<Category>,
    /// Kept only to answer in the syntax that was asked; it never changes what the scope permits.
    syntax: Syntax,
}

/// How a scope's interactions were written: v1 words (`read`, `write`, `*`) or v2 letters (`cruds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Syntax {
    V1,
    Letters,
}

/// The `?category=` of a granular scope: `system|code`, or a bare `code` that matches in any system (as
/// the same value does in a FHIR token search).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category {
    pub system: Option<String>,
    pub code: String,
}

impl Category {
    /// The only search parameter a granular scope may carry: SMART's examples, US Core and the consent
    /// page all narrow by it, and one parameter means the categories of several scopes are simply ORed.
    pub const PARAM: &'static str = "category";

    fn parse(s: &str) -> Option<Category> {
        // Characters that would change a FHIR token search's meaning (`,` ORs, `\` escapes) or a query's
        // structure are refused rather than guessed at.
        let plain = |p: &str| {
            !p.is_empty() && !p.contains(|c: char| matches!(c, ',' | '\\' | '&' | '=' | '?' | '|') || c.is_whitespace())
        };
        match s.split_once('|') {
            Some((system, code)) if plain(system) && plain(code) => {
                Some(Category { system: Some(system.to_owned()), code: code.to_owned() })
            }
            None if plain(s) => Some(Category { system: None, code: s.to_owned() }),
            _ => None,
        }
    }

    /// True when every resource `other` admits is admitted by `self`: the same code, and `self` names no
    /// system or the same one.
    pub fn covers(&self, other: &Category) -> bool {
        self.code == other.code && (self.system.is_none() || self.system == other.system)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.system {
            Some(system) => write!(f, "{system}|{}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a SMART resource scope")]
pub struct ScopeError(pub String);

impl Scope {
    pub fn new(context: ScopeContext, resource_type: Option<&str>, interactions: &[Interaction]) -> Scope {
        Scope {
            context,
            resource_type: resource_type.map(str::to_owned),
            perms: interactions.iter().fold(0, |acc, i| acc | i.bit()),
            category: None,
            syntax: Syntax::Letters,
        }
    }

    /// The same scope narrowed to one category (`patient/Observation.rs` → `…?category=…`), as a consent
    /// page offers it; refused for `*` and for types without a `category` search parameter.
    pub fn with_category(&self, category: Category) -> Result<Scope, ScopeError> {
        let narrowed = Scope { category: Some(category), ..self.clone() };
        match &self.resource_type {
            Some(t) if has_category(t) => Ok(narrowed),
            _ => Err(ScopeError(narrowed.to_string())),
        }
    }

    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let err = || ScopeError(s.to_owned());
        let (body, query) = match s.split_once('?') {
            Some((body, query)) => (body, Some(query)),
            None => (s, None),
        };
        let (context, rest) = body.split_once('/').ok_or_else(err)?;
        let context = match context {
            "patient" => ScopeContext::Patient,
            "user" => ScopeContext::User,
            "system" => ScopeContext::System,
            _ => return Err(err()),
        };
        let (rtype, perms) = rest.split_once('.').ok_or_else(err)?;
        let resource_type = match rtype {
            "*" => None,
            t if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphabetic()) => Some(t.to_owned()),
            _ => return Err(err()),
        };
        let (perms, syntax) = match perms {
            "read" => (Interaction::Read.bit() | Interaction::Search.bit(), Syntax::V1),
            "write" => (Interaction::Create.bit() | Interaction::Update.bit() | Interaction::Delete.bit(), Syntax::V1),
            "*" => (ALL, Syntax::V1),
            letters => (parse_letters(letters).ok_or_else(err)?, Syntax::Letters),
        };
        // Only `?category=<token>` on a type that has the parameter: a filter Portico cannot enforce must
        // not parse, or the scope would silently grant the whole type.
        let category = match query {
            None => None,
            Some(q) => {
                let value = q.strip_prefix(Category::PARAM).and_then(|v| v.strip_prefix('=')).ok_or_else(err)?;
                if !resource_type.as_deref().is_some_and(has_category) {
                    return Err(err());
                }
                Some(Category::parse(value).ok_or_else(err)?)
            }
        };
        Ok(Scope { context, resource_type, perms, category, syntax })
    }

    pub fn permits(&self, interaction: Interaction) -> bool {
        self.perms & interaction.bit() != 0
    }

    /// The category a granular scope is narrowed to (`None`: every resource of its type).
    pub fn category(&self) -> Option<&Category> {
        self.category.as_ref()
    }

    /// True when everything `other` grants is granted by `self`.
    pub fn covers(&self, other: &Scope) -> bool {
        let category = match (&self.category, &other.category) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine.covers(theirs),
            (Some(_), None) => false,
        };
        self.context == other.context
            && (self.resource_type.is_none() || self.resource_type == other.resource_type)
            && other.perms & !self.perms == 0
            && category
    }

    fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_type.as_deref().is_none_or(|t| t == resource_type)
    }
}

const ALL: u8 = 31;

/// Does the type have the token search parameter a granular scope filters by? (The store enforces the
/// filter through that parameter's index.)
fn has_category(resource_type: &str) -> bool {
    type_def(resource_type).and_then(|td| td.param(Category::PARAM)).is_some_and(|p| p.kind == ParamKind::Token)
}

/// Letters must appear at most once each and in `cruds` order, as SMART v2 requires.
fn parse_letters(letters: &str) -> Option<u8> {
    let mut perms = 0u8;
    let mut next = 0;
    for c in letters.chars() {
        let pos = Interaction::ORDER[next..].iter().position(|(_, l)| *l == c)? + next;
        perms |= Interaction::ORDER[pos].0.bit();
        next = pos + 1;
    }
    (perms != 0).then_some(perms)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.", self.context.as_str(), self.resource_type.as_deref().unwrap_or("*"))?;
        // A v1 scope came from one of three words, each of which names exactly one set of letters.
        let word = match (self.syntax, self.perms) {
            (Syntax::V1, p) if p == Interaction::Read.bit() | Interaction::Search.bit() => Some("read"),
            (Syntax::V1, p) if p == Interaction::Create.bit() | Interaction::Update.bit() | Interaction::Delete.bit() => {
                Some("write")
            }
            (Syntax::V1, ALL) => Some("*"),
            _ => None,
        };
        match word {
            Some(w) => f.write_str(w)?,
            None => {
                for (i, c) in Interaction::ORDER {
                    if self.permits(i) {
                        write!(f, "{c}")?;
                    }
                }
            }
        }
        if let Some(c) = &self.category {
            write!(f, "?{}={c}", Category::PARAM)?;
        }
        Ok(())
    }
}

/// A set of scopes as carried by a token or allowed to a credential.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(pub Vec<Scope>);

impl ScopeSet {
    /// Parses a space-separated scope string. Empty → empty set.
    pub fn parse(s: &str) -> Result<ScopeSet, ScopeError> {
        s.split_whitespace().map(Scope::parse).collect::<Result<Vec<_>, _>>().map(ScopeSet)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes to grant: all of `allowed` when nothing was requested, else the requested scopes (as
    /// written), provided each of them is covered by an allowed one. A request that reaches beyond the
    /// allowance is refused whole (RFC 6749 `invalid_scope`) rather than silently trimmed, so a client never
    /// mistakes what it holds.
    pub fn grant(allowed: &ScopeSet, requested: &ScopeSet) -> Result<ScopeSet, ScopeError> {
        if requested.is_empty() {
            return Ok(allowed.clone());
        }
        for r in &requested.0 {
            if !allowed.0.iter().any(|a| a.covers(r)) {
                return Err(ScopeError(r.to_string()));
            }
        }
        Ok(requested.clone())
    }

    /// Does some scope permit `interaction` on `resource_type`, on all of the type or on some category of it?
    /// (Which resources then: [`ScopeSet::categories`].)
    pub fn allows(&self, resource_type: &str, interaction: Interaction) -> bool {
        self.0.iter().any(|s| s.applies_to(resource_type) && s.permits(interaction))
    }

    /// Which resources of `resource_type` the set admits for `interaction`: `None` when a scope that
    /// permits it has no category (every resource of the type), else the categories of the scopes that
    /// permit it, ORed, without repeats (empty when none permits it at all).
    pub fn categories(&self, resource_type: &str, interaction: Interaction) -> Option<Vec<&Category>> {
        let mut categories: Vec<&Category> = Vec::new();
        for s in self.0.iter().filter(|s| s.applies_to(resource_type) && s.permits(interaction)) {
            let c = s.category.as_ref()?;
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
        Some(categories)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(Scope::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

/// A scope string from a token or authorization request, sorted into what Portico understands: resource
/// scopes, and the identity, launch and refresh scopes SMART defines beside them. Anything else is kept in
/// `unknown` and left out of the grant (RFC 6749 §3.3 lets a server grant less than asked, and the token
/// response's `scope` then says what was granted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestedScopes {
    pub resources: ScopeSet,
    /// `openid`: an id_token.
    pub openid: bool,
    /// `fhirUser`: the id_token names the user's FHIR resource.
    pub fhir_user: bool,
    /// `profile`: the OpenID Connect profile claims.
    pub profile: bool,
    /// `launch`: an EHR launch's context.
    pub launch: bool,
    /// `launch/patient`: a patient in context for a standalone launch.
    pub launch_patient: bool,
    /// `offline_access`: a refresh token that outlives the user's session.
    pub offline: bool,
    /// `online_access`: a refresh token while the user is signed in.
    pub online: bool,
    /// Scopes Portico does not know or cannot enforce, in the order asked.
    pub unknown: Vec<String>,
}

/// Any one scope Portico understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmartScope {
    Resource(Scope),
    OpenId,
    FhirUser,
    Profile,
    Launch,
    LaunchPatient,
    OfflineAccess,
    OnlineAccess,
}

impl SmartScope {
    /// The non-resource scopes, each with its wire name, in the order a scope string lists them.
    const NAMED: [(SmartScope, &'static str); 7] = [
        (SmartScope::OpenId, "openid"),
        (SmartScope::FhirUser, "fhirUser"),
        (SmartScope::Profile, "profile"),
        (SmartScope::Launch, "launch"),
        (SmartScope::LaunchPatient, "launch/patient"),
        (SmartScope::OfflineAccess, "offline_access"),
        (SmartScope::OnlineAccess, "online_access"),
    ];

    pub fn parse(s: &str) -> Option<SmartScope> {
        match SmartScope::NAMED.iter().find(|(_, name)| *name == s) {
            Some((scope, _)) => Some(scope.clone()),
            None => Scope::parse(s).ok().map(SmartScope::Resource),
        }
    }

    /// What the scope lets an app do, in plain words for a consent page.
    pub fn describe(&self) -> String {
        match self {
            SmartScope::Resource(s) => words::resource(s),
            SmartScope::OpenId => "Know who you are".into(),
            SmartScope::FhirUser => "Know which record in Portico is you (your Patient or Practitioner record)".into(),
            SmartScope::Profile => "See your name and profile".into(),
            SmartScope::Launch => "Open with the record you are looking at in Portico".into(),
            SmartScope::LaunchPatient => "Know which patient's record you chose".into(),
            SmartScope::OfflineAccess => "Keep access when you are not using the app (up to 90 days)".into(),
            SmartScope::OnlineAccess => "Keep access while you are signed in".into(),
        }
    }
}

impl fmt::Display for SmartScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmartScope::Resource(s) => s.fmt(f),
            named => {
                let name = SmartScope::NAMED.iter().find(|(s, _)| s == named).map(|(_, n)| *n).unwrap_or_default();
                f.write_str(name)
            }
        }
    }
}

/// The categories a consent page offers as sub-scopes of a resource-level scope (`patient/Observation.rs` →
/// `…?category=<system>|laboratory`, SMART-CHECKLIST 17), each with what people call it. Empty for types
/// without well-known categories.
pub fn offered_categories(resource_type: &str) -> Vec<(Category, &'static str)> {
    words::CATEGORIES
        .iter()
        .filter(|(t, ..)| *t == resource_type)
        .map(|(_, system, code, noun)| (Category { system: Some((*system).to_owned()), code: (*code).to_owned() }, *noun))
        .collect()
}

/// Plain words for one scope string (`None` for a scope Portico does not know).
pub fn describe(scope: &str) -> Option<String> {
    SmartScope::parse(scope).map(|s| s.describe())
}

impl RequestedScopes {
    /// Never fails: what cannot be understood lands in `unknown`.
    pub fn parse(s: &str) -> RequestedScopes {
        let mut r = RequestedScopes::default();
        for part in s.split_whitespace() {
            match SmartScope::parse(part) {
                Some(SmartScope::Resource(scope)) => r.resources.0.push(scope),
                Some(SmartScope::OpenId) => r.openid = true,
                Some(SmartScope::FhirUser) => r.fhir_user = true,
                Some(SmartScope::Profile) => r.profile = true,
                Some(SmartScope::Launch) => r.launch = true,
                Some(SmartScope::LaunchPatient) => r.launch_patient = true,
                Some(SmartScope::OfflineAccess) => r.offline = true,
                Some(SmartScope::OnlineAccess) => r.online = true,
                None => r.unknown.push(part.to_owned()),
            }
        }
        r
    }

    /// Every understood scope: the resource scopes as requested, then the others in a fixed order.
    pub fn scopes(&self) -> Vec<SmartScope> {
        let flags = [self.openid, self.fhir_user, self.profile, self.launch, self.launch_patient, self.offline, self.online];
        let named = SmartScope::NAMED.iter().zip(flags).filter(|(_, on)| *on).map(|((s, _), _)| s.clone());
        self.resources.0.iter().cloned().map(SmartScope::Resource).chain(named).collect()
    }

    /// One plain-words line per understood scope, for a consent page.
    pub fn descriptions(&self) -> Vec<String> {
        self.scopes().iter().map(SmartScope::describe).collect()
    }
}

/// The understood scopes, space-separated (what a token response's `scope` says when all were granted).
impl fmt::Display for RequestedScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.scopes().iter().map(SmartScope::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

/// The consent page's vocabulary: what each resource type and category is called in everyday words.
mod words {
    use super::{Category, Interaction, Scope, ScopeContext};

    /// "Read and search your lab results (Observation: laboratory)".
    pub(super) fn resource(s: &Scope) -> String {
        let verbs = verbs(s);
        let shared = s.resource_type.as_deref().and_then(portico_fhir::type_def).is_some_and(|td| td.is_shared());
        let (noun, tail) = match (&s.resource_type, &s.category) {
            (None, _) => ("health records".to_owned(), String::new()),
            (Some(t), None) => (type_noun(t), String::new()),
            (Some(t), Some(c)) => {
                let noun =
                    category_noun(c).map(str::to_owned).unwrap_or_else(|| format!("{} in category {}", type_noun(t), c.code));
                (noun, format!(" ({t}: {})", c.code))
            }
        };
        let all = if s.resource_type.is_none() { "all " } else { "" };
        let object = match (s.context, shared) {
            // Organizations, practitioners and the like belong to no patient.
            (_, true) => noun,
            (ScopeContext::Patient, false) => format!("{all}your {noun}"),
            (ScopeContext::User, false) => format!("{all}{noun} of the patients you can see"),
            (ScopeContext::System, false) => format!("{all}{noun} of every patient the app is allowed, without you present"),
        };
        format!("{verbs} {object}{tail}")
    }

    /// "Read and search", "Create, change and delete", in the order people think of them.
    fn verbs(s: &Scope) -> String {
        let words: Vec<&str> = [
            (Interaction::Read, "read"),
            (Interaction::Search, "search"),
            (Interaction::Create, "create"),
            (Interaction::Update, "change"),
            (Interaction::Delete, "delete"),
        ]
        .into_iter()
        .filter(|(i, _)| s.permits(*i))
        .map(|(_, w)| w)
        .collect();
        let joined = match words.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => (*last).to_owned(),
            None => String::new(),
        };
        let mut chars = joined.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    }

    const OBSERVATION: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
    const CONDITION: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
    const US_CORE_CONDITION: &str = "http://hl7.org/fhir/us/core/CodeSystem/condition-category";

    /// The categories of Observation (observation-category) and Condition (condition-category, and US Core's
    /// health-concern) people recognise: (type, system, code, what they are called).
    pub(super) const CATEGORIES: &[(&str, &str, &str, &str)] = &[
        ("Observation", OBSERVATION, "laboratory", "lab results"),
        ("Observation", OBSERVATION, "vital-signs", "vital signs"),
        ("Observation", OBSERVATION, "social-history", "social history"),
        ("Observation", OBSERVATION, "survey", "survey and questionnaire answers"),
        ("Observation", OBSERVATION, "imaging", "imaging results"),
        ("Observation", OBSERVATION, "procedure", "procedure results"),
        ("Observation", OBSERVATION, "exam", "examination findings"),
        ("Observation", OBSERVATION, "therapy", "therapy results"),
        ("Observation", OBSERVATION, "activity", "activity data"),
        ("Condition", CONDITION, "problem-list-item", "problem list"),
        ("Condition", CONDITION, "encounter-diagnosis", "diagnoses from visits"),
        ("Condition", US_CORE_CONDITION, "health-concern", "health concerns"),
    ];

    fn category_noun(c: &Category) -> Option<&'static str> {
        CATEGORIES.iter().find(|(_, _, code, _)| *code == c.code).map(|(_, _, _, noun)| *noun)
    }

    fn type_noun(resource_type: &str) -> String {
        const NOUNS: &[(&str, &str)] = &[
            ("Patient", "patient record (name, birth date, contact details)"),
            ("Observation", "observations (lab results, vital signs and other measurements)"),
            ("Encounter", "visits"),
            ("Condition", "conditions"),
            ("Procedure", "procedures"),
            ("DiagnosticReport", "test reports"),
            ("MedicationRequest", "prescriptions"),
            ("Immunization", "immunizations"),
            ("AllergyIntolerance", "allergies"),
            ("CarePlan", "care plans"),
            ("CareTeam", "care teams"),
            ("Claim", "insurance claims"),
            ("ExplanationOfBenefit", "insurance statements"),
            ("DocumentReference", "documents"),
            ("Goal", "health goals"),
            ("Device", "medical devices"),
            ("MedicationDispense", "dispensed medications"),
            ("ServiceRequest", "orders and referrals"),
            ("Provenance", "record history"),
            ("ImagingStudy", "imaging studies"),
            ("Coverage", "insurance coverage"),
            ("RelatedPerson", "related people"),
            ("Specimen", "specimens"),
            ("QuestionnaireResponse", "questionnaire answers"),
            ("Media", "photos and media"),
            ("Organization", "organizations"),
            ("Practitioner", "practitioners"),
            ("Location", "locations"),
            ("PractitionerRole", "practitioner roles"),
            ("Endpoint", "endpoints"),
            ("Medication", "medications"),
        ];
        NOUNS
            .iter()
            .find(|(t, _)| *t == resource_type)
            .map(|(_, n)| (*n).to_owned())
            .unwrap_or_else(|| format!("{resource_type} records"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory";

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn parse_and_print_in_the_requested_syntax() {
        for (input, printed) in [
            ("patient/*.rs", Some("patient/*.rs")),
            ("patient/Observation.r", Some("patient/Observation.r")),
            ("system/*.cruds", Some("system/*.cruds")),
            // v1 is answered as v1.
            ("user/*.read", Some("user/*.read")),
            ("patient/*.write", Some("patient/*.write")),
            ("patient/*.*", Some("patient/*.*")),
            ("patient/Observation.read", Some("patient/Observation.read")),
            // Granular scopes: a category token, with or without its system.
            (&format!("patient/Observation.rs?category={LAB}"), Some(&format!("patient/Observation.rs?category={LAB}"))),
            ("patient/Observation.rs?category=vital-signs", Some("patient/Observation.rs?category=vital-signs")),
            ("user/Condition.r?category=problem-list-item", Some("user/Condition.r?category=problem-list-item")),
            ("patient/Observation.read?category=laboratory", Some("patient/Observation.read?category=laboratory")),
            ("patient/*.sr", None),
            ("patient/*.rr", None),
            ("patient/*.", None),
            ("launch/patient", None),
            ("openid", None),
            ("admin/*.rs", None),
            ("patient/Obs-1.rs", None),
            // A filter Portico cannot enforce does not parse, lest it grant the whole type.
            ("patient/*.rs?category=laboratory", None),
            ("patient/Patient.rs?category=laboratory", None),
            ("patient/Observation.rs?code=1234-5", None),
            ("patient/Observation.rs?category=laboratory&code=1234-5", None),
            ("patient/Observation.rs?category=laboratory,vital-signs", None),
            ("patient/Observation.rs?category=", None),
            ("patient/Observation.rs?category=|laboratory", None),
            ("patient/Observation.rs?category=http://x|", None),
            ("patient/Observation.rs?category=a|b|c", None),
            ("patient/Observation.rs?", None),
            ("patient/Observation.rs?category", None),
        ] {
            assert_eq!(Scope::parse(input).ok().map(|s| s.to_string()).as_deref(), printed, "{input}");
        }
    }

    #[test]
    fn v1_words_permit_what_their_letters_do() {
        for (v1, v2) in
            [("patient/*.read", "patient/*.rs"), ("patient/*.write", "patient/*.cud"), ("patient/*.*", "patient/*.cruds")]
        {
            let (a, b) = (Scope::parse(v1).unwrap(), Scope::parse(v2).unwrap());
            assert!(a.covers(&b) && b.covers(&a), "{v1} ~ {v2}");
        }
    }

    #[test]
    fn grant_is_requested_within_allowed_and_answered_as_requested() {
        let allowed = set("patient/*.rs");
        let lab = format!("patient/Observation.rs?category={LAB}");
        for (requested, granted) in [
            ("", Some("patient/*.rs")),
            ("patient/Observation.rs", Some("patient/Observation.rs")),
            ("patient/Observation.r patient/Patient.rs", Some("patient/Observation.r patient/Patient.rs")),
            ("patient/*.read", Some("patient/*.read")),
            ("patient/Observation.read patient/Condition.rs", Some("patient/Observation.read patient/Condition.rs")),
            (&lab, Some(&lab)),
            (
                "patient/Observation.rs?category=laboratory patient/Observation.rs?category=survey",
                Some("patient/Observation.rs?category=laboratory patient/Observation.rs?category=survey"),
            ),
            ("patient/*.cruds", None),
            ("patient/*.*", None),
            ("patient/*.write", None),
            ("system/*.rs", None),
            ("user/Observation.r", None),
            ("patient/Observation.c?category=laboratory", None),
        ] {
            let got = ScopeSet::grant(&allowed, &set(requested)).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), granted, "{requested}");
        }
    }

    #[test]
    fn a_category_narrows_and_is_covered_by_its_type_but_not_the_reverse() {
        let lab = format!("patient/Observation.rs?category={LAB}");
        for (holder, wanted, covered) in [
            ("patient/Observation.rs", lab.as_str(), true),
            ("patient/*.rs", &lab, true),
            ("patient/*.read", &lab, true),
            (&lab, &lab, true),
            // A bare code matches in any system, so it covers the same code with a system, not the reverse.
            ("patient/Observation.rs?category=laboratory", &lab, true),
            (&lab, "patient/Observation.rs?category=laboratory", false),
            (&lab, "patient/Observation.rs", false),
            (&lab, "patient/Observation.r", false),
            (&lab, "patient/Observation.rs?category=vital-signs", false),
            (&lab, "patient/Observation.r?category=laboratory", false),
            (&lab, &format!("patient/Observation.r?category={LAB}"), true),
            ("patient/Observation.rs?category=laboratory", "patient/Observation.rs?category=http://other|laboratory", true),
            (&format!("patient/Observation.rs?category={LAB}"), "patient/Observation.rs?category=http://other|laboratory", false),
            ("patient/Condition.rs", "patient/Observation.rs?category=laboratory", false),
            ("patient/Observation.r", &lab, false),
            ("user/Observation.rs", &lab, false),
        ] {
            let (h, w) = (Scope::parse(holder).unwrap(), Scope::parse(wanted).unwrap());
            assert_eq!(h.covers(&w), covered, "{holder} covers {wanted}");
        }
    }

    #[test]
    fn allows_checks_type_and_interaction() {
        let s = set("patient/Observation.rs patient/Patient.r patient/Condition.rs?category=problem-list-item");
        assert!(s.allows("Observation", Interaction::Search));
        assert!(s.allows("Patient", Interaction::Read));
        assert!(!s.allows("Patient", Interaction::Search));
        assert!(s.allows("Condition", Interaction::Read));
        assert!(!s.allows("Encounter", Interaction::Read));
        assert!(!s.allows("Observation", Interaction::Create));
    }

    #[test]
    fn categories_are_ored_and_any_unfiltered_scope_lifts_them() {
        let c = |code: &str| code.to_owned();
        for (scopes, rtype, interaction, want) in [
            ("patient/Observation.rs", "Observation", Interaction::Search, None),
            ("patient/Observation.rs?category=laboratory", "Observation", Interaction::Search, Some(vec![c("laboratory")])),
            (
                "patient/Observation.rs?category=laboratory patient/Observation.rs?category=social-history",
                "Observation",
                Interaction::Search,
                Some(vec![c("laboratory"), c("social-history")]),
            ),
            (
                "patient/Observation.rs?category=laboratory patient/Observation.r?category=laboratory",
                "Observation",
                Interaction::Read,
                Some(vec![c("laboratory")]),
            ),
            ("patient/Observation.rs?category=laboratory patient/*.rs", "Observation", Interaction::Search, None),
            ("patient/Observation.rs?category=laboratory patient/Observation.r", "Observation", Interaction::Read, None),
            // The unfiltered `.r` does not lift the filter on searching.
            (
                "patient/Observation.rs?category=laboratory patient/Observation.r",
                "Observation",
                Interaction::Search,
                Some(vec![c("laboratory")]),
            ),
            ("patient/Observation.rs?category=laboratory", "Condition", Interaction::Search, Some(vec![])),
            ("patient/Condition.rs?category=health-concern", "Observation", Interaction::Search, Some(vec![])),
            ("patient/Condition.rs?category=health-concern", "Condition", Interaction::Search, Some(vec![c("health-concern")])),
        ] {
            let got = set(scopes).categories(rtype, interaction).map(|cs| cs.iter().map(|c| c.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{scopes} / {rtype} {interaction:?}");
        }
    }

    #[test]
    fn requested_scopes_sort_identity_launch_and_unknown_apart() {
        let r = RequestedScopes::parse(
            "openid fhirUser launch/patient patient/*.read offline_access x-custom patient/Observation.rs?code=1 profile",
        );
        assert_eq!(r.resources, set("patient/*.read"));
        assert!(r.openid && r.fhir_user && r.launch_patient && r.offline && r.profile);
        assert!(!r.launch && !r.online);
        assert_eq!(r.unknown, vec!["x-custom".to_owned(), "patient/Observation.rs?code=1".to_owned()]);
        // The understood scopes, as requested; the unknown ones are not granted.
        assert_eq!(r.to_string(), "patient/*.read openid fhirUser profile launch/patient offline_access");

        for (input, printed) in [
            ("", ""),
            ("launch online_access", "launch online_access"),
            ("  patient/Observation.rs?category=laboratory   openid ", "patient/Observation.rs?category=laboratory openid"),
            ("launch/encounter", ""),
            ("OPENID Patient/*.rs", ""),
        ] {
            assert_eq!(RequestedScopes::parse(input).to_string(), printed, "{input}");
        }
    }

    #[test]
    fn describe_in_plain_words() {
        for (scope, words) in [
            (format!("patient/Observation.rs?category={LAB}"), "Read and search your lab results (Observation: laboratory)"),
            ("patient/Observation.rs?category=vital-signs".into(), "Read and search your vital signs (Observation: vital-signs)"),
            (
                "patient/Observation.r?category=xyz".into(),
                "Read your observations (lab results, vital signs and other measurements) in category xyz (Observation: xyz)",
            ),
            ("patient/Condition.r".into(), "Read your conditions"),
            (
                "patient/Condition.rs?category=problem-list-item".into(),
                "Read and search your problem list (Condition: problem-list-item)",
            ),
            ("patient/*.read".into(), "Read and search all your health records"),
            ("patient/*.rs".into(), "Read and search all your health records"),
            ("patient/MedicationRequest.cud".into(), "Create, change and delete your prescriptions"),
            (
                "patient/Observation.write".into(),
                "Create, change and delete your observations (lab results, vital signs and other measurements)",
            ),
            ("patient/*.cruds".into(), "Read, search, create, change and delete all your health records"),
            ("patient/Encounter.s".into(), "Search your visits"),
            ("user/Condition.rs".into(), "Read and search conditions of the patients you can see"),
            ("system/*.rs".into(), "Read and search all health records of every patient the app is allowed, without you present"),
            ("patient/Practitioner.r".into(), "Read practitioners"),
            ("openid".into(), "Know who you are"),
            ("fhirUser".into(), "Know which record in Portico is you (your Patient or Practitioner record)"),
            ("offline_access".into(), "Keep access when you are not using the app (up to 90 days)"),
            ("online_access".into(), "Keep access while you are signed in"),
            ("launch/patient".into(), "Know which patient's record you chose"),
        ] {
            assert_eq!(describe(&scope).as_deref(), Some(words), "{scope}");
        }
        assert_eq!(describe("x-custom"), None);
        let r = RequestedScopes::parse("openid patient/Condition.r offline_access");
        assert_eq!(
            r.descriptions(),
            ["Read your conditions", "Know who you are", "Keep access when you are not using the app (up to 90 days)"]
        );
    }

    #[test]
    fn offered_categories_make_granular_scopes_that_describe_themselves() {
        let obs = Scope::parse("patient/Observation.rs").unwrap();
        let offered = offered_categories("Observation");
        assert!(offered.len() >= 4, "{offered:?}");
        for (category, noun) in offered {
            let narrowed = obs.with_category(category).unwrap();
            assert!(obs.covers(&narrowed) && !narrowed.covers(&obs), "{narrowed}");
            let again = Scope::parse(&narrowed.to_string()).unwrap();
            assert_eq!(again, narrowed);
            assert!(describe(&again.to_string()).unwrap().contains(noun), "{again}");
        }
        assert_eq!(
            offered_categories("Condition").iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>(),
            [
                "http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item",
                "http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis",
                "http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern",
            ]
        );
        assert!(offered_categories("Patient").is_empty());
    }

    #[test]
    fn with_category_narrows_types_that_have_one() {
        let lab = Category { system: None, code: "laboratory".into() };
        let obs = Scope::parse("patient/Observation.rs").unwrap();
        assert_eq!(
            obs.with_category(lab.clone()).map(|s| s.to_string()),
            Ok("patient/Observation.rs?category=laboratory".into())
        );
        assert!(Scope::parse("patient/*.rs").unwrap().with_category(lab.clone()).is_err());
        assert!(Scope::parse("patient/Patient.rs").unwrap().with_category(lab).is_err());
    }
}
