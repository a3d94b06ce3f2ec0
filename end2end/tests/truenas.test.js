// Import from TrueNAS on the System page: upload a configuration backup (built the way
// TrueNAS writes one, secrets under its pwenc), preview it, import it, and find the
// tasks disabled with their review notes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logIn, repo, rpcInPage, screenshot, useServer } from "./harness.js";

const keys = { accessKey: "AKIATRUENASE2E", secretKey: "truenas-e2e-secret-4" };
const env = useServer({ s3: keys });

function backup(spec) {
  const out = join(mkdtempSync(join(tmpdir(), "cloudsync-e2e-tn-")), "truenas-config.tar");
  const python = join(process.env.CLOUDSYNC_TOOLS, "venv/bin/python");
  const script = join(repo, "server/tests/fixtures/truenas/make_backup.py");
  execFileSync(python, [script], {
    input: JSON.stringify({ ...spec, out, secret: "11".repeat(32) }),
    stdio: ["pipe", "inherit", "inherit"],
  });
  return out;
}

test("a TrueNAS backup uploaded on the System page brings its tasks in, disabled, with what to review", async () => {
  const tank = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-tank-")));
  mkdirSync(join(tank, "photos"));
  writeFileSync(join(tank, "photos", "p.jpg"), "jpeg");
  const file = backup({
    credentials: [{ id: 1, name: "nas s3", provider: "S3", attributes: {
      access_key_id: keys.accessKey, secret_access_key: keys.secretKey, endpoint: env.s3.endpoint,
      region: "us-east-1", skip_region: false, signatures_v2: false, max_upload_parts: 10000 } }],
    tasks: [
      { id: 4, description: "nas photos", path: "/mnt/tank/photos", credential_id: 1, direction: "PUSH",
        transfer_mode: "SYNC", attributes: { bucket: "backups", folder: "photos" }, hour: "2", snapshot: true },
      { id: 5, description: "nas gone", path: "/mnt/tank/gone", credential_id: 1, direction: "PUSH",
        transfer_mode: "COPY", attributes: { bucket: "backups", folder: "gone" } },
    ],
  });
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "System" }).click();
  const section = page.getByTestId("truenas");
  await section.waitFor({ timeout: 15_000 });
  await section.getByTestId("truenas-file").setInputFiles(file);
  await section.getByTestId("truenas-path-map").fill(`/mnt/tank=${tank}`);

  await section.getByTestId("truenas-preview").click();
  const report = section.getByTestId("truenas-report");
  await report.waitFor({ timeout: 15_000 });
  assert.equal(await report.getAttribute("data-dry-run"), "true");
  assert.equal(await section.getByTestId("truenas-report-credentials").textContent(), "Would import credentials: nas s3");
  assert.equal((await rpcInPage(page, "task.list", {})).length, 0, "a preview changes nothing");

  await section.getByTestId("truenas-import").click();
  await page.waitForFunction(() => document.querySelector('[data-testid="truenas-report"]')?.dataset.dryRun === "false");
  assert.equal(await section.getByTestId("truenas-report-tasks").textContent(), "Imported tasks, disabled: nas photos, nas gone");
  const warnings = await section.getByTestId("truenas-warning").allTextContents();
  assert.ok(warnings.some((w) => w.startsWith("nas photos: TrueNAS took a ZFS snapshot")), warnings.join("\n"));
  assert.ok(warnings.some((w) => w.startsWith("nas gone: the local folder") && w.includes("does not exist")), warnings.join("\n"));
  await screenshot(page, "system-truenas-import");

  await page.getByRole("link", { name: "Tasks" }).click();
  const row = page.locator('[data-testid="task-row"][data-name="nas photos"]');
  await row.waitFor({ timeout: 15_000 });
  assert.match(await row.textContent(), /disabled/);
  assert.match(await row.getByTestId("task-review").textContent(), /Imported from TrueNAS \(cloud sync task 4\)/);
  assert.match(await row.getByTestId("task-place").textContent(), new RegExp(`${tank}/photos → nas s3:backups/photos`));
  const gone = page.locator('[data-testid="task-row"][data-name="nas gone"]');
  assert.match(await gone.getByTestId("task-review").textContent(), /does not exist here/);
  await page.close();
});
