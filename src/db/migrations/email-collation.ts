import type { QueryRunner } from "typeorm";

/**
 * Case-insensitive, accent-sensitive, NO PAD collations, best first. Accent-insensitive ones would merge
 * josé@ and jose@; PAD SPACE ones would merge "a@x" and "a@x ". MariaDB has the first since 10.10 and rejects
 * the MySQL 8 name; MySQL 8 has only the second.
 */
export const EMAIL_COLLATIONS = ["utf8mb4_uca1400_nopad_as_ci", "utf8mb4_0900_as_ci"] as const;

/**
 * The email collation this server supports, probed by using it (MariaDB lists its UCA 14 collations under
 * charset-neutral names, so SHOW COLLATION cannot tell). Fails the migration when it has none of them.
 */
export async function emailCollation(runner: QueryRunner): Promise<string> {
  for (const name of EMAIL_COLLATIONS) {
    try {
      await runner.query(`SELECT _utf8mb4'a' COLLATE ${name} = _utf8mb4'A' AS probe`);
      return name;
    } catch {
      // ER_UNKNOWN_COLLATION: try the next one.
    }
  }
  throw new Error(
    `the database server supports none of the email collations ${EMAIL_COLLATIONS.join(", ")}: use MySQL 8.0+ or MariaDB 10.10+`,
  );
}
