import type { QueryRunner } from "typeorm";
import { MAX_LENGTH } from "../../contacts/fields.js";
import { REQUEST_ID_MAX_LENGTH } from "../../contacts/request-ids.js";
import { defineMigration } from "./define-migration.js";

/**
 * `request_outcomes` (issue 9): the first outcome of each request id, per firm, kept until `expire_time`
 * (REQUEST_ID_TTL_HOURS after the call), then purged in the background through the expire_time index.
 * - request_id: the id's UTF-8 bytes, compared exactly (4 bytes per code point at most).
 * - fingerprint: SHA-256 (hex) of the request's canonical form, to tell a retry from another request.
 * - outcome: the answer (JSON), NULL only while the first call's transaction runs; tick: the firm clock's tick
 *   its writes carried (NULL when it wrote nothing), which the stored answer's times are stamped with.
 */
export const RequestIds = defineMigration(
  "RequestIds1796300000000",
  async (runner: QueryRunner) => {
    await runner.query(`
      CREATE TABLE request_outcomes (
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      request_id VARBINARY(${REQUEST_ID_MAX_LENGTH * 4}) NOT NULL,
      fingerprint CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      outcome LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
      tick DATETIME(3) NULL,
      expire_time DATETIME(3) NOT NULL,
      PRIMARY KEY (firm_id, request_id),
      KEY ix_request_outcomes_expire_time (expire_time)
      ) ENGINE=InnoDB`);
  },
  async (runner: QueryRunner) => {
    await runner.query("DROP TABLE request_outcomes");
  },
);
