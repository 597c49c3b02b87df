//! Search semantics: dates, tokens, strings, references, errors, sorting and paging.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use portico_fhir::{PreparedResource, SearchQuery};
use serde_json::{json, Value};

fn pairs(query: &str) -> Vec<(String, String)> {
    // Test queries are written unencoded; '&' and '=' separate as in a real query string.
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn parse(ty: &str, query: &str) -> SearchQuery {
    SearchQuery::parse(ty, &pairs(query)).unwrap_or_else(|e| panic!("{ty}?{query}: {e}"))
}

// ---- date prefixes -------------------------------------------------------------------------

/// Does `Observation?date=<query>` match an Observation whose effective[x] is `effective`?
fn check_date(query: &str, effective: Value, expected: bool) {
    let mut obs = json!({"resourceType": "Observation", "id": "o"});
    match &effective {
        Value::String(_) => obs["effectiveDateTime"] = effective.clone(),
        _ => obs["effectivePeriod"] = effective.clone(),
    }
    let q = parse("Observation", &format!("date={query}"));
    assert_eq!(q.matches(&obs), expected, "date={query} against {effective}");
}

#[test]
fn date_prefix_table() {
    let t = json!("2019-05-15T10:30:00Z");
    for (query, expected) in [
        ("2019", true),
        ("2019-05", true),
        ("2019-05-15", true),
        ("2019-05-16", false),
        ("2019-05-15T10:30", true),
        ("2019-05-15T10:30:00Z", true),
        ("2019-05-15T12:30:00+02:00", true),
        ("2018", false),
        ("eq2019", true),
        ("ne2019", false),
        ("ne2018", true),
        ("gt2019-05-14", true),
        ("gt2019-05-15", false),
        ("ge2019-05-15", true),
        ("ge2019-05", true),
        ("ge2019-06", false),
        ("lt2019-05-16", true),
        ("lt2019-05-15", false),
        ("le2019-05-15", true),
        ("le2019-05-14", false),
        ("lt2019-05-15T10:30:00.001Z", true),
    ] {
        check_date(query, t.clone(), expected);
    }

    // A day-precision value is a range: it is only "eq" to searches that contain the whole day.
    let day = json!("2019-05-15");
    for (query, expected) in [
        ("2019-05-15", true),
        ("2019-05-15T10:00", false),
        ("ge2019-05-15T10:00", true),
        ("le2019-05-15T10:00", true),
        ("gt2019-05-15", false),
        ("lt2019-05-15", false),
        ("2019-05", true),
    ] {
        check_date(query, day.clone(), expected);
    }

    let period = json!({"start": "2019-05-01", "end": "2019-05-31"});
    for (query, expected) in [
        ("2019-05", true),
        ("2019-05-10", false),
        ("ne2019-05-10", true),
        ("gt2019-05-10", true),
        ("lt2019-05-10", true),
        ("gt2019-06-01", false),
        ("lt2019-04-30", false),
        ("ge2019-05-31", true),
        ("le2019-05-01", true),
        ("ge2019-05-20", true), // overlap, see date_matches
        ("le2019-05-20", true),
        ("ge2019-06", false),
        ("le2019-04", false),
    ] {
        check_date(query, period.clone(), expected);
    }

    let open = json!({"start": "2019-05-01"});
    for (query, expected) in [("gt2030", true), ("lt2019-05-01", false), ("2019-05", false), ("ge2019-05", true)] {
        check_date(query, open.clone(), expected);
    }

    // OR across values, AND across repeats
    check_date("2018,2019", t.clone(), true);
    check_date("2017,2018", t.clone(), false);
    let obs = json!({"resourceType": "Observation", "id": "o", "effectiveDateTime": "2019-05-15T10:30:00Z"});
    assert!(parse("Observation", "date=ge2019-01-01&date=lt2020").matches(&obs));
    assert!(!parse("Observation", "date=ge2019-01-01&date=lt2019-02").matches(&obs));
    // a '+' offset that was form-decoded into a space still parses
    assert!(parse("Observation", "date=2019-05-15T12:30:00 02:00").matches(&obs));
}

// ---- matching on a real record -------------------------------------------------------------

fn count(prepared: &[PreparedResource], ty: &str, query: &str) -> usize {
    let q = parse(ty, query);
    prepared.iter().filter(|p| q.matches(&p.resource)).count()
}

#[test]
fn sample_record_matching() {
    let p = common::prepared("Agustin");
    let pid = p[0].id.clone();
    assert_eq!(p[0].resource_type, "Patient");
    let check = |ty: &str, query: &str, expected: usize| {
        assert_eq!(count(&p, ty, query), expected, "{ty}?{query}");
    };

    // string: case/accent-insensitive prefix, :exact, :contains
    check("Patient", "given=agustin", 1);
    check("Patient", "given=AGUSTÍN", 1);
    check("Patient", "given=agus", 1);
    check("Patient", "given=gustin", 0);
    check("Patient", "given:contains=gustin", 1);
    check("Patient", "given:exact=Agustín", 1);
    check("Patient", "given:exact=agustín", 0);
    check("Patient", "given:exact=Agustin", 0);
    check("Patient", "family=fonseca", 1);
    check("Patient", "family=Smith", 0);
    check("Patient", "name=fons", 1);
    check("Patient", "name=agu", 1);
    check("Patient", "name=mr", 1);
    check("Patient", "name=official", 0);
    check("Patient", "name=smith,fonseca", 1);
    check("Patient", "name=smith&name=fonseca", 0);

    // token
    check("Patient", "gender=male", 1);
    check("Patient", "gender=female", 0);
    check("Patient", "gender=male,female", 1);
    check("Patient", "identifier=999-88-8619", 1);
    check("Patient", "identifier=http://hl7.org/fhir/sid/us-ssn|999-88-8619", 1);
    check("Patient", "identifier=http://hl7.org/fhir/sid/us-ssn|", 1);
    check("Patient", "identifier=http://example.org|999-88-8619", 0);
    check("Patient", "identifier=|999-88-8619", 0);
    check("Patient", "birthdate=1994", 1);
    check("Patient", "birthdate=1994-02-01", 1);
    check("Patient", "birthdate=lt1994-02-01", 0);
    check("Patient", "birthdate=ge1994-02", 1);
    check("Patient", &format!("_id={pid}"), 1);
    check("Patient", "_id=nope", 0);
    check("Patient", &format!("_id=nope,{pid}"), 1);

    check("Observation", "", 41);
    check("Observation", "code=http://loinc.org|8302-2", 5);
    check("Observation", "code=8302-2", 5);
    check("Observation", "code=|8302-2", 0);
    check("Observation", "code=http://loinc.org|", 41);
    check("Observation", "code=http://snomed.info/sct|8302-2", 0);
    check("Observation", "code=8302-2,29463-7", 10);
    check("Observation", "code=8302-2&date=2016", 1);
    check("Observation", "category=vital-signs", 25);
    check("Observation", "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", 25);
    check("Observation", "category=survey,laboratory&category=vital-signs", 0);
    check("Observation", "status=final", 41);
    check("Observation", "status=final&status=amended", 0);
    check("Observation", "date=2016", 17);
    check("Observation", "date=2016-12-27", 17);
    check("Observation", "date=ge2019", 6);
    check("Observation", "date=lt2012", 6);
    check("Observation", "_lastUpdated=ge2000", 0); // Synthea bundles carry no meta.lastUpdated

    // reference: bare id, Type/id, absolute URL, type modifier
    check("Observation", &format!("patient={pid}"), 41);
    check("Observation", &format!("patient=Patient/{pid}"), 41);
    check("Observation", &format!("patient=https://example.org/fhir/Patient/{pid}"), 41);
    check("Observation", &format!("subject={pid}"), 41);
    check("Observation", &format!("subject:Patient={pid}"), 41);
    check("Observation", &format!("subject=Patient/{pid}"), 41);
    check("Observation", &format!("subject=Group/{pid}"), 0);
    check("Observation", "patient=someone-else", 0);
    check("Observation", &format!("patient=someone-else,{pid}"), 41);

    check("Condition", "clinical-status=resolved", 2);
    check("Condition", "clinical-status=active", 0);
    check("Condition", "code=http://snomed.info/sct|70704007", 1);
    check("Condition", "onset-date=2016", 1);
    check("Condition", "abatement-date=ge2019-10", 1);
    check("Encounter", "class=EMER", 2);
    check("Encounter", "class=http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB", 5);
    check("Encounter", "date=2016-01-07", 1);
    check("Encounter", "date=2016", 2);
    check("Encounter", &format!("patient={pid}&status=finished"), 7);
    check("Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|140", 5);
    check("Immunization", "date=2016", 4);
    check("Immunization", &format!("patient={pid}"), 8);
    check("Procedure", "date=2016-12-27", 1);
    check("MedicationRequest", "authoredon=2019", 1);
    check("MedicationRequest", "status=stopped", 2);
    check("CarePlan", "date=2016-01-15", 0);
    check("CarePlan", "date=ge2016-01-15&date=le2016-01-15", 1);
    check("Claim", "created=2016-01-07", 2);
    check("ExplanationOfBenefit", &format!("patient=Patient/{pid}&created=ge2019"), 2);
}

#[test]
fn uscore_matching() {
    let p = common::prepared("uscore_bundle_patient_85");
    let check = |ty: &str, query: &str, expected: usize| {
        assert_eq!(count(&p, ty, query), expected, "{ty}?{query}");
    };
    check("Patient", "name=bosco", 1);
    check("Patient", "name=pharm", 1);
    check("Patient", "given=lucien&family=bosco882", 1);
    check("Patient", "birthdate=1940-03-29&gender=male", 1);
    let obs = common::of_type(&p, "Observation").len();
    check("Observation", "patient=85", obs);
    check("Observation", "patient=http://localhost/fhir/Patient/85", obs);
    check("Provenance", "patient=85", 1);
    check("Coverage", "patient=85", 1);
    check("Coverage", "beneficiary=Patient/85", 1);
    let docs = common::of_type(&p, "DocumentReference");
    check("DocumentReference", "patient=85", docs.len());
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn parse_errors_table() {
    let check = |ty: &str, query: &str, expected: &str| match SearchQuery::parse(ty, &pairs(query)) {
        Ok(_) => panic!("{ty}?{query} was accepted"),
        Err(e) => assert!(e.to_string().contains(expected), "{ty}?{query}: '{e}' lacks '{expected}'"),
    };
    check("Observation", "foo=1", "unknown search parameter 'foo' for Observation");
    check("Observation", "_include=Observation:code", "'code' is not a reference search parameter of Observation");
    check("Observation", "_include=Observation", "use SourceType:parameter");
    check("Observation", "_include=*", "use SourceType:parameter");
    check("Observation", "_include:iterate=Observation:has-member", "_include:iterate is not supported");
    check("Observation", "_include=Patient:organization", "only references of the searched type Observation");
    check("Observation", "_include=Observation:patient:Group", "'Group' is not a target");
    check("Observation", "_revinclude=Provenance:patient", "can never refer to Observation");
    check("Observation", "_revinclude=Provenance:target:Patient", "can never refer to Observation");
    check("Observation", "_revinclude=Basic:subject", "resource type 'Basic' is not supported");
    check("Observation", "_elements=a b", "not an element name");
    check("Observation", "_elements=", "not an element name");
    check("Observation", "_elements=Patient.name", "not a top-level element of Observation");
    check("Observation", "_total=sometimes", "_total=sometimes");
    check("Observation", "_total=none&_total=none", "only be given once");
    check("Observation", "_pretty=yes", "_pretty must be true or false");
    check("Observation", "subject.name=x", "unknown search parameter");
    check("Basic", "code=x", "unsupported resource type 'Basic'");
    check("Observation", "code:text=x", "modifier ':text'");
    check("Observation", "code:not=x", "modifier ':not'");
    check("Observation", "date:missing=true", "modifier ':missing'");
    check("Patient", "gender:exact=male", "modifier ':exact'");
    check("Patient", "name:foo=x", "modifier ':foo'");
    check("Observation", "patient:identifier=x|y", "modifier ':identifier'");
    check("Observation", "_count:exact=1", "modifier");
    check("Observation", "date=2019-13", "not a valid date");
    check("Observation", "date=yesterday", "prefix");
    check("Observation", "date=sa2019", "date prefix 'sa'");
    check("Observation", "date=eb2019", "date prefix 'eb'");
    check("Observation", "date=ap2019", "date prefix 'ap'");
    check("Observation", "date=ge", "not a valid date");
    check("Observation", "date=2019,", "empty value");
    check("Observation", "code=", "empty value");
    check("Observation", "code=|", "not a valid token");
    check("Observation", "code=a|b|c", "not a valid token");
    check("Observation", "patient=not a ref", "not a valid reference");
    check("Observation", "patient=Group/1", "only refers to Patient");
    check("Observation", "_id=a|b", "not a valid resource id");
    check("Observation", "_count=abc", "_count");
    check("Observation", "_count=5000", "_count");
    check("Observation", "_count=-1", "_count");
    check("Observation", "_count=10&_count=20", "only be given once");
    check("Observation", "_offset=x", "_offset");
    check("Observation", "_summary=true", "_summary=true");
    check("Observation", "_summary=text", "_summary");
    check("Observation", "_format=xml", "_format");
    check("Observation", "_sort=code", "cannot sort");
    check("Observation", "_sort=birthdate", "cannot sort");
    check("Observation", "_sort=-date,", "cannot sort");
    check("Patient", "birthdate=1994-02-30", "not a valid date");
    // caps: ORed values per parameter, criteria per query
    let ids = |n: usize| (0..n).map(|i| format!("id{i}")).collect::<Vec<_>>().join(",");
    check("Observation", &format!("_id={}", ids(101)), "'_id' has 101 values; at most 100");
    check("Observation", &format!("_id={}", ids(64_000)), "'_id' has 64000 values; at most 100");
    check("Observation", &format!("code={}", ids(101)), "'code' has 101 values");
    check("Observation", &vec!["status=final"; 31].join("&"), "at most 30 may be combined");
}

#[test]
fn caps_allow_up_to_the_limit() {
    let ids = (0..99).map(|i| format!("id{i}")).collect::<Vec<_>>().join(",");
    let q = parse("Observation", &format!("_id={ids},id0"));
    assert_eq!(q.criteria()[0].values().len(), 99, "a repeated value is looked up once");
    assert_eq!(parse("Observation", &vec!["status=final"; 30].join("&")).criteria().len(), 30);
}

#[test]
fn controls_are_read() {
    let q = parse("Observation", "");
    assert_eq!((q.count(), q.offset(), q.summary_count()), (50, 0, false));
    let q = parse("Observation", "_count=0&_offset=20&_summary=count&_format=application/fhir+json");
    assert_eq!((q.count(), q.offset(), q.summary_count()), (0, 20, true));
    let q = parse("Observation", "_count=1000&_summary=false&_format=json");
    assert_eq!((q.count(), q.summary_count()), (1000, false));
    parse("Observation", "_format=application/json");
    parse("Observation", "_format=application/fhir json");
    parse("Observation", "_sort=-date,_id,_lastUpdated");
    parse("Condition", "_sort=onset-date");
}

/// Under `Prefer: handling=lenient`, unknown parameters, unsupported modifiers and unsupported control
/// values are left out (and named); malformed values of supported parameters are still errors.
#[test]
fn lenient_table() {
    use portico_fhir::Handling;
    // (query, ignored sentences that must appear (empty: none), None = still an error)
    for (query, ignored) in [
        ("code=x&foo=1", Some(vec!["unknown search parameter 'foo'"])),
        ("code:text=x&status=final", Some(vec!["modifier ':text'"])),
        ("_summary=text&_sort=code", Some(vec!["_summary=text", "cannot sort"])),
        ("_include:iterate=Observation:has-member&_include=*", Some(vec!["_include:iterate", "_include=*"])),
        ("_total=maybe&_elements=status", Some(vec!["_total=maybe"])),
        ("status=final", Some(vec![])),
        ("date=yesterday", None),
        ("_count=x", None),
        ("_pretty=1", None),
        ("_elements=a b", None),
    ] {
        let strict = SearchQuery::parse("Observation", &pairs(query));
        let lenient = SearchQuery::parse_with("Observation", &pairs(query), Handling::Lenient);
        match ignored {
            None => assert!(strict.is_err() && lenient.is_err(), "{query}"),
            Some(ignored) => {
                let q = lenient.unwrap_or_else(|e| panic!("{query}: {e}"));
                assert_eq!(strict.is_ok(), ignored.is_empty(), "{query}");
                assert_eq!(q.ignored().len(), ignored.len(), "{query}: {:?}", q.ignored());
                for (got, want) in q.ignored().iter().zip(ignored) {
                    assert!(got.contains(want), "{query}: '{got}' lacks '{want}'");
                }
                // What was ignored is not in the links either, and the links parse strictly.
                let again = SearchQuery::parse("Observation", &pairs(&decode(&q.query_string(0)))).unwrap();
                assert_eq!(again.criteria(), q.criteria(), "{query}");
                assert!(again.ignored().is_empty());
            }
        }
    }
}

#[test]
fn includes_are_read() {
    let q = parse(
        "MedicationRequest",
        "_include=MedicationRequest:medication&_include=MedicationRequest:patient&_include=MedicationRequest:medication&_revinclude=Provenance:target",
    );
    let got: Vec<_> = q.includes().iter().map(|i| (i.source_type(), i.param(), i.target_type())).collect();
    assert_eq!(got, [("MedicationRequest", "medication", None), ("MedicationRequest", "patient", Some("Patient"))]);
    let rev: Vec<_> = q.revincludes().iter().map(|i| (i.source_type(), i.param(), i.target_type())).collect();
    assert_eq!(rev, [("Provenance", "target", None)]);
    let mr = json!({"resourceType": "MedicationRequest", "id": "m", "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "http://x/fhir/Medication/med-1"}});
    assert_eq!(q.includes()[0].references_of(&mr), [("Medication".to_owned(), "med-1".to_owned())]);
    assert_eq!(q.includes()[1].references_of(&mr), [("Patient".to_owned(), "p1".to_owned())]);
    // A named target type filters what is followed.
    let q = parse("Observation", "_include=Observation:has-member:Observation&_include=Observation:subject:Device");
    let obs = json!({"resourceType": "Observation", "id": "o", "subject": {"reference": "Patient/p"},
        "hasMember": [{"reference": "Observation/a"}, {"reference": "QuestionnaireResponse/q"}, {"reference": "Observation/a"}]});
    assert_eq!(q.includes()[0].references_of(&obs), [("Observation".to_owned(), "a".to_owned())]);
    assert!(q.includes()[1].references_of(&obs).is_empty());
    // _revinclude searches the source type for references to the page.
    let q = parse("Observation", "_revinclude=Provenance:target");
    let c = q.revincludes()[0].referring_to(&[("Observation", "a"), ("Observation", "b")]).unwrap();
    assert_eq!(&c, &parse("Provenance", "target=Observation/a,Observation/b").criteria()[0]);
}

#[test]
fn elements_keep_the_mandatory_and_the_listed() {
    let patient = json!({"resourceType": "Patient", "id": "p", "meta": {"lastUpdated": "2024-01-01T00:00:00Z"},
        "gender": "female", "birthDate": "1990-01-01", "_birthDate": {"extension": []}, "name": [{"family": "Z"}],
        "deceasedBoolean": false});
    // (query, the keys kept)
    for (query, keys) in [
        ("_elements=gender", vec!["gender", "id", "meta", "resourceType"]),
        ("_elements=birthDate,Patient.name", vec!["_birthDate", "birthDate", "id", "meta", "name", "resourceType"]),
        ("_elements=deceased[x]", vec!["deceasedBoolean", "id", "meta", "resourceType"]),
        ("_elements=deceased", vec!["id", "meta", "resourceType"]),
    ] {
        let mut r = patient.clone();
        parse("Patient", query).subset(&mut r);
        let got: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, keys, "{query}");
        assert_eq!(r["meta"]["lastUpdated"], "2024-01-01T00:00:00Z");
        assert_eq!(r["meta"]["tag"].as_array().map(Vec::len), Some(1), "{query}");
        assert_eq!(r["meta"]["tag"][0]["code"], "SUBSETTED");
        // Subsetting twice tags once.
        parse("Patient", query).subset(&mut r);
        assert_eq!(r["meta"]["tag"].as_array().map(Vec::len), Some(1), "{query}");
    }
    let mut r = json!({"resourceType": "Patient", "id": "p", "gender": "male"});
    parse("Patient", "gender=male").subset(&mut r);
    assert_eq!(r, json!({"resourceType": "Patient", "id": "p", "gender": "male"}), "no _elements: untouched");
    parse("Patient", "_elements=name").subset(&mut r);
    assert_eq!(r["meta"]["tag"][0]["code"], "SUBSETTED", "meta is created to carry the tag");
}

// ---- sorting and paging --------------------------------------------------------------------

fn ids(resources: &[Value]) -> Vec<&str> {
    resources.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[test]
fn sort_table() {
    let obs = |id: &str, date: Option<&str>, updated: &str| {
        let mut r = json!({"resourceType": "Observation", "id": id, "meta": {"lastUpdated": updated}});
        if let Some(d) = date {
            r["effectiveDateTime"] = json!(d);
        }
        r
    };
    let resources = vec![
        obs("c", Some("2019-01-01"), "2020-01-03T00:00:00Z"),
        obs("a", Some("2018-06-01T10:00:00Z"), "2020-01-01T00:00:00Z"),
        obs("d", None, "2020-01-02T00:00:00Z"),
        obs("b", Some("2019-01-01"), "2020-01-04T00:00:00Z"),
        obs("e", Some("2020"), "2020-01-05T00:00:00Z"),
    ];
    let check = |query: &str, expected: &[&str]| {
        let mut rs = resources.clone();
        parse("Observation", query).sort(&mut rs);
        assert_eq!(ids(&rs), expected, "{query}");
    };
    check("", &["a", "b", "c", "d", "e"]);
    check("_sort=_id", &["a", "b", "c", "d", "e"]);
    check("_sort=-_id", &["e", "d", "c", "b", "a"]);
    check("_sort=date", &["a", "b", "c", "e", "d"]);
    check("_sort=-date", &["e", "b", "c", "a", "d"]);
    check("_sort=-date,-_id", &["e", "c", "b", "a", "d"]);
    check("_sort=_lastUpdated", &["a", "d", "c", "b", "e"]);
    check("_sort=-_lastUpdated", &["e", "b", "c", "d", "a"]);
}

#[test]
fn paging_is_stable_over_a_real_record() {
    let p = common::prepared("Reyna");
    for query in ["_sort=date&_count=7", "_sort=-date&_count=10", "_count=13", "_sort=-_lastUpdated&_count=9"] {
        let q = parse("Observation", query);
        let mut all: Vec<Value> = p.iter().filter(|r| q.matches(&r.resource)).map(|r| r.resource.clone()).collect();
        let total = all.len();
        assert_eq!(total, 102);
        // sorting from different starting orders gives the same sequence
        let mut reversed = all.clone();
        reversed.reverse();
        q.sort(&mut all);
        q.sort(&mut reversed);
        assert_eq!(ids(&all), ids(&reversed), "{query}");
        // the next links describe the same search
        let again = SearchQuery::parse("Observation", &pairs(&decode(&q.query_string(0)))).unwrap();
        assert_eq!((again.criteria(), again.sort_keys()), (q.criteria(), q.sort_keys()), "{query}");
        // walking the pages through the next links visits every resource exactly once
        let mut seen = Vec::new();
        let mut offset = 0;
        while offset < total {
            let next = SearchQuery::parse("Observation", &pairs(&decode(&q.query_string(offset)))).unwrap();
            assert_eq!(next.offset(), offset);
            let mut page = all.clone();
            next.sort(&mut page);
            seen.extend(page.into_iter().skip(next.offset()).take(next.count()).map(|r| r["id"].as_str().unwrap().to_owned()));
            offset += q.count();
        }
        assert_eq!(seen, ids(&all), "{query}");
    }
}

/// Percent-decoding for the test's own round trip (the server uses a real decoder).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn query_string_table() {
    let check = |ty: &str, query: &[(&str, &str)], offset: usize, expected: &str| {
        let pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let q = SearchQuery::parse(ty, &pairs).unwrap();
        assert_eq!(q.query_string(offset), expected);
    };
    check("Observation", &[], 0, "_count=50&_offset=0");
    check(
        "Observation",
        &[("_count", "10"), ("code", "http://loinc.org|8302-2"), ("_format", "json"), ("patient", "85")],
        20,
        "code=http://loinc.org%7C8302-2&patient=85&_count=10&_offset=20",
    );
    check(
        "Observation",
        &[("date", "ge2019-05-15T10:00:00+02:00"), ("_sort", "-date"), ("_summary", "count")],
        0,
        "date=ge2019-05-15T10:00:00%2B02:00&_sort=-date&_summary=count&_count=50&_offset=0",
    );
    check(
        "Patient",
        &[("name:exact", "Agustín Núñez"), ("_offset", "5")],
        15,
        "name:exact=Agust%C3%ADn%20N%C3%BA%C3%B1ez&_count=50&_offset=15",
    );
    check("Patient", &[("name", "a\\,b&c")], 0, "name=a%5C,b%26c&_count=50&_offset=0");
    check(
        "MedicationRequest",
        &[
            ("_pretty", "true"),
            ("_total", "none"),
            ("_revinclude", "Provenance:target"),
            ("_elements", "MedicationRequest.status,subject"),
            ("_include", "MedicationRequest:medication"),
            ("patient", "85"),
        ],
        0,
        "patient=85&_include=MedicationRequest:medication&_revinclude=Provenance:target&_elements=status,subject&_total=none&_pretty=true&_count=50&_offset=0",
    );
}

#[test]
fn escaped_commas_are_literal() {
    let org = json!({"resourceType": "Organization", "id": "o", "name": "Smith, Jones and Co"});
    assert!(SearchQuery::parse("Organization", &[("name".into(), "smith\\, jones".into())]).unwrap().matches(&org));
    assert!(SearchQuery::parse("Organization", &[("name".into(), "smith, jones".into())]).unwrap().matches(&org));
    assert!(!SearchQuery::parse("Organization", &[("name".into(), "jones,co".into())]).unwrap().matches(&org));
    // matches() also checks the type
    let not_org = json!({"resourceType": "Location", "id": "o", "name": "Smith"});
    assert!(!SearchQuery::parse("Organization", &[("name".into(), "smith".into())]).unwrap().matches(&not_org));
}

#[test]
fn a_built_token_criterion_is_the_one_its_query_parses_to() {
    use portico_fhir::search::Criterion;
    let lab = "http://terminology.hl7.org/CodeSystem/observation-category";
    for (ty, param, values, query) in [
        ("Observation", "category", vec![(Some(lab), "laboratory")], format!("category={lab}|laboratory")),
        (
            "Observation",
            "category",
            vec![(Some(lab), "laboratory"), (None, "survey")],
            format!("category={lab}|laboratory,survey"),
        ),
        ("Condition", "category", vec![(None, "problem-list-item")], "category=problem-list-item".to_owned()),
        // Characters that mean something in a token value are escaped, not interpreted.
        ("Observation", "category", vec![(Some("a|b"), "c,d")], r"category=a\|b|c\,d".to_owned()),
        ("Observation", "_id", vec![(None, "obs-1")], "_id=obs-1".to_owned()),
    ] {
        let built = Criterion::token_any(ty, param, &values).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(&built, &parse(ty, &query).criteria()[0], "{query}");
    }
    for (ty, param, values) in [
        ("Observation", "date", vec![(None, "2020")]),
        ("Observation", "nonsense", vec![(None, "x")]),
        ("Patient", "category", vec![(None, "x")]),
        ("Observation", "category", vec![]),
    ] {
        assert!(Criterion::token_any(ty, param, &values).is_err(), "{ty} {param} {values:?}");
    }
}
