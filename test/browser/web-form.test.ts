import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  DESKTOP,
  inBrowserZone,
  type Layout,
  LOCALE,
  MEASURE_LAYOUT,
  PHONE,
  SCREENSHOTS,
  TIME_ZONE,
  WEB_ROOT,
} from "./browser-support.js";
import { serveStatic } from "./static-server.js";

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
  const context = await browser.newContext({ locale: LOCALE, timezoneId: TIME_ZONE, viewport: DESKTOP });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await mkdir(SCREENSHOTS, { recursive: true });
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

  it("shows the stored times in the browser's locale and time zone", async () => {
    const times = page.getByRole("region", { name: "Stored contact" }).locator("time");
    expect(await times.count()).toBe(2);
    for (const time of await times.all()) {
      const instant = new Date((await time.getAttribute("datetime")) ?? "");
      expect(Math.abs(instant.getTime() - Date.now())).toBeLessThan(10 * 60_000);
      const text = (await time.textContent()) ?? "";
      // de-DE writes 29.11.2026; the hour is Tokyo's, whatever the machine's zone.
      expect(text).toContain(inBrowserZone(instant).date);
      expect(text).toContain(inBrowserZone(instant).time);
      expect(text).not.toMatch(/\dT\d/); // not ISO 8601
    }
  });

  it("shows an invalid email's error next to the email field, in the form's words", async () => {
    await field("Tracking ID").fill("");
    await field("Email").fill("not-an-email");
    await submit();
    await expect.poll(() => errorNextTo("Email").textContent()).toMatch(/\S/);
    expect(await errorNextTo("Email").isVisible()).toBe(true);
    expect(await errorNextTo("Email").textContent()).toMatch(/^(Email \w|[A-Z])/);
    expect(await errorNextTo("Email").textContent()).not.toMatch(/email:/);
    expect(await field("Email").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator(".error:not([hidden])").count()).toBe(1);
    expect(await page.getByRole("status").textContent()).toBe("");
    expect(await page.getByRole("region", { name: "Stored contact" }).isVisible()).toBe(false);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("names the fields by their labels when neither tracking ID nor email is given", async () => {
    await field("Email").fill("");
    await submit();
    await expect
      .poll(() => errorNextTo("Email").textContent())
      .toBe("Email is required when Tracking ID is empty.");
    expect(await errorNextTo("Tracking ID").textContent()).toBe(
      "Tracking ID is required when Email is empty.",
    );
    expect(await page.getByRole("alert").textContent()).toBe("Please correct the marked fields.");
  });

  it("marks a taken email and offers to update the contact that holds it", async () => {
    const [holder] = await storedContacts(firmId);
    await field("Tracking ID").fill("CRM-2");
    await field("Email").fill("ANN@example.com");
    await submit();
    await expect.poll(() => errorNextTo("Email").textContent()).toContain("already has this email");
    expect(await field("Email").getAttribute("aria-invalid")).toBe("true");
    expect(await errorNextTo("Email").textContent()).toContain(String(holder?.id));
    const alert = (await page.getByRole("alert").textContent()) ?? "";
    expect(alert).toMatch(/^This email already belongs to another contact/);
    expect(alert).not.toMatch(/AlreadyExists|already_exists/i);
    expect(await storedContacts(firmId)).toHaveLength(1);

    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith(UPSERT_PATH) && r.method() === "POST"),
      page.getByRole("button", { name: "Update that contact instead" }).click(),
    ]);
    expect(request.postDataJSON()).not.toHaveProperty("trackingId");
    await expect.poll(() => page.getByRole("status").textContent()).toMatch(/updated/i);
    expect(await field("Email").getAttribute("aria-invalid")).toBeNull();
    const stored = await storedContacts(firmId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: holder?.id, tracking_id: "CRM-1", email: "ann@example.com" });
  });

  it("fits a 390 px phone screen and a desktop one without sideways scrolling", async () => {
    for (const [name, viewport] of [
      ["phone-390", PHONE],
      ["desktop", DESKTOP],
    ] as const) {
      await page.setViewportSize(viewport);
      const { scrollWidth, clientWidth, sticksOut } = await page.evaluate<Layout>(MEASURE_LAYOUT);
      expect(clientWidth).toBe(viewport.width);
      expect(scrollWidth, `${name}: the page is wider than the screen`).toBeLessThanOrEqual(clientWidth);
      expect(sticksOut, `${name}: elements past the right edge`).toEqual([]);
      await page.screenshot({ path: path.join(SCREENSHOTS, `web-form-${name}.png`), fullPage: true });
    }
  });

  it("says in a sentence when the API does not allow the page's origin", async () => {
    await page.goto(`${site?.url}/?api=${encodeURIComponent(noCorsApp?.url ?? "")}`);
    await field("Firm ID").fill(uniqueFirm("web"));
    await field("Email").fill("bob@example.com");
    await submit();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("CORS_ORIGINS");
    const alert = (await page.getByRole("alert").textContent()) ?? "";
    expect(alert).toMatch(/^The contacts service at http:\/\/127\.0\.0\.1:\d+ could not be reached\./);
    expect(alert).not.toMatch(/Unknown|Failed to fetch/);
  });
});
