// API tokens on the System page: created (shown once), usable on a socket of their own,
// listed without the secret, revoked; kept by a password change unless it revokes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, logIn, screenshot, useServer } from "./harness.js";

const env = useServer();

/** Resumes a fresh socket with `token` and calls system.info; the error code if refused. */
async function withToken(page, token) {
  return page.evaluate(async (token) => {
    const ws = new WebSocket(`ws://${location.host}/api/ws`);
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
    const call = (id, method, params) => new Promise((res) => {
      ws.addEventListener("message", function on(ev) {
        const msg = JSON.parse(ev.data);
        if (msg.id === id) { ws.removeEventListener("message", on); res(msg); }
      });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
    const resumed = await call(1, "auth.resume", { token });
    ws.close();
    return resumed.error ? resumed.error.code : "ok";
  }, token);
}

test("an API token is created once, works, and stops working when revoked", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  const section = page.getByTestId("api-tokens");
  await section.getByTestId("no-tokens").waitFor({ timeout: 15_000 });

  await page.getByTestId("token-create").click();
  await section.getByText("must not be empty").waitFor({ timeout: 5_000 });
  await page.getByTestId("token-name").fill("nightly script");
  await page.getByTestId("token-password").fill("not-my-password");
  await page.getByTestId("token-create").click();
  await section.getByText("wrong password").waitFor({ timeout: 15_000 });
  await page.getByTestId("token-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("token-create").click();
  const secret = await page.getByTestId("token-secret").textContent({ timeout: 15_000 });
  assert.match(secret, /^cst_[A-Za-z0-9_-]{40,}$/);
  const row = page.locator('[data-testid="token-row"][data-name="nightly script"]');
  await row.waitFor({ timeout: 15_000 });
  assert.ok(!(await section.getByTestId("token-list").textContent()).includes(secret), "the list never shows the secret");
  assert.equal(await withToken(page, secret), "ok");
  await screenshot(page, "api-tokens");

  page.once("dialog", (d) => d.accept());
  await row.getByTestId("token-revoke").click();
  await section.getByTestId("no-tokens").waitFor({ timeout: 15_000 });
  assert.equal(await withToken(page, secret), -32001);
  await page.close();
});

// Last in this file: it changes the admin's password.
test("changing the password keeps API tokens, or revokes them all when asked", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("token-name").fill("cli", { timeout: 15_000 });
  await page.getByTestId("token-password").fill(ADMIN_PASSWORD);
  await page.getByTestId("token-create").click();
  const secret = await page.getByTestId("token-secret").textContent({ timeout: 15_000 });

  const form = page.getByTestId("change-password");
  const change = async (old, next, revoke) => {
    await form.getByTestId("old-password").fill(old);
    await form.getByTestId("new-password").fill(next);
    await form.getByTestId("confirm-password").fill(next);
    if (revoke) await form.getByTestId("revoke-tokens").check();
    await form.getByRole("button", { name: "Change password" }).click();
  };
  await change(ADMIN_PASSWORD, "second-password-2", false);
  assert.match(await form.getByTestId("password-changed").textContent({ timeout: 15_000 }), /API tokens still work/);
  assert.equal(await withToken(page, secret), "ok");

  await change("second-password-2", "third-password-3", true);
  await form.getByText("every API token was revoked").waitFor({ timeout: 15_000 });
  assert.equal(await withToken(page, secret), -32001);
  assert.equal(await form.getByTestId("revoke-tokens").isChecked(), false, "the box is cleared for next time");
  await page.getByTestId("api-tokens").getByTestId("no-tokens").waitFor({ timeout: 15_000 });
  await form.scrollIntoViewIfNeeded();
  await screenshot(page, "password-changed");
  await page.close();
});
