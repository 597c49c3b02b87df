// The only module that talks to the Rust shell. Every other module calls the typed
// functions below; every rejection becomes an ApiError with a stable `code`.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import type {
  AccessChangeAcknowledged,
  AccessEvent,
  App,
  AppDeleted,
  AppUpdate,
  Approval,
  ApprovalStatus,
  ConnectedApp,
  ConnectionStatus,
  ExtendGrant,
  IssuedAppSecret,
  NewApp,
  ServiceFeatures,
  Signup,
  Credential,
  CredentialUpdate,
  Deleted,
  DemoAccount,
  ErrorCode,
  FhirJson,
  IssuedSecret,
  NewCredential,
  Nudge,
  PatientSummary,
  Practice,
  Preview,
  RevocationReceipt,
  ServerEntry,
  ServiceStatus,
  StaffKey,
  StaffKeyQuery,
  Page,
  User,
  UserQuery,
} from "./types";

export class ApiError extends Error {
  readonly code: ErrorCode | string;
  constructor(code: ErrorCode | string, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

/** Turns whatever a command rejected with (object, JSON string, Error, string) into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  let value: unknown = e;
  if (typeof value === "string") {
    const s = value.trim();
    if (s.startsWith("{")) {
      try {
        value = JSON.parse(s);
      } catch {
        return new ApiError("internal", s);
      }
    } else {
      return new ApiError("internal", s || "Something went wrong.");
    }
  }
  if (value && typeof value === "object") {
    const o = value as { code?: unknown; message?: unknown };
    const code = typeof o.code === "string" && o.code ? o.code : "internal";
    let message = typeof o.message === "string" && o.message ? o.message : "";
    if (!message) message = value instanceof Error ? value.message : "Something went wrong.";
    return new ApiError(code, message);
  }
  return new ApiError("internal", "Something went wrong.");
}

type InvokeFn = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;
let invokeImpl: InvokeFn = (cmd, args) => tauriInvoke(cmd, args);

/** Codes that say the server could not be reached (the action failed, waits in the outbox, or needs the server). */
export const CONNECTION_CODES: readonly string[] = ["unavailable", "queued", "offline"];

/** True when the error means the server is out of reach rather than that it said no. */
export function isConnectionError(e: unknown): boolean {
  return CONNECTION_CODES.includes(toApiError(e).code);
}

/** The toast for an action put in the outbox: "Waiting to send: “Delete …” will be sent when the server is back." */
export function queuedText(e: unknown): string {
  const m = toApiError(e).message.replace(/^\s*offline\s*[:—-]\s*/i, "").trim();
  return `Waiting to send: ${m || "it will be sent when the server is back."}`;
}

// Commands whose own failures must not trigger another sync (the sync loop calls them).
const QUIET = new Set(["sync_now", "connection_status"]);
let connectionListener: ((err: ApiError, cmd: string) => void) | null = null;

/** Tells the app shell about any "unavailable" / "queued" / "offline" rejection (so it can sync at once). */
export function onConnectionError(fn: ((err: ApiError, cmd: string) => void) | null): void {
  connectionListener = fn;
}

/** Replaces the transport: the dev mock and unit tests only. */
export function setInvoke(fn: InvokeFn): void {
  invokeImpl = fn;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return (await invokeImpl(cmd, args)) as T;
  } catch (e) {
    const err = toApiError(e);
    if (connectionListener && !QUIET.has(cmd) && CONNECTION_CODES.includes(err.code)) {
      try {
        connectionListener(err, cmd);
      } catch {
        // a listener's failure must not replace the command's own error
      }
    }
    throw err;
  }
}

export const serviceStatus = () => call<ServiceStatus>("service_status");
export const demoAccounts = () => call<DemoAccount[]>("demo_accounts");
export const restoreSession = () => call<User | null>("restore_session");
export const signIn = (username: string, password: string) => call<User>("sign_in", { username, password });
export const signOut = () => call<null>("sign_out");

export const listCredentials = () => call<Credential[]>("list_credentials");
export const createCredential = (req: NewCredential) => call<IssuedSecret>("create_credential", { req });
export const updateCredential = (id: string, change: CredentialUpdate) =>
  call<Credential>("update_credential", { id, change });
export const regenerateCredential = (id: string, graceSeconds: number | null) =>
  call<IssuedSecret>("regenerate_credential", { id, graceSeconds });
export const deleteCredential = (id: string) => call<Deleted>("delete_credential", { id });

export const preview = (id: string) => call<Preview>("preview", { id });
export const previewFhir = (id: string, path: string) => call<FhirJson>("preview_fhir", { id, path });
export const history = (id: string) => call<AccessEvent[]>("history", { id });

/** Administrators: one page of the users they manage, searched, filtered, sorted and paged by the service. */
export const users = (query: UserQuery = {}) => call<Page<User>>("users", { query });
export const setRoles = (userId: number, roles: string[]) => call<User>("set_roles", { userId, roles });
export const setPractices = (userId: number, practices: number[]) =>
  call<User>("set_practices", { userId, practices });
/** Administrators: one page of the staff keys of their practices. */
export const staffCredentials = (query: StaffKeyQuery = {}) => call<Page<StaffKey>>("staff_credentials", { query });
export const nudges = () => call<Nudge[]>("nudges");
export const practiceNudges = (unusedDays: number | null) => call<Nudge[]>("practice_nudges", { unusedDays });
/** "Got it" on an access-change notice (the signed-in person's own). */
export const acknowledgeAccessChange = (noticeId: number) =>
  call<AccessChangeAcknowledged>("acknowledge_access_change", { noticeId });
/** Patients of the staff member's practices matching `query` (name words, a date of birth YYYY-MM-DD / YYYY-MM /
 * YYYY, an MRN, an id; null: everyone), at most `limit` (the server's default, 20, when null). */
export const patients = (query: string | null, limit: number | null = null) => call<PatientSummary[]>("patients", { query, limit });
/** The summaries of these patients (those of the staff member's practices). */
export const patientsById = (ids: string[]) => call<PatientSummary[]>("patients_by_id", { ids });
export const practices = () => call<Practice[]>("practices");
export const capabilityStatement = () => call<FhirJson>("capability_statement");

export const copyText = (text: string, secret: boolean) => call<null>("copy_text", { text, secret });
export const receipts = () => call<RevocationReceipt[]>("receipts");
export const uiReady = (screen: string) => call<null>("ui_ready", { screen });
export const reportTiming = (name: string, ms: number) => call<null>("report_timing", { name, ms });

export const serviceFeatures = () => call<ServiceFeatures>("service_features");
export const signUp = (req: Signup) => call<User>("sign_up", { req });

export const listApps = () => call<App[]>("list_apps");
export const registerApp = (req: NewApp) => call<IssuedAppSecret>("register_app", { req });
export const updateApp = (id: string, change: AppUpdate) => call<App>("update_app", { id, change });
export const deleteApp = (id: string) => call<AppDeleted>("delete_app", { id });
export const rotateAppSecret = (id: string, graceMinutes: number | null) =>
  call<IssuedAppSecret>("rotate_app_secret", { id, graceMinutes });
export const requestApproval = (appId: string, practiceId: number) =>
  call<Approval>("request_approval", { appId, practiceId });
export const approvals = () => call<Approval[]>("approvals");
export const decideApproval = (appId: string, practiceId: number, status: Exclude<ApprovalStatus, "pending">, reason: string | null) =>
  call<Approval>("decide_approval", { appId, practiceId, decision: { status, reason } });
export const connectedApps = () => call<ConnectedApp[]>("connected_apps");
export const extendGrant = (id: string, change: ExtendGrant) => call<ConnectedApp>("extend_grant", { id, change });
export const openSampleApp = () => call<string>("open_sample_app");
export const openExternal = (url: string) => call<null>("open_external", { url });
/** Saves the signed-in patient's whole access history in their Downloads folder; answers where. */
export const exportAccessHistory = (format: "csv" | "fhir") => call<{ path: string; bytes: number }>("export_access_history", { format });

// ---- Servers and remote mode ----
export const servers = () => call<ServerEntry[]>("servers");
export const addServer = (url: string) => call<ServerEntry>("add_server", { url });
export const removeServer = (id: string) => call<null>("remove_server", { id });
export const switchServer = (id: string) => call<ServiceStatus>("switch_server", { id });
/** Remote only: opens the system browser and resolves when the loopback redirect comes back. */
export const signInBrowser = () => call<User>("sign_in_browser");
export const cancelSignIn = () => call<null>("cancel_sign_in");
export const connectionStatus = () => call<ConnectionStatus>("connection_status");
export const syncNow = () => call<ConnectionStatus>("sync_now");
export const cancelOutbox = (id: number) => call<null>("cancel_outbox", { id });
export const dismissOutcomes = () => call<null>("dismiss_outcomes");
