import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Contact, ContactSchema } from "../../gen/contacts/v1/contact_pb.js";
import { FIELD_NAMES, FIELDS } from "./upsert-form.js";

// Times in the user's own locale and time zone (the browser's), with the zone named so none is mistaken.
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });

const LABELS: Readonly<Record<string, string>> = {
  id: "Contact ID",
  createTime: "Created",
  updateTime: "Last updated",
  deleteTime: "Deleted",
  clientIds: "Client IDs",
  investmentEntityIds: "Investment entity IDs",
  ...Object.fromEntries(FIELD_NAMES.map((name) => [name, FIELDS[name].label])),
};

// The assignments are always shown, "None" when empty, so an empty list is not mistaken for a missing one.
const ALWAYS_SHOWN = ["clientIds", "investmentEntityIds"] as const;

/** A `<time>` element for a timestamp, its text in the browser's locale and time zone. */
export function timeElement(time: Date): HTMLTimeElement {
  return Object.assign(document.createElement("time"), {
    dateTime: time.toISOString(),
    textContent: TIME_FORMAT.format(time),
  });
}

/** Fills a `<dl>` with the contact's fields, labelled as the form labels them. */
export function renderContact(list: HTMLElement, contact: Contact): void {
  const times: Record<string, Date | undefined> = {
    createTime: contact.createTime && timestampDate(contact.createTime),
    updateTime: contact.updateTime && timestampDate(contact.updateTime),
    deleteTime: contact.deleteTime && timestampDate(contact.deleteTime),
  };
  const json = toJson(ContactSchema, contact) as JsonObject;
  for (const key of ALWAYS_SHOWN) json[key] ??= [];
  list.replaceChildren();
  for (const [key, value] of Object.entries(json)) {
    const dd = document.createElement("dd");
    const time = times[key];
    if (time) dd.append(timeElement(time));
    else if (Array.isArray(value)) dd.textContent = value.length > 0 ? value.join(", ") : "None";
    else dd.textContent = String(value);
    list.append(Object.assign(document.createElement("dt"), { textContent: LABELS[key] ?? key }), dd);
  }
}
