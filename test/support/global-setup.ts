import { openDatabase } from "../../src/db/database.js";
import { TEST_DATABASE_URL } from "./database.js";

/** Creates and migrates the test database once, before the test files run in parallel. */
export default async function setup(): Promise<void> {
  const database = await openDatabase({ url: TEST_DATABASE_URL, poolSize: 1, connectTimeoutMs: 5_000 });
  await database.close();
}
