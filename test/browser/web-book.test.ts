import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService, UpdateContactRequestSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import { RetryInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  DESKTOP,
  type Layout,
  LOCALE,
  MEASURE_LAYOUT,
  PHONE,
  SCREENSHOTS,
  TIME_ZONE,
  WEB_ROOT,
} from "./browser-support.js";
import { serveStatic } from "./static-server.js";

// The contact book page (issue 20) in headless Chromium against the real server with API keys: every flow an
// operator uses, checked in the page and in the database, axe-core, and screenshots of each state at a phone's
// and a desktop's width.

const OPERATOR_KEY = "operator-key-0123456789";
const SYNC_KEY = "crm-sync-key-0123456789";
const LIST_PATH = "/contacts.v1.ContactService/ListContacts";
const UPDATE_PATH = "/contacts.v1.ContactService/UpdateContact";
// More than one page of 50, so scrolling has a second page to fetch.
const CONTACTS = 57;
const SHOTS = path.join(SCREENSHOTS, "contact-book");
const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const firmId = uniqueFirm("book");
let keysDir: string;
let outDir: string;
let site: Awaited<ReturnType<typeof serveStatic>>;
let app: TestApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let sync: ReturnType<typeof createClient<typeof ContactService>>;
const consoleErrors: string[] = [];
const ids = new Map<string, string>();

const sha = (token: string) => createHash("sha256").update(token).digest("hex");

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  keysDir = await mkdtemp(path.join(tmpdir(), "contacts-book-keys-"));
  const keysFile = path.join(keysDir, "keys.json");
  await writeFile(
    keysFile,
    JSON.stringify([
      { name: "operator", sha256: sha(OPERATOR_KEY), firms: [firmId] },
      { name: "crm-sync", sha256: sha(SYNC_KEY), firms: [firmId] },
    ]),
  );
  outDir = await mkdtemp(path.join(tmpdir(), "contacts-book-"));
  await build({ root: WEB_ROOT, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  site = await serveStatic(outDir);
  app = await startTestApp({ CORS_ORIGINS: site.url, API_KEYS_FILE: keysFile });
  sync = createClient(
    ContactService,
    createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", interceptors: [] }),
  );
  const people: [string, string, string][] = [
    ["Ann", "Lee", "ann.lee@example.com"],
    ["Anna", "Berg", "anna.berg@example.com"],
    ["Bob", "Annely", "bob.annely@example.com"],
    ["Carl", "Smith", "carl.smith@example.com"],
  ];
  for (let i = 0; people.length < CONTACTS; i++)
    people.push([`Person${i}`, `Filler${i}`, `p${i}@example.com`]);
  // Fillers first, so the named people are the newest and the book opens on them.
  for (const [firstName, lastName, email] of [...people.slice(4), ...people.slice(0, 4)]) {
    const { contact } = await sync.upsertContact({ firmId, firstName, lastName, email }, syncKey);
    ids.set(email, contact?.id ?? "");
  }
  await mkdir(SHOTS, { recursive: true });
  console.log(`contact book screenshots: ${SHOTS}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  context = await browser.newContext({ locale: LOCALE, timezoneId: TIME_ZONE, viewport: DESKTOP });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
  await closeSqlPool();
  await rm(outDir, { recursive: true, force: true });
  await rm(keysDir, { recursive: true, force: true });
});

const syncKey = { headers: { Authorization: `Bearer ${SYNC_KEY}` } };
const pageUrl = () => `${site.url}/?api=${encodeURIComponent(app.url)}`;
const row = (name: string) => page.locator(".row", { hasText: name });
const rowNames = () => page.locator(".row .name").allTextContents();
const stored = async (id: string) =>
  (await sql<Record<string, unknown>>("SELECT * FROM contacts WHERE id = ?", [id]))[0];

/** Screenshots the page at both widths and checks neither scrolls sideways. */
async function shoot(name: string): Promise<void> {
  for (const [label, size] of [
    ["390", PHONE],
    ["1280", DESKTOP],
  ] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(100);
    const layout = (await page.evaluate(MEASURE_LAYOUT)) as Layout;
    expect(layout.scrollWidth, `${name} at ${label} px: ${layout.sticksOut.join(", ")}`).toBeLessThanOrEqual(
      layout.clientWidth,
    );
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`) });
  }
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(): Promise<void> {
  if (!(await page.evaluate("typeof window.axe === 'object'")))
    await page.addScriptTag({ content: axeSource });
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })))",
  )) as { id: string; impact: string; nodes: string[] }[];
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
}

/** A gRPC-Web trailers-only RESOURCE_EXHAUSTED with google.rpc.RetryInfo, as an overloaded server sends it. */
function overloaded(delayMs: number) {
  const info = create(RetryInfoSchema, { retryDelay: { seconds: 0n, nanos: delayMs * 1_000_000 } });
  const status = create(StatusSchema, {
    code: 8,
    message: "too many calls in flight",
    details: [anyPack(RetryInfoSchema, info)],
  });
  return {
    status: 200,
    contentType: "application/grpc-web+proto",
    headers: {
      "access-control-allow-origin": site.url,
      "access-control-expose-headers": "grpc-status, grpc-message, grpc-status-details-bin",
      "grpc-status": "8",
      "grpc-message": "too%20many%20calls%20in%20flight",
      "grpc-status-details-bin": Buffer.from(toBinary(StatusSchema, status))
        .toString("base64")
        .replace(/=+$/, ""),
    },
    body: "",
  };
}

/** The request message of a gRPC-Web call: its one data frame after the 5-byte prefix. */
const grpcWebMessage = (body: Buffer | null) => (body ?? Buffer.alloc(5)).subarray(5);

describe("the contact book page", () => {
  it("asks for the firm first, then opens on the book, newest change first, with a count", async () => {
    const favicon = page.waitForResponse((r) => r.url().endsWith("/favicon.svg"));
    await page.goto(pageUrl());
    expect((await favicon).status()).toBe(200);
    await page.getByLabel("Firm").waitFor();
    await shoot("firm");
    await axe();
    await page.getByLabel("Firm").fill(firmId);
    await page.getByLabel("Access key").fill(OPERATOR_KEY);
    await page.getByRole("button", { name: "Open" }).click();
    await page.locator("#count", { hasText: "50 contacts shown, scroll for more" }).waitFor();
    expect((await rowNames()).slice(0, 4)).toEqual(["Carl Smith", "Bob Annely", "Anna Berg", "Ann Lee"]);
    // The main actions are in view without scrolling, at both widths.
    for (const size of [PHONE, DESKTOP]) {
      await page.setViewportSize(size);
      for (const name of ["New contact"]) {
        const box = await page.getByRole("button", { name }).boundingBox();
        expect(box && box.y + box.height).toBeLessThanOrEqual(size.height);
      }
    }
    await shoot("book");
    await axe();
  });

  it("loads the next page as the user scrolls, and counts what is shown", async () => {
    await page.locator("#sentinel").scrollIntoViewIfNeeded();
    await page.locator("#count", { hasText: `${CONTACTS} contacts` }).waitFor();
    expect(await page.locator(".row").count()).toBe(CONTACTS);
  });

  it("remembers the firm between visits and the key in the session", async () => {
    await page.reload();
    await page.locator("#count", { hasText: "50 contacts shown" }).waitFor();
    expect(await page.evaluate("localStorage.getItem('contact-book.firm')")).toBe(firmId);
    expect(await page.evaluate("localStorage.getItem('contact-book.key')")).toBeNull();
    expect(await page.evaluate("sessionStorage.getItem('contact-book.key')")).toBe(OPERATOR_KEY);
  });

  it("finds by email in another case, by tracking id and by name as the user types, on the server", async () => {
    const lists: string[] = [];
    page.on("request", (request) => {
      if (request.url().endsWith(LIST_PATH)) lists.push(grpcWebMessage(request.postDataBuffer()).toString());
    });
    await sync.updateContact(
      {
        firmId,
        contact: { id: ids.get("carl.smith@example.com"), trackingId: "CRM-77" },
        updateMask: { paths: ["tracking_id"] },
      },
      syncKey,
    );
    const search = page.getByLabel("Find");
    await search.fill("ANN.LEE@Example.COM");
    await page.locator("#count", { hasText: "1 contact found" }).waitFor();
    expect(await rowNames()).toEqual(["Ann Lee"]);
    await search.fill("");
    await search.pressSequentially("ann", { delay: 60 });
    await page.locator("#count", { hasText: "3 contacts found for “ann”" }).waitFor();
    expect((await rowNames()).sort()).toEqual(["Ann Lee", "Anna Berg", "Bob Annely"]);
    // The browser asked the service with a filter; it never listed the whole firm to filter it itself.
    expect(lists.some((body) => body.includes('name = "ann*"'))).toBe(true);
    await shoot("search");
    await search.fill("CRM-77");
    await page.locator("#count", { hasText: "1 contact found" }).waitFor();
    expect(await rowNames()).toEqual(["Carl Smith"]);
    await search.fill("zzqx");
    await page.getByText("No contact matches “zzqx”").waitFor();
    await shoot("empty");
    await axe();
    await search.fill("");
    await page.locator("#count", { hasText: "50 contacts shown" }).waitFor();
  });

  it("opens a contact from the keyboard with every field, its assignments and its history", async () => {
    await page.getByLabel("Find").fill("Lee");
    await page.locator("#count", { hasText: "1 contact found" }).waitFor();
    await page.getByLabel("Find").focus();
    await page.keyboard.press("Tab"); // New contact
    await page.keyboard.press("Tab"); // the first row
    await page.keyboard.press("Enter");
    await page.locator("#panel-title", { hasText: "Ann Lee" }).waitFor();
    expect(await page.evaluate("document.activeElement.id")).toBe("panel-title");
    expect(await page.locator("#edit-email").inputValue()).toBe("ann.lee@example.com");
    await page.locator("#history", { hasText: "Created by crm-sync" }).waitFor();
    await page.locator("#history", { hasText: "First name set to “Ann”" }).waitFor();
    await page.locator("#assignments", { hasText: "None" }).first().waitFor();
    // Ids live behind the disclosure.
    expect(await page.locator(".tech dd").first().isVisible()).toBe(false);
    await shoot("panel");
    await axe();
    await page.keyboard.press("Escape");
    expect(await page.locator("#panel").isHidden()).toBe(true);
  });

  it("saves exactly the fields the user changed (an email change included), keeping another client's write", async () => {
    const id = ids.get("ann.lee@example.com") as string;
    await row("Ann Lee").click();
    await page.locator("#edit-city").waitFor();
    await page.locator("#edit-email").fill("Ann.Lee@Example.org");
    await page.locator("#edit-city").fill("Oslo");
    // Another client changes the phone while the user edits.
    await sync.upsertContact({ firmId, email: "ann.lee@example.com", phone: "+47 555 0100" }, syncKey);
    const update = page.waitForRequest((r) => r.url().endsWith(UPDATE_PATH));
    await page.getByRole("button", { name: "Save changes" }).click();
    const sent = fromBinary(UpdateContactRequestSchema, grpcWebMessage((await update).postDataBuffer()));
    expect([...(sent.updateMask?.paths ?? [])].sort()).toEqual(["city", "email"]);
    await page.locator("#panel-status", { hasText: "Saved" }).waitFor();
    const after = await stored(id);
    expect(after).toMatchObject({
      email: "Ann.Lee@Example.org",
      city: "Oslo",
      phone: "+47 555 0100",
      first_name: "Ann",
    });
    const [change] = await sql<{ fields: string; principal: string }>(
      "SELECT fields, principal FROM contact_changes WHERE contact_id = ? ORDER BY change_time DESC, seq DESC LIMIT 1",
      [id],
    );
    const fields = (
      typeof change?.fields === "string" ? JSON.parse(change.fields) : change?.fields
    ) as unknown[][];
    expect(change?.principal).toBe("operator");
    expect(fields.map((f) => f[0]).sort()).toEqual(["city", "email"]);
    await page.locator("#history", { hasText: "City set to “Oslo”" }).waitFor();
  });

  it("refuses an email another contact holds: names the holder, offers to open it, overwrites nothing", async () => {
    const id = ids.get("ann.lee@example.com") as string;
    await page.locator("#edit-email").fill("ANNA.BERG@example.com");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.locator("#panel-error:not([hidden])").waitFor();
    expect(await page.locator("#panel-error p").first().textContent()).toBe(
      "Not saved: Anna Berg (anna.berg@example.com) already has this email. Nothing was changed on either contact.",
    );
    expect((await stored(id))?.email).toBe("Ann.Lee@Example.org");
    expect((await stored(ids.get("anna.berg@example.com") as string))?.email).toBe("anna.berg@example.com");
    await shoot("conflict");
    await axe();
    await page.getByRole("button", { name: "Open Anna Berg (anna.berg@example.com)" }).click();
    await page.locator("#panel-title", { hasText: "Anna Berg" }).waitFor();
  });

  it("assigns and unassigns ids in place", async () => {
    const id = ids.get("anna.berg@example.com") as string;
    await page.getByLabel("Add a client").fill("client-7");
    await page.getByRole("button", { name: "Add client" }).click();
    await page.locator(".chip", { hasText: "client-7" }).waitFor();
    const assigned = () =>
      sql<{ ref_id: string }>(
        "SELECT ref_id FROM contact_assignments WHERE contact_id = ? AND kind = 'client'",
        [id],
      );
    expect((await assigned()).map((r) => r.ref_id)).toEqual(["client-7"]);
    await page.locator("#history", { hasText: "Clients: added client-7" }).waitFor();
    await page.getByRole("button", { name: "Remove client client-7" }).click();
    await page.locator("#panel-status", { hasText: "Removed client-7" }).waitFor();
    expect(await assigned()).toEqual([]);
  });

  it("deletes only after the user confirms", async () => {
    const id = ids.get("carl.smith@example.com") as string;
    await page.getByLabel("Find").fill("carl");
    await row("Carl Smith").click();
    await page.locator("#panel-title", { hasText: "Carl Smith" }).waitFor();
    await page.getByRole("button", { name: "Delete…" }).click();
    await page.getByText("Delete Carl Smith? This cannot be undone.").waitFor();
    await page.getByRole("button", { name: "Keep it" }).click();
    expect(await stored(id)).toBeDefined();
    await page.getByRole("button", { name: "Delete…" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.locator("#toast", { hasText: "Deleted Carl Smith." }).waitFor();
    expect(await stored(id)).toBeUndefined();
    await row("Carl Smith").waitFor({ state: "detached" });
    await page.getByLabel("Find").fill("");
  });

  it("creates a contact and says what happened in plain words, then what an upsert matched and changed", async () => {
    await page.getByRole("button", { name: "New contact" }).click();
    await page.locator("#new-firstName").fill("Dana");
    await page.locator("#new-lastName").fill("White");
    await page.locator("#new-email").fill("dana.white@example.com");
    await shoot("create");
    await axe();
    await page.getByRole("button", { name: "Save contact" }).click();
    await page.locator("#toast", { hasText: "Created Dana White." }).waitFor();
    await page.locator("#panel-title", { hasText: "Dana White" }).waitFor();
    await page.getByRole("button", { name: "New contact" }).click();
    await page.locator("#new-email").fill("DANA.WHITE@example.com");
    await page.locator("#new-company").fill("Acme");
    await page.getByRole("button", { name: "Save contact" }).click();
    await page
      .locator("#toast", { hasText: "Dana White already exists (found by its email): changed company." })
      .waitFor();
    await shoot("created");
    const [dana] = await sql<{ company: string }>(
      "SELECT company FROM contacts WHERE firm_id = ? AND first_name = 'Dana'",
      [firmId],
    );
    expect(dana?.company).toBe("Acme");
    await page.getByRole("button", { name: "Close contact" }).click();
  });

  it("shows another client's writes live, marked, and catches up after the network drops", async () => {
    await sync.upsertContact(
      { firmId, firstName: "Zed", lastName: "Live", email: "zed@example.com" },
      syncKey,
    );
    await page.locator("li.marked", { hasText: "Zed Live" }).waitFor({ timeout: 20_000 });
    expect((await rowNames())[0]).toBe("Zed Live");
    await expect(
      page.locator("li.marked", { hasText: "Zed Live" }).locator(".mark").textContent(),
    ).resolves.toBe("New");
    await sync.upsertContact({ firmId, email: "p3@example.com", city: "Bergen" }, syncKey);
    await page.locator("li.marked", { hasText: "Person3 Filler3" }).waitFor({ timeout: 20_000 });
    await shoot("live");
    await context.setOffline(true);
    await page.evaluate("window.dispatchEvent(new Event('offline'))");
    await page.locator("#offline").waitFor();
    await sync.upsertContact(
      { firmId, firstName: "Olga", lastName: "Offline", email: "olga@example.com" },
      syncKey,
    );
    await shoot("offline");
    await context.setOffline(false);
    await page.evaluate("window.dispatchEvent(new Event('online'))");
    await page.locator("li.marked", { hasText: "Olga Offline" }).waitFor({ timeout: 20_000 });
    await page.locator("#offline").waitFor({ state: "hidden" });
  });

  it("has written no error to the console in the flows so far", () => {
    expect(consoleErrors.filter((text) => !text.includes("ERR_INTERNET_DISCONNECTED"))).toEqual([]);
  });

  it("retries an overloaded service quietly, then says it is busy", async () => {
    let refused = 0;
    await page.route(`**${LIST_PATH}`, (route) => {
      if (refused++ < 2) return route.fulfill(overloaded(50));
      return route.continue();
    });
    await page.getByLabel("Find").fill("anna");
    await page.locator("#count", { hasText: "1 contact found" }).waitFor();
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(await page.locator("#book-error").isHidden()).toBe(true);
    await page.unroute(`**${LIST_PATH}`);
    await page.route(`**${LIST_PATH}`, (route) => route.fulfill(overloaded(50)));
    await page.getByLabel("Find").fill("bob");
    await page.locator("#book-error", { hasText: "The contacts service is busy" }).waitFor();
    await shoot("busy");
    await page.unroute(`**${LIST_PATH}`);
    await page.getByRole("button", { name: "Try again" }).click();
    await page.locator("#count", { hasText: "1 contact found" }).waitFor();
  });

  it("shows loading while a page is on its way", async () => {
    await page.route(`**${LIST_PATH}`, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Unrouted while waiting, the route is continued by Playwright itself.
      await route.continue().catch(() => undefined);
    });
    await page.getByLabel("Find").fill("");
    await page.getByText("Loading contacts…").waitFor();
    await shoot("loading");
    await page.unroute(`**${LIST_PATH}`);
    await page.locator("#count", { hasText: "contacts shown" }).waitFor();
  });

  it("asks again when the service refuses the key", async () => {
    await page.evaluate("sessionStorage.setItem('contact-book.key', 'not-a-key')");
    await page.reload();
    await page.getByText("did not accept this access key").waitFor();
    expect(await page.getByLabel("Access key").getAttribute("aria-invalid")).toBe("true");
    await shoot("key-refused");
    await axe();
    await page.getByLabel("Access key").fill(OPERATOR_KEY);
    await page.getByRole("button", { name: "Open" }).click();
    await page.locator("#count", { hasText: "contacts shown" }).waitFor();
  });

  it("says so in plain words when the service cannot be reached, with the detail behind a disclosure", async () => {
    await page.goto(`${site.url}/?api=${encodeURIComponent("http://127.0.0.1:9")}`);
    await page.locator("#book-error", { hasText: "cannot be reached" }).waitFor();
    expect(await page.locator("#book-error code").isVisible()).toBe(false);
    await shoot("error");
    await axe();
  });
});
