// Adding an S3 credential through the form generated from rclone's schema, verifying
// it against a real S3 server (rclone serve s3), and checking the secret never shows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ADMIN_PASSWORD, fillS3Form, logIn, resultsDir, screenshot, startOAuthMock, startSftpKeyOnly, useServer,
} from "./harness.js";

const ACCESS_KEY = "AKIAE2ETESTKEY";
const SECRET_KEY = "e2e-secret-key-9b27c4";
const env = useServer({ s3: { accessKey: ACCESS_KEY, secretKey: SECRET_KEY } });

/** A new page, logged in, with the Credentials page's form open for `provider`. */
async function openNewCredential(name, provider) {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "Credentials" }).click();
  await page.getByTestId("add-credential").click();
  await page.getByTestId("cred-name").fill(name);
  await page.getByTestId("cred-provider").selectOption(provider);
  return page;
}

async function fillForm(page, { name, secret }) {
  await fillS3Form(page, env.s3, { name, accessKey: ACCESS_KEY, secretKey: secret });
}

test("an S3 credential is added through the form, verified and listed without its secret", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "Credentials" }).click();
  await page.getByTestId("no-credentials").waitFor({ timeout: 15_000 });

  await page.getByTestId("add-credential").click();
  await fillForm(page, { name: "office backups", secret: "not-the-secret" });
  await page.getByTestId("cred-verify").click();
  const result = page.getByTestId("verify-result");
  await result.waitFor({ timeout: 40_000 });
  assert.match(await result.textContent(), /^Connection failed: .+/);
  assert.doesNotMatch(await result.textContent(), /not-the-secret/);

  await page.getByTestId("opt-secret_access_key").fill(SECRET_KEY);
  await page.getByTestId("cred-verify").click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="verify-result"]')?.textContent === "Connection works.",
    null, { timeout: 40_000 });
  await screenshot(page, "credential-form-verified");

  await page.getByTestId("cred-save").click();
  await page.getByTestId("credentials-notice").waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId("credentials-notice").textContent(), "Saved “office backups”.");
  const row = page.locator('[data-testid="credential-row"][data-name="office backups"]');
  await row.waitFor();
  assert.match(await row.textContent(), /s3/);

  await row.getByTestId("row-verify").click();
  await row.getByText("Connection works.").waitFor({ timeout: 40_000 });
  assert.equal(await row.getByTestId("credential-state").textContent(), "verified");
  await screenshot(page, "credential-list");

  // The secret is nowhere in the page, not even in the edit form's inputs.
  assert.ok(!(await page.content()).includes(SECRET_KEY));
  await row.getByTestId("row-edit").click();
  const secretInput = page.getByTestId("opt-secret_access_key");
  await secretInput.waitFor();
  assert.equal(await secretInput.inputValue(), "");
  assert.equal(await secretInput.getAttribute("placeholder"), "saved; type to replace");
  assert.equal(await page.getByTestId("opt-endpoint").inputValue(), env.s3.endpoint);
  assert.ok(!(await page.content()).includes(SECRET_KEY));

  // Saving the edit without retyping the secret keeps it working.
  await page.getByTestId("cred-name").fill("office backups 2");
  await page.getByTestId("cred-save").click();
  const renamed = page.locator('[data-testid="credential-row"][data-name="office backups 2"]');
  await renamed.waitFor({ timeout: 15_000 });
  await renamed.getByTestId("row-verify").click();
  await renamed.getByText("Connection works.").waitFor({ timeout: 40_000 });
  await page.close();
});

test("a missing required field is named next to the field and nothing is saved", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "Credentials" }).click();
  await page.getByTestId("add-credential").click();
  await page.getByTestId("cred-name").fill("half-filled dav");
  await page.getByTestId("cred-provider").selectOption("webdav");
  await page.getByTestId("cred-save").click();
  const form = page.getByTestId("credential-form");
  await form.getByText("is required").waitFor({ timeout: 15_000 });
  await screenshot(page, "credential-form-required");
  await page.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await page.locator('[data-testid="credential-row"][data-name="half-filled dav"]').count(), 0);
  await page.close();
});

test("a backup downloads with a seed warning and restoring it reports the name clash", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  await page.getByTestId("backup-include-seed").check();
  await page.getByTestId("seed-warning").waitFor();
  assert.match(await page.getByTestId("seed-warning").textContent(), /anyone who has it can read every credential/);
  await page.getByTestId("backup-password").fill(ADMIN_PASSWORD);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("backup-download").click()]);
  assert.match(download.suggestedFilename(), /^cloudsync-backup-.*-with-seed\.json$/);
  const path = join(resultsDir, "backup-with-seed.json");
  await download.saveAs(path);
  const text = readFileSync(path, "utf8");
  const backup = JSON.parse(text);
  assert.equal(backup.format, "cloudsync-config");
  assert.equal(typeof backup.secret_seed, "string");
  assert.deepEqual(backup.credentials.map((c) => c.name), ["office backups 2"]);
  assert.ok(!text.includes(SECRET_KEY) && !text.includes(ACCESS_KEY), "credentials stay encrypted in the file");
  // The page does not decode the backup: it indents the server's JSON by two spaces,
  // exactly as JSON.stringify would.
  assert.equal(text, JSON.stringify(backup, null, 2));

  await page.getByTestId("backup-import-file").setInputFiles(path);
  const report = page.getByTestId("import-report");
  await report.waitFor({ timeout: 15_000 });
  assert.match(await report.textContent(), /Skipped “office backups 2”: a credential with this name already exists/);
  await screenshot(page, "backup-restore-report");

  // A file that is not a backup is the server's to judge: its error names the field.
  const error = page.getByTestId("backup-error");
  const notBackup = join(resultsDir, "not-a-backup.json");
  writeFileSync(notBackup, JSON.stringify({ format: "cloudsync-config", credentials: [] }));
  await page.getByTestId("backup-import-file").setInputFiles(notBackup);
  await error.waitFor({ timeout: 15_000 });
  assert.match(await error.textContent(), /backup\.version: is required/);
  const notJson = join(resultsDir, "not-json.json");
  writeFileSync(notJson, "format = cloudsync");
  await page.getByTestId("backup-import-file").setInputFiles(notJson);
  await page.getByText("this file is not a cloudsync backup (not JSON").waitFor({ timeout: 15_000 });
  await page.close();
});

test("Login to Provider fills the token through a popup and the credential saves", async () => {
  const oauth = await startOAuthMock();
  try {
    const page = await openNewCredential("my dropbox", "dropbox");
    await page.getByTestId("opt-client_id").fill("cloudsync-e2e");
    await page.locator("details.advanced summary").click();
    await page.getByTestId("opt-auth_url").fill(`${oauth.url}/authorize`);
    await page.getByTestId("opt-token_url").fill(`${oauth.url}/token`);
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByTestId("oauth-login").click()]);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="oauth-status"]')?.textContent === "Logged in. The token is saved with the credential.",
      null, { timeout: 30_000 });
    assert.ok(popup.isClosed() || (await popup.content()).includes("Login complete"));
    await screenshot(page, "oauth-logged-in");
    await page.getByTestId("cred-save").click();
    const row = page.locator('[data-testid="credential-row"][data-name="my dropbox"]');
    await row.waitFor({ timeout: 15_000 });
    assert.ok(!(await page.content()).includes("access_token"));
    await page.close();
  } finally {
    oauth.stop();
  }
});

test("an OAuth app is saved per provider and its secret is not shown back", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  const form = page.getByTestId("oauth-apps");
  await page.getByTestId("oauth-app-provider").selectOption("box");
  await page.getByTestId("oauth-app-client-id").fill("box-client-e2e");
  await page.getByTestId("oauth-app-client-secret").fill("box-secret-e2e-77");
  await form.getByRole("button", { name: "Save OAuth app" }).click();
  await page.getByTestId("oauth-app-saved").waitFor({ timeout: 15_000 });
  await page.getByTestId("oauth-apps-saved").getByText("box: client id box-client-e2e, secret set").waitFor({ timeout: 15_000 });
  assert.ok(!(await page.content()).includes("box-secret-e2e-77"));
  await page.close();
});

test("an SFTP key pasted into the form as it is in its file logs in to a key-only server", async () => {
  const key = join(mkdtempSync(join(tmpdir(), "cloudsync-e2e-key-")), "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", key]);
  const pem = readFileSync(key, "utf8");
  const sftp = await startSftpKeyOnly(`${key}.pub`);
  try {
    const page = await openNewCredential("nas by key", "sftp");
    await page.getByTestId("opt-host").fill("127.0.0.1");
    await page.getByTestId("opt-port").fill(String(sftp.port));
    await page.getByTestId("opt-user").fill("backup");
    await page.getByTestId("opt-key_pem").fill(pem);
    assert.equal(await page.getByTestId("opt-key_pem").inputValue(), pem, "the line ends are kept");
    await page.getByTestId("cred-verify").click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="verify-result"]')?.textContent === "Connection works.",
      null, { timeout: 40_000 });
    await page.getByTestId("cred-save").click();
    const row = page.locator('[data-testid="credential-row"][data-name="nas by key"]');
    await row.waitFor({ timeout: 15_000 });
    await row.getByTestId("row-verify").click();
    await row.getByText("Connection works.").waitFor({ timeout: 40_000 });
    assert.ok(!(await page.content()).includes(pem.split("\n")[1]), "the key is not shown back");
    await screenshot(page, "credential-sftp-key");
    await page.close();
  } finally {
    sftp.stop();
  }
});
