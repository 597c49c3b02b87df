//! FHIR R4 search: parsing query parameters, matching resources, sorting and paging.
//!
//! Matching happens in memory on resource JSON. The store may narrow candidates first with the
//! pushdown hints (`ids`, `patient_ids`), but `matches` is the authority on what a search means,
//! so the two can never disagree about semantics.

use crate::compartment::parse_reference;
use crate::date::DateRange;
use crate::element::values_at;
use crate::import::is_valid_id;
use crate::types::{type_def, ParamDef, ParamKind, TypeDef, COMMON_PARAMS};
use serde_json::Value;
use std::cmp::Reverse;

/// A search request that cannot be honoured, in words fit for an OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError(msg.into()))
}

const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 1000;
/// Far beyond any real result set, and small enough that offset + count never overflows anywhere.
const MAX_OFFSET: usize = 1_000_000_000;

/// A parsed search on one resource type.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    type_def: &'static TypeDef,
    criteria: Vec<Criterion>,
    count: usize,
    offset: usize,
    sort: Vec<SortKey>,
    sort_raw: Option<String>,
    summary_raw: Option<String>,
}

/// One search parameter occurrence; its values are ORed, occurrences are ANDed.
#[derive(Debug, Clone)]
struct Criterion {
    def: &'static ParamDef,
    /// The parameter name as given (with modifier), kept for `query_string`.
    raw_name: String,
    raw_value: String,
    string_mode: StringMode,
    values: Vec<Matcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringMode {
    Prefix,
    Exact,
    Contains,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum System {
    Any,
    Absent,
    Is(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Matcher {
    Token {
        system: System,
        code: Option<String>,
    },
    Date {
        prefix: Prefix,
        range: DateRange,
    },
    Reference {
        ty: Option<String>,
        id: String,
    },
    /// The raw text (for `:exact`) and its folded form (for prefix/contains).
    Str {
        raw: String,
        folded: String,
    },
}

#[derive(Debug, Clone)]
struct SortKey {
    descending: bool,
    paths: &'static [&'static str],
    by_id: bool,
}

impl SearchQuery {
    /// params = the decoded query pairs in order (GET query string or POST _search form body).
    pub fn parse(resource_type: &str, params: &[(String, String)]) -> Result<SearchQuery, SearchError> {
        let Some(type_def) = type_def(resource_type) else {
            return err(format!("unsupported resource type '{resource_type}'"));
        };
        let mut query = SearchQuery {
            type_def,
            criteria: Vec::new(),
            count: DEFAULT_COUNT,
            offset: 0,
            sort: Vec::new(),
            sort_raw: None,
            summary_raw: None,
        };
        let mut seen_control: Vec<&str> = Vec::new();
        for (name, value) in params {
            let (base, modifier) = match name.split_once(':') {
                Some((b, m)) => (b, Some(m)),
                None => (name.as_str(), None),
            };
            if base.starts_with('_') && !matches!(base, "_id" | "_lastUpdated") {
                if let Some(m) = modifier {
                    return err(format!("modifier ':{m}' is not supported on '{base}'"));
                }
                if seen_control.contains(&base) {
                    return err(format!("parameter '{base}' may only be given once"));
                }
                query.control(base, value)?;
                seen_control.push(base);
                continue;
            }
            let def = COMMON_PARAMS.iter().find(|p| p.name == base).or_else(|| type_def.param(base));
            let Some(def) = def else {
                return err(format!("unknown search parameter '{name}' for {resource_type}"));
            };
            query.criteria.push(Criterion::parse(def, name, modifier, value)?);
        }
        Ok(query)
    }

    fn control(&mut self, name: &str, value: &str) -> Result<(), SearchError> {
        match name {
            "_count" => {
                self.count = match value.parse::<usize>() {
                    Ok(n) if n <= MAX_COUNT => n,
                    _ => return err(format!("_count must be a whole number from 0 to {MAX_COUNT}, not '{value}'")),
                };
            }
            "_offset" => {
                self.offset = match value.parse::<usize>() {
                    Ok(n) if n <= MAX_OFFSET => n,
                    _ => return err(format!("_offset must be a whole number from 0 to {MAX_OFFSET}, not '{value}'")),
                };
            }
            "_summary" => {
                if !matches!(value, "count" | "false") {
                    return err(format!("_summary={value} is not supported (only 'count' and 'false')"));
                }
                self.summary_raw = Some(value.to_owned());
            }
            "_format" => {
                // A form-decoded '+' arrives as a space.
                if !matches!(value, "json" | "application/json" | "application/fhir+json" | "application/fhir json") {
                    return err(format!("_format={value} is not supported (only JSON)"));
                }
            }
            "_sort" => {
                self.sort = parse_sort(self.type_def, value)?;
                self.sort_raw = Some(value.to_owned());
            }
            _ => return err(format!("unknown search parameter '{name}' for {}", self.type_def.name)),
        }
        Ok(())
    }

    /// The resource type searched.
    pub fn resource_type(&self) -> &'static str {
        self.type_def.name
    }

    /// all criteria (AND across params, OR across comma-separated values)
    pub fn matches(&self, resource: &Value) -> bool {
        resource.get("resourceType").and_then(Value::as_str) == Some(self.type_def.name)
            && self.criteria.iter().all(|c| c.matches(resource))
    }

    /// values of _id if given (pushdown hint); repeated `_id` parameters are intersected.
    pub fn ids(&self) -> Option<Vec<String>> {
        let mut result: Option<Vec<String>> = None;
        for c in self.criteria.iter().filter(|c| c.def.name == "_id") {
            let ids: Vec<String> = c
                .values
                .iter()
                .filter_map(|m| match m {
                    Matcher::Token { code: Some(code), .. } => Some(code.clone()),
                    _ => None,
                })
                .collect();
            result = Some(intersect(result, ids));
        }
        result
    }

    /// ids from `patient`/`subject` params pointing at Patients (pushdown hint; bare id, Patient/id or absolute URL all give the bare id)
    ///
    /// A parameter only gives a hint when every one of its values can name a Patient: `subject=Group/1`
    /// could match resources outside any patient compartment, so narrowing by patient would be wrong.
    pub fn patient_ids(&self) -> Option<Vec<String>> {
        let mut result: Option<Vec<String>> = None;
        for c in self.criteria.iter().filter(|c| matches!(c.def.name, "patient" | "subject")) {
            let ids: Option<Vec<String>> = c
                .values
                .iter()
                .map(|m| match m {
                    Matcher::Reference { ty, id } if ty.as_deref().is_none_or(|t| t == "Patient") => Some(id.clone()),
                    _ => None,
                })
                .collect();
            if let Some(ids) = ids {
                result = Some(intersect(result, ids));
            }
        }
        result
    }

    /// _count, default 50, 0..=1000 allowed (0 = total only)
    pub fn count(&self) -> usize {
        self.count
    }

    /// _offset, default 0
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// _summary=count
    pub fn summary_count(&self) -> bool {
        self.summary_raw.as_deref() == Some("count")
    }

    /// sorts by the _sort keys (date params of this type, `_lastUpdated`, `_id`, `-` prefix = descending), ties and default broken by resource id, so paging is stable
    /// True when nothing but paging was asked for: every resource in reach matches, in id order. Callers
    /// may then count and page in storage instead of matching each resource.
    pub fn is_unfiltered(&self) -> bool {
        self.criteria.is_empty() && self.sort.is_empty()
    }

    pub fn sort(&self, resources: &mut [Value]) {
        resources.sort_by_cached_key(|r| self.sort_key(r));
    }

    fn sort_key(&self, resource: &Value) -> Vec<SortPart> {
        let id = || resource.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut key: Vec<SortPart> = self
            .sort
            .iter()
            .map(|k| {
                let value = if k.by_id {
                    Some(SortValue::Text(id()))
                } else {
                    let ranges = k.paths.iter().flat_map(|p| values_at(resource, p)).filter_map(DateRange::of_value);
                    let edge = if k.descending { ranges.map(|r| r.end).max() } else { ranges.map(|r| r.start).min() };
                    edge.map(SortValue::Number)
                };
                match (value, k.descending) {
                    (None, _) => SortPart::Missing,
                    (Some(v), false) => SortPart::Ascending(v),
                    (Some(v), true) => SortPart::Descending(Reverse(v)),
                }
            })
            .collect();
        key.push(SortPart::Ascending(SortValue::Text(id())));
        key
    }

    /// canonical query string (criteria + _count + _sort + _summary, properly percent-encoded) with the given _offset, for self/next links
    pub fn query_string(&self, offset: usize) -> String {
        let mut pairs: Vec<(&str, String)> = self.criteria.iter().map(|c| (c.raw_name.as_str(), c.raw_value.clone())).collect();
        if let Some(sort) = &self.sort_raw {
            pairs.push(("_sort", sort.clone()));
        }
        if let Some(summary) = &self.summary_raw {
            pairs.push(("_summary", summary.clone()));
        }
        pairs.push(("_count", self.count.to_string()));
        pairs.push(("_offset", offset.to_string()));
        pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&")
    }
}

/// Sort key parts: missing values sort last in either direction, hence the variant order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortPart {
    Ascending(SortValue),
    Descending(Reverse<SortValue>),
    Missing,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(i64),
    Text(String),
}

fn parse_sort(type_def: &'static TypeDef, value: &str) -> Result<Vec<SortKey>, SearchError> {
    value
        .split(',')
        .map(|key| {
            let (descending, name) = match key.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, key),
            };
            if name == "_id" {
                return Ok(SortKey { descending, paths: &[], by_id: true });
            }
            let def = COMMON_PARAMS.iter().find(|p| p.name == name).or_else(|| type_def.param(name));
            match def {
                Some(def) if def.kind == ParamKind::Date => Ok(SortKey { descending, paths: def.paths, by_id: false }),
                _ => err(format!(
                    "cannot sort {} by '{key}' (only _id, _lastUpdated and the date parameters of the type)",
                    type_def.name
                )),
            }
        })
        .collect()
}

fn intersect(acc: Option<Vec<String>>, ids: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    match acc {
        None => unique,
        Some(prev) => prev.into_iter().filter(|id| unique.contains(id)).collect(),
    }
}

impl Criterion {
    fn parse(def: &'static ParamDef, raw_name: &str, modifier: Option<&str>, value: &str) -> Result<Criterion, SearchError> {
        let name = def.name;
        let mut string_mode = StringMode::Prefix;
        let mut ref_type: Option<String> = None;
        match (def.kind, modifier) {
            (_, None) => {}
            (ParamKind::String, Some("exact")) => string_mode = StringMode::Exact,
            (ParamKind::String, Some("contains")) => string_mode = StringMode::Contains,
            // `subject:Patient=123` is the R4 way to say which type a bare id names.
            (ParamKind::Reference, Some(t)) if is_type_name(t) => ref_type = Some(t.to_owned()),
            (_, Some(m)) => return err(format!("modifier ':{m}' is not supported on '{name}'")),
        }
        if name == "patient" {
            // The `patient` parameters are defined as `<path>.where(resolve() is Patient)`.
            ref_type.get_or_insert_with(|| "Patient".to_owned());
        }
        if value.is_empty() {
            return err(format!("empty value for search parameter '{raw_name}'"));
        }
        let mut values = Vec::new();
        for part in split_escaped(value, ',') {
            if part.is_empty() {
                return err(format!("empty value in the list for search parameter '{raw_name}'"));
            }
            values.push(match def.kind {
                ParamKind::Token => parse_token(name, &part)?,
                ParamKind::Date => parse_date(name, &unescape(&part))?,
                ParamKind::Reference => parse_ref(name, &unescape(&part), ref_type.as_deref())?,
                ParamKind::String => {
                    let raw = unescape(&part);
                    Matcher::Str { folded: fold(&raw), raw }
                }
            });
        }
        Ok(Criterion { def, raw_name: raw_name.to_owned(), raw_value: value.to_owned(), string_mode, values })
    }

    fn matches(&self, resource: &Value) -> bool {
        let elements: Vec<&Value> = self.def.paths.iter().flat_map(|p| values_at(resource, p)).collect();
        self.values.iter().any(|m| elements.iter().any(|e| self.matches_element(m, e)))
    }

    fn matches_element(&self, matcher: &Matcher, element: &Value) -> bool {
        match matcher {
            Matcher::Token { system, code } => token_matches(system, code.as_deref(), element),
            Matcher::Date { prefix, range } => {
                DateRange::of_value(element).is_some_and(|target| date_matches(*prefix, range, &target))
            }
            Matcher::Reference { ty, id } => {
                let reference = match element {
                    Value::Object(o) => o.get("reference").and_then(Value::as_str),
                    // canonical elements hold the reference directly
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                };
                reference.and_then(parse_reference).is_some_and(|(t, i)| &i == id && ty.as_ref().is_none_or(|want| want == &t))
            }
            Matcher::Str { raw, folded } => {
                let mut texts = Vec::new();
                string_leaves(element, &mut texts);
                texts.iter().any(|t| match self.string_mode {
                    StringMode::Exact => t == raw,
                    StringMode::Prefix => fold(t).starts_with(folded.as_str()),
                    StringMode::Contains => fold(t).contains(folded.as_str()),
                })
            }
        }
    }
}

fn is_type_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn parse_token(name: &str, part: &str) -> Result<Matcher, SearchError> {
    let pieces = split_escaped(part, '|');
    let (system, code) = match pieces.as_slice() {
        [code] => (System::Any, Some(unescape(code))),
        [sys, code] => {
            let system = if sys.is_empty() { System::Absent } else { System::Is(unescape(sys)) };
            let code = (!code.is_empty()).then(|| unescape(code));
            if system == System::Absent && code.is_none() {
                return err(format!("'{part}' is not a valid token for '{name}'"));
            }
            (system, code)
        }
        _ => return err(format!("'{part}' is not a valid token for '{name}' (use code, system|code, |code or system|)")),
    };
    if name == "_id" && (system != System::Any || !code.as_deref().is_some_and(is_valid_id)) {
        return err(format!("'{part}' is not a valid resource id"));
    }
    Ok(Matcher::Token { system, code })
}

fn parse_date(name: &str, part: &str) -> Result<Matcher, SearchError> {
    let (prefix, rest) = match part.get(..2) {
        Some("eq") => (Prefix::Eq, &part[2..]),
        Some("ne") => (Prefix::Ne, &part[2..]),
        Some("lt") => (Prefix::Lt, &part[2..]),
        Some("le") => (Prefix::Le, &part[2..]),
        Some("gt") => (Prefix::Gt, &part[2..]),
        Some("ge") => (Prefix::Ge, &part[2..]),
        Some(p) if p.chars().all(|c| c.is_ascii_alphabetic()) => {
            return err(format!("date prefix '{p}' is not supported on '{name}' (use eq, ne, lt, le, gt or ge)"))
        }
        _ => (Prefix::Eq, part),
    };
    // A '+' zone offset that went through form decoding arrives as a space.
    let rest = rest.replace(' ', "+");
    match DateRange::parse(&rest) {
        Some(range) => Ok(Matcher::Date { prefix, range }),
        None => err(format!("'{part}' is not a valid date for '{name}'")),
    }
}

fn parse_ref(name: &str, part: &str, ty: Option<&str>) -> Result<Matcher, SearchError> {
    if is_valid_id(part) {
        return Ok(Matcher::Reference { ty: ty.map(str::to_owned), id: part.to_owned() });
    }
    match parse_reference(part) {
        Some((t, id)) if ty.is_none_or(|want| want == t) => Ok(Matcher::Reference { ty: Some(t), id }),
        Some((t, _)) => err(format!("'{name}' only refers to {}, not {t}", ty.unwrap_or_default())),
        None => err(format!("'{part}' is not a valid reference for '{name}'")),
    }
}

/// FHIR date prefix semantics (R4 §3.1.1.4.8.3), comparing the search range with the element's range.
///
/// `ge`/`le` deliberately use overlap: a target that reaches into the search range matches
/// (as HAPI does). The R4 wording ("above the search range, or contained in it") would drop a
/// May period from `ge2019-05-31`, which no client expects; overlap returns a superset of it.
fn date_matches(prefix: Prefix, search: &DateRange, target: &DateRange) -> bool {
    let contained = target.within(search);
    match prefix {
        Prefix::Eq => contained,
        Prefix::Ne => !contained,
        Prefix::Gt => target.end > search.end,
        Prefix::Lt => target.start < search.start,
        Prefix::Ge => target.end > search.start,
        Prefix::Le => target.start < search.end,
    }
}

fn token_matches(system: &System, code: Option<&str>, element: &Value) -> bool {
    // Plain `code` elements (status, gender, …) and booleans have no system of their own.
    let systemless = matches!(system, System::Any | System::Absent);
    match element {
        Value::String(s) => systemless && code == Some(s.as_str()),
        Value::Bool(b) => systemless && code == Some(if *b { "true" } else { "false" }),
        Value::Object(o) => {
            if let Some(Value::Array(codings)) = o.get("coding") {
                // CodeableConcept: any of its codings
                return codings.iter().any(|c| token_matches(system, code, c));
            }
            // Coding (system/code), Identifier and ContactPoint (system/value)
            let Some(elem_code) = o.get("code").or_else(|| o.get("value")).and_then(Value::as_str) else {
                return false;
            };
            let elem_system = o.get("system").and_then(Value::as_str);
            let system_ok = match system {
                System::Any => true,
                System::Absent => elem_system.is_none(),
                System::Is(s) => elem_system == Some(s.as_str()),
            };
            system_ok && code.is_none_or(|c| c == elem_code)
        }
        _ => false,
    }
}

/// The strings a string parameter is compared with. For HumanName and Address that is every
/// textual part (family, given, prefix, suffix, text; line, city, state, …) but not codes such
/// as `use`.
fn string_leaves<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| string_leaves(i, out)),
        Value::Object(o) => {
            for (k, child) in o {
                if !matches!(k.as_str(), "use" | "type" | "period" | "system" | "extension" | "id" | "rank") {
                    string_leaves(child, out);
                }
            }
        }
        _ => {}
    }
}

/// Splits on `sep` unless it is backslash-escaped; escapes are kept so a later split (token `|`)
/// still sees them. Call `unescape` on the final pieces.
fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(last) = parts.last_mut() {
                last.push(c);
                if let Some(next) = chars.next() {
                    last.push(next);
                }
            }
        } else if c == sep {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Case- and accent-insensitive form for string search: lowercase, Latin-1 and Latin Extended-A
/// letters reduced to their base letter, combining marks dropped (so NFD input folds too).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let base: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ð' | 'ď' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ĥ' | 'ħ' => "h",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ĳ' => "ij",
            'ĵ' => "j",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'œ' => "oe",
            'ŕ' | 'ŗ' | 'ř' => "r",
            'ś' | 'ŝ' | 'ş' | 'š' => "s",
            'ß' => "ss",
            'ţ' | 'ť' | 'ŧ' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ŵ' => "w",
            'ý' | 'ÿ' | 'ŷ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            '\u{0300}'..='\u{036f}' => "",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(base);
    }
    out
}

/// Percent-encodes a query component: everything but RFC 3986 unreserved characters and the
/// harmless `:` `/` `,` (kept so links stay readable) becomes `%XX`. `+` is always encoded
/// because form decoding would turn it into a space.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b',') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
