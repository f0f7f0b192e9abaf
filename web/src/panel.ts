import { type CallOptions, Code, ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { type Api, dateOf, type Service } from "./api.js";
import { byId, el, formatTime, hideAlert, showAlert } from "./dom.js";
import {
  CONTACT_FIELDS,
  type ContactField,
  clearErrors,
  markError,
  protoPath,
  renderInputs,
  storedValue,
} from "./form-fields.js";
import { changeHeading, changeLines, conflictOf, displayName, explain, fieldLabel } from "./words.js";

/** The contact panel: every field (editable), assignments, history, and delete. */
export interface Panel {
  open(id: string): Promise<void>;
  close(): void;
  /** The id shown, if any. */
  shown(): string | undefined;
  /** The shown contact changed elsewhere: shows it again unless the user is editing. */
  refresh(): Promise<void>;
}

export interface PanelDeps {
  readonly api: Api;
  readonly firmId: string;
  /** After a save or an assignment here: the book updates its row. */
  readonly saved: (contact: Contact) => void;
  readonly deleted: (id: string) => void;
  /** A passing message for the whole page. */
  readonly said: (text: string) => void;
  readonly failed: (error: ConnectError) => void;
}

const HISTORY_PAGE = 20;
const KINDS = [
  { key: "clientIds", label: "Clients", single: "client" },
  { key: "investmentEntityIds", label: "Investment entities", single: "investment entity" },
] as const;

export function createPanel(deps: PanelDeps): Panel {
  const panel = byId("panel");
  const title = byId<HTMLHeadingElement>("panel-title");
  const status = byId("panel-status");
  const error = byId("panel-error");
  const form = byId<HTMLFormElement>("edit-form");
  const inputs = renderInputs(byId("edit-fields"), "edit");
  const confirm = byId("confirm-delete");
  const history = byId<HTMLOListElement>("history");
  const historyMore = byId<HTMLButtonElement>("history-more");
  const tech = byId("panel-tech");
  let contact: Contact | undefined;
  let historyToken = "";
  let opener: HTMLElement | null = null;

  const call = <T>(run: (client: Service, options: CallOptions) => Promise<T>) => deps.api.run(run);

  const changedFields = (): ContactField[] =>
    contact
      ? CONTACT_FIELDS.filter(
          (name) => inputs.get(name)?.input.value !== storedValue(contact as Contact, name),
        )
      : [];

  const render = (shown: Contact) => {
    contact = shown;
    title.textContent = displayName(shown);
    for (const name of CONTACT_FIELDS) {
      const control = inputs.get(name);
      if (control) control.input.value = storedValue(shown, name);
    }
    clearErrors(inputs);
    renderAssignments(shown);
    const created = dateOf(shown.createTime);
    const updated = dateOf(shown.updateTime);
    tech.replaceChildren(
      ...[
        ["Contact ID", shown.id],
        ["Created", created ? `${formatTime(created)} (${created.toISOString()})` : ""],
        ["Last changed", updated ? `${formatTime(updated)} (${updated.toISOString()})` : ""],
      ].flatMap(([term, value]) => [el("dt", { textContent: term }), el("dd", { textContent: value })]),
    );
  };

  const renderAssignments = (shown: Contact) => {
    const box = byId("assignments");
    box.replaceChildren(
      ...KINDS.map(({ key, label, single }) => {
        const ids = shown[key];
        const items = ids.map((id) => {
          const remove = el("button", {
            type: "button",
            className: "chip-remove",
            textContent: "Remove",
            ariaLabel: `Remove ${single} ${id}`,
          });
          remove.addEventListener("click", () => void assign(key, id, false));
          return el("li", { className: "chip" }, el("span", { textContent: id }), remove);
        });
        const inputId = `assign-${key}`;
        const input = el("input", { id: inputId, autocomplete: "off" });
        const add = el("button", { type: "button", className: "secondary", textContent: `Add ${single}` });
        const submit = () => {
          const value = input.value.trim();
          if (value) void assign(key, value, true);
        };
        add.addEventListener("click", submit);
        input.addEventListener("keydown", (event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            submit();
          }
        });
        return el(
          "div",
          { className: "assign-group" },
          el("h4", { textContent: label }),
          items.length > 0
            ? el("ul", { className: "chips" }, ...items)
            : el("p", { className: "hint", textContent: "None" }),
          el(
            "div",
            { className: "assign-add" },
            el("label", { htmlFor: inputId, textContent: `Add a ${single}` }),
            input,
            add,
          ),
        );
      }),
    );
  };

  const fail = (failure: unknown, doing: string) => {
    const problem = ConnectError.from(failure);
    const { sentence, detail } = explain(problem, doing);
    showAlert(error, sentence, detail);
    deps.failed(problem);
  };

  const assign = async (key: (typeof KINDS)[number]["key"], id: string, add: boolean) => {
    if (!contact) return;
    hideAlert(error);
    const request = { firmId: deps.firmId, contactId: contact.id, [key]: [id] };
    try {
      const response = add
        ? await call((client, options) => client.assignContact(request, options))
        : await call((client, options) => client.unassignContact(request, options));
      if (response.contact) {
        render(response.contact);
        deps.saved(response.contact);
      }
      status.textContent = add ? `Assigned ${id}.` : `Removed ${id}.`;
      await loadHistory(true);
      byId<HTMLInputElement>(`assign-${key}`).focus();
    } catch (failure) {
      fail(failure, add ? "assign" : "remove the assignment");
    }
  };

  const loadHistory = async (fresh: boolean) => {
    if (!contact) return;
    if (fresh) {
      historyToken = "";
      history.replaceChildren();
    }
    try {
      const page = await call((client, options) =>
        client.listContactChanges(
          {
            firmId: deps.firmId,
            contactId: (contact as Contact).id,
            pageSize: HISTORY_PAGE,
            pageToken: historyToken,
          },
          options,
        ),
      );
      for (const change of page.changes) {
        history.append(
          el(
            "li",
            {},
            el("p", { className: "change-head", textContent: changeHeading(change, formatTime) }),
            el("ul", {}, ...changeLines(change).map((line) => el("li", { textContent: line }))),
          ),
        );
      }
      historyToken = page.nextPageToken;
      historyMore.hidden = historyToken === "";
      if (history.children.length === 0) history.append(el("li", { textContent: "No recorded changes." }));
    } catch (failure) {
      fail(failure, "load the history");
    }
  };

  const showConflict = async (problem: ConnectError) => {
    const conflict = conflictOf(problem);
    if (!conflict) return;
    let holder = "another contact";
    if (conflict.contactId) {
      const found = await call((client, options) =>
        client.getContact({ firmId: deps.firmId, id: conflict.contactId as string }, options),
      ).catch(() => undefined);
      if (found?.contact) holder = `${displayName(found.contact)} (${found.contact.email})`;
    }
    const label = fieldLabel(conflict.field).toLowerCase();
    markError(inputs, conflict.field, `${holder} already has this ${label}.`);
    const actions: Node[] = [];
    if (conflict.contactId) {
      const openHolder = el("button", {
        type: "button",
        className: "secondary",
        textContent: `Open ${holder}`,
      });
      openHolder.addEventListener("click", () => void panelApi.open(conflict.contactId as string));
      actions.push(openHolder);
    }
    showAlert(
      error,
      `Not saved: ${holder} already has this ${label}. Nothing was changed on either contact.`,
      `${Code[problem.code]}: ${problem.rawMessage}`,
      ...actions,
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!contact) return;
    hideAlert(error);
    clearErrors(inputs);
    const changed = changedFields();
    if (changed.length === 0) {
      status.textContent = "Nothing to save: no field was changed.";
      return;
    }
    const values = Object.fromEntries(changed.map((name) => [name, inputs.get(name)?.input.value ?? ""]));
    status.textContent = "Saving…";
    try {
      const response = await call((client, options) =>
        client.updateContact(
          {
            firmId: deps.firmId,
            contact: { id: (contact as Contact).id, ...values },
            updateMask: { paths: changed.map(protoPath) },
          },
          options,
        ),
      );
      if (response.contact) {
        render(response.contact);
        deps.saved(response.contact);
      }
      status.textContent = `Saved ${changed.map((name) => fieldLabel(name).toLowerCase()).join(", ")}.`;
      await loadHistory(true);
    } catch (failure) {
      status.textContent = "";
      const problem = ConnectError.from(failure);
      if (problem.code === Code.AlreadyExists) return void (await showConflict(problem));
      if (problem.code === Code.InvalidArgument) {
        for (const violation of fieldViolations(problem)) {
          markError(inputs, violation.field, `${fieldLabel(violation.field)} ${violation.description}.`);
        }
      }
      fail(problem, "save the contact");
    }
  });

  byId("delete").addEventListener("click", () => {
    if (!contact) return;
    byId("confirm-text").textContent = `Delete ${displayName(contact)}? This cannot be undone.`;
    confirm.hidden = false;
    byId("confirm-no").focus();
  });
  byId("confirm-no").addEventListener("click", () => {
    confirm.hidden = true;
    byId("delete").focus();
  });
  byId("confirm-yes").addEventListener("click", async () => {
    if (!contact) return;
    const gone = contact;
    try {
      await call((client, options) => client.deleteContact({ firmId: deps.firmId, id: gone.id }, options));
      confirm.hidden = true;
      deps.deleted(gone.id);
      panelApi.close();
      deps.said(`Deleted ${displayName(gone)}.`);
    } catch (failure) {
      confirm.hidden = true;
      fail(failure, "delete the contact");
    }
  });
  historyMore.addEventListener("click", () => void loadHistory(false));
  byId("close-panel").addEventListener("click", () => panelApi.close());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") panelApi.close();
  });

  const panelApi: Panel = {
    async open(id) {
      if (document.activeElement instanceof HTMLElement && !panel.contains(document.activeElement)) {
        opener = document.activeElement;
      }
      panel.hidden = false;
      panel.setAttribute("aria-busy", "true");
      hideAlert(error);
      confirm.hidden = true;
      status.textContent = "Loading…";
      try {
        const response = await call((client, options) =>
          client.getContact({ firmId: deps.firmId, id }, options),
        );
        if (response.contact) render(response.contact);
        status.textContent = "";
        title.focus();
        await loadHistory(true);
      } catch (failure) {
        status.textContent = "";
        fail(failure, "open the contact");
      } finally {
        panel.removeAttribute("aria-busy");
      }
    },
    close() {
      panel.hidden = true;
      contact = undefined;
      if (opener?.isConnected) opener.focus();
      else byId("search").focus();
    },
    shown: () => (panel.hidden ? undefined : contact?.id),
    async refresh() {
      if (!contact) return;
      if (changedFields().length > 0) {
        status.textContent =
          "Someone else just changed this contact. Your edits are kept; saving changes only the fields you edited.";
        return;
      }
      try {
        const response = await call((client, options) =>
          client.getContact({ firmId: deps.firmId, id: (contact as Contact).id }, options),
        );
        if (response.contact) render(response.contact);
        status.textContent = "Updated just now by someone else.";
        await loadHistory(true);
      } catch (failure) {
        fail(failure, "refresh the contact");
      }
    },
  };
  return panelApi;
}

/** The field violations of an INVALID_ARGUMENT, by field. */
function fieldViolations(error: ConnectError): { field: string; description: string }[] {
  return error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations);
}
