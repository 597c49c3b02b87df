//! SMART App Launch 2.0 scopes (`patient/Observation.rs`, `system/*.cruds`), with the v1 forms
//! (`.read`, `.write`, `.*`) accepted as aliases because many existing clients still send them.

use std::fmt;

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

/// One scope: a context, a resource type (`None` = `*`) and a set of permitted interactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub context: ScopeContext,
    pub resource_type: Option<String>,
    perms: u8,
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
        }
    }

    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let err = || ScopeError(s.to_owned());
        let (context, rest) = s.split_once('/').ok_or_else(err)?;
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
        let perms = match perms {
            "read" => Interaction::Read.bit() | Interaction::Search.bit(),
            "write" => Interaction::Create.bit() | Interaction::Update.bit() | Interaction::Delete.bit(),
            "*" => 31,
            letters => parse_letters(letters).ok_or_else(err)?,
        };
        Ok(Scope { context, resource_type, perms })
    }

    pub fn permits(&self, interaction: Interaction) -> bool {
        self.perms & interaction.bit() != 0
    }

    /// True when everything `other` grants is granted by `self`.
    pub fn covers(&self, other: &Scope) -> bool {
        self.context == other.context
            && (self.resource_type.is_none() || self.resource_type == other.resource_type)
            && other.perms & !self.perms == 0
    }

    fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_type.as_deref().is_none_or(|t| t == resource_type)
    }
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
        for (i, c) in Interaction::ORDER {
            if self.permits(i) {
                write!(f, "{c}")?;
            }
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

    /// The scopes to grant: all of `allowed` when nothing was requested, else the requested scopes, provided
    /// each of them is covered by an allowed one. A request that reaches beyond the allowance is refused whole
    /// (RFC 6749 `invalid_scope`) rather than silently trimmed, so a client never mistakes what it holds.
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

    pub fn allows(&self, resource_type: &str, interaction: Interaction) -> bool {
        self.0.iter().any(|s| s.applies_to(resource_type) && s.permits(interaction))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(Scope::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn parse_and_print() {
        for (input, printed) in [
            ("patient/*.rs", Some("patient/*.rs")),
            ("patient/Observation.r", Some("patient/Observation.r")),
            ("system/*.cruds", Some("system/*.cruds")),
            ("user/*.read", Some("user/*.rs")),
            ("patient/*.write", Some("patient/*.cud")),
            ("patient/*.*", Some("patient/*.cruds")),
            ("patient/*.sr", None),
            ("patient/*.rr", None),
            ("patient/*.", None),
            ("launch/patient", None),
            ("openid", None),
            ("admin/*.rs", None),
            ("patient/Obs-1.rs", None),
        ] {
            assert_eq!(Scope::parse(input).ok().map(|s| s.to_string()).as_deref(), printed, "{input}");
        }
    }

    #[test]
    fn grant_is_requested_within_allowed() {
        let allowed = set("patient/*.rs");
        for (requested, granted) in [
            ("", Some("patient/*.rs")),
            ("patient/Observation.rs", Some("patient/Observation.rs")),
            ("patient/Observation.r patient/Patient.rs", Some("patient/Observation.r patient/Patient.rs")),
            ("patient/*.read", Some("patient/*.rs")),
            ("patient/*.cruds", None),
            ("system/*.rs", None),
            ("user/Observation.r", None),
        ] {
            let got = ScopeSet::grant(&allowed, &set(requested)).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), granted, "{requested}");
        }
    }

    #[test]
    fn allows_checks_type_and_interaction() {
        let s = set("patient/Observation.rs patient/Patient.r");
        assert!(s.allows("Observation", Interaction::Search));
        assert!(s.allows("Patient", Interaction::Read));
        assert!(!s.allows("Patient", Interaction::Search));
        assert!(!s.allows("Condition", Interaction::Read));
        assert!(!s.allows("Observation", Interaction::Create));
    }
}
