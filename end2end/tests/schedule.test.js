// The Advanced Scheduler: the preview is computed in the browser (WebAssembly) in the
// server's time zone, updates as the user types, shows field errors, and equals what
// the server's schedule.preview answers for the same input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addS3Credential, logIn, rpcInPage, screenshot, useServer } from "./harness.js";

const keys = { accessKey: "AKIASCHEDE2E", secretKey: "schedule-e2e-secret-7" };
const ZONE = "America/New_York";
const env = useServer({ args: ["--timezone", ZONE], s3: keys });

/** The weekday (0 = Sunday) of the wall-clock date in an RFC 3339 time with offset. */
const weekdayOf = (rfc3339) => {
  const [y, m, d] = rfc3339.slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
};

test("the advanced scheduler previews in the server's zone, flags bad fields and matches the server", async () => {
  const page = await env.browser.newPage();
  await logIn(page, env.server.url);
  await addS3Credential(page, env.s3, { name: "sched s3", ...keys });
  await page.getByRole("link", { name: "Tasks" }).click();
  await page.getByTestId("add-task").click();
  const editor = page.getByTestId("schedule-editor");
  await page.getByTestId("schedule-preset").selectOption("custom");

  await page.getByTestId("schedule-minute").fill("*/15");
  await page.getByTestId("schedule-dow-mon").check();
  await editor.getByTestId("schedule-description").filter({ hasText: "Every 15 minutes, on Monday" }).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId("schedule-zone").textContent(), `Times in the server's time zone: ${ZONE}`);
  const runs = page.getByTestId("schedule-runs").locator("li");
  assert.equal(await runs.count(), 25);
  const shown = await runs.evaluateAll((lis) => lis.map((li) => li.dataset.at));
  for (const at of shown) {
    assert.equal(weekdayOf(at), 1, `${at} is a Monday in ${ZONE}`);
    assert.match(at, /:(00|15|30|45):00-0[45]:00$/, `${at} is on a quarter hour, New York offset`);
  }

  // The calendar highlights exactly the Mondays (next month: all of them are ahead).
  await page.getByRole("button", { name: "next month" }).click();
  const month = await page.getByTestId("calendar-month").textContent();
  const days = await page.getByTestId("calendar-day").evaluateAll((spans) => spans.map((s) => [Number(s.textContent), s.dataset.run === "true"]));
  const [monthName, year] = month.split(" ");
  const monthIndex = new Date(`${monthName} 1, ${year}`).getMonth();
  for (const [day, run] of days) {
    const isMonday = new Date(Date.UTC(Number(year), monthIndex, day)).getUTCDay() === 1;
    assert.equal(run, isMonday, `${month} ${day}`);
  }
  await screenshot(page, "schedule-editor");

  // The browser's preview is the server's.
  const from = await page.getByTestId("schedule-preview").getAttribute("data-from");
  const schedule = { minute: "*/15", hour: "*", dom: "*", month: "*", dow: "mon", begin: "00:00", end: "23:59" };
  const server_preview = await rpcInPage(page, "schedule.preview", { schedule, from });
  assert.deepEqual(shown, server_preview.runs);
  assert.equal(server_preview.description, "Every 15 minutes, on Monday");
  assert.equal(server_preview.timezone, ZONE);

  // A bad field: its error next to it, and the preview says why it is empty.
  await page.getByTestId("schedule-minute").fill("61");
  await editor.getByText("61 is out of range 0-59").waitFor({ timeout: 5_000 });
  assert.equal(await page.getByTestId("schedule-preview-empty").textContent(), "No preview: fix minute above.");
  assert.equal(await page.getByTestId("schedule-runs").count(), 0);

  // Both day fields restricted: the editor says they combine with OR.
  await page.getByTestId("schedule-minute").fill("0");
  await page.getByTestId("schedule-hour").fill("3");
  await page.getByTestId("schedule-dom").fill("1");
  await page.getByTestId("schedule-or-note").waitFor({ timeout: 5_000 });
  assert.equal(await page.getByTestId("schedule-description").textContent(), "At 03:00, on day 1 of the month and on Monday");
  const first = await runs.first().getAttribute("data-at");

  // Saved, the task lists its next run.
  const local = realpathSync(mkdtempSync(join(tmpdir(), "cloudsync-e2e-sched-")));
  await page.getByTestId("task-description").fill("scheduled backup");
  await page.getByTestId("task-path").fill(local);
  await page.getByTestId("task-bucket").fill("backups");
  await page.getByTestId("task-save").click();
  const row = page.locator('[data-testid="task-row"][data-name="scheduled backup"]');
  await row.waitFor({ timeout: 15_000 });
  const nextRun = await row.getByTestId("task-next-run").textContent();
  assert.ok(nextRun.startsWith(first.slice(0, 16).replace("T", " ")), `${nextRun} starts with ${first}`);
  assert.equal(await row.getByTestId("task-schedule").textContent(), "At 03:00, on day 1 of the month and on Monday");
  await row.getByTestId("task-edit").click();
  assert.equal(await page.getByTestId("schedule-preset").inputValue(), "custom");
  assert.equal(await page.getByTestId("schedule-dom").inputValue(), "1");
  assert.equal(await page.getByTestId("schedule-dow-mon").isChecked(), true);
  await page.close();
});
