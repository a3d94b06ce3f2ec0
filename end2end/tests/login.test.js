// Logging in, the System page, a wrong password, reload and reconnect, in a real browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ADMIN_PASSWORD, logIn, rcloneVersion, screenshot, startServer, useServer, watchCsp,
} from "./harness.js";

const env = useServer();

test("a wrong password shows an error and stays on the login page", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url, "not-the-password");
  const error = page.getByTestId("login-error");
  await error.waitFor({ timeout: 15_000 });
  assert.equal(await error.textContent(), "wrong username or password");
  assert.equal(await page.getByTestId("current-user").count(), 0);
  await screenshot(page, "login-wrong-password");
  await page.close();
});

test("logging in shows the System page with the server's rclone version", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByTestId("current-user").waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId("current-user").textContent(), "admin");
  await page.getByRole("link", { name: "System" }).click();
  const rclone = page.getByTestId("rclone-version");
  await rclone.waitFor({ timeout: 15_000 });
  assert.equal(await rclone.textContent(), rcloneVersion());
  assert.match(await page.getByTestId("postgres-version").textContent(), /^\d+\.\d+/);
  assert.equal(await page.getByTestId("connection-state").textContent(), "Connected");
  assert.equal(new URL(page.url()).pathname, "/system");
  await screenshot(page, "system-page");

  // A reload keeps the session (the token is in sessionStorage) and the route.
  await page.reload();
  await page.getByTestId("rclone-version").waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId("login-password").count(), 0);
  await page.close();
});

test("the app reconnects after a server restart and signs back in with its token", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("rclone-version").waitFor({ timeout: 15_000 });

  await env.server.stop();
  const badge = page.getByTestId("connection-state");
  await page.waitForFunction(
    () => document.querySelector('[data-testid="connection-state"]')?.textContent.startsWith("Disconnected"),
    null, { timeout: 15_000 });
  await screenshot(page, "disconnected");

  env.server = await startServer({ port: env.port, data: env.data });
  await page.waitForFunction(
    () => document.querySelector('[data-testid="connection-state"]')?.textContent === "Connected",
    null, { timeout: 30_000 });
  assert.equal(await badge.textContent(), "Connected");
  // Still signed in: a fresh page load of System works through the resumed session.
  await page.getByRole("link", { name: "Runs" }).click();
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("rclone-version").waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId("current-user").textContent(), "admin");
  await page.close();
});

test("the app is readable on a phone: nothing overflows sideways", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("rclone-version").waitFor({ timeout: 15_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
  await screenshot(page, "system-page-phone");
  await context.close();
});

test("changing the password with a short new one names the field", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("old-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("new-password").fill("short");
  const form = page.getByTestId("change-password");
  await form.getByText("must be at least 8 characters (got 5)").waitFor({ timeout: 5_000 });
  await screenshot(page, "change-password-too-short");
  await page.close();
});

test("the app runs under its Content-Security-Policy without a violation", async () => {
  const page = await env.browser.newPage();
  await watchCsp(page);
  const response = await page.goto(env.server.url);
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(response.headers()["x-content-type-options"], "nosniff");
  await page.getByTestId("login-username").fill("admin");
  await page.getByTestId("login-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("current-user").waitFor({ timeout: 15_000 });
  for (const name of ["Tasks", "Runs", "Credentials", "System"]) {
    await page.getByRole("link", { name }).click();
    await page.waitForTimeout(300);
  }
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  await screenshot(page, "under-csp");
  await page.close();
});
