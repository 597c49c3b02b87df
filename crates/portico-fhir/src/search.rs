//! FHIR R4 search: parsing query parameters, matching resources, sorting and paging.
//!
//! A parsed [`SearchQuery`] describes its criteria and sort keys in public, storage-neutral terms
//! ([`Criterion`], [`SearchValue`], [`SortKey`]) so a store can translate them into indexed queries over
//! the entries [`crate::index::index_entries`] extracts. `matches` and `sort` evaluate the same query in
//! memory on resource JSON; they read elements through the same extractors as the index, and stay the
//! reference the stores are tested against.

use crate::compartment::parse_reference;
use crate::date::DateRange;
use crate::element::values_at;
use crate::import::is_valid_id;
use crate::index::{reference_of, string_leaves, token_values};
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
/// At most this many comma-separated (ORed) values in one parameter. Real clients send a handful; the
/// cap keeps one request from turning into tens of thousands of index lookups and SQL variables.
pub const MAX_VALUES_PER_PARAMETER: usize = 100;
/// At most this many search parameters (criteria, ANDed) in one query, for the same reason.
pub const MAX_CRITERIA: usize = 30;
/// At most this many `_include` (and as many `_revinclude`) parameters in one query: each is one more
/// indexed lookup per page, and US Core asks for one or two.
pub const MAX_INCLUDES: usize = 10;

/// How a search treats parameters the server does not know or support (`Prefer: handling=`, R4 search.html#errors
/// "Handling errors"). Malformed values of supported parameters are errors either way: ignoring
/// `birthdate=garbage` would silently widen the answer, not just leave out a refinement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    /// Refuse the search (the default).
    #[default]
    Strict,
    /// Leave such parameters out and say so ([`SearchQuery::ignored`]).
    Lenient,
}

/// `_total`: whether the searchset states how many resources matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalMode {
    None,
    Estimate,
    Accurate,
}

impl TotalMode {
    fn as_str(self) -> &'static str {
        match self {
            TotalMode::None => "none",
            TotalMode::Estimate => "estimate",
            TotalMode::Accurate => "accurate",
        }
    }
}

/// Why one parameter was not taken: `Unsupported` ones are left out under [`Handling::Lenient`].
enum Refusal {
    Unsupported(String),
    Invalid(String),
}

impl From<SearchError> for Refusal {
    fn from(e: SearchError) -> Refusal {
        Refusal::Invalid(e.0)
    }
}

fn unsupported<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Unsupported(msg.into()))
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Invalid(msg.into()))
}

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
    includes: Vec<Include>,
    revincludes: Vec<Include>,
    /// `_elements`, as given (type prefixes dropped); None = whole resources.
    elements: Option<Vec<String>>,
    total: Option<TotalMode>,
    pretty: Option<bool>,
    /// What a lenient search left out, one sentence per parameter.
    ignored: Vec<String>,
}

/// One `_include` or `_revinclude` (`SourceType:param[:TargetType]`): follow a reference search parameter of
/// the source type, from the page's resources (`_include`) or back to them (`_revinclude`). One level only:
/// `:iterate` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    source: &'static TypeDef,
    param: &'static ParamDef,
    /// The target type named, or implied (every `patient` parameter refers to Patients).
    target: Option<&'static str>,
    raw: String,
}

impl Include {
    /// The type whose reference parameter is followed.
    pub fn source_type(&self) -> &'static str {
        self.source.name
    }

    /// The reference search parameter followed, e.g. `medication`.
    pub fn param(&self) -> &'static str {
        self.param.name
    }

    /// The only type of target followed, when the include names one (or the parameter implies one).
    pub fn target_type(&self) -> Option<&'static str> {
        self.target
    }

    /// The `(type, id)` pairs `resource` (of the source type) refers to through the parameter, restricted to
    /// the target type, in document order without repeats. Read through the same extractor as the search
    /// index, so an include follows exactly the references a search by the parameter would match.
    pub fn references_of(&self, resource: &Value) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (ty, id) in self.param.paths.iter().flat_map(|p| values_at(resource, p)).filter_map(reference_of) {
            if self.target.is_none_or(|t| t == ty) && !out.iter().any(|(t, i)| t == &ty && i == &id) {
                out.push((ty, id));
            }
        }
        out
    }

    /// The criterion on the source type that finds resources referring to any of `targets` (`(type, id)`,
    /// at most [`MAX_VALUES_PER_PARAMETER`]): what `_revinclude` searches for.
    pub fn referring_to(&self, targets: &[(&str, &str)]) -> Result<Criterion, SearchError> {
        let raw: Vec<String> = targets.iter().map(|(t, id)| format!("{}/{}", escape(t), escape(id))).collect();
        if raw.is_empty() {
            return err(format!("no target for '{}'", self.raw));
        }
        Criterion::parse(self.param, self.param.name, None, &raw.join(","))
    }
}

/// One search parameter occurrence; its values are ORed, occurrences are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    def: &'static ParamDef,
    /// The parameter name as given (with modifier), kept for `query_string`.
    raw_name: String,
    raw_value: String,
    string_mode: StringMode,
    values: Vec<SearchValue>,
}

/// How a string parameter compares: folded prefix (the default), `:exact` on the raw text, or
/// `:contains` on the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMode {
    Prefix,
    Exact,
    Contains,
}

/// The system part of a token search value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSystem {
    /// `code`: any system, or none.
    Any,
    /// `|code`: the element has no system.
    Absent,
    /// `system|code` or `system|`.
    Is(String),
}

impl TokenSystem {
    /// Does an element with this system (None = none given) satisfy the search's system part?
    pub fn accepts(&self, element_system: Option<&str>) -> bool {
        match self {
            TokenSystem::Any => true,
            TokenSystem::Absent => element_system.is_none(),
            TokenSystem::Is(s) => element_system == Some(s.as_str()),
        }
    }
}

/// A date search prefix (R4 §3.1.1.4.8.3); `sa`, `eb` and `ap` are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrefix {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One of the ORed values of a criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchValue {
    /// `code` is None only for `system|` (any code in that system).
    Token {
        system: TokenSystem,
        code: Option<String>,
    },
    Date {
        prefix: DatePrefix,
        range: DateRange,
    },
    /// `ty` is None for a bare id (any target type).
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

impl Criterion {
    /// The parameter's name without modifier, e.g. `code`, `_id`, `_lastUpdated`.
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    pub fn kind(&self) -> ParamKind {
        self.def.kind
    }

    /// Only meaningful for string parameters.
    pub fn string_mode(&self) -> StringMode {
        self.string_mode
    }

    /// The ORed values; never empty, at most [`MAX_VALUES_PER_PARAMETER`].
    pub fn values(&self) -> &[SearchValue] {
        &self.values
    }

    /// A token criterion the server adds on its own account rather than parses from a request: `param` of
    /// `resource_type` matching any of `values` (`(system, code)`; no system = any system), e.g. the
    /// categories a granular SMART scope admits. ANDed with the request's own criteria, it lets the store
    /// apply the restriction in the same indexed query, so totals and paging stay right. Equal to the
    /// criterion `param=<values, escaped and comma-joined>` would parse to.
    pub fn token_any(resource_type: &str, param: &str, values: &[(Option<&str>, &str)]) -> Result<Criterion, SearchError> {
        let def =
            COMMON_PARAMS.iter().find(|p| p.name == param).or_else(|| type_def(resource_type).and_then(|td| td.param(param)));
        let Some(def) = def.filter(|d| d.kind == ParamKind::Token) else {
            return err(format!("'{param}' is not a token search parameter of {resource_type}"));
        };
        let raw_value: Vec<String> = values
            .iter()
            .map(|(system, code)| match system {
                Some(system) => format!("{}|{}", escape(system), escape(code)),
                None => escape(code),
            })
            .collect();
        if raw_value.is_empty() {
            return err(format!("no value for search parameter '{param}'"));
        }
        Criterion::parse(def, param, None, &raw_value.join(","))
    }
}

/// The inverse of [`unescape`] for the characters a token value gives meaning to.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '|' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One `_sort` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    param: &'static str,
    descending: bool,
    paths: &'static [&'static str],
}

impl SortKey {
    /// `_id`, `_lastUpdated` or a date parameter of the type. A date key sorts by the earliest start of the
    /// parameter's values ascending, by the latest end descending; resources without a value come last.
    pub fn param(&self) -> &'static str {
        self.param
    }

    pub fn descending(&self) -> bool {
        self.descending
    }

    pub fn by_id(&self) -> bool {
        self.param == "_id"
    }
}

impl SearchQuery {
    /// params = the decoded query pairs in order (GET query string or POST _search form body). Strict: any
    /// parameter the server does not support is an error.
    pub fn parse(resource_type: &str, params: &[(String, String)]) -> Result<SearchQuery, SearchError> {
        SearchQuery::parse_with(resource_type, params, Handling::Strict)
    }

    /// As [`SearchQuery::parse`]; under [`Handling::Lenient`] unknown parameters, unsupported modifiers and
    /// unsupported values of the control parameters are left out (and listed in [`SearchQuery::ignored`]),
    /// so neither the results nor the self link reflect them.
    pub fn parse_with(resource_type: &str, params: &[(String, String)], handling: Handling) -> Result<SearchQuery, SearchError> {
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
            includes: Vec::new(),
            revincludes: Vec::new(),
            elements: None,
            total: None,
            pretty: None,
            ignored: Vec::new(),
        };
        let mut seen_control: Vec<String> = Vec::new();
        for (name, value) in params {
            match query.parameter(name, value, &mut seen_control) {
                Ok(()) => {}
                Err(Refusal::Unsupported(why)) if handling == Handling::Lenient => query.ignored.push(why),
                Err(Refusal::Unsupported(why) | Refusal::Invalid(why)) => return err(why),
            }
        }
        Ok(query)
    }

    fn parameter(&mut self, name: &str, value: &str, seen_control: &mut Vec<String>) -> Result<(), Refusal> {
        let (base, modifier) = match name.split_once(':') {
            Some((b, m)) => (b, Some(m)),
            None => (name, None),
        };
        if base.starts_with('_') && !matches!(base, "_id" | "_lastUpdated") {
            if matches!(base, "_include" | "_revinclude") {
                return self.include(base == "_revinclude", modifier, value);
            }
            if let Some(m) = modifier {
                return unsupported(format!("modifier ':{}' is not supported on '{}'", truncate(m), truncate(base)));
            }
            if seen_control.iter().any(|s| s == base) {
                return invalid(format!("parameter '{base}' may only be given once"));
            }
            self.control(base, value)?;
            seen_control.push(base.to_owned());
            return Ok(());
        }
        let def = COMMON_PARAMS.iter().find(|p| p.name == base).or_else(|| self.type_def.param(base));
        let Some(def) = def else {
            return unsupported(format!("unknown search parameter '{name}' for {}", self.type_def.name));
        };
        if let Some(m) = modifier.filter(|m| !modifier_supported(def.kind, m)) {
            return unsupported(format!("modifier ':{}' is not supported on '{}'", truncate(m), def.name));
        }
        if self.criteria.len() == MAX_CRITERIA {
            return invalid(format!("too many search parameters: at most {MAX_CRITERIA} may be combined in one search"));
        }
        self.criteria.push(Criterion::parse(def, name, modifier, value)?);
        Ok(())
    }

    /// `_include=Source:param[:Target]` (Source = the searched type) or `_revinclude=Source:param[:Target]`
    /// (Target, when named or implied, = the searched type).
    fn include(&mut self, rev: bool, modifier: Option<&str>, value: &str) -> Result<(), Refusal> {
        let base = if rev { "_revinclude" } else { "_include" };
        if let Some(m) = modifier {
            return unsupported(format!("{base}:{} is not supported (one level of includes only)", truncate(m)));
        }
        let shown = truncate(value);
        let parts: Vec<&str> = value.split(':').collect();
        let (source, param, target) = match parts.as_slice() {
            [s, p] => (*s, *p, None),
            [s, p, t] => (*s, *p, Some(*t)),
            _ => return unsupported(format!("{base}={shown} is not supported (use SourceType:parameter[:TargetType])")),
        };
        let Some(source) = type_def(source) else {
            return unsupported(format!("{base}={shown}: resource type '{}' is not supported", truncate(source)));
        };
        if !rev && source.name != self.type_def.name {
            return unsupported(format!(
                "{base}={shown}: only references of the searched type {} can be included",
                self.type_def.name
            ));
        }
        let def = match source.param(param) {
            Some(def) if def.kind == ParamKind::Reference => def,
            _ => {
                return unsupported(format!(
                    "{base}={shown}: '{}' is not a reference search parameter of {}",
                    truncate(param),
                    source.name
                ))
            }
        };
        let implied = (def.name == "patient").then_some("Patient");
        let target = match target {
            None => implied,
            Some(t) => match type_def(t) {
                Some(td) if implied.is_none_or(|i| i == td.name) => Some(td.name),
                _ => {
                    return unsupported(format!(
                        "{base}={shown}: '{}' is not a target of {}:{}",
                        truncate(t),
                        source.name,
                        def.name
                    ))
                }
            },
        };
        if rev && target.is_some_and(|t| t != self.type_def.name) {
            return unsupported(format!("{base}={shown} can never refer to {}", self.type_def.name));
        }
        let include = Include { source, param: def, target, raw: value.to_owned() };
        let list = if rev { &mut self.revincludes } else { &mut self.includes };
        if list.contains(&include) {
            return Ok(());
        }
        if list.len() == MAX_INCLUDES {
            return invalid(format!("too many {base} parameters: at most {MAX_INCLUDES}"));
        }
        list.push(include);
        Ok(())
    }

    fn control(&mut self, name: &str, value: &str) -> Result<(), Refusal> {
        match name {
            "_count" => {
                self.count = match value.parse::<usize>() {
                    Ok(n) if n <= MAX_COUNT => n,
                    _ => return invalid(format!("_count must be a whole number from 0 to {MAX_COUNT}, not '{value}'")),
                };
            }
            "_offset" => {
                self.offset = match value.parse::<usize>() {
                    Ok(n) if n <= MAX_OFFSET => n,
                    _ => return invalid(format!("_offset must be a whole number from 0 to {MAX_OFFSET}, not '{value}'")),
                };
            }
            "_summary" => {
                if !matches!(value, "count" | "false") {
                    return unsupported(format!("_summary={value} is not supported (only 'count' and 'false')"));
                }
                self.summary_raw = Some(value.to_owned());
            }
            "_format" => {
                if !is_json_format(value) {
                    return unsupported(format!("_format={value} is not supported (only JSON)"));
                }
            }
            "_sort" => {
                self.sort = parse_sort(self.type_def, value).map_err(|e| Refusal::Unsupported(e.0))?;
                self.sort_raw = Some(value.to_owned());
            }
            "_elements" => self.elements = Some(parse_elements(self.type_def, value)?),
            "_total" => {
                self.total = Some(match value {
                    "none" => TotalMode::None,
                    "estimate" => TotalMode::Estimate,
                    "accurate" => TotalMode::Accurate,
                    _ => return unsupported(format!("_total={value} is not supported (use none, estimate or accurate)")),
                });
            }
            "_pretty" => {
                self.pretty = Some(match value {
                    "true" => true,
                    "false" => false,
                    _ => return invalid(format!("_pretty must be true or false, not '{value}'")),
                });
            }
            _ => return unsupported(format!("unknown search parameter '{name}' for {}", self.type_def.name)),
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

    /// The criteria, ANDed, in the order given; at most [`MAX_CRITERIA`].
    pub fn criteria(&self) -> &[Criterion] {
        &self.criteria
    }

    /// The `_sort` keys in order; ties (and an empty list) are broken by ascending id.
    pub fn sort_keys(&self) -> &[SortKey] {
        &self.sort
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

    /// The `_include`s, in the order given (repeats dropped).
    pub fn includes(&self) -> &[Include] {
        &self.includes
    }

    /// The `_revinclude`s, in the order given (repeats dropped).
    pub fn revincludes(&self) -> &[Include] {
        &self.revincludes
    }

    /// `_total=none`: the searchset leaves `total` out (unless `_summary=count` asked for nothing else).
    pub fn omits_total(&self) -> bool {
        self.total == Some(TotalMode::None) && !self.summary_count()
    }

    /// `_pretty=true`: the answer is indented JSON.
    pub fn pretty(&self) -> bool {
        self.pretty == Some(true)
    }

    /// What a lenient search left out and why, one sentence per parameter; empty when nothing was.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// `_elements` (R4 search.html#elements): keeps only the listed top-level elements of a matched resource (each with
    /// its `_element` extension sibling) beside the mandatory `resourceType`, `id` and `meta`, and tags it
    /// SUBSETTED so nobody takes the rest for absent. A resource without `_elements` is left whole.
    pub fn subset(&self, resource: &mut Value) {
        let Some(elements) = &self.elements else { return };
        let Value::Object(map) = resource else { return };
        let listed = |key: &str| {
            let key = key.strip_prefix('_').unwrap_or(key);
            elements.iter().any(|e| match e.strip_suffix("[x]") {
                // A choice element: `value[x]` keeps valueQuantity, valueString, ….
                Some(stem) => key.strip_prefix(stem).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase())),
                None => key == e,
            })
        };
        map.retain(|k, _| matches!(k.as_str(), "resourceType" | "id" | "meta") || listed(k));
        let meta = map.entry("meta").or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(meta) = meta {
            let tags = meta.entry("tag").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(tags) = tags {
                let subsetted = serde_json::json!({"system": SUBSETTED_SYSTEM, "code": "SUBSETTED", "display": "subsetted"});
                if !tags.iter().any(|t| t["system"] == SUBSETTED_SYSTEM && t["code"] == "SUBSETTED") {
                    tags.push(subsetted);
                }
            }
        }
    }

    /// sorts by the _sort keys (date params of this type, `_lastUpdated`, `_id`, `-` prefix = descending), ties and default broken by resource id, so paging is stable
    pub fn sort(&self, resources: &mut [Value]) {
        resources.sort_by_cached_key(|r| self.sort_key(r));
    }

    fn sort_key(&self, resource: &Value) -> Vec<SortPart> {
        let id = || resource.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut key: Vec<SortPart> = self
            .sort
            .iter()
            .map(|k| {
                let value = if k.by_id() {
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

    /// canonical query string (criteria + includes + _elements + _sort + _summary + _total + _pretty + _count, properly percent-encoded) with the given _offset, for self/next links
    pub fn query_string(&self, offset: usize) -> String {
        let mut pairs: Vec<(&str, String)> = self.criteria.iter().map(|c| (c.raw_name.as_str(), c.raw_value.clone())).collect();
        pairs.extend(self.includes.iter().map(|i| ("_include", i.raw.clone())));
        pairs.extend(self.revincludes.iter().map(|i| ("_revinclude", i.raw.clone())));
        if let Some(elements) = &self.elements {
            pairs.push(("_elements", elements.join(",")));
        }
        if let Some(sort) = &self.sort_raw {
            pairs.push(("_sort", sort.clone()));
        }
        if let Some(summary) = &self.summary_raw {
            pairs.push(("_summary", summary.clone()));
        }
        if let Some(total) = self.total {
            pairs.push(("_total", total.as_str().to_owned()));
        }
        if let Some(pretty) = self.pretty {
            pairs.push(("_pretty", pretty.to_string()));
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

/// A media type or `_format` value that FHIR JSON satisfies (a form-decoded `+` arrives as a space). The one
/// test of it: the search parser and the server's content negotiation both ask here.
pub fn is_json_format(m: &str) -> bool {
    let m = m.trim().to_ascii_lowercase().replace(' ', "+");
    matches!(
        m.as_str(),
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir" | "*/*" | "application/*"
    )
}

/// The code system of the SUBSETTED tag (R4 search.html#elements, `v3-ObservationValue`).
pub const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

/// `_elements=a,b,Type.c`: element names (letters and digits, a choice element as `value[x]`), optionally
/// prefixed by the searched type.
fn parse_elements(type_def: &'static TypeDef, value: &str) -> Result<Vec<String>, Refusal> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        let name = match part.split_once('.') {
            Some((ty, name)) if ty == type_def.name => name,
            Some(_) => {
                return unsupported(format!("_elements: '{}' is not a top-level element of {}", truncate(part), type_def.name))
            }
            None => part,
        };
        let stem = name.strip_suffix("[x]").unwrap_or(name);
        if !stem.starts_with(|c: char| c.is_ascii_alphabetic()) || !stem.chars().all(|c| c.is_ascii_alphanumeric()) {
            return invalid(format!("_elements: '{}' is not an element name", truncate(part)));
        }
        if out.len() == MAX_CRITERIA * 2 {
            return invalid(format!("_elements: at most {} elements", MAX_CRITERIA * 2));
        }
        if !out.iter().any(|e| e == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Whether a parameter of this kind takes this modifier (`Criterion::parse` reads the same ones).
fn modifier_supported(kind: ParamKind, modifier: &str) -> bool {
    match kind {
        ParamKind::String => matches!(modifier, "exact" | "contains"),
        // `subject:Patient=123` is the R4 way to say which type a bare id names.
        ParamKind::Reference => is_type_name(modifier),
        ParamKind::Token | ParamKind::Date => false,
    }
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
                return Ok(SortKey { param: "_id", descending, paths: &[] });
            }
            let def = COMMON_PARAMS.iter().find(|p| p.name == name).or_else(|| type_def.param(name));
            match def {
                Some(def) if def.kind == ParamKind::Date => Ok(SortKey { param: def.name, descending, paths: def.paths }),
                _ => err(format!(
                    "cannot sort {} by '{key}' (only _id, _lastUpdated and the date parameters of the type)",
                    type_def.name
                )),
            }
        })
        .collect()
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
        let parts = split_escaped(value, ',');
        if parts.len() > MAX_VALUES_PER_PARAMETER {
            return err(format!(
                "search parameter '{}' has {} values; at most {MAX_VALUES_PER_PARAMETER} may be given in one parameter",
                truncate(raw_name),
                parts.len()
            ));
        }
        let mut values: Vec<SearchValue> = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                return err(format!("empty value in the list for search parameter '{raw_name}'"));
            }
            let value = match def.kind {
                ParamKind::Token => parse_token(name, &part)?,
                ParamKind::Date => parse_date(name, &unescape(&part))?,
                ParamKind::Reference => parse_ref(name, &unescape(&part), ref_type.as_deref())?,
                ParamKind::String => {
                    let raw = unescape(&part);
                    SearchValue::Str { folded: fold(&raw), raw }
                }
            };
            // A repeated value adds nothing to an OR, and stores need not look it up twice.
            if !values.contains(&value) {
                values.push(value);
            }
        }
        Ok(Criterion { def, raw_name: raw_name.to_owned(), raw_value: value.to_owned(), string_mode, values })
    }

    fn matches(&self, resource: &Value) -> bool {
        let elements: Vec<&Value> = self.def.paths.iter().flat_map(|p| values_at(resource, p)).collect();
        self.values.iter().any(|m| elements.iter().any(|e| self.matches_element(m, e)))
    }

    fn matches_element(&self, value: &SearchValue, element: &Value) -> bool {
        match value {
            SearchValue::Token { system, code } => {
                let mut found = Vec::new();
                token_values(element, &mut found);
                found.iter().any(|(s, c)| system.accepts(*s) && code.as_deref().is_none_or(|want| want == *c))
            }
            SearchValue::Date { prefix, range } => {
                DateRange::of_value(element).is_some_and(|target| date_matches(*prefix, range, &target))
            }
            SearchValue::Reference { ty, id } => {
                reference_of(element).is_some_and(|(t, i)| &i == id && ty.as_ref().is_none_or(|want| want == &t))
            }
            SearchValue::Str { raw, folded } => {
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

/// Parameter names echoed in errors are cut short: they come from the request.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

fn is_type_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn parse_token(name: &str, part: &str) -> Result<SearchValue, SearchError> {
    let pieces = split_escaped(part, '|');
    let (system, code) = match pieces.as_slice() {
        [code] => (TokenSystem::Any, Some(unescape(code))),
        [sys, code] => {
            let system = if sys.is_empty() { TokenSystem::Absent } else { TokenSystem::Is(unescape(sys)) };
            let code = (!code.is_empty()).then(|| unescape(code));
            if system == TokenSystem::Absent && code.is_none() {
                return err(format!("'{part}' is not a valid token for '{name}'"));
            }
            (system, code)
        }
        _ => return err(format!("'{part}' is not a valid token for '{name}' (use code, system|code, |code or system|)")),
    };
    if name == "_id" && (system != TokenSystem::Any || !code.as_deref().is_some_and(is_valid_id)) {
        return err(format!("'{part}' is not a valid resource id"));
    }
    Ok(SearchValue::Token { system, code })
}

fn parse_date(name: &str, part: &str) -> Result<SearchValue, SearchError> {
    let (prefix, rest) = match part.get(..2) {
        Some("eq") => (DatePrefix::Eq, &part[2..]),
        Some("ne") => (DatePrefix::Ne, &part[2..]),
        Some("lt") => (DatePrefix::Lt, &part[2..]),
        Some("le") => (DatePrefix::Le, &part[2..]),
        Some("gt") => (DatePrefix::Gt, &part[2..]),
        Some("ge") => (DatePrefix::Ge, &part[2..]),
        Some(p) if p.chars().all(|c| c.is_ascii_alphabetic()) => {
            return err(format!("date prefix '{p}' is not supported on '{name}' (use eq, ne, lt, le, gt or ge)"))
        }
        _ => (DatePrefix::Eq, part),
    };
    // A '+' zone offset that went through form decoding arrives as a space.
    let rest = rest.replace(' ', "+");
    match DateRange::parse(&rest) {
        Some(range) => Ok(SearchValue::Date { prefix, range }),
        None => err(format!("'{part}' is not a valid date for '{name}'")),
    }
}

fn parse_ref(name: &str, part: &str, ty: Option<&str>) -> Result<SearchValue, SearchError> {
    if is_valid_id(part) {
        return Ok(SearchValue::Reference { ty: ty.map(str::to_owned), id: part.to_owned() });
    }
    match parse_reference(part) {
        Some((t, id)) if ty.is_none_or(|want| want == t) => Ok(SearchValue::Reference { ty: Some(t), id }),
        Some((t, _)) => err(format!("'{name}' only refers to {}, not {t}", ty.unwrap_or_default())),
        None => err(format!("'{part}' is not a valid reference for '{name}'")),
    }
}

/// FHIR date prefix semantics (R4 §3.1.1.4.8.3), comparing the search range with the element's range.
///
/// `ge`/`le` deliberately use overlap: a target that reaches into the search range matches
/// (as HAPI does). The R4 wording ("above the search range, or contained in it") would drop a
/// May period from `ge2019-05-31`, which no client expects; overlap returns a superset of it.
fn date_matches(prefix: DatePrefix, search: &DateRange, target: &DateRange) -> bool {
    let contained = target.within(search);
    match prefix {
        DatePrefix::Eq => contained,
        DatePrefix::Ne => !contained,
        DatePrefix::Gt => target.end > search.end,
        DatePrefix::Lt => target.start < search.start,
        DatePrefix::Ge => target.end > search.start,
        DatePrefix::Le => target.start < search.end,
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
