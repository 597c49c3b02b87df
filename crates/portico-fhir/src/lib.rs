//! FHIR R4 JSON knowledge for Portico, and nothing else.
//!
//! This crate owns what the FHIR specification says about resources as JSON: which resource
//! types and search parameters the server supports ([`types`]), which Patient a resource belongs
//! to ([`compartment`]), how FHIR dates compare ([`date`]), what a search means and how results
//! are sorted and paged ([`search`]), which search index entries a resource has ([`index`]),
//! searchset Bundles ([`bundle`]), turning uploaded transaction Bundles into storable resources
//! with rewritten references ([`import`]), what a patient picker shows of a Patient ([`patient`]), the
//! CapabilityStatement and SMART configuration ([`capability`]), OperationOutcomes
//! ([`outcome`]) and the AuditEvents of a patient's access-history export ([`audit_event`]).
//!
//! It must not know about SQL or storage, HTTP or any I/O, or users, clients and credentials:
//! callers hand it JSON values and query pairs and get JSON values and decisions back, so all of
//! it can be tested without a server or a database.

pub mod audit_event;
pub mod bundle;
pub mod capability;
pub mod compartment;
pub mod date;
mod element;
pub mod import;
pub mod index;
pub mod outcome;
pub mod patient;
pub mod search;
pub mod types;

pub use bundle::searchset;
pub use capability::{capability_statement, smart_configuration, Endpoints};
pub use compartment::{parse_reference, patient_of, references};
pub use date::DateRange;
pub use import::{clone_record, is_valid_id, prepare_bundle, ImportError, PreparedResource};
pub use index::{index_entries, IndexEntries};
pub use outcome::{operation_outcome, IssueCode};
pub use search::{Handling, SearchError, SearchQuery};
pub use types::{supported_types, type_def, ParamDef, ParamKind, TypeDef};
