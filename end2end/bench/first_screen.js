// How fast the web app's first screen (the login form) is interactive on localhost, with
// an empty browser cache each time, how long the dashboard takes after logging in at
// once (its code is a module of its own, fetched in the background), and how big the
// modules are. Not a test: it prints figures next to their anchors and fails only when
// it cannot measure. Usage (README, Benchmarks):
//   . scripts/env.sh && cargo build --release -p cloudsync-server && scripts/build-app
//   cd end2end && node bench/first_screen.js [--runs 7]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_PASSWORD, dataDir, freePort, launchBrowser, repo, startServer } from "../tests/harness.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
process.env.CLOUDSYNC_BIN ||= join(repo, "target/release/cloudsync");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

const pkg = join(repo, "target/site/pkg");
const hash = readdirSync(pkg)[0];
const size = (f) => statSync(join(pkg, hash, f)).size;
const kb = (b) => `${(b / 1000).toFixed(0)} KB`;
const modules = readdirSync(join(pkg, hash)).filter((f) => f.endsWith(".wasm"));
const total = (suffix) => modules.reduce((sum, f) => sum + size(f + suffix), 0);
const pageModule = (name) => modules.find((f) => f.startsWith(`split___${name}_view_`));

const server = await startServer({ port: await freePort(), data: dataDir() });
const browser = await launchBrowser();
const rows = [];
try {
  for (let i = 0; i < runs; i++) {
    // A new context has an empty cache: every run downloads and compiles the app.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        const input = document.querySelector('[data-testid="login-username"]');
        if (input && !input.disabled) {
          window.__firstScreen = performance.now();
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(server.url);
    await page.getByTestId("login-username").waitFor({ timeout: 30_000 });
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const wasm = performance.getEntriesByType("resource").find((r) => r.name.endsWith(".wasm"));
      return {
        first: window.__firstScreen,
        html: nav.domContentLoadedEventEnd,
        wasmEnd: wasm ? wasm.responseEnd : NaN,
        wasmBytes: wasm ? wasm.encodedBodySize : NaN,
      };
    });
    if (!Number.isFinite(t.first)) throw new Error("the login form never appeared");
    rows.push(t);

    // Logging in at once: from the click to the dashboard drawn, which needs the
    // dashboard's module (and the chunks it shares with other pages), fetched in the
    // background from the moment the login form is up.
    await page.getByTestId("login-username").fill("admin");
    await page.getByTestId("login-password").fill(ADMIN_PASSWORD);
    const clicked = await page.evaluate(() => performance.now());
    await page.getByTestId("login-submit").click();
    await page.getByTestId("page-dashboard").waitFor({ timeout: 30_000 });
    const after = await page.evaluate(() => {
      const wasm = performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".wasm"));
      return {
        drawn: performance.now(),
        dashboardEnd: wasm.find((r) => r.name.includes("split___dashboard_"))?.responseEnd ?? NaN,
        bytes: wasm.reduce((sum, r) => sum + r.encodedBodySize, 0),
      };
    });
    t.dashboard = after.drawn - clicked;
    t.dashboardFetched = after.dashboardEnd - t.first;
    t.bytesAtDashboard = after.bytes;
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}

const firsts = rows.map((r) => r.first);
console.log(`first screen (login form interactive), ${runs} cold loads on localhost:`);
console.log(`  p50 ${ms(median(firsts))}, max ${ms(Math.max(...firsts))}` +
  `   anchors: HTML parsed at ${ms(median(rows.map((r) => r.html)))},` +
  ` WebAssembly downloaded at ${ms(median(rows.map((r) => r.wasmEnd)))}`);
console.log(`first screen module: ${kb(size("cloudsync_app_bg.wasm"))} wasm, ${kb(size("cloudsync_app_bg.wasm.gz"))} gzipped,` +
  ` ${kb(size("cloudsync_app_bg.wasm.br"))} brotli; the browser received ${kb(rows[0].wasmBytes)}`);
console.log(`login click to dashboard drawn: p50 ${ms(median(rows.map((r) => r.dashboard)))},` +
  ` max ${ms(Math.max(...rows.map((r) => r.dashboard)))}` +
  `   anchor: the dashboard's module was in ${ms(median(rows.map((r) => r.dashboardFetched)))} after the login form was up;` +
  ` the browser had received ${kb(rows[0].bytesAtDashboard)} of WebAssembly by then`);
console.log(`whole app: ${modules.length} modules, ${kb(total(""))} wasm, ${kb(total(".gz"))} gzipped,` +
  ` ${kb(total(".br"))} brotli (fetched in the background from the moment the login form is up)`);
// What opening a page cold needs: the first-screen module, the page's own module and
// the chunks wasm-split's loader lists as the page's dependencies.
const loader = readFileSync(join(pkg, hash, "__wasm_split.js"), "utf8");
const chunksOf = (f) => {
  const at = loader.indexOf(`"./${f}"`);
  const deps = at < 0 ? null : loader.slice(at).match(/\n,\s*\[([^\]]*)\]/);
  if (!deps) throw new Error(`the loader lists no dependencies for ${f}: has wasm-split changed its loader?`);
  return deps[1].split(",").map((d) => d.trim()).filter(Boolean).map((d) => `${d.replace(/^__/, "")}.wasm`);
};
const coldSet = (...fs) => new Set(["cloudsync_app_bg.wasm", ...fs.flatMap((f) => [f, ...chunksOf(f)])]);
const sum = (set, suffix) => [...set].reduce((total, m) => total + size(m + suffix), 0);
for (const name of ["dashboard", "tasks", "runs", "credentials", "system"]) {
  const f = pageModule(name);
  if (!f) throw new Error(`no module for the ${name} page: was the app built by scripts/build-app?`);
  const cold = coldSet(f);
  console.log(`  ${name} page's own module: ${kb(size(f + ".gz"))} gzipped, ${kb(size(f + ".br"))} brotli;` +
    ` opened cold with the first-screen module and its ${cold.size - 2} chunks: ${kb(sum(cold, ".gz"))} gzipped, ${kb(sum(cold, ".br"))} brotli`);
}
// Parts of a page split off with `#[lazy]` (the task form): alone, and with their page.
const form = modules.find((f) => f.startsWith("split_task_editor_"));
if (!form) throw new Error("no module for the task form: was the app built by scripts/build-app?");
const formCold = coldSet(form);
const tasksWithForm = coldSet(pageModule("tasks"), form);
console.log(`  task form's own module: ${kb(size(form + ".gz"))} gzipped; opened cold with the first-screen module` +
  ` and its ${formCold.size - 2} chunks: ${kb(sum(formCold, ".gz"))} gzipped; the Tasks page and its form together,` +
  ` cold: ${kb(sum(tasksWithForm, ".gz"))} gzipped, ${kb(sum(tasksWithForm, ".br"))} brotli`);
