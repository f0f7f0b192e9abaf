import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./browser-support.js";

// The /docs page (Swagger UI from swagger-ui-dist, served by the service on /openapi.json) in headless Chromium:
// "Try it out" on UpsertContact creates a contact through the REST route, and the page loads nothing from
// anywhere but the service.

let app: TestApp;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  app = await startTestApp();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await closeSqlPool();
});

describe("the /docs page", () => {
  it("upserts a contact through Try it out, from the service's own files only", {
    timeout: 60_000,
  }, async () => {
    const firm = uniqueFirm("docs");
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (request) => {
      requested.push(request.url());
    });
    await page.goto(`${app.url}/docs`);
    const operation = page.locator("#operations-default-UpsertContact");
    await operation.locator(".opblock-summary").click();
    await operation.locator("button.try-out__btn").click();
    await operation.locator('input[placeholder="firm_id"]').fill(firm);
    await operation
      .locator("textarea.body-param__text")
      .fill(JSON.stringify({ firstName: "Tia", lastName: "Docs", email: "tia@example.com" }));
    await operation.locator("button.execute").click();
    const live = operation.locator(".live-responses-table");
    await expect
      .poll(() => live.locator("tbody .response-col_status").first().textContent())
      .toContain("200");
    const body = await live.locator("tbody .response-col_description pre").first().textContent();
    expect(JSON.parse(body ?? "{}")).toMatchObject({
      result: "created",
      contact: { firmId: firm, email: "tia@example.com" },
    });
    expect(await storedContacts(firm)).toHaveLength(1);
    expect(requested.filter((url) => !url.startsWith(app.url) && !url.startsWith("data:"))).toEqual([]);
    await page.close();
  });
});
