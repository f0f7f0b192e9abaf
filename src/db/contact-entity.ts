import { EntitySchema, type EntitySchemaColumnOptions } from "typeorm";
import type { Contact } from "../contacts/contact.js";
import { MAX_LENGTH, OPTIONAL_FIELDS, type OptionalField } from "../contacts/fields.js";

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const optionalColumns = Object.fromEntries(
  OPTIONAL_FIELDS.map((field): [OptionalField, EntitySchemaColumnOptions] => [
    field,
    field === "note"
      ? { type: "text", name: "note", nullable: true }
      : { type: "varchar", name: snake(field), length: MAX_LENGTH[field], nullable: true },
  ]),
) as Record<OptionalField, EntitySchemaColumnOptions>;

/**
 * The `contacts` table as TypeORM sees it. The DDL itself (collations, indexes) is owned by the migrations;
 * this schema only maps columns to the Contact type.
 */
export const ContactEntity = new EntitySchema<Contact>({
  name: "Contact",
  tableName: "contacts",
  columns: {
    id: { type: "char", length: 36, primary: true },
    firmId: { type: "varchar", name: "firm_id", length: MAX_LENGTH.firmId },
    trackingId: { type: "varchar", name: "tracking_id", length: MAX_LENGTH.trackingId, nullable: true },
    email: { type: "varchar", length: MAX_LENGTH.email },
    firstName: { type: "varchar", name: "first_name", length: MAX_LENGTH.firstName },
    lastName: { type: "varchar", name: "last_name", length: MAX_LENGTH.lastName },
    ...optionalColumns,
    createTime: { type: "datetime", name: "create_time", precision: 3 },
    updateTime: { type: "datetime", name: "update_time", precision: 3 },
  },
});

/** The column name of a Contact property. */
export const columnOf = (property: keyof Contact): string => snake(property);
