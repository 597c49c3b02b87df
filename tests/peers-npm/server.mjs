// Shared helpers for the npm independent-peer tests.
//
// startPortico() spawns a real `portico serve --demo` on a fresh SQLite file in
// a temporary directory (port 0), reads its stdout until it has announced its
// URLs (no sleeps), and returns { base, fhirBase, tokenUrl, stop(), ... }.
// createPatientCredential() logs in as the demo patient and creates a
// patient_app credential through the management API, with global fetch.
//
//   PORTICO_BIN  the binary to test; relative paths are taken from the repo
//                root (default: target/debug/portico)

import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEMO_PASSWORD = "portico-demo";
export const DEMO_PATIENT_ID = "76d2fa2d-66a6-4823-8dab-52cd70822844";
export const FHIR_JSON = "application/fhir+json";

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export function porticoBin() {
  const raw = process.env.PORTICO_BIN || "target/debug/portico";
  return path.isAbsolute(raw) ? raw : path.resolve(REPO_ROOT, raw);
}

/**
 * Start `portico serve --db <tmp>/portico.db --port 0 --demo`.
 * Resolves once the listening line, the FHIR base and the token URL have been
 * printed on stdout.
 */
export async function startPortico() {
  const bin = porticoBin();
  if (!existsSync(bin)) {
    throw new Error(
      `Portico binary not found at ${bin}; build it with \`cargo build -p portico-cli\` or set PORTICO_BIN`,
    );
  }
  const tmpDir = await mkdtemp(path.join(tmpdir(), "portico-npm-peers-"));
  const dbPath = path.join(tmpDir, "portico.db");
  const proc = spawn(bin, ["serve", "--db", dbPath, "--port", "0", "--demo"], {
    stdio: ["ignore", "pipe", "pipe"],
  });

  const stdoutLines = [];
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = once(proc, "exit");

  let base, fhirBase, tokenUrl;
  const announced = new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout, crlfDelay: Infinity });
    rl.on("line", (line) => {
      stdoutLines.push(line);
      const text = line.trim();
      const listening = / listening on (\S+)/.exec(text);
      if (listening) base = listening[1].replace(/\/+$/, "");
      else if (text.startsWith("FHIR base:")) fhirBase = text.slice("FHIR base:".length).trim().replace(/\/+$/, "");
      else if (text.startsWith("Token URL:")) tokenUrl = text.slice("Token URL:".length).trim();
      if (base && fhirBase && tokenUrl) resolve();
    });
    proc.on("error", reject);
    proc.on("exit", (code, signal) =>
      reject(
        new Error(
          `portico exited (code ${code}, signal ${signal}) before announcing its URLs; ` +
            `stdout: ${JSON.stringify(stdoutLines)}; stderr: ${stderr}`,
        ),
      ),
    );
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `portico did not announce its URLs within ${STARTUP_TIMEOUT_MS} ms; ` +
              `stdout so far: ${JSON.stringify(stdoutLines)}; stderr: ${stderr}`,
          ),
        ),
      STARTUP_TIMEOUT_MS,
    );
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const [code, signal] = await exited;
      clearTimeout(killer);
      if (signal === "SIGKILL") throw new Error("portico did not stop within 30 s of SIGTERM");
      if (code !== 0) throw new Error(`portico exited ${code} (signal ${signal}) after SIGTERM; stderr: ${stderr}`);
    }
    await rm(tmpDir, { recursive: true, force: true });
  }

  try {
    await Promise.race([announced, timeout]);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }

  if (!base.startsWith("http://127.0.0.1:")) {
    await stop();
    throw new Error(`unexpected listening line; stdout: ${JSON.stringify(stdoutLines)}`);
  }
  if (fhirBase !== `${base}/fhir` || tokenUrl !== `${base}/oauth/token`) {
    await stop();
    throw new Error(`unexpected URLs: base ${base}, FHIR base ${fhirBase}, token URL ${tokenUrl}`);
  }

  return {
    base,
    fhirBase,
    tokenUrl,
    dbPath,
    stdoutLines,
    get stderr() {
      return stderr;
    },
    stop,
  };
}

async function jsonOrText(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** POST /api/session; returns the whole JSON body ({token, user, ...}). */
export async function login(server, username = "patient", password = DEMO_PASSWORD) {
  const res = await fetch(`${server.base}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await jsonOrText(res);
  if (res.status !== 200 || !body?.token) {
    throw new Error(`POST /api/session as ${username} -> ${res.status}: ${JSON.stringify(body)}`);
  }
  return body;
}

/**
 * Log in as the demo patient and create a patient_app credential through the
 * management API.  Returns the issued JSON ({client_id, client_secret,
 * token_url, fhir_base_url, credential: {...}}) plus `session` (the login body).
 */
export async function createPatientCredential(server, name = "npm peer") {
  const session = await login(server, "patient");
  const payload = { kind: "patient_app", name };
  const res = await fetch(`${server.base}/api/credentials`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${session.token}` },
    body: JSON.stringify(payload),
  });
  const issued = await jsonOrText(res);
  if (res.status !== 201) {
    throw new Error(`POST /api/credentials ${JSON.stringify(payload)} -> ${res.status}: ${JSON.stringify(issued)}`);
  }
  for (const key of ["client_id", "client_secret", "token_url", "fhir_base_url"]) {
    if (!issued?.[key]) throw new Error(`issued credential lacks ${key}: ${JSON.stringify(issued)}`);
  }
  return { ...issued, session };
}

/** GET a FHIR URL (relative to the FHIR base or absolute) with a bearer token. */
export async function fhirGet(server, url, accessToken) {
  const headers = { accept: FHIR_JSON };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const res = await fetch(new URL(url, `${server.fhirBase}/`), { headers });
  return { status: res.status, headers: res.headers, body: await jsonOrText(res) };
}

/**
 * `portico apps register ... --json` on the server's database (owner: the demo
 * developer), then `portico apps approve --practice 1`. Returns {client_id,
 * client_secret, id}. The running server sees the rows at once (SQLite WAL).
 */
export async function registerApp(server, name, args) {
  const run = async (...argv) => {
    const { stdout } = await execFileAsync(porticoBin(), argv, { timeout: 120_000 });
    return stdout;
  };
  const out = await run("apps", "register", "--db", server.dbPath, "--owner", "developer", "--name", name, ...args, "--json");
  const issued = JSON.parse(out);
  if (!issued.client_id) throw new Error(`apps register printed ${out}`);
  await run("apps", "approve", "--db", server.dbPath, issued.client_id, "--practice", "1");
  return issued;
}
