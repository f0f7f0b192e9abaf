import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
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

const GET_PATH = "/contacts.v1.ContactService/GetContact";
const LIST_PATH = "/contacts.v1.ContactService/ListContacts";
// More than one page of 20, so "More" has a second, partial page to fetch.
const CONTACTS = 23;

let outDir: string | undefined;
let site: Awaited<ReturnType<typeof serveStatic>> | undefined;
let app: TestApp | undefined;
let browser: Browser | undefined;
let page: Page;
const firmId = uniqueFirm("web-book");
/** The created contacts' ids by email. */
const ids = new Map<string, string>();

beforeAll(async () => {
  // Fail, never skip: a missing browser must not turn this suite green.
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  outDir = await mkdtemp(path.join(tmpdir(), "contacts-web-"));
  await build({ root: WEB_ROOT, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  site = await serveStatic(outDir);
  app = await startTestApp({ CORS_ORIGINS: site.url });

  // The contacts come through the API, as a CRM sync would write them.
  const api = createClient(
    ContactService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", useBinaryFormat: false }),
  );
  for (let i = 0; i < CONTACTS; i++) {
    const { contact } = await api.upsertContact({
      firmId,
      email: `person${i}@example.com`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
      ...(i % 2 === 0 ? { trackingId: `CRM-${i}` } : {}),
    });
    ids.set(`person${i}@example.com`, contact?.id ?? "");
  }
  await api.assignContact({
    firmId,
    contactId: ids.get("person0@example.com"),
    clientIds: ["client-b", "client-a"],
    investmentEntityIds: ["entity-7"],
  });
  expect(await storedContacts(firmId)).toHaveLength(CONTACTS);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  const context = await browser.newContext({ locale: LOCALE, timezoneId: TIME_ZONE, viewport: DESKTOP });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await mkdir(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await site?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
  await closeSqlPool();
});

const found = () => page.getByRole("region", { name: "Found contact" });
const rows = () => page.getByRole("list", { name: "Contacts of the firm" }).getByRole("button");
const bookError = () => page.locator("#book-error");

/** Clicks the button and returns the JSON body of the call it makes to `rpcPath`. */
async function callBy(button: string, rpcPath: string): Promise<Record<string, unknown>> {
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith(rpcPath) && r.method() === "POST"),
    page.getByRole("button", { name: button, exact: true }).click(),
  ]);
  return request.postDataJSON() as Record<string, unknown>;
}

describe("the web page's contact book, served from another origin, calls GetContact and ListContacts", () => {
  it("says the Firm ID is needed before it looks anything up", async () => {
    await page.goto(`${site?.url}/?api=${encodeURIComponent(app?.url ?? "")}`);
    await page.getByLabel("Contact ID", { exact: true }).fill("anything");
    await page.getByRole("button", { name: "Look up", exact: true }).click();
    expect(await bookError().textContent()).toBe("Enter the Firm ID in the form above first.");
  });

  it("looks a contact up by its ID and shows every field, with its client and investment entity IDs", async () => {
    const id = ids.get("person0@example.com") ?? "";
    await page.getByLabel("Firm ID", { exact: true }).fill(firmId);
    await page.getByLabel("Contact ID", { exact: true }).fill(` ${id} `);
    expect(await callBy("Look up", GET_PATH)).toEqual({ firmId, id });
    await expect.poll(() => found().isVisible()).toBe(true);
    const text = (await found().textContent()) ?? "";
    expect(text).toContain("person0@example.com");
    expect(text).toContain("CRM-0");
    expect(text).toContain(id);
    const value = (label: string) => found().locator(`dt:text-is("${label}") + dd`).textContent();
    expect(await value("Client IDs")).toBe("client-a, client-b");
    expect(await value("Investment entity IDs")).toBe("entity-7");
    expect(await value("First name")).toBe("First0");
    expect(await bookError().textContent()).toBe("");
  });

  it("says in a sentence when no contact of the firm has the ID", async () => {
    // An id of another firm's contact is as unknown as one that never existed.
    const { contact } = await createClient(
      ContactService,
      createConnectTransport({ baseUrl: app?.url ?? "", httpVersion: "1.1" }),
    ).upsertContact({
      firmId: uniqueFirm("web-other"),
      email: "x@example.com",
      firstName: "X",
      lastName: "Y",
    });
    for (const unknown of ["no-such-contact", contact?.id ?? ""]) {
      await page.getByLabel("Contact ID", { exact: true }).fill(unknown);
      await callBy("Look up", GET_PATH);
      await expect
        .poll(() => bookError().textContent())
        .toBe(`Firm “${firmId}” has no contact with the ID “${unknown}”. Check the ID and the Firm ID.`);
      expect(await found().isVisible()).toBe(false);
    }
  });

  it("lists the firm's contacts 20 at a time, and More fetches the rest", async () => {
    expect(await callBy("List contacts", LIST_PATH)).toEqual({ firmId, pageSize: 20 });
    await expect.poll(() => rows().count()).toBe(20);
    expect(await page.getByRole("button", { name: "More", exact: true }).isVisible()).toBe(true);
    expect(await page.locator("#book-status").textContent()).toBe("Showing 20 contacts; there are more.");

    const more = await callBy("More", LIST_PATH);
    expect(more).toMatchObject({ firmId, pageSize: 20 });
    expect(more.pageToken).toEqual(expect.any(String));
    await expect.poll(() => rows().count()).toBe(CONTACTS);
    expect(await page.getByRole("button", { name: "More", exact: true }).isVisible()).toBe(false);
    expect(await page.locator("#book-status").textContent()).toBe(`Showing ${CONTACTS} contacts.`);

    // Every contact exactly once: no row lost or repeated across the page boundary.
    const emails = await rows().locator(".email").allTextContents();
    expect(emails.sort()).toEqual([...ids.keys()].sort());
    const first = rows().filter({ hasText: "person0@example.com" });
    expect(await first.textContent()).toContain("First0 Last0");
    expect(await first.textContent()).toContain("Tracking ID CRM-0");
    expect(await rows().filter({ hasText: "person1@example.com" }).textContent()).toContain("No tracking ID");
  });

  it("shows each row's last update in the browser's locale and time zone", async () => {
    const time = rows().filter({ hasText: "person3@example.com" }).locator("time");
    const instant = new Date((await time.getAttribute("datetime")) ?? "");
    expect(Math.abs(instant.getTime() - Date.now())).toBeLessThan(10 * 60_000);
    const text = (await time.textContent()) ?? "";
    expect(text).toContain(inBrowserZone(instant).date);
    expect(text).toContain(inBrowserZone(instant).time);
    expect(text).not.toMatch(/\dT\d/); // not ISO 8601
  });

  it("shows a row's contact like the lookup when it is clicked", async () => {
    await rows().filter({ hasText: "person5@example.com" }).click();
    await expect.poll(() => found().textContent()).toContain("person5@example.com");
    expect(await found().textContent()).toContain(ids.get("person5@example.com"));
    expect(await found().locator(`dt:text-is("Client IDs") + dd`).textContent()).toBe("None");
  });

  it("starts over when listed again, instead of appending the same contacts", async () => {
    await callBy("List contacts", LIST_PATH);
    await expect
      .poll(() => page.locator("#book-status").textContent())
      .toBe("Showing 20 contacts; there are more.");
    expect(await rows().count()).toBe(20);
  });

  it("fits a 390 px phone screen and a desktop one without sideways scrolling", async () => {
    expect(await found().isVisible()).toBe(true);
    for (const [name, viewport] of [
      ["phone-390", PHONE],
      ["desktop", DESKTOP],
    ] as const) {
      await page.setViewportSize(viewport);
      const { scrollWidth, clientWidth, sticksOut } = await page.evaluate<Layout>(MEASURE_LAYOUT);
      expect(clientWidth).toBe(viewport.width);
      expect(scrollWidth, `${name}: the page is wider than the screen`).toBeLessThanOrEqual(clientWidth);
      expect(sticksOut, `${name}: elements past the right edge`).toEqual([]);
      await page.screenshot({ path: path.join(SCREENSHOTS, `web-contacts-${name}.png`), fullPage: true });
    }
  });
});
