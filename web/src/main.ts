import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { ContactService, UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startContactBook } from "./contact-book.js";
import { renderContact } from "./contact-view.js";
import { type Conflict, conflictOf, errorSentence, fieldMessage } from "./messages.js";
import { apiUrlFrom, FIELD_NAMES, FIELDS, type FieldName, fieldErrors, toRequest } from "./upsert-form.js";

const CALL_TIMEOUT_MS = 10_000;
const RESULT_TEXT: Partial<Record<UpsertResult, string>> = {
  [UpsertResult.CREATED]: "Created a new contact.",
  [UpsertResult.UPDATED]: "Updated the existing contact.",
};

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

const form = byId<HTMLFormElement>("upsert-form");
const status = byId<HTMLElement>("status");
const formError = byId<HTMLElement>("form-error");
const result = byId<HTMLElement>("result");
const resultFields = byId<HTMLElement>("result-fields");
const apiKey = byId<HTMLInputElement>("api-key");
const submit = form.querySelector("button[type=submit]") as HTMLButtonElement;

interface Control {
  readonly input: HTMLInputElement | HTMLTextAreaElement;
  readonly error: HTMLElement;
}

/** One labelled input per field, grouped in fieldsets, each with its hint and its (empty) error line. */
function renderFields(): Map<FieldName, Control> {
  const controls = new Map<FieldName, Control>();
  const groups = new Map<string, HTMLFieldSetElement>();
  for (const name of FIELD_NAMES) {
    const spec = FIELDS[name];
    let fieldset = groups.get(spec.group);
    if (!fieldset) {
      fieldset = document.createElement("fieldset");
      fieldset.append(Object.assign(document.createElement("legend"), { textContent: spec.group }));
      groups.set(spec.group, fieldset);
      byId("fields").append(fieldset);
    }
    const id = `field-${name}`;
    const row = Object.assign(document.createElement("div"), { className: "field" });
    if (spec.input === "textarea") row.classList.add("wide");
    const label = Object.assign(document.createElement("label"), { htmlFor: id, textContent: spec.label });
    const input =
      spec.input === "textarea"
        ? Object.assign(document.createElement("textarea"), { rows: 4 })
        : Object.assign(document.createElement("input"), { type: spec.input ?? "text" });
    Object.assign(input, { id, name, required: spec.required === true });
    row.append(label, input);
    const describedBy: string[] = [];
    if (spec.hint) {
      const hint = Object.assign(document.createElement("p"), { id: `${id}-hint`, className: "hint" });
      hint.textContent = spec.hint;
      row.append(hint);
      describedBy.push(hint.id);
    }
    const error = Object.assign(document.createElement("div"), { id: `${id}-error`, className: "error" });
    error.hidden = true;
    row.append(error);
    describedBy.push(error.id);
    input.setAttribute("aria-describedby", describedBy.join(" "));
    fieldset.append(row);
    controls.set(name, { input, error });
  }
  return controls;
}

const controls = renderFields();

function clearMessages(): void {
  status.textContent = "";
  formError.textContent = "";
  apiKey.removeAttribute("aria-invalid");
  for (const { input, error } of controls.values()) {
    input.removeAttribute("aria-invalid");
    error.replaceChildren();
    error.hidden = true;
  }
}

function markField(name: FieldName, ...content: (Node | string)[]): void {
  const control = controls.get(name);
  if (!control) return;
  control.input.setAttribute("aria-invalid", "true");
  control.error.replaceChildren(...content);
  control.error.hidden = false;
}

function showContact(contact: Contact): void {
  renderContact(resultFields, contact);
  result.hidden = false;
}

/** A conflict: the field is marked, and the contact holding the value is offered to update instead. */
function showConflict(conflict: Conflict): void {
  const label = FIELDS[conflict.field].label;
  const text = document.createElement("p");
  text.textContent = `Another contact of this firm already has this ${label.toLowerCase()}.`;
  if (conflict.contactId) {
    text.append(
      " Its contact ID is ",
      Object.assign(document.createElement("code"), { textContent: conflict.contactId }),
      ".",
    );
  }
  const offer = Object.assign(document.createElement("button"), {
    type: "button",
    className: "secondary",
    textContent: "Update that contact instead",
  });
  // Without a tracking ID the request matches by email, so saving again updates the contact that holds it.
  offer.addEventListener("click", () => {
    const trackingId = controls.get("trackingId");
    if (trackingId) trackingId.input.value = "";
    form.requestSubmit();
  });
  const hint = Object.assign(document.createElement("p"), {
    className: "hint",
    textContent: "Updating it leaves out the tracking ID and saves these fields to that contact.",
  });
  markField(conflict.field, text, ...(conflict.field === "email" ? [offer, hint] : []));
  controls.get(conflict.field)?.input.focus();
}

function showError(error: ConnectError, apiUrl: string, values: Record<FieldName, string>): void {
  result.hidden = true;
  if (error.code === Code.InvalidArgument) {
    const { byField, other } = fieldErrors(error);
    for (const [name, descriptions] of byField) {
      markField(name, descriptions.map((description) => fieldMessage(name, description)).join(" "));
    }
    const first = FIELD_NAMES.find((name) => byField.has(name));
    if (first) controls.get(first)?.input.focus();
    if (byField.size > 0 || other.length > 0) {
      formError.textContent = ["Please correct the marked fields.", ...other].join(" ");
      return;
    }
  }
  const conflict = conflictOf(error);
  if (conflict) showConflict(conflict);
  if (error.code === Code.Unauthenticated) {
    apiKey.setAttribute("aria-invalid", "true");
    apiKey.focus();
  }
  formError.textContent = errorSentence(error, {
    apiUrl,
    pageOrigin: location.origin,
    firmId: values.firmId.trim(),
    sentKey: apiKey.value.trim() !== "",
  });
}

function start(): void {
  const apiUrl = apiUrlFrom(location.search);
  if (apiUrl instanceof Error) {
    formError.textContent = apiUrl.message;
    for (const button of document.querySelectorAll("button")) button.disabled = true;
    return;
  }
  byId("api-url").textContent = apiUrl;
  // connect-web's Connect transport speaks JSON unless useBinaryFormat is set.
  const client = createClient(ContactService, createConnectTransport({ baseUrl: apiUrl }));
  startContactBook({
    client,
    apiUrl,
    timeoutMs: CALL_TIMEOUT_MS,
    firmId: () => controls.get("firmId")?.input.value ?? "",
    apiKey: () => apiKey.value,
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    const values = Object.fromEntries(
      FIELD_NAMES.map((name) => [name, controls.get(name)?.input.value ?? ""]),
    ) as Record<FieldName, string>;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const key = apiKey.value.trim();
      const response = await client.upsertContact(toRequest(values), {
        timeoutMs: CALL_TIMEOUT_MS,
        headers: key ? { Authorization: `Bearer ${key}` } : {},
      });
      status.textContent = RESULT_TEXT[response.result] ?? "Saved.";
      if (response.contact) showContact(response.contact);
    } catch (error) {
      showError(ConnectError.from(error), apiUrl, values);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

start();
