import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { serveStatic } from "./static-server.js";

// Debian's chromium package; `npx playwright install` cannot download browsers on these machines.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const WEB_ROOT = fileURLToPath(new URL("../../web", import.meta.url));
const UPSERT_PATH = "/contacts.v1.ContactService/UpsertContact";

let outDir: string | undefined;
let site: Awaited<ReturnType<typeof serveStatic>> | undefined;
let app: TestApp | undefined;
let noCorsApp: TestApp | undefined;
let browser: Browser | undefined;
let page: Page;

beforeAll(async () => {
  // Fail, never skip: a missing browser must not turn this suite green.
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  // Builds the page from the current source, as `npm run web:build` does, into a temporary directory.
  outDir = await mkdtemp(path.join(tmpdir(), "contacts-web-"));
  await build({ root: WEB_ROOT, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  site = await serveStatic(outDir);
  app = await startTestApp({ CORS_ORIGINS: site.url });
  noCorsApp = await startTestApp();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(10_000);
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await noCorsApp?.close();
  await site?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
  await closeSqlPool();
});

function field(label: string) {
  return page.getByLabel(label, { exact: true });
}

/** The error line in the same form row as the labelled input. */
function errorNextTo(label: string) {
  return page.locator(".field", { has: field(label) }).locator(".error");
}

/** Submits the form and returns the JSON body and the headers the page sent. */
async function submit(): Promise<{ body: Record<string, unknown>; headers: Record<string, string> }> {
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith(UPSERT_PATH) && r.method() === "POST"),
    page.getByRole("button", { name: "Save contact" }).click(),
  ]);
  return { body: request.postDataJSON() as Record<string, unknown>, headers: await request.allHeaders() };
}

describe("the web form, served from another origin, calls UpsertContact over Connect JSON", () => {
  const firmId = uniqueFirm("web");
  const full = {
    "Firm ID": firmId,
    "Tracking ID": "CRM-1",
    Email: "ann@example.com",
    Prefix: "Dr.",
    "First name": "Ann",
    "Last name": "Lee",
    Suffix: "PhD",
    Company: "Acme",
    Title: "Engineer",
    Phone: "+1 555 0100",
    "Number and street": "1 Main St",
    City: "Springfield",
    State: "IL",
    "Zip code": "62701",
    Country: "US",
    Note: "Met at the fair.\nCall back in May.",
  };

  it("creates a contact from every field and shows the stored contact", async () => {
    await page.goto(`${site?.url}/?api=${encodeURIComponent(app?.url ?? "")}`);
    for (const [label, value] of Object.entries(full)) await field(label).fill(value);
    const { body, headers } = await submit();
    expect(headers["content-type"]).toBe("application/json");
    expect(headers).not.toHaveProperty("authorization");
    await expect.poll(() => page.getByRole("status").textContent()).toMatch(/created/i);
    expect(Object.keys(body).sort()).toEqual(
      [
        "firmId",
        "trackingId",
        "email",
        "prefix",
        "firstName",
        "lastName",
        "suffix",
        "company",
        "title",
        "phone",
        "numberAndStreet",
        "city",
        "state",
        "zipCode",
        "country",
        "note",
      ].sort(),
    );
    const result = page.getByRole("region", { name: "Stored contact" });
    await expect.poll(() => result.textContent()).toContain("ann@example.com");
    expect(await result.textContent()).toContain("Springfield");
  });

  it("updates it, leaving out empty inputs so the stored values stay unchanged", async () => {
    await field("Title").fill("CTO");
    await field("Company").fill("");
    await field("Note").fill("   ");
    await field("API key").fill("k-123");
    const { body, headers } = await submit();
    expect(headers.authorization).toBe("Bearer k-123");
    await expect.poll(() => page.getByRole("status").textContent()).toMatch(/updated/i);
    expect(body).toMatchObject({ firmId, trackingId: "CRM-1", title: "CTO" });
    expect(body).not.toHaveProperty("company");
    expect(body).not.toHaveProperty("note");
    const result = page.getByRole("region", { name: "Stored contact" });
    await expect.poll(() => result.textContent()).toContain("CTO");
    const stored = await storedContacts(firmId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ title: "CTO", company: "Acme", note: full.Note });
  });

  it("shows an invalid email's error next to the email field", async () => {
    await field("Tracking ID").fill("");
    await field("Email").fill("not-an-email");
    await submit();
    await expect.poll(() => errorNextTo("Email").textContent()).toMatch(/\S/);
    expect(await errorNextTo("Email").isVisible()).toBe(true);
    expect(await field("Email").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator(".error:not([hidden])").count()).toBe(1);
    expect(await page.getByRole("status").textContent()).toBe("");
    expect(await page.getByRole("region", { name: "Stored contact" }).isVisible()).toBe(false);
    if (process.env.WEB_FORM_SCREENSHOT) {
      await page.screenshot({ path: process.env.WEB_FORM_SCREENSHOT, fullPage: true });
    }
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("says so when the API does not allow the page's origin", async () => {
    await page.goto(`${site?.url}/?api=${encodeURIComponent(noCorsApp?.url ?? "")}`);
    await field("Firm ID").fill(uniqueFirm("web"));
    await field("Email").fill("bob@example.com");
    await submit();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("CORS_ORIGINS");
  });
});
