import { QueryFailedError } from "typeorm";
import { describe, expect, it } from "vitest";
import { classifyDbError } from "../../src/db/db-errors.js";

/** An error shaped like mysql2's, with the server's errno and message. */
function serverError(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno, code: "X", sqlState: "08S01" });
}

describe("classifyDbError", () => {
  it.each([
    [1047, "WSREP has not yet prepared node for application use", "unavailable"],
    [1180, 'Got error 6 "No such device or address" during COMMIT', "unavailable"],
    [1213, "Deadlock found when trying to get lock; try restarting transaction", "deadlock"],
    [1205, "Lock wait timeout exceeded; try restarting transaction", "lock_timeout"],
    [1062, "Duplicate entry 'x' for key 'PRIMARY'", "duplicate"],
    [1064, "You have an error in your SQL syntax", "other"],
  ] as const)("errno %i (%s) is %s", (errno, message, failure) => {
    expect(classifyDbError(serverError(errno, message))).toBe(failure);
  });

  it("a Galera node that is not ready, seen through TypeORM's wrapper, is unavailable (retried)", () => {
    const wrapped = new QueryFailedError(
      "SELECT 1",
      [],
      serverError(1047, "WSREP has not yet prepared node"),
    );
    expect(classifyDbError(wrapped)).toBe("unavailable");
  });
});
