// The dashboard: a failed task is listed first, and both charts are drawn (SVG).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addS3Credential, logIn, rpcInPage, runToEnd, screenshot, useServer } from "./harness.js";

const keys = { accessKey: "AKIADASHE2E", secretKey: "dashboard-e2e-secret-7" };
const env = useServer({ s3: keys });

test("the dashboard lists the failed task first and draws bytes and runs per day", async () => {
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-dash-")));
  writeFileSync(join(local, "report.txt"), "x".repeat(5000));
  mkdirSync(join(env.s3.dir, "backups", "dash"), { recursive: true });
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await page.getByTestId("page-dashboard").waitFor({ timeout: 15_000 });
  await page.getByTestId("dash-all-well").waitFor({ timeout: 15_000 });
  await addS3Credential(page, env.s3, { name: "dash s3", ...keys });
  const creds = await rpcInPage(page, "credential.list", {});
  const credentials = creds.find((c) => c.name === "dash s3").id;
  const make = (description, extra) => rpcInPage(page, "task.create", {
    description, credentials, direction: "PUSH", transfer_mode: "COPY", path: local,
    attributes: { bucket: "backups", folder: "dash" }, ...extra,
  });
  const good = await make("fine backup", {});
  const bad = await make("broken backup", { pre_script: "echo no disk >&2; exit 2" });
  for (const t of [good, bad]) await runToEnd(page, t.id);

  await page.getByRole("link", { name: "Dashboard" }).click();
  const attention = page.getByTestId("dash-attention-task");
  await attention.first().waitFor({ timeout: 15_000 });
  assert.deepEqual(await attention.evaluateAll((els) => els.map((e) => e.dataset.name)), ["broken backup"]);
  assert.match(await attention.first().textContent(), /last run FAILED: the pre-script failed/);

  // 30 days; the day the good run finished carries the 5 000 bytes, and the runs chart
  // stacks one success and one failure. Days are UTC days of finished_at, taken from the
  // runs themselves so that a test running across midnight still knows which bar is whose.
  const finishedDay = async (taskId) => {
    const [run] = await rpcInPage(page, "run.list", { task_id: taskId });
    return new Date(run.finished_at).toISOString().slice(0, 10);
  };
  const goodDay = await finishedDay(good.id);
  const badDay = await finishedDay(bad.id);
  const bars = page.getByTestId("chart-bytes").locator("rect");
  assert.equal(await bars.count(), 30);
  const dayBytes = page.getByTestId("chart-bytes").locator(`rect[data-day="${goodDay}"]`);
  assert.ok(Number(await dayBytes.getAttribute("height")) > 90, "the only day with bytes is the tallest bar");
  assert.match(await dayBytes.locator("title").textContent(), /4\.9 KiB|5\.0 KB|4\.88 KiB/);
  assert.equal(await page.getByTestId("chart-runs").locator("g").count(), 30);
  const runsOn = page.getByTestId("chart-runs");
  if (goodDay === badDay) {
    const day = runsOn.locator(`g[data-day="${goodDay}"]`);
    const ok = Number(await day.locator("rect.bar-ok").getAttribute("height"));
    const failed = Number(await day.locator("rect.bar-bad").getAttribute("height"));
    assert.ok(ok > 40 && Math.abs(ok - failed) < 0.01, `one of each: ${ok} / ${failed}`);
    assert.equal(await day.locator("title").textContent(), `${goodDay}: 1 succeeded, 1 failed, 0 stopped`);
  } else {
    assert.equal(await runsOn.locator(`g[data-day="${goodDay}"] title`).textContent(),
      `${goodDay}: 1 succeeded, 0 failed, 0 stopped`);
    assert.equal(await runsOn.locator(`g[data-day="${badDay}"] title`).textContent(),
      `${badDay}: 0 succeeded, 1 failed, 0 stopped`);
  }
  await screenshot(page, "dashboard");

  // A second run of the good task: its row on the Tasks page draws both sparklines
  // from the two runs (duration and bytes).
  writeFileSync(join(local, "more.txt"), "y".repeat(9000));
  await runToEnd(page, good.id);
  await page.getByRole("link", { name: "Tasks" }).click();
  const row = page.locator('[data-testid="task-row"][data-name="fine backup"]');
  await row.locator('svg[data-label="bytes"]').waitFor({ timeout: 15_000 });
  assert.equal(await row.locator('svg[data-label="bytes"]').getAttribute("data-points"), "2");
  assert.equal(await row.locator('svg[data-label="duration"]').getAttribute("data-points"), "2");
  assert.match(await row.locator('svg[data-label="bytes"] title').textContent(), /newest 8\.8 KiB/);
  const line = (await row.locator('svg[data-label="bytes"] polyline').getAttribute("points")).split(" ");
  assert.equal(line.length, 2);
  assert.ok(Number(line[0].split(",")[1]) > Number(line[1].split(",")[1]), `the bigger run is higher: ${line}`);
  assert.equal(await page.locator('[data-testid="task-row"][data-name="broken backup"] svg.sparkline').count(), 0,
    "one run is no line");

  // The Runs page: duration and speed columns, and the state and task filters.
  await page.getByRole("link", { name: "Runs" }).click();
  const runs = page.getByTestId("run-row");
  await runs.nth(2).waitFor({ timeout: 15_000 });
  assert.equal(await runs.count(), 3);
  assert.match(await runs.first().getByTestId("run-duration").textContent(), /^\d+(\.\d)? s$/);
  assert.match(await runs.first().getByTestId("run-speed").textContent(), /\/s$/);
  await page.getByTestId("run-filter-state").selectOption("FAILED");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 1);
  assert.match(await runs.first().textContent(), /broken backup/);
  await page.getByTestId("run-filter-state").selectOption("");
  await page.getByTestId("run-filter-task").selectOption({ label: "fine backup" });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 2);
  assert.deepEqual(await runs.evaluateAll((els) => els.map((e) => e.textContent.includes("fine backup"))), [true, true]);
  await page.close();
});
