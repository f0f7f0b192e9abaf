import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { connectJsonH1, type UpsertClient } from "../support/clients.js";
import {
  PRIVATE_MARIADB_MISSING,
  type PrivateMariaDb,
  reportSkip,
  startPrivateMariaDb,
} from "../support/private-mariadb.js";

// Values are escaped by the driver with backslashes; a server whose default sql_mode has NO_BACKSLASH_ESCAPES
// would read `\'` as a backslash and the end of the string, and run what follows as SQL.
const ATTACK = "x\\'; DROP TABLE contacts; -- ";

reportSkip("sql-mode.test.ts", PRIVATE_MARIADB_MISSING);

describe.skipIf(PRIVATE_MARIADB_MISSING !== undefined)(
  "on a server whose sql_mode has NO_BACKSLASH_ESCAPES",
  () => {
    let db: PrivateMariaDb;
    let app: TestApp;
    let client: UpsertClient;
    beforeAll(async () => {
      db = await startPrivateMariaDb(["--sql-mode=NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES"]);
      app = await startTestApp({ DATABASE_URL: db.url });
      client = connectJsonH1(app.url);
    }, 90_000);
    afterAll(async () => {
      client?.close();
      await app?.close();
      await db?.destroy();
    });

    it("stores a value with a backslash and a quote as data, never as SQL", async () => {
      const request = {
        firmId: "sqlmode",
        trackingId: "T1",
        email: "q@example.com",
        firstName: ATTACK,
        lastName: "L",
      };
      expect((await client.upsert(request)).result).toBe(UpsertResult.CREATED);
      const again = await client.upsert({ firmId: "sqlmode", trackingId: "T1" });
      expect(again.result).toBe(UpsertResult.UPDATED);
      expect(again.contact?.firstName).toBe(ATTACK.trim());
    });
  },
);
