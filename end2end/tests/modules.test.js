// The web app's code in modules: the login form needs only the first one, the pages'
// modules follow in the background, once they are in an open app no longer needs the
// server's files (a server upgraded under it removes them), a module the network drops
// is fetched again, and an app that cannot get them says so.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_PASSWORD, repo, screenshot, useServer, watchCsp } from "./harness.js";

// A copy of the built app, so this file can take it away from under its server.
const root = mkdtempSync(join(tmpdir(), "cloudsync-e2e-site-"));
const site = join(root, "site");
cpSync(join(repo, "target/site"), site, { recursive: true });
const env = useServer({ site });
after(() => rmSync(root, { recursive: true, force: true }));

const pages = [
  ["Dashboard", "dashboard"], ["Tasks", "tasks"], ["Runs", "runs"],
  ["Credentials", "credentials"], ["System", "system"],
];
const wasmFetched = (page) => page.evaluate(() => performance.getEntriesByType("resource")
  .filter((r) => r.name.endsWith(".wasm")).map((r) => new URL(r.name).pathname.split("/").pop()));

test("the login form is up with only the first-screen module; every page's module follows in the background", async () => {
  const page = await env.browser.newPage();
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector('[data-testid="login-username"]')) {
        window.__wasmAtFirstScreen = performance.getEntriesByType("resource")
          .filter((r) => r.name.endsWith(".wasm")).map((r) => new URL(r.name).pathname.split("/").pop());
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto(env.server.url);
  await page.getByTestId("login-username").waitFor({ timeout: 15_000 });
  assert.deepEqual(await page.evaluate(() => window.__wasmAtFirstScreen), ["cloudsync_app_bg.wasm"]);

  await page.locator("body[data-pages-loaded]").waitFor({ state: "attached", timeout: 15_000 });
  const fetched = await wasmFetched(page);
  for (const [, name] of pages) {
    assert.ok(fetched.some((f) => f.startsWith(`split___${name}_view_`)), `no module of its own for ${name}: ${fetched}`);
  }
  assert.ok(fetched.some((f) => f.startsWith("split_task_editor_")), `no module of its own for the task form: ${fetched}`);
  const hash = readdirSync(join(site, "pkg"))[0];
  const built = readdirSync(join(site, "pkg", hash)).filter((f) => f.endsWith(".wasm"));
  assert.deepEqual([...fetched].sort(), [...built].sort(), "every module is fetched once");
  await page.close();
});

test("a page's module that the network drops at first is fetched again, and the app goes on", async () => {
  const page = await env.browser.newPage();
  // Every page module and shared chunk: the first request is cut off, the next goes through.
  const dropped = new Set();
  await page.route(/\/(split_[^/]*|chunk_\d+)\.wasm$/, (route) => {
    const file = new URL(route.request().url()).pathname.split("/").pop();
    if (dropped.has(file)) return route.continue();
    dropped.add(file);
    return route.abort("connectionreset");
  });
  await page.goto(env.server.url);
  await page.locator("body[data-pages-loaded]").waitFor({ state: "attached", timeout: 30_000 });
  const hash = readdirSync(join(site, "pkg"))[0];
  const split = readdirSync(join(site, "pkg", hash)).filter((f) => /^(split_|chunk_).*\.wasm$/.test(f));
  assert.deepEqual([...dropped].sort(), split.sort(), "each module's first request was cut off");
  assert.equal(await page.getByTestId("app-stopped").count(), 0);

  await page.getByTestId("login-username").fill("admin");
  await page.getByTestId("login-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("page-dashboard").waitFor({ timeout: 15_000 });
  for (const [link, name] of pages.slice(1)) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await page.getByTestId(`page-${name}`).waitFor({ timeout: 5_000 });
  }
  await page.close();
});

test("an open app moves between all its pages after the server's copy of the app is gone", async () => {
  const page = await env.browser.newPage();
  await page.goto(env.server.url);
  await page.locator("body[data-pages-loaded]").waitFor({ state: "attached", timeout: 15_000 });
  rmSync(join(site, "pkg"), { recursive: true });
  const gone = await page.evaluate(async () => (await fetch(performance.getEntriesByType("resource")
    .find((r) => r.name.includes("split___tasks_view_")).name, { cache: "no-store" })).status);
  assert.equal(gone, 404);

  await page.getByTestId("login-username").fill("admin");
  await page.getByTestId("login-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("page-dashboard").waitFor({ timeout: 15_000 });
  for (const [link, name] of [...pages.slice(1), pages[0]]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await page.getByTestId(`page-${name}`).waitFor({ timeout: 5_000 });
  }
  // The task form is a module of its own too, fetched with the pages.
  await page.getByRole("link", { name: "Tasks", exact: true }).click();
  await page.getByTestId("add-task").click();
  await page.getByTestId("task-form").waitFor({ timeout: 5_000 });
  await page.close();
});

test("an app whose pages' modules cannot be fetched says it stopped, with a way to reload", async () => {
  // The server's copy without the pages' modules: what an open login page meets when the
  // server was upgraded under it.
  cpSync(join(repo, "target/site"), site, { recursive: true });
  const page = await env.browser.newPage();
  const hash = readdirSync(join(site, "pkg"))[0];
  for (const f of readdirSync(join(site, "pkg", hash)).filter((f) => f.startsWith("split___"))) {
    rmSync(join(site, "pkg", hash, f));
  }
  await watchCsp(page);
  await page.goto(env.server.url);
  const banner = page.getByTestId("app-stopped");
  await banner.waitFor({ timeout: 15_000 });
  assert.match(await banner.textContent(), /The app stopped: a part of it could not be loaded/);
  assert.equal(await page.locator("body[data-pages-loaded]").count(), 0);
  await screenshot(page, "app-stopped");
  await page.close();
});
