// Starts a real `herald serve` (fresh SQLite file, free port, a random bootstrap key) and a
// headless Debian Chromium driven by playwright-core, for the end-to-end tests.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const dashboardDir = resolve(here, "..");
export const artifactsDir = resolve(dashboardDir, "../target/dashboard-e2e");

/** Polls `check` until it returns a truthy value, or throws after `timeoutMs`. */
export async function waitFor(what, check, { timeoutMs = 15_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A herald that answers with this key on `base`: `request(method, path, body)` for seeding. */
function client(base, key) {
  return async function api(method, path, body, headers = {}) {
    const response = await fetch(base + path, {
      method,
      headers: { "X-API-Key": key, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

/**
 * Starts `herald serve`, or, with HERALD_E2E_URL and HERALD_E2E_KEY set, uses a herald that
 * is already running there (its data is then not fresh).
 */
export async function startHerald() {
  if (process.env.HERALD_E2E_URL) {
    const base = process.env.HERALD_E2E_URL.replace(/\/$/, "");
    const key = process.env.HERALD_E2E_KEY;
    if (!key) throw new Error("HERALD_E2E_URL needs HERALD_E2E_KEY, an API key of that herald");
    return { base, key, log: () => "(herald started elsewhere)", stop: async () => {}, api: client(base, key) };
  }
  const bin = resolve(dashboardDir, process.env.HERALD_BIN || "../target/debug/herald");
  if (!existsSync(bin))
    throw new Error(`no herald binary at ${bin}: run \`cargo build --bin herald\` or set HERALD_BIN`);
  const work = mkdtempSync(join(tmpdir(), "herald-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const key = `e2e-${randomBytes(16).toString("hex")}`;
  const env = { ...process.env };
  delete env.HERALD_AMQP_URL;
  delete env.DATABASE_URL;
  Object.assign(env, {
    HERALD_DATABASE_URL: `sqlite://${work}/herald.db`,
    HERALD_LISTEN: `127.0.0.1:${port}`,
    HERALD_BOOTSTRAP_API_KEY: key,
    // Half the sends fail, without retries: dead letters appear next to sent messages.
    HERALD_MOCK_PROVIDER__SUCCESS_RATE: "0.5",
    HERALD_MOCK_PROVIDER__LATENCY_MS: "100",
    HERALD_DISPATCH__MAX_RETRIES: "0",
    HERALD_LOG: "warn",
  });
  const logPath = join(work, "herald.log");
  const log = openSync(logPath, "w");
  const child = spawn(bin, ["serve"], { env, stdio: ["ignore", log, log] });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const herald = {
    base,
    key,
    log: () => readFileSync(logPath, "utf8"),
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill("SIGKILL");
      }
      rmSync(work, { recursive: true, force: true });
    },
    /** A request with the API key, for seeding and for checks behind the browser's back. */
    api: client(base, key),
  };
  try {
    await waitFor(
      "herald's /health/ready",
      async () => {
        if (exited) throw new Error(`herald exited; its log:\n${herald.log()}`);
        return (await fetch(`${base}/health/ready`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  } catch (error) {
    await herald.stop();
    throw error;
  }
  return herald;
}

export const CUSTOMER_NAMES = [
  "Amina",
  "Brian",
  "Chen",
  "Dalia",
  "Emeka",
  "Fatuma",
  "Goran",
  "Hana",
  "Ivo",
  "Jomo",
  "Kai",
  "Lulu",
];

export async function seedCustomers(herald) {
  const ids = [];
  // Kenyan mobile numbers, distinct per run so that a shared herald takes them too.
  const prefix = `+2547${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
  for (const [i, name] of CUSTOMER_NAMES.entries()) {
    const phone = `${prefix}${String(i).padStart(2, "0")}`;
    const { status, body } = await herald.api("POST", "/api/v1/customers", {
      phone,
      first_name: name,
      location: "Nairobi",
    });
    if (status !== 201 && status !== 200)
      throw new Error(`seeding customer ${name}: ${status} ${JSON.stringify(body)}`);
    ids.push(body.id);
  }
  return ids;
}

/**
 * `bypassCSP` only for the accessibility audit, which injects axe-core into the page; every
 * other run keeps herald's Content-Security-Policy, and fails on any violation of it.
 */
export async function launchBrowser({ viewport = { width: 1280, height: 900 }, bypassCSP = false } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), "herald-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    viewport,
    bypassCSP,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  // Cumulative layout shift since the page loaded (or since a test reset it): data arriving
  // must not move what is already on screen.
  await context.addInitScript(() => {
    window.__layoutShift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__layoutShift += entry.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // Every origin the page sends a request to: herald's only (no CDN, no fonts, nothing else).
  const origins = new Set();
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "http:" || url.protocol === "https:") origins.add(url.origin);
  });
  page.on("console", (message) => {
    // A 401 from `GET /api/v1/session` before sign-in is expected; Chromium logs it as a failed load.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      problems.push(`console: ${message.text()}`);
  });
  return {
    context,
    page,
    problems,
    origins,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
}
