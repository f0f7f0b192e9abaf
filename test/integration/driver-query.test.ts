import type { QueryRunner } from "typeorm";
import { QueryFailedError } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/database.js";
import { classifyDbError } from "../../src/db/db-errors.js";
import { driverQuery } from "../../src/db/driver-query.js";
import { TEST_DATABASE_URL } from "../support/database.js";

// driverQuery sends runPipelined's round trips straight to mysql2, around TypeORM's per-query wrapper: these
// tests pin that it does skip the wrapper, that its results and failures look as TypeORM's would, and that a
// runner with a query of its own (the traced one) keeps it.

let database: Database;
let runner: QueryRunner;
let wrapperCalls = 0;

beforeAll(async () => {
  database = await openDatabase({ url: TEST_DATABASE_URL, poolSize: 1, connectTimeoutMs: 5_000 });
  // TypeORM's runner.query tells its logger of every statement it runs; the direct path never does.
  const logger = database.dataSource.logger;
  const logQuery = logger.logQuery.bind(logger);
  logger.logQuery = (...args) => {
    wrapperCalls++;
    logQuery(...args);
  };
  runner = database.dataSource.createQueryRunner("master");
  await runner.connect();
});

afterAll(async () => {
  await runner?.release();
  await database?.close();
});

describe("driverQuery", () => {
  it("runs several statements in one trip, one result each, without TypeORM's query wrapper", async () => {
    const before = wrapperCalls;
    const results = (await driverQuery(runner)("SELECT ? AS one; SELECT ? AS two", [1, "b"])) as [
      { one: number }[],
      { two: string }[],
    ];
    expect(results[0]).toEqual([{ one: 1 }]);
    expect(results[1]).toEqual([{ two: "b" }]);
    expect(wrapperCalls).toBe(before);
    // The same statement through TypeORM is counted, so the count above can tell the two paths apart.
    await runner.query("SELECT 1");
    expect(wrapperCalls).toBe(before + 1);
  });

  it("fails with TypeORM's QueryFailedError carrying the driver's error, which classifyDbError reads", async () => {
    const query = driverQuery(runner);
    await query("CREATE TEMPORARY TABLE driver_query_keys (id INT PRIMARY KEY)", []);
    await query("INSERT INTO driver_query_keys VALUES (1)", []);
    const sql = "INSERT INTO driver_query_keys VALUES (?)";
    const failure = await query(sql, [1]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect((failure as QueryFailedError).driverError).toMatchObject({ errno: 1062, code: "ER_DUP_ENTRY" });
    expect((failure as QueryFailedError).query).toBe(sql);
    // The duplicate a racing creator meets is retried: the retry loop must still see it as one.
    expect(classifyDbError(failure)).toBe("duplicate");
    await query("DROP TEMPORARY TABLE driver_query_keys", []);
  });

  it("keeps the runner's own query when it has one (a traced runner), so every trip still goes through it", async () => {
    const seen: string[] = [];
    const wrapped = new Proxy(runner, {
      get(target, property) {
        if (property === "query") {
          return (sql: string, params?: unknown[]) => {
            seen.push(sql);
            return target.query(sql, params);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const [row] = (await driverQuery(wrapped)("SELECT 7 AS seven", [])) as { seven: number }[];
    expect(row).toEqual({ seven: 7 });
    expect(seen).toEqual(["SELECT 7 AS seven"]);
  });
});
