// Creating a sync task through the form, with the remote folder picker browsing a real
// S3 server (rclone serve s3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addS3Credential, logIn, rpcInPage, screenshot, useServer } from "./harness.js";

const keys = { accessKey: "AKIATASKSE2E", secretKey: "tasks-e2e-secret-31" };
const env = useServer({ s3: keys });

test("a task is created with the folder picker and listed with its places", async () => {
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-local-")));
  writeFileSync(join(local, "hello.txt"), "hello from the browser test");
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await addS3Credential(page, env.s3, { name: "nas s3", ...keys });

  await page.getByRole("link", { name: "Tasks" }).click();
  await page.getByTestId("no-tasks").waitFor({ timeout: 15_000 });
  await page.getByTestId("add-task").click();
  await page.getByTestId("task-description").fill("photos backup");
  await page.getByTestId("task-mode").selectOption("SYNC");
  assert.match(await page.getByTestId("task-form").textContent(), /Sync deletes files at the destination/);
  await page.getByTestId("task-path").fill("/no/such/folder");
  await page.getByTestId("browse-remote").click();
  await page.getByTestId("picker-entry").filter({ hasText: "backups" }).click();
  assert.equal(await page.getByTestId("task-bucket").inputValue(), "backups");

  // A bad time in the bandwidth timetable is caught before saving.
  await page.getByTestId("bw-add").click();
  await page.getByTestId("bw-time").fill("25:00");
  await page.getByTestId("task-save").click();
  await page.getByTestId("task-form").getByText("`25:00` is not a time between 00:00 and 23:59").waitFor({ timeout: 5_000 });
  await page.getByTestId("bw-time").fill("08:00");
  await page.getByTestId("bw-rate").fill("2");

  // The server checks the local folder.
  await page.getByTestId("task-save").click();
  await page.getByTestId("task-form").getByText("does not exist").waitFor({ timeout: 15_000 });
  await page.getByTestId("task-path").fill(local);
  await screenshot(page, "task-form");
  await page.getByTestId("task-save").click();

  const row = page.locator('[data-testid="task-row"][data-name="photos backup"]');
  await row.waitFor({ timeout: 15_000 });
  assert.equal(await row.getByTestId("task-place").textContent(), `${local} → nas s3:backups`);
  assert.match(await row.textContent(), /Push · sync/);
  await screenshot(page, "task-list");

  // Run it: the state follows the run, the bytes arrive, the log tells what happened.
  assert.equal(await row.getByTestId("task-state").textContent(), "never run");
  // A SYNC's first run shows what it would do before anything happens.
  await row.getByTestId("task-run").click();
  await row.getByTestId("task-plan-summary").waitFor({ timeout: 30_000 });
  assert.equal(await row.getByTestId("task-plan-summary").textContent(),
    "This run will copy 1 file (27 B), update none and delete none at the destination.");
  await row.getByTestId("task-plan-run").click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="task-row"] [data-testid="task-state"]')?.textContent === "SUCCESS",
    null, { timeout: 60_000 });
  assert.equal(readFileSync(join(env.s3.dir, "backups", "hello.txt"), "utf8"), "hello from the browser test");
  assert.match(await row.getByTestId("task-run-time").textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  await screenshot(page, "task-list-after-run");
  await row.getByTestId("task-state").click();
  const log = page.getByTestId("log-lines");
  await log.getByText("hello.txt: Copied (new)").waitFor({ timeout: 15_000 });
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-state"]')?.textContent === "SUCCESS", null, { timeout: 15_000 });
  await page.getByTestId("log-level").selectOption("error");
  assert.equal(await log.getByText("hello.txt: Copied (new)").count(), 0, "the level filter hides info lines");
  await page.getByTestId("log-level").selectOption("all");
  await screenshot(page, "run-log");

  // Search runs on the server; the download is the whole log, streamed by the server.
  await page.getByTestId("log-search").fill("COPIED (NEW)");
  await page.getByTestId("log-search").press("Enter");
  await page.getByTestId("log-search-note").getByText("1 line(s) contain it.").waitFor({ timeout: 10_000 });
  assert.equal(await log.locator(".line").count(), 1, "only the matching line is shown");
  await page.getByTestId("log-search-note").getByRole("button", { name: "Back to the log" }).click();
  await log.getByText("run ended: SUCCESS").waitFor({ timeout: 10_000 });
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("log-download").click()]);
  assert.match(download.suggestedFilename(), /^cloudsync-run-\d+\.log$/);
  const saved = readFileSync(await download.path(), "utf8");
  assert.match(saved, /INFO +rclone: hello\.txt: Copied \(new\)\n/);
  assert.match(saved, /runner: run ended: SUCCESS\n$/);

  // Restore creates the reverse task, disabled.
  await page.getByRole("link", { name: "Tasks" }).click();
  const restoreInto = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-restore-")));
  page.once("dialog", (d) => d.accept(restoreInto));
  await row.getByTestId("task-restore").click();
  await page.getByTestId("tasks-notice").waitFor({ timeout: 15_000 });
  assert.match(await page.getByTestId("tasks-notice").textContent(), /^Created “Restore of photos backup”, disabled/);
  const restored = page.locator('[data-testid="task-row"][data-name="Restore of photos backup"]');
  await restored.waitFor({ timeout: 15_000 });
  assert.equal(await restored.getByTestId("task-place").textContent(), `${restoreInto} ← nas s3:backups`);
  assert.match(await restored.textContent(), /disabled/);

  // Editing shows the saved timetable.
  await row.getByTestId("task-edit").click();
  assert.equal(await page.getByTestId("bw-time").inputValue(), "08:00");
  assert.equal(await page.getByTestId("bw-rate").inputValue(), "2");
  // Keeping deleted files says where they go: inside a bucket's root, beside a folder.
  await page.getByTestId("task-keep-deleted").check();
  assert.match(await page.getByTestId("task-kept-where").textContent(), /moves them to backups\/\.cloudsync-deleted\/ \(left alone/);
  await page.getByTestId("task-folder").fill("photos");
  assert.match(await page.getByTestId("task-kept-where").textContent(), /moves them to backups\/photos\.cloudsync-deleted\/ in a folder/);
  // An encrypted task with encrypted names gets the provider-independent name-length note.
  await page.getByTestId("task-encryption").check();
  await page.getByTestId("task-warnings").getByText("143 characters", { exact: false }).waitFor({ timeout: 5_000 });
  await page.close();
});

test("a long run shows live progress and can be stopped", async () => {
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-big-")));
  writeFileSync(join(local, "big.bin"), Buffer.alloc(24 * 1024 * 1024, 7));
  const page = await env.browser.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  await logIn(page, env.server.url);
  await page.getByRole("link", { name: "Tasks" }).click();
  await page.getByTestId("add-task").click();
  await page.getByTestId("task-description").fill("slow upload");
  await page.getByTestId("task-path").fill(local);
  await page.getByTestId("task-bucket").fill("backups");
  await page.getByTestId("task-folder").fill("slow");
  await page.getByTestId("bw-add").click();
  await page.getByTestId("bw-time").fill("00:00");
  await page.getByTestId("bw-rate").fill("2");
  await page.getByTestId("task-save").click();
  const row = page.locator('[data-testid="task-row"][data-name="slow upload"]');
  await row.waitFor({ timeout: 15_000 });
  await row.getByTestId("task-run").click();
  const progress = row.getByTestId("task-progress");
  await progress.waitFor({ timeout: 30_000 }).catch(async (e) => {
    await screenshot(page, "failure-no-progress");
    throw e;
  });
  assert.match(await progress.textContent(), /^\d+% · [\d.]+ (B|KiB|MiB)\/s/);
  await screenshot(page, "task-running");
  await row.getByTestId("task-stop").click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="task-row"][data-name="slow upload"] [data-testid="task-state"]')?.textContent === "ABORTED",
    null, { timeout: 15_000 }).catch(async (e) => {
    await screenshot(page, "failure-not-aborted");
    const list = await rpcInPage(page, "task.list", {}).catch((err) => String(err));
    const states = Array.isArray(list) ? list.map((t) => `${t.description}: ${t.last_run?.state}`).join(", ") : list;
    throw new Error(`state after stop: ${await row.getByTestId("task-state").textContent()} (server: ${states}); console: ${consoleLines.join(" | ")}: ${e.message}`);
  });
  await page.close();
});

test("a sync that would delete most of the backup stops, and runs once after typing DELETE", async () => {
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-guard-")));
  for (let i = 0; i < 10; i++) writeFileSync(join(local, `doc${i}.txt`), `document ${i}`);
  mkdirSync(join(env.s3.dir, "backups", "guarded"), { recursive: true });
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  const creds = await rpcInPage(page, "credential.list", {});
  const credentials = creds.find((c) => c.name === "nas s3").id;
  await rpcInPage(page, "task.create", {
    description: "guarded docs", credentials, direction: "PUSH", transfer_mode: "SYNC", path: local,
    attributes: { bucket: "backups", folder: "guarded" },
  });
  await page.getByRole("link", { name: "Tasks" }).click();
  const row = page.locator('[data-testid="task-row"][data-name="guarded docs"]');
  await row.waitFor({ timeout: 15_000 });
  const state = () => row.getByTestId("task-state").textContent();
  const until = (want) => page.waitForFunction(
    (w) => document.querySelector('[data-testid="task-row"][data-name="guarded docs"] [data-testid="task-state"]')?.textContent === w,
    want, { timeout: 60_000 });
  await row.getByTestId("task-run").click();
  await row.getByTestId("task-plan-run").click();
  await until("SUCCESS");
  const backedUp = () => readdirSync(join(env.s3.dir, "backups", "guarded")).sort();
  assert.equal(backedUp().length, 10);

  for (let i = 0; i < 8; i++) unlinkSync(join(local, `doc${i}.txt`));
  await row.getByTestId("task-run").click();
  await until("FAILED");
  await row.getByText("this sync would delete 8 of the 10 files at the destination, more than 50%", { exact: false }).waitFor();
  assert.equal(backedUp().length, 10, "nothing deleted");
  await screenshot(page, "task-deletion-guard");

  // A wrong word does nothing; DELETE runs it once.
  page.once("dialog", (d) => d.accept("yes"));
  await row.getByTestId("task-run-anyway").click();
  await page.waitForTimeout(500);
  assert.equal(await state(), "FAILED");
  page.once("dialog", (d) => d.accept("DELETE"));
  await row.getByTestId("task-run-anyway").click();
  await until("SUCCESS");
  assert.deepEqual(backedUp(), ["doc8.txt", "doc9.txt"]);
  await page.close();
});

test("Preview shows what a sync would copy and delete, Run as shown does exactly that, verified on the run page", async () => {
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-plan-")));
  for (const n of ["a", "b", "c", "d"]) writeFileSync(join(local, `${n}.txt`), `file ${n}`);
  const dest = join(env.s3.dir, "backups", "previewed");
  mkdirSync(dest, { recursive: true });
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  const creds = await rpcInPage(page, "credential.list", {});
  const credentials = creds.find((c) => c.name === "nas s3").id;
  const task = await rpcInPage(page, "task.create", {
    description: "previewed", credentials, direction: "PUSH", transfer_mode: "SYNC", path: local,
    attributes: { bucket: "backups", folder: "previewed" }, verify: true,
  });
  await page.getByRole("link", { name: "Tasks" }).click();
  const row = page.locator('[data-testid="task-row"][data-name="previewed"]');
  await row.waitFor({ timeout: 15_000 });
  const until = (want) => page.waitForFunction(
    (w) => document.querySelector('[data-testid="task-row"][data-name="previewed"] [data-testid="task-state"]')?.textContent === w,
    want, { timeout: 60_000 });
  await row.getByTestId("task-run").click();
  await row.getByTestId("task-plan-run").click();
  await until("SUCCESS");

  for (const n of ["a", "b", "c"]) unlinkSync(join(local, `${n}.txt`));
  writeFileSync(join(local, "e.txt"), "file e, new");
  await row.getByTestId("task-preview").click();
  const summary = row.getByTestId("task-plan-summary");
  await summary.waitFor({ timeout: 30_000 });
  assert.equal(await summary.textContent(),
    "This run will copy 1 file (11 B), update none and delete 3 files (18 B) at the destination.");
  await row.getByTestId("task-plan-delete").locator("summary").click();
  const listed = await row.getByTestId("task-plan-delete").locator("code").allTextContents();
  assert.deepEqual(listed.sort(), ["a.txt", "b.txt", "c.txt"]);
  assert.deepEqual(readdirSync(dest).sort(), ["a.txt", "b.txt", "c.txt", "d.txt"], "a preview changes nothing");
  await screenshot(page, "task-preview");

  // 3 of 4 is past the 50 % guard, but the deletions were on screen: Run as shown goes ahead.
  const runs = async () => (await rpcInPage(page, "run.list", {})).filter((r) => r.task_id === task.id);
  const before = (await runs()).length;
  await row.getByTestId("task-plan-run").click();
  for (let i = 0; i < 600; i++) {
    const mine = await runs();
    if (mine.length > before && !["QUEUED", "RUNNING"].includes(mine[0].state)) break;
    await page.waitForTimeout(100);
  }
  assert.equal((await runs())[0].state, "SUCCESS");
  await until("SUCCESS");
  assert.deepEqual(readdirSync(dest).sort(), ["d.txt", "e.txt"]);
  assert.equal(readFileSync(join(dest, "e.txt"), "utf8"), "file e, new");

  await row.getByTestId("task-state").click();
  const stats = page.getByTestId("run-stats");
  await stats.waitFor({ timeout: 15_000 });
  assert.match(await stats.textContent(), /verified: 2 identical, 0 different/);
  await screenshot(page, "run-verified");
  await page.close();
});
