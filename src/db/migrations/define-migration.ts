import type { MigrationInterface, QueryRunner } from "typeorm";

type Step = (runner: QueryRunner) => Promise<void>;

/**
 * Turns a pair of functions into the class TypeORM instantiates for a migration. `name` must end in a 13-digit
 * timestamp, which orders the migrations.
 */
export function defineMigration(name: string, up: Step, down: Step): new () => MigrationInterface {
  const migration = class implements MigrationInterface {
    readonly name = name;
    up = up;
    down = down;
  };
  Object.defineProperty(migration, "name", { value: name });
  return migration;
}
