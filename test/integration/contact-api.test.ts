import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  connectJsonH1,
  connectProtoH2,
  failure,
  grpcJsClient,
  grpcWebH1,
  type UpdateInit,
  type UpsertClient,
} from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// GetContact, ListContacts, UpdateContact, DeleteContact, AssignContact and UnassignContact as the proto documents
// them, over grpc-js (gRPC on h2c) and Connect JSON on HTTP/1.1, checked against the stored rows.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

type Row = Record<string, string | Date | null>;
const row = async (id: string): Promise<Row | undefined> =>
  (await sql<Row>("SELECT * FROM contacts WHERE id = ?", [id]))[0];
const assignments = (id: string) =>
  sql<{ kind: string; ref_id: string }>(
    "SELECT kind, ref_id FROM contact_assignments WHERE contact_id = ? ORDER BY kind, ref_id",
    [id],
  );
const ms = (contact: Contact | undefined, field: "updateTime" | "createTime" = "updateTime") => {
  const time = contact?.[field];
  if (!time) throw new Error(`no ${field}`);
  return timestampDate(time).getTime();
};
const snake = (path: string) => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const timeOf = (stored: Row | undefined, column: "update_time" | "create_time") =>
  (stored?.[column] as Date | undefined)?.getTime();
/** Sorted by code point, as the service promises (UTF-16 order differs for astral characters). */
const byCodePoint = (ids: string[]) =>
  [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe.each([
  { name: "grpc-js", make: grpcJsClient, json: false },
  { name: "connect-json-http1", make: connectJsonH1, json: true },
  // What browsers use (gRPC-Web over HTTP/1.1) and connect-node's binary Connect over h2c.
  { name: "grpc-web-http1", make: grpcWebH1, json: false },
  { name: "connect-proto-h2c", make: connectProtoH2, json: false },
])("over $name", ({ make, json }) => {
  let client: UpsertClient;
  beforeAll(() => {
    const raw = make(app.url);
    // In JSON a FieldMask is one string of lowerCamelCase names, which decodes to proto names: a JSON client
    // cannot send a JSON name as a path (protobuf-es refuses to encode one), so it sends the proto name.
    client = json
      ? {
          ...raw,
          update: (request, options) =>
            raw.update(
              request.updateMask?.paths
                ? ({ ...request, updateMask: { paths: request.updateMask.paths.map(snake) } } as UpdateInit)
                : request,
              options,
            ),
        }
      : raw;
  });
  afterAll(() => client.close());

  const create = async (firmId: string, extra: Record<string, string> = {}) => {
    const { contact } = await client.upsert({
      firmId,
      email: `${Math.random().toString(36).slice(2)}@example.com`,
      firstName: "Ann",
      lastName: "Lee",
      ...extra,
    });
    if (!contact) throw new Error("no contact");
    return contact;
  };

  describe("GetContact", () => {
    it("returns the stored contact, with the times the upsert answered", async () => {
      const firmId = uniqueFirm("get");
      const created = await create(firmId, { trackingId: "T-1", city: "Oslo" });
      const { contact } = await client.get({ firmId, id: ` ${created.id} ` });
      expect(contact).toEqual(created);
      const stored = await row(created.id);
      expect(timeOf(stored, "update_time")).toBe(ms(contact));
      expect(timeOf(stored, "create_time")).toBe(ms(contact, "createTime"));
    });

    it("an unknown id, an id of another firm, or a non-UUID id is NOT_FOUND", async () => {
      const firmId = uniqueFirm("get");
      const created = await create(firmId);
      for (const [firm, id] of [
        [firmId, "019ac8f0-0000-7000-8000-000000000000"],
        [uniqueFirm("get-other"), created.id],
        [firmId, "josé"],
        [firmId, "x".repeat(100)],
      ] as const) {
        expect((await failure(client.get({ firmId: firm, id }))).code).toBe("NOT_FOUND");
      }
    });

    it("a missing firm or id is INVALID_ARGUMENT naming it", async () => {
      const result = await failure(client.get({ firmId: " ", id: "" }));
      expect(result.code).toBe("INVALID_ARGUMENT");
      expect(result.fields).toEqual(["firmId", "id"]);
    });
  });

  describe("UpdateContact", () => {
    it("changes exactly the masked fields, by proto or JSON name, and clears a masked unset optional field", async () => {
      const firmId = uniqueFirm("upd");
      const created = await create(firmId, { city: "Oslo", phone: "555", company: "Acme" });
      const { contact } = await client.update({
        firmId,
        contact: { id: created.id, firstName: "  Anna ", city: "Bergen", lastName: "ignored", company: "" },
        updateMask: { paths: ["first_name", "city", "phone", "company"] },
      });
      expect(contact).toMatchObject({
        firstName: "Anna",
        lastName: "Lee",
        city: "Bergen",
        email: created.email,
      });
      expect(contact?.phone).toBeUndefined();
      expect(contact?.company).toBeUndefined();
      expect(ms(contact)).toBeGreaterThan(ms(created));
      const stored = await row(created.id);
      expect(stored).toMatchObject({
        first_name: "Anna",
        last_name: "Lee",
        city: "Bergen",
        phone: null,
        company: null,
      });
      expect(timeOf(stored, "update_time")).toBe(ms(contact));
      expect(timeOf(stored, "create_time")).toBe(ms(created, "createTime"));
    });

    it("changes the email and the tracking id, and clears the tracking id", async () => {
      const firmId = uniqueFirm("upd");
      const created = await create(firmId, { trackingId: "T-1" });
      const first = await client.update({
        firmId,
        contact: { id: created.id, email: "New@Example.com", trackingId: "T-2" },
        updateMask: { paths: ["email", "trackingId"] },
      });
      expect(first.contact).toMatchObject({ email: "New@Example.com", trackingId: "T-2" });
      expect(await row(created.id)).toMatchObject({ email: "New@Example.com", tracking_id: "T-2" });
      // Its own email in another letter case is no conflict.
      await client.update({
        firmId,
        contact: { id: created.id, email: "new@example.com" },
        updateMask: { paths: ["email", "tracking_id"] },
      });
      expect(await row(created.id)).toMatchObject({ email: "new@example.com", tracking_id: null });
      // The old keys are free: an upsert with them creates another contact.
      const other = await client.upsert({
        firmId,
        trackingId: "T-1",
        email: created.email,
        firstName: "B",
        lastName: "C",
      });
      expect(other.contact?.id).not.toBe(created.id);
    });

    it("an email or tracking id held by another contact is ALREADY_EXISTS naming the holder; nothing is written", async () => {
      const firmId = uniqueFirm("upd");
      const holder = await create(firmId, { trackingId: "H-1", email: "held@example.com" });
      const target = await create(firmId, { trackingId: "T-1" });
      const before = await row(target.id);
      const email = await failure(
        client.update({
          firmId,
          contact: { id: target.id, email: "HELD@example.com", firstName: "Zed" },
          updateMask: { paths: ["email", "firstName"] },
        }),
      );
      expect(email.code).toBe("ALREADY_EXISTS");
      expect(email.info).toEqual({
        reason: "EMAIL_TAKEN",
        metadata: { field: "contact.email", contactId: holder.id },
      });
      const tracking = await failure(
        client.update({
          firmId,
          contact: { id: target.id, trackingId: "H-1" },
          updateMask: { paths: ["tracking_id"] },
        }),
      );
      expect(tracking.code).toBe("ALREADY_EXISTS");
      expect(tracking.info).toEqual({
        reason: "TRACKING_ID_TAKEN",
        metadata: { field: "contact.trackingId", contactId: holder.id },
      });
      expect(await row(target.id)).toEqual(before);
    });

    it("racing updates to one new email: the unique index decides, exactly one wins, the other is ALREADY_EXISTS", async () => {
      const firmId = uniqueFirm("upd-race");
      const contacts = await Promise.all(Array.from({ length: 6 }, () => create(firmId)));
      const results = await Promise.allSettled(
        contacts.map((c) =>
          client.update({
            firmId,
            contact: { id: c.id, email: "Race@Example.com" },
            updateMask: { paths: ["email"] },
          }),
        ),
      );
      const winners = results.filter((r) => r.status === "fulfilled");
      expect(winners).toHaveLength(1);
      const winner = (winners[0] as PromiseFulfilledResult<{ contact?: Contact }>).value.contact;
      for (const result of results.filter((r) => r.status === "rejected")) {
        const refused = await failure(Promise.reject((result as PromiseRejectedResult).reason));
        expect(refused.code).toBe("ALREADY_EXISTS");
        expect(refused.info).toEqual({
          reason: "EMAIL_TAKEN",
          metadata: { field: "contact.email", contactId: winner?.id },
        });
      }
      const holders = await sql("SELECT id FROM contacts WHERE firm_id = ? AND email = 'Race@Example.com'", [
        firmId,
      ]);
      expect(holders).toEqual([{ id: winner?.id }]);
    });

    it("an update that changes nothing writes nothing and keeps the update time", async () => {
      const firmId = uniqueFirm("upd");
      const created = await create(firmId, { city: "Oslo" });
      const clockBefore = await sql("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [firmId]);
      const { contact } = await client.update({
        firmId,
        contact: { id: created.id, city: " Oslo ", firstName: "Ann" },
        updateMask: { paths: ["city", "first_name"] },
      });
      expect(contact).toEqual(created);
      expect(await sql("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [firmId])).toEqual(clockBefore);
    });

    it.each([
      [{ paths: [] }, ["updateMask"]],
      [undefined, ["updateMask"]],
      [{ paths: ["nickname"] }, ["updateMask"]],
      [{ paths: ["id"] }, ["updateMask"]],
      [{ paths: ["update_time", "clientIds"] }, ["updateMask", "updateMask"]],
      [{ paths: ["email"] }, ["contact.email"]],
      [{ paths: ["first_name", "lastName"] }, ["contact.firstName", "contact.lastName"]],
    ])("mask %j with an empty contact is INVALID_ARGUMENT naming %j", async (updateMask, fields) => {
      const firmId = uniqueFirm("upd");
      const created = await create(firmId);
      const result = await failure(client.update({ firmId, contact: { id: created.id }, updateMask }));
      expect(result.code).toBe("INVALID_ARGUMENT");
      expect(result.fields).toEqual(fields);
      expect(await row(created.id)).toMatchObject({ first_name: "Ann", email: created.email });
    });

    it("values are validated like an upsert's", async () => {
      const firmId = uniqueFirm("upd");
      const created = await create(firmId);
      const result = await failure(
        client.update({
          firmId,
          contact: {
            id: created.id,
            email: "nope",
            zipCode: "1".repeat(21),
            note: "ok\nfine",
            city: "a\u0000b",
          },
          updateMask: { paths: ["email", "zip_code", "note", "city"] },
        }),
      );
      expect(result.code).toBe("INVALID_ARGUMENT");
      expect(result.fields).toEqual(["contact.email", "contact.city", "contact.zipCode"]);
    });

    it("an unknown contact, or none, is NOT_FOUND or INVALID_ARGUMENT", async () => {
      const firmId = uniqueFirm("upd");
      const result = await failure(
        client.update({
          firmId,
          contact: { id: "019ac8f0-0000-7000-8000-000000000000" },
          updateMask: { paths: ["city"] },
        }),
      );
      expect(result.code).toBe("NOT_FOUND");
      const missing = await failure(client.update({ firmId, updateMask: { paths: ["city"] } }));
      expect(missing.fields).toEqual(["contact.id"]);
    });
  });

  describe("DeleteContact", () => {
    it("moves the contact to the tombstones and frees its email and tracking id at once", async () => {
      const firmId = uniqueFirm("del");
      const created = await create(firmId, { trackingId: "T-1", city: "Oslo" });
      await client.assign({ firmId, contactId: created.id, clientIds: ["c1"] });
      expect(await client.delete({ firmId, id: created.id })).toBeDefined();
      expect(await row(created.id)).toBeUndefined();
      expect(await assignments(created.id)).toEqual([]);
      const [tombstone] = await sql<Row>("SELECT * FROM contact_tombstones WHERE id = ?", [created.id]);
      expect(tombstone).toMatchObject({
        firm_id: firmId,
        tracking_id: "T-1",
        email: created.email,
        city: "Oslo",
      });
      expect(tombstone?.delete_time).toEqual(tombstone?.update_time);
      expect(timeOf(tombstone, "update_time")).toBeGreaterThan(ms(created));
      expect(timeOf(tombstone, "create_time")).toBe(ms(created, "createTime"));

      for (const call of [
        () => client.get({ firmId, id: created.id }),
        () => client.delete({ firmId, id: created.id }),
        () =>
          client.update({ firmId, contact: { id: created.id, city: "X" }, updateMask: { paths: ["city"] } }),
        () => client.assign({ firmId, contactId: created.id, clientIds: ["c2"] }),
        () => client.unassign({ firmId, contactId: created.id, clientIds: ["c1"] }),
      ]) {
        expect((await failure(call())).code).toBe("NOT_FOUND");
      }
      const again = await client.upsert({
        firmId,
        trackingId: "T-1",
        email: created.email,
        firstName: "A",
        lastName: "B",
      });
      expect(again.contact?.id).not.toBe(created.id);
      expect(again.contact?.clientIds).toEqual([]);
    });

    it("a contact of another firm is NOT_FOUND and stays", async () => {
      const firmId = uniqueFirm("del");
      const created = await create(firmId);
      expect((await failure(client.delete({ firmId: uniqueFirm("del-other"), id: created.id }))).code).toBe(
        "NOT_FOUND",
      );
      expect(await row(created.id)).toBeDefined();
    });
  });

  describe("AssignContact and UnassignContact", () => {
    it("add and remove ids, trimmed, collapsed and sorted by code point, bumping the update time", async () => {
      const firmId = uniqueFirm("asg");
      const created = await create(firmId);
      const assigned = await client.assign({
        firmId,
        contactId: created.id,
        clientIds: [" b ", "a", "b", "\u{1F600}", "\uFF21"],
        investmentEntityIds: ["ie-1"],
      });
      expect(assigned.contact?.clientIds).toEqual(byCodePoint(["a", "b", "\u{1F600}", "\uFF21"]));
      expect(assigned.contact?.clientIds).toEqual(["a", "b", "\uFF21", "\u{1F600}"]);
      expect(assigned.contact?.investmentEntityIds).toEqual(["ie-1"]);
      expect(ms(assigned.contact)).toBeGreaterThan(ms(created));
      expect((await row(created.id))?.update_time).toEqual(new Date(ms(assigned.contact)));
      expect(await assignments(created.id)).toEqual([
        { kind: "client", ref_id: "a" },
        { kind: "client", ref_id: "b" },
        { kind: "client", ref_id: "\uFF21" },
        { kind: "client", ref_id: "\u{1F600}" },
        { kind: "investment_entity", ref_id: "ie-1" },
      ]);
      expect((await client.get({ firmId, id: created.id })).contact).toEqual(assigned.contact);

      const removed = await client.unassign({
        firmId,
        contactId: created.id,
        clientIds: ["a", "zzz"],
        investmentEntityIds: ["ie-1"],
      });
      expect(removed.contact?.clientIds).toEqual(["b", "\uFF21", "\u{1F600}"]);
      expect(removed.contact?.investmentEntityIds).toEqual([]);
      expect(ms(removed.contact)).toBeGreaterThan(ms(assigned.contact));
      expect(await assignments(created.id)).toHaveLength(3);
    });

    it("assigning what is there, or removing what is absent, succeeds and changes nothing", async () => {
      const firmId = uniqueFirm("asg");
      const created = await create(firmId);
      const first = await client.assign({ firmId, contactId: created.id, clientIds: ["c1", "c2"] });
      const before = await row(created.id);
      const again = await client.assign({ firmId, contactId: created.id, clientIds: ["c2", "c1"] });
      const none = await client.unassign({
        firmId,
        contactId: created.id,
        clientIds: ["c3"],
        investmentEntityIds: ["x"],
      });
      expect(again.contact).toEqual(first.contact);
      expect(none.contact).toEqual(first.contact);
      expect(await row(created.id)).toEqual(before);
    });

    it("more than 1000 ids of one kind is FAILED_PRECONDITION and writes nothing", async () => {
      const firmId = uniqueFirm("asg");
      const created = await create(firmId);
      const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `id-${from + i}`);
      await client.assign({
        firmId,
        contactId: created.id,
        clientIds: ids(0, 999),
        investmentEntityIds: ids(0, 1000),
      });
      const before = await row(created.id);
      const over = await failure(
        client.assign({
          firmId,
          contactId: created.id,
          clientIds: ids(999, 2),
          investmentEntityIds: ["new"],
        }),
      );
      expect(over.code).toBe("FAILED_PRECONDITION");
      expect(over.message).toContain("clientIds");
      expect(await row(created.id)).toEqual(before);
      expect(await assignments(created.id)).toHaveLength(1999);
      const full = await client.assign({ firmId, contactId: created.id, clientIds: ["id-0", "id-999"] });
      expect(full.contact?.clientIds).toHaveLength(1000);
      expect(full.contact?.investmentEntityIds).toHaveLength(1000);
    });

    it("bad ids are INVALID_ARGUMENT naming each by index", async () => {
      const firmId = uniqueFirm("asg");
      const created = await create(firmId);
      const result = await failure(
        client.assign({
          firmId,
          contactId: created.id,
          clientIds: ["ok", "  ", "a\nb"],
          investmentEntityIds: ["x".repeat(65), "\u{1F600}".repeat(64)],
        }),
      );
      expect(result.code).toBe("INVALID_ARGUMENT");
      expect(result.fields).toEqual(["clientIds[1]", "clientIds[2]", "investmentEntityIds[0]"]);
      expect(await assignments(created.id)).toEqual([]);
      expect((await failure(client.unassign({ firmId, contactId: "", clientIds: [] }))).fields).toEqual([
        "contactId",
      ]);
    });
  });

  describe("assignments are never touched by UpsertContact or UpdateContact", () => {
    it("on every upsert path (update by tracking id, by email, no-op, failed) and on update", async () => {
      const firmId = uniqueFirm("untouched");
      const created = await create(firmId, { trackingId: "T-1", email: "keep@example.com" });
      const clientIds = ["c-2", "c-1"];
      const investmentEntityIds = ["ie-1"];
      const { contact } = await client.assign({
        firmId,
        contactId: created.id,
        clientIds,
        investmentEntityIds,
      });
      const stored = await assignments(created.id);
      const expectKept = async (answer: Contact | undefined) => {
        expect(answer?.clientIds).toEqual(["c-1", "c-2"]);
        expect(answer?.investmentEntityIds).toEqual(["ie-1"]);
        expect(await assignments(created.id)).toEqual(stored);
      };
      await expectKept(contact);
      await expectKept((await client.upsert({ firmId, trackingId: "T-1", city: "Oslo" })).contact);
      await expectKept((await client.upsert({ firmId, email: "KEEP@example.com", city: "Rome" })).contact);
      await expectKept((await client.upsert({ firmId, email: "keep@example.com", city: "Rome" })).contact);
      await expectKept((await client.upsert({ firmId, trackingId: "T-1", firstName: "Ann" })).contact);
      await create(firmId, { email: "other@example.com" });
      expect(
        (
          await failure(
            client.upsert({
              firmId,
              trackingId: "T-9",
              email: "other@example.com",
              firstName: "a",
              lastName: "b",
            }),
          )
        ).code,
      ).toBe("ALREADY_EXISTS");
      expect(
        (
          await failure(
            client.update({
              firmId,
              contact: { id: created.id, email: "other@example.com" },
              updateMask: { paths: ["email"] },
            }),
          )
        ).code,
      ).toBe("ALREADY_EXISTS");
      await expectKept(
        (
          await client.update({
            firmId,
            contact: { id: created.id, lastName: "Q" },
            updateMask: { paths: ["last_name"] },
          })
        ).contact,
      );
      await expectKept((await client.get({ firmId, id: created.id })).contact);
      // A new contact starts with none, whatever another contact holds.
      const fresh = await create(firmId);
      expect(fresh.clientIds).toEqual([]);
    });
  });

  describe("ListContacts", () => {
    it("pages through the firm's contacts in (update_time, id) order, page_size clamped", async () => {
      const firmId = uniqueFirm("list");
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await create(firmId)).id);
      await create(uniqueFirm("list-other"));
      const seen: Contact[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await client.list({ firmId, pageSize: 3, pageToken });
        expect(page.contacts.length).toBeLessThanOrEqual(3);
        seen.push(...page.contacts);
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "");
      expect(pages).toBe(3);
      expect(seen.map((c) => c.id)).toEqual(ids);
      const stored = await sql<{ id: string }>(
        "SELECT id FROM contacts WHERE firm_id = ? ORDER BY update_time, id",
        [firmId],
      );
      expect(seen.map((c) => c.id)).toEqual(stored.map((r) => r.id));
      expect((await client.list({ firmId })).contacts).toHaveLength(7);
      expect((await client.list({ firmId, pageSize: 5000 })).contacts).toHaveLength(7);
      const negative = await failure(client.list({ firmId, pageSize: -1 }));
      expect(negative).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["pageSize"] });
    });

    it("updated_after returns only later changes; show_deleted adds deletions once, with delete_time", async () => {
      const firmId = uniqueFirm("list");
      const a = await create(firmId);
      const b = await create(firmId);
      const c = await create(firmId);
      const mark = b.updateTime;
      const changedA = await client.update({
        firmId,
        contact: { id: a.id, city: "X" },
        updateMask: { paths: ["city"] },
      });
      await client.delete({ firmId, id: c.id });
      const live = await client.list({ firmId, updatedAfter: mark });
      expect(live.contacts.map((x) => x.id)).toEqual([a.id]);
      expect(live.contacts[0]).toEqual(changedA.contact);
      const all = await client.list({ firmId, updatedAfter: mark, showDeleted: true });
      expect(all.contacts.map((x) => x.id)).toEqual([a.id, c.id]);
      const deleted = all.contacts[1];
      expect(deleted?.deleteTime).toBeDefined();
      expect(deleted?.updateTime).toEqual(deleted?.deleteTime);
      expect(ms(deleted)).toBeGreaterThan(ms(changedA.contact));
      // Sub-millisecond precision: "after 12.3456 ms" is after 12 ms.
      const justBefore = timestampFromDate(new Date(ms(changedA.contact) - 1));
      justBefore.nanos += 999_999;
      expect((await client.list({ firmId, updatedAfter: justBefore })).contacts.map((x) => x.id)).toEqual([
        a.id,
      ]);
      expect((await client.list({ firmId, updatedAfter: changedA.contact?.updateTime })).contacts).toEqual(
        [],
      );
      expect((await client.list({ firmId })).contacts.map((x) => x.id)).toEqual([b.id, a.id]);
    });

    it("a page token that is altered, forged, or used for another firm or other parameters is INVALID_ARGUMENT naming pageToken", async () => {
      const firmId = uniqueFirm("list");
      for (let i = 0; i < 3; i++) await create(firmId);
      const { nextPageToken } = await client.list({ firmId, pageSize: 1 });
      expect(nextPageToken).not.toBe("");
      expect((await client.list({ firmId, pageSize: 1, pageToken: nextPageToken })).contacts).toHaveLength(1);
      const flipped = `${nextPageToken.slice(0, 5)}${nextPageToken[5] === "A" ? "B" : "A"}${nextPageToken.slice(6)}`;
      for (const request of [
        { firmId, pageToken: flipped },
        { firmId, pageToken: "not a token" },
        { firmId, pageToken: Buffer.alloc(60).toString("base64url") },
        { firmId: uniqueFirm("list-other"), pageToken: nextPageToken },
        { firmId, pageToken: nextPageToken, showDeleted: true },
        { firmId, pageToken: nextPageToken, updatedAfter: timestampFromDate(new Date(0)) },
      ]) {
        const result = await failure(client.list(request));
        expect(result).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["pageToken"] });
      }
    });
  });
});
