import type { MigrationInterface, QueryRunner } from "typeorm";

type Step = (runner: QueryRunner) => Promise<void>;

/** How TypeORM runs a migration. */
export interface MigrationOptions {
  /**
   * false runs it outside a transaction, each statement committing on its own: for a migration that updates a
   * large table in batches, which one transaction would lock as a whole (MySQL DDL commits implicitly anyway).
   */
  readonly transaction?: boolean;
}

/**
 * Turns a pair of functions into the class TypeORM instantiates for a migration. `name` must end in a 13-digit
 * timestamp, which orders the migrations.
 */
export function defineMigration(
  name: string,
  up: Step,
  down: Step,
  options: MigrationOptions = {},
): new () => MigrationInterface {
  const migration = class implements MigrationInterface {
    readonly name = name;
    readonly transaction = options.transaction;
    up = up;
    down = down;
  };
  Object.defineProperty(migration, "name", { value: name });
  return migration;
}
