// How fast the web app's first screen (the login form) is interactive on localhost, with
// an empty browser cache each time. Not a test: it prints figures next to their anchors
// and fails only when it cannot measure. Usage (README, Benchmarks):
//   . scripts/env.sh && cargo build --release -p cloudsync-server && scripts/build-app
//   cd end2end && node bench/first_screen.js [--runs 7]
import { statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { dataDir, freePort, launchBrowser, repo, startServer } from "../tests/harness.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
process.env.CLOUDSYNC_BIN ||= join(repo, "target/release/cloudsync");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

const pkg = join(repo, "target/site/pkg");
const hash = readdirSync(pkg)[0];
const size = (f) => statSync(join(pkg, hash, f)).size;
const kb = (b) => `${(b / 1000).toFixed(0)} KB`;

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
console.log(`web app: ${kb(size("cloudsync_app_bg.wasm"))} wasm, ${kb(size("cloudsync_app_bg.wasm.gz"))} gzipped,` +
  ` ${kb(size("cloudsync_app_bg.wasm.br"))} brotli; the browser received ${kb(rows[0].wasmBytes)}`);
