// Wire types of the Tauri commands. They mirror the serde structs of
// crates/portico-api/src/lib.rs (times are RFC 3339 UTC strings) plus the
// shell-only shapes (ServiceStatus, DemoAccount).

export type Role = "administrator" | "provider" | "developer" | "nurse" | "front_desk" | "patient" | "app_developer";
export const ROLES: readonly Role[] = ["administrator", "provider", "developer", "nurse", "front_desk", "patient", "app_developer"];

export type ErrorCode =
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "invalid_input"
  | "conflict"
  | "payload_too_large"
  | "method_not_allowed"
  | "too_many_requests"
  | "busy"
  | "internal"
  | "unavailable"
  /** Remote mode, offline: the action was put in the outbox and will be sent when the server is back. */
  | "queued"
  /** Remote mode, offline: the action needs the server (e.g. a secret shown once) and was not done. */
  | "offline"
  // Adding a server / signing in through the browser:
  | "certificate"
  | "unreachable"
  | "not_portico"
  | "cancelled"
  | "timeout"
  | "access_denied";

/** RFC 3339 UTC timestamp, e.g. "2024-03-12T09:02:00Z". */
export type Instant = string;

export interface Practice {
  id: number;
  name: string;
}

export interface User {
  id: number;
  username: string;
  display_name: string;
  roles: string[];
  practices: Practice[];
  /** The Patient resource id of a patient user. */
  patient_id: string | null;
  /** A patient user: the practices their Patient record belongs to. */
  patient_of?: Practice[];
  /** The last successful sign-in; null: never. */
  last_sign_in_at?: Instant | null;
}

/** One page of a list the service searches, sorts and pages. */
export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

export type SortDir = "asc" | "desc";

/** `GET /api/users`: every field optional. */
export interface UserQuery {
  q?: string;
  role?: string;
  practice?: number;
  sort?: "name" | "username" | "last_sign_in" | "created";
  dir?: SortDir;
  offset?: number;
  limit?: number;
}

/** `GET /api/staff-credentials`: every field optional. */
export interface StaffKeyQuery {
  q?: string;
  kind?: "developer" | "provider";
  practice?: number;
  sort?: "name" | "owner" | "created" | "last_used" | "valid_to";
  dir?: SortDir;
  offset?: number;
  limit?: number;
}

/** `patient_app`, `developer` or `provider`. */
export type CredentialKind = "patient_app" | "developer" | "provider" | string;

export type CredentialStatus = "active" | "inactive";

/** A staff key in an administrator's list: the credential with its owner's name and practices. */
export interface StaffKey extends Credential {
  owner_name: string;
  owner_practices: Practice[];
}

export interface NewCredential {
  kind: CredentialKind;
  name: string;
  note?: string | null;
  valid_from?: Instant | null;
  valid_to?: Instant | null;
  /** Defaults to true. */
  active?: boolean | null;
  /** Provider keys: the chosen patients. */
  patients?: string[];
}

/** A credential as listed: never holds the secret. */
export interface Credential {
  id: string;
  kind: CredentialKind;
  name: string;
  note: string | null;
  client_id: string;
  /** Non-secret reminder such as `pcs_app_…k3x9`. */
  secret_hint: string;
  status: CredentialStatus;
  /** Active and inside its window right now. */
  usable: boolean;
  valid_from: Instant | null;
  valid_to: Instant | null;
  created_at: Instant;
  created_by: string;
  owner: string;
  last_used_at: Instant | null;
  /** Access tokens of this credential that would be accepted right now. */
  active_tokens?: number;
  scope: string;
  /** Provider keys: the chosen patients; patient credentials: the owner's record. */
  patients: string[];
  /** Human sentence of what it reaches, e.g. "Your record, read-only". */
  reach: string;
  /** After a regeneration with grace: until when the previous secret still works. */
  previous_secret_valid_until: Instant | null;
}

/** The only response that ever carries a secret. */
export interface IssuedSecret {
  credential: Credential;
  client_id: string;
  client_secret: string;
  token_url: string;
  fhir_base_url: string;
}

/** PATCH body: absent fields stay as they are; valid_from/valid_to set to null clear the bound. */
export interface CredentialUpdate {
  name?: string;
  note?: string | null;
  valid_from?: Instant | null;
  valid_to?: Instant | null;
  active?: boolean;
  patients?: string[];
}

export interface Deleted {
  id: string;
  /** False when it was already deleted (delete is idempotent). */
  deleted_now: boolean;
  tokens_revoked: number;
  at: Instant;
}

export interface TypeCount {
  resource_type: string;
  count: number;
}

/** Counts per resource type of what a credential can see (same enforcement as a token). */
export interface Preview {
  credential_id: string;
  patients: string[];
  counts: TypeCount[];
  total: number;
}

export type AccessEventKind =
  | "token_issued"
  | "token_refused"
  | "token_revoked"
  | "credential_created"
  | "credential_updated"
  | "credential_regenerated"
  | "credential_deleted"
  | "fhir_access"
  | "fhir_refused"
  | "preview"
  | string;

export interface AccessEvent {
  seq: number;
  at: Instant;
  kind: AccessEventKind;
  outcome: string;
  credential_id: string | null;
  credential_name: string | null;
  patient_id: string | null;
  /** Entries such as "Observation:14" (or a bare type). */
  resource_types: string[];
  count: number | null;
  detail: string | null;
}

export interface PatientSummary {
  id: string;
  /** The full display name ("Given Family"). */
  name: string;
  birth_date: string | null;
  gender: string | null;
  /** The medical record number; absent from servers that predate it. */
  mrn?: string | null;
  practices: number[];
}

/** Where the service is (management API `ServiceInfo`). */
export interface ServiceInfo {
  fhir_base_url: string;
  token_url: string;
  revoke_url: string;
  version: string;
}

/** `service_status()` of the desktop shell. */
export interface ServiceStatus {
  mode: "embedded" | "remote";
  ready: boolean;
  base_url: string;
  fhir_base_url: string;
  token_url: string;
  /** Name of the current server ("This computer (demo)" for the embedded one). */
  server_name: string;
  keychain: "secret_service" | "keyutils" | "memory";
  /** Where the session is kept, in words, e.g. "Kernel keyring: kept until you log out of this computer". */
  keychain_label: string;
  keychain_message: string | null;
  startup_ms: number;
}

// ---- Servers and remote mode (offline cache, outbox) ----

/** A server the desktop app knows: the embedded demo service or a remote clinic server. */
export interface ServerEntry {
  id: string;
  kind: "embedded" | "remote";
  url: string | null;
  name: string;
  current: boolean;
  /** Username signed in on that server, if any. */
  signed_in_as: string | null;
}

export type OutboxKind = "delete_credential" | "set_credential_active" | "set_validity" | "decide_approval" | "delete_app";
export type OutboxState = "pending" | "sending" | "done" | "already_done" | "refused";

/** An action taken offline, waiting in (or finished from) the outbox. */
export interface OutboxEntry {
  id: number;
  action: { kind: OutboxKind | string; [k: string]: unknown };
  /** Plain words, e.g. "Delete “Phone app”". */
  description: string;
  /** The credential / app id the action is about. */
  target: string;
  state: OutboxState;
  /** Why the server refused it (state "refused"). */
  reason: string | null;
  queued_at: Instant;
  finished_at: Instant | null;
  attempts: number;
}

export interface ConnectionStatus {
  mode: "embedded" | "remote";
  online: boolean;
  offline_since: Instant | null;
  last_synced: Instant | null;
  /** Pending or sending, in the order they will be sent. */
  waiting: OutboxEntry[];
  /** Finished, newest first. */
  outcomes: OutboxEntry[];
  /** Plain-words lines of what changed on the server meanwhile; drained by each call. */
  changes: string[];
}

export interface DemoAccount {
  username: string;
  display_name: string;
  roles: string[];
  password: string;
}

/** Loose FHIR JSON: the UI reads only the fields it shows. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FhirJson = any;

/** What deleting a credential did: when, how many tokens died, the first refused request afterwards. */
export interface RevocationReceipt {
  credential_id: string;
  name: string;
  client_id: string;
  deleted_at: string;
  tokens_revoked: number;
  first_refused: AccessEvent | null;
  /** Absent from servers older than these fields. */
  created_at?: string | null;
  valid_to?: string | null;
  /** Username of whoever deleted the credential. */
  revoked_by?: string | null;
}

// ---- Third-party apps (SMART): registration, practice approval, connected apps ----

export type AppType = "patient" | "system";
export type Platform = "web" | "native" | "browser" | "service";
export type ClientAuth = "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt";
export type ApprovalStatus = "pending" | "approved" | "denied" | "withdrawn";

/** A registration as a developer submits it. */
export interface NewApp {
  name: string;
  description: string;
  homepage: string | null;
  privacy_policy: string | null;
  app_type: AppType;
  platform: Platform;
  client_auth: ClientAuth;
  redirect_uris: string[];
  /** An inline JWKS (JSON text), for private_key_jwt. */
  jwks: string | null;
  jwks_url: string | null;
  /** Space-separated SMART scopes the app may ask for. */
  scopes: string;
}

/** PATCH body: absent (or null) fields stay as they are. */
export interface AppUpdate {
  name?: string;
  description?: string;
  homepage?: string;
  privacy_policy?: string;
  redirect_uris?: string[];
  jwks?: string;
  jwks_url?: string;
  scopes?: string;
  /** false disables the app (its tokens stop on the next request), true enables it again. */
  active?: boolean;
}

/** A practice's decision on an app, as the developer and administrators see it. */
export interface Approval {
  app_id: string;
  app_name: string;
  client_id: string;
  practice_id: number;
  practice_name: string;
  status: ApprovalStatus;
  reason: string | null;
  requested_by: string;
  requested_at: Instant;
  decided_by: string | null;
  decided_at: Instant | null;
}

/** A registered app as listed: never holds its secret. */
export interface App {
  id: string;
  client_id: string;
  name: string;
  description: string;
  homepage: string | null;
  privacy_policy: string | null;
  app_type: AppType;
  platform: Platform;
  client_auth: ClientAuth;
  secret_hint: string | null;
  previous_secret_valid_until: Instant | null;
  redirect_uris: string[];
  jwks: string | null;
  jwks_url: string | null;
  scopes: string;
  active: boolean;
  owner: string;
  created_at: Instant;
  approvals: Approval[];
  /** People who have authorized it (live grants). */
  connected_users: number;
}

/** Registering an app or rotating its secret: the secret appears here once (client_secret_* apps). */
export interface IssuedAppSecret {
  app: App;
  client_secret: string | null;
  token_url: string;
  authorize_url: string;
  fhir_base_url: string;
}

export interface AppDeleted {
  revoked_grants: number;
}

/** An app a person authorized (a grant). Its id works with preview, history and delete_credential. */
export interface ConnectedApp {
  id: string;
  app_id: string;
  client_id: string;
  name: string;
  description: string;
  homepage: string | null;
  privacy_policy: string | null;
  developer: string;
  scope: string;
  scope_descriptions: string[];
  patient: string | null;
  since: Instant;
  last_used_at: Instant | null;
  /** When the grant ends (offline access: 90 days unless the person chose otherwise). */
  expires_at: Instant | null;
  active_tokens: number;
  refresh_tokens: number;
  /** Reaches data right now (approved, app enabled, within its end date). */
  usable: boolean;
  approved_by: string[];
}

export interface ExtendGrant {
  expires_at: Instant | null;
}

/** A developer account created from the sign-in screen. */
export interface Signup {
  username: string;
  given_name: string;
  family_name: string;
  email: string;
  company: string;
  password: string;
}

/** What /api/info says beyond the URLs. */
export interface ServiceFeatures {
  allow_signup: boolean;
  sample_app_url: string | null;
}

/** Something about a credential worth a look (`GET /api/nudges`, `/api/nudges/practice`). */
export type NudgeKind = "unused" | "expires_soon" | "expired" | "owner_left_practice" | "access_changed";

export interface Nudge {
  credential_id: string;
  name: string;
  credential_kind: CredentialKind;
  kind: NudgeKind;
  /** The finding in plain words, e.g. "Not used for 72 days". */
  detail: string;
  /** Days unused (`unused`) or days left (`expires_soon`). */
  days?: number | null;
  last_used: Instant | null;
  valid_to: Instant | null;
  owner: string;
  owner_name: string;
  /** `access_changed`: the notice "Got it" acknowledges. */
  notice_id?: number | null;
  /** `access_changed`: when the owner's roles or practices changed. */
  changed_at?: Instant | null;
  /** An administrator's view of an `access_changed` notice: when the owner acknowledged it. */
  acknowledged_at?: Instant | null;
  /** An administrator's view: false when the key's owner left their practices (listed, not theirs to revoke). */
  revocable?: boolean | null;
}

/** `POST /api/nudges/access-changes/{id}/ack`. */
export interface AccessChangeAcknowledged {
  notice_id: number;
  credential_id: string;
  acknowledged_at: Instant;
}
