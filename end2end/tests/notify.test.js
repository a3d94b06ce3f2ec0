// Notification targets on the System page: adding a webhook and "Send test" against a
// real HTTP receiver started by this test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { logIn, rpcInPage, screenshot, useServer } from "./harness.js";

const env = useServer();

/** An HTTP server on 127.0.0.1 that answers 200 and keeps each request. */
async function receiver() {
  const got = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { got.push({ path: req.url, method: req.method, headers: req.headers, body }); res.end("ok"); });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, got, close: () => server.close() };
}

test("a webhook target is added on the System page and Send test reaches it", async () => {
  const hook = await receiver();
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByTestId("current-user").waitFor({ timeout: 15_000 });
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("no-targets").waitFor({ timeout: 15_000 });

  // A bad URL is refused next to its field, and nothing is added.
  await page.getByTestId("target-name").fill("ops webhook");
  await page.getByTestId("target-url").fill("ftp://nowhere");
  await page.getByTestId("target-add").click();
  await page.getByTestId("target-form").getByText("must be an http:// or https:// URL").waitFor({ timeout: 5_000 });
  assert.equal(await page.getByTestId("target-row").count(), 0);

  await page.getByTestId("target-url").fill(`${hook.url}/hook?key=secret-key`);
  await page.getByTestId("target-secret").fill("sign-me");
  await page.getByTestId("target-add").click();
  const row = page.locator('[data-testid="target-row"][data-name="ops webhook"]');
  await row.waitFor({ timeout: 15_000 });
  assert.doesNotMatch(await page.getByTestId("notify-section").textContent(), /secret-key/, "the URL is not shown back");

  await row.getByTestId("target-test").click();
  const result = row.getByTestId("target-test-result");
  await result.waitFor({ timeout: 15_000 });
  assert.equal(await result.textContent(), "delivered (HTTP 200)");
  assert.equal(hook.got.length, 1);
  assert.equal(hook.got[0].method, "POST");
  assert.equal(hook.got[0].path, "/hook?key=secret-key");
  assert.equal(JSON.parse(hook.got[0].body).event, "test");
  await row.getByTestId("target-deliveries").getByText("test · delivered", { exact: false }).waitFor({ timeout: 10_000 });
  await screenshot(page, "system-notifications");

  // The server-wide default: tick the target, save, and the server has it.
  const byDefault = page.getByTestId("notify-default");
  await byDefault.locator('[data-testid="task-notify-target"][data-name="ops webhook"]').check();
  await byDefault.getByTestId("task-notify-on").selectOption("always");
  await byDefault.getByTestId("notify-default-save").click();
  await byDefault.getByTestId("notify-default-saved").waitFor({ timeout: 10_000 });
  const stored = await rpcInPage(page, "notify.default.get", {});
  assert.equal(stored.on, "always");
  assert.equal(stored.targets.length, 1);

  // The task form offers the target.
  await page.getByRole("link", { name: "Tasks" }).click();
  await page.getByTestId("add-task").click();
  await page.locator('[data-testid="task-notify-target"][data-name="ops webhook"]').waitFor({ timeout: 15_000 });

  // Edit: a new name, the secret URL and signing secret left empty (kept); the next
  // test message still reaches the stored URL, signed.
  await page.getByRole("link", { name: "System" }).click();
  const before = page.locator('[data-testid="target-row"][data-name="ops webhook"]');
  await before.getByTestId("target-edit").click();
  const form = before.getByTestId("target-edit-form");
  assert.equal(await form.getByTestId("target-url").inputValue(), "", "a secret is never shown back");
  assert.equal(await form.getByTestId("target-url").getAttribute("placeholder"), "saved; type to replace");
  await form.getByTestId("target-name").fill("ops webhook (renamed)");
  await form.getByTestId("target-add").click();
  const after = page.locator('[data-testid="target-row"][data-name="ops webhook (renamed)"]');
  await after.waitFor({ timeout: 15_000 });
  await after.getByTestId("target-test").click();
  await after.getByTestId("target-test-result").waitFor({ timeout: 15_000 });
  assert.equal(hook.got.length, 2);
  assert.equal(hook.got[1].path, "/hook?key=secret-key");
  assert.ok(hook.got[1].headers["x-cloudsync-signature"]?.startsWith("sha256="), "the signing secret was kept");
  hook.close();
  await page.close();
});
