import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { el } from "./dom.js";
import { FIELDS, type FieldName } from "./upsert-form.js";

/** The contact fields an operator edits, in display order (the firm is the book, not a field). */
export const CONTACT_FIELDS = [
  "firstName",
  "lastName",
  "email",
  "phone",
  "company",
  "title",
  "trackingId",
  "prefix",
  "suffix",
  "numberAndStreet",
  "city",
  "state",
  "zipCode",
  "country",
  "note",
] as const satisfies readonly FieldName[];
export type ContactField = (typeof CONTACT_FIELDS)[number];

/** The labelled inputs of a form, each with its error line, by field. */
export type Inputs = ReadonlyMap<
  ContactField,
  { input: HTMLInputElement | HTMLTextAreaElement; error: HTMLElement }
>;

const REQUIRED: ReadonlySet<ContactField> = new Set(["firstName", "lastName", "email"]);

/** Fills `container` with one labelled input per contact field, ids prefixed with `prefix`. */
export function renderInputs(container: HTMLElement, prefix: string): Inputs {
  const inputs = new Map<
    ContactField,
    { input: HTMLInputElement | HTMLTextAreaElement; error: HTMLElement }
  >();
  container.replaceChildren();
  for (const name of CONTACT_FIELDS) {
    const spec = FIELDS[name];
    const id = `${prefix}-${name}`;
    const input =
      spec.input === "textarea"
        ? el("textarea", { rows: 3 })
        : el("input", { type: spec.input ?? "text", autocomplete: "off" });
    Object.assign(input, { id, name });
    if (REQUIRED.has(name)) input.required = true;
    const error = el("p", { id: `${id}-error`, className: "error", hidden: true });
    input.setAttribute("aria-describedby", error.id);
    const label = el("label", {
      htmlFor: id,
      textContent: REQUIRED.has(name) ? `${spec.label} (required)` : spec.label,
    });
    container.append(el("div", { className: name === "note" ? "field wide" : "field" }, label, input, error));
    inputs.set(name, { input, error });
  }
  return inputs;
}

/** The stored value of a field as the input shows it. */
export const storedValue = (contact: Contact, name: ContactField): string => String(contact[name] ?? "");

/** Clears every field error. */
export function clearErrors(inputs: Inputs): void {
  for (const { input, error } of inputs.values()) {
    input.removeAttribute("aria-invalid");
    error.hidden = true;
    error.textContent = "";
  }
}

/** Marks a field with a sentence; returns false if the field is not in the form. */
export function markError(inputs: Inputs, field: string, sentence: string): boolean {
  const json = field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as ContactField;
  const control = inputs.get(json);
  if (!control) return false;
  control.input.setAttribute("aria-invalid", "true");
  control.error.textContent = sentence;
  control.error.hidden = false;
  return true;
}

/** The JSON field name as proto path (`firstName` to `first_name`), for an update mask. */
export const protoPath = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
