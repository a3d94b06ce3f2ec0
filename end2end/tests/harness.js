// Starts the real cloudsync binary (with its embedded PostgreSQL in a temp folder) and
// Debian's Chromium, and keeps screenshots under end2end/test-results/.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, chmodSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { before, after } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const resultsDir = join(repo, "end2end/test-results");
mkdirSync(resultsDir, { recursive: true });

export const ADMIN_PASSWORD = "e2e-admin-password";
/** Set by scripts/env.sh (sourced by scripts/test): the paths are written there only. */
function fromEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test, or source scripts/env.sh`);
  return value;
}
const tools = fromEnv("CLOUDSYNC_TOOLS");
export const rclone = fromEnv("CLOUDSYNC_TEST_RCLONE");
const binary = process.env.CLOUDSYNC_BIN || join(repo, "target/debug/cloudsync");

/** The version line `rclone version` prints, e.g. "1.75.2". */
export function rcloneVersion() {
  const out = execFileSync(rclone, ["version"], { encoding: "utf8" });
  return out.split("\n")[0].replace(/^rclone v/, "").trim();
}

export async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** A folder the unprivileged postgres user can traverse. */
export function dataDir() {
  const root = mkdtempSync(join(tmpdir(), "cloudsync-e2e-"));
  chmodSync(root, 0o755);
  return join(root, "data");
}

/** Starts `cloudsync serve` and resolves once it prints its URL. */
export async function startServer({ port, data, args = [], site = join(repo, "target/site") }) {
  const child = spawn(binary, [
    "serve", "--listen", `127.0.0.1:${port}`, "--data-dir", data,
    "--rclone", rclone, "--site-dir", site, ...args,
  ], {
    env: { ...process.env, CLOUDSYNC_ADMIN_PASSWORD: ADMIN_PASSWORD, DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((res, rej) => {
    let buf = "";
    const timer = setTimeout(() => rej(new Error("server did not start within 120 s")), 120_000);
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/cloudsync listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); res(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); rej(new Error(`server exited with ${code}`)); });
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((res) => child.on("exit", res));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The set-up every test file shares: a server on a free port with its own data folder,
 *  Chromium, and (with `s3: keys`) an `rclone serve s3`; all stopped after the file.
 *  Returns an object whose fields are filled before the first test. */
export function useServer({ args = [], s3 = null, site } = {}) {
  const env = {};
  before(async () => {
    env.port = await freePort();
    env.data = dataDir();
    env.server = await startServer({ port: env.port, data: env.data, args, site });
    if (s3) env.s3 = await startS3(s3);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    env.s3?.stop();
    await env.server?.stop();
  });
  return env;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
  });
}

/** Takes a screenshot, and fails if the page broke its Content-Security-Policy so far. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(resultsDir, `${name}.png`), fullPage: true });
  const violations = await page.evaluate(() => window.__cspViolations || []);
  if (violations.length) throw new Error(`CSP violations on ${name}: ${violations.join("; ")}`);
}

/** Records every Content-Security-Policy violation of the page in window.__cspViolations. */
export async function watchCsp(page) {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
}

export async function logIn(page, url, password = ADMIN_PASSWORD) {
  await watchCsp(page);
  await page.goto(url);
  await page.getByTestId("login-username").fill("admin");
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (30 s at most). */
async function waitForPort(port, what) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise((res) => {
      const s = connect(port, "127.0.0.1", () => { s.end(); res(true); });
      s.on("error", () => res(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `rclone serve s3` on a free port with a temp folder; `stop()` ends it. */
export async function startS3({ accessKey, secretKey }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "cloudsync-e2e-s3-"));
  mkdirSync(join(dir, "backups"));
  const child = spawn(rclone, ["serve", "s3", dir, "--addr", `127.0.0.1:${port}`, "--auth-key", `${accessKey},${secretKey}`],
    { env: { ...process.env, RCLONE_CONFIG: "/dev/null" }, stdio: "ignore" });
  await waitForPort(port, "rclone serve s3");
  return { endpoint: `http://127.0.0.1:${port}`, dir, stop: () => child.kill() };
}

/** `rclone serve sftp` on a free port that lets in only the key whose public half is
 *  in `authorizedKeys`; `stop()` ends it. */
export async function startSftpKeyOnly(authorizedKeys) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "cloudsync-e2e-sftp-"));
  mkdirSync(join(dir, "photos"));
  const child = spawn(rclone, ["serve", "sftp", dir, "--addr", `127.0.0.1:${port}`, "--authorized-keys", authorizedKeys],
    { env: { ...process.env, RCLONE_CONFIG: "/dev/null" }, stdio: "ignore" });
  await waitForPort(port, "rclone serve sftp");
  return { port, dir, stop: () => child.kill() };
}

/** oauth2-mock-server (installed by scripts/setup) on a free port. */
export async function startOAuthMock() {
  const port = await freePort();
  const version = process.env.OAUTH_MOCK_VERSION || "8";
  const bin = join(tools, `oauth2-mock-server-${version}/node_modules/.bin/oauth2-mock-server`);
  const child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  await waitForPort(port, "oauth2-mock-server");
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

/** Fills the open credential form for `s3` (rclone serve s3). */
export async function fillS3Form(page, s3, { name, accessKey, secretKey }) {
  await page.getByTestId("cred-name").fill(name);
  await page.getByTestId("cred-provider").selectOption("s3");
  await page.getByTestId("opt-provider").selectOption("Rclone");
  await page.getByTestId("opt-endpoint").fill(s3.endpoint);
  await page.getByTestId("opt-access_key_id").fill(accessKey);
  await page.getByTestId("opt-secret_access_key").fill(secretKey);
}

/** Adds an S3 credential for `s3` through the Credentials page. */
export async function addS3Credential(page, s3, keys) {
  await page.getByRole("link", { name: "Credentials" }).click();
  await page.getByTestId("add-credential").click();
  await fillS3Form(page, s3, keys);
  await page.getByTestId("cred-save").click();
  const name = keys.name;
  await page.locator(`[data-testid="credential-row"][data-name="${name}"]`).waitFor({ timeout: 15_000 });
}

/** Calls one API method from inside `page` (same origin) on a socket of its own, logged
 *  in as admin; resolves with the result or rejects with the error. */
export async function rpcInPage(page, method, params, password = ADMIN_PASSWORD) {
  return page.evaluate(async ({ method, params, password }) => {
    const ws = new WebSocket(`ws://${location.host}/api/ws`);
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
    let id = 0;
    const call = (m, p) => new Promise((res, rej) => {
      const mine = ++id;
      ws.addEventListener("message", function on(ev) {
        const msg = JSON.parse(ev.data);
        if (msg.id !== mine) return;
        ws.removeEventListener("message", on);
        msg.error ? rej(new Error(JSON.stringify(msg.error))) : res(msg.result);
      });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: mine, method: m, params: p }));
    });
    try {
      await call("auth.login", { username: "admin", password });
      return await call(method, params);
    } finally {
      ws.close();
    }
  }, { method, params, password });
}

/** Runs task `id` over the page's API and waits (30 s at most) until the run has ended. */
export async function runToEnd(page, id) {
  const { run_id } = await rpcInPage(page, "task.run", { id });
  for (let i = 0; i < 300; i++) {
    const run = await rpcInPage(page, "run.get", { id: run_id });
    if (!["QUEUED", "RUNNING"].includes(run.state)) return run;
    await page.waitForTimeout(100);
  }
  throw new Error(`run ${run_id} of task ${id} did not end within 30 s`);
}
