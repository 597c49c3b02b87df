//! What a person picking a patient sees of a Patient resource: the display name, the words a name search
//! matches, the birth date, the gender and the medical record number (MRN). Extracted once when the Patient
//! is written (a store keeps them in a directory), so a picker never parses Patient JSON per keystroke.

use serde_json::{json, Value};

use crate::search::fold;

/// The HL7 v2 identifier type (table 0203) of a medical record number.
pub const MRN_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub const MRN_TYPE_CODE: &str = "MR";

/// One Patient as a picker lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatientCard {
    /// [`display_name`]: "Given Family" from the first HumanName, or its text.
    pub name: String,
    /// The display name folded (case and accents), for ordering.
    pub sort_key: String,
    /// Every folded word of every HumanName's text, given and family names (not prefixes or suffixes such as
    /// "Mr." or "PharmD"), sorted and without duplicates. A hyphenated or apostrophised word is also listed
    /// by its parts and joined ("Smith-Jones": "smith-jones", "smith", "jones", "smithjones").
    pub words: Vec<String>,
    /// `birthDate` as written (YYYY, YYYY-MM or YYYY-MM-DD), when it is a string.
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// [`mrn`].
    pub mrn: Option<String>,
}

/// The picker's view of a Patient resource.
pub fn card(patient: &Value) -> PatientCard {
    let name = display_name(patient);
    let mut words = Vec::new();
    for n in patient["name"].as_array().into_iter().flatten() {
        let parts = n["text"]
            .as_str()
            .into_iter()
            .chain(n["family"].as_str())
            .chain(n["given"].as_array().into_iter().flatten().filter_map(Value::as_str));
        for part in parts {
            name_words(part, &mut words);
        }
    }
    words.sort();
    words.dedup();
    PatientCard {
        sort_key: fold(&name),
        name,
        words,
        birth_date: patient["birthDate"].as_str().map(str::to_owned),
        gender: patient["gender"].as_str().map(str::to_owned),
        mrn: mrn(patient).map(str::to_owned),
    }
}

/// "Given Family" from the first HumanName, falling back to its text.
pub fn display_name(patient: &Value) -> String {
    let name = &patient["name"][0];
    if let Some(t) = name["text"].as_str() {
        return t.to_owned();
    }
    let given: Vec<&str> = name["given"].as_array().map(|a| a.iter().filter_map(|g| g.as_str()).collect()).unwrap_or_default();
    let family = name["family"].as_str().unwrap_or("");
    let full = format!("{} {family}", given.join(" "));
    full.trim().to_owned()
}

/// The value of the first identifier whose type has the code `MR` (a medical record number).
pub fn mrn(patient: &Value) -> Option<&str> {
    patient["identifier"]
        .as_array()?
        .iter()
        .filter(|i| is_mrn(i))
        .find_map(|i| i["value"].as_str().map(str::trim).filter(|v| !v.is_empty()))
}

fn is_mrn(identifier: &Value) -> bool {
    identifier["type"]["coding"].as_array().is_some_and(|cs| cs.iter().any(|c| c["code"].as_str() == Some(MRN_TYPE_CODE)))
}

/// Gives the Patient the medical record number `value` under `system`: every MR identifier it has is set to
/// them, or a new identifier of that type is added when it has none.
pub fn set_mrn(patient: &mut Value, system: &str, value: &str) {
    let mut found = false;
    if let Some(ids) = patient.get_mut("identifier").and_then(Value::as_array_mut) {
        for i in ids.iter_mut().filter(|i| is_mrn(i)) {
            i["system"] = json!(system);
            i["value"] = json!(value);
            found = true;
        }
    }
    if found {
        return;
    }
    let identifier = json!({
        "type": {"coding": [{"system": MRN_TYPE_SYSTEM, "code": MRN_TYPE_CODE, "display": "Medical record number"}], "text": "Medical record number"},
        "system": system,
        "value": value,
    });
    match patient.get_mut("identifier").and_then(Value::as_array_mut) {
        Some(ids) => ids.push(identifier),
        None => {
            if let Some(o) = patient.as_object_mut() {
                o.insert("identifier".into(), json!([identifier]));
            }
        }
    }
}

/// The folded words of one name part, split at spaces and punctuation; a word with inner `-` or `'` is kept
/// whole, in parts and joined.
fn name_words(part: &str, out: &mut Vec<String>) {
    for word in fold(part).split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '(' | ')' | '/' | '"')) {
        let word = word.trim_matches(|c: char| matches!(c, '-' | '\'' | '’'));
        if word.is_empty() {
            continue;
        }
        let joins = |c: char| matches!(c, '-' | '\'' | '’');
        if word.contains(joins) {
            out.extend(word.split(joins).filter(|p| !p.is_empty()).map(str::to_owned));
            out.push(word.replace(joins, ""));
        }
        out.push(word.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_of_a_synthea_patient() {
        let p = json!({
            "resourceType": "Patient",
            "id": "p1",
            "name": [
                {"use": "official", "family": "Schimmel", "given": ["Patria"], "prefix": ["Mrs."]},
                {"use": "maiden", "family": "Corkery", "given": ["Patria"]}
            ],
            "birthDate": "1974-05-21",
            "gender": "female",
            "identifier": [
                {"system": "https://github.com/synthetichealth/synthea", "value": "d2f8"},
                {"type": {"coding": [{"system": MRN_TYPE_SYSTEM, "code": "MR"}]}, "system": "http://hospital", "value": "MRN-77"},
                {"type": {"coding": [{"code": "SS"}]}, "value": "999-52-8905"}
            ]
        });
        let c = card(&p);
        assert_eq!(c.name, "Patria Schimmel");
        assert_eq!(c.sort_key, "patria schimmel");
        assert_eq!(c.words, ["corkery", "patria", "schimmel"]);
        assert_eq!(c.birth_date.as_deref(), Some("1974-05-21"));
        assert_eq!(c.gender.as_deref(), Some("female"));
        assert_eq!(c.mrn.as_deref(), Some("MRN-77"));
    }

    #[test]
    fn words_fold_accents_and_split_joined_names() {
        let c = card(&json!({"name": [{"text": "Zoë García-Núñez O'Brien", "family": "García-Núñez", "given": ["Zoë"]}]}));
        assert_eq!(c.name, "Zoë García-Núñez O'Brien");
        assert_eq!(c.sort_key, "zoe garcia-nunez o'brien");
        assert_eq!(c.words, ["brien", "garcia", "garcia-nunez", "garcianunez", "nunez", "o", "o'brien", "obrien", "zoe"]);
        assert_eq!(c.mrn, None);
        assert_eq!(card(&json!({})), PatientCard::default());
    }

    #[test]
    fn set_mrn_replaces_or_adds() {
        let mut p = json!({"identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "old"}, {"value": "other"}]});
        set_mrn(&mut p, "urn:x", "0012345678");
        assert_eq!(mrn(&p), Some("0012345678"));
        assert_eq!(p["identifier"][0]["system"], "urn:x");
        assert_eq!(p["identifier"][1]["value"], "other");
        let mut bare = json!({"resourceType": "Patient"});
        set_mrn(&mut bare, "urn:x", "42");
        assert_eq!(mrn(&bare), Some("42"));
        assert_eq!(bare["identifier"][0]["system"], "urn:x");
        assert_eq!(mrn(&json!({"identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "  "}]})), None);
    }
}
