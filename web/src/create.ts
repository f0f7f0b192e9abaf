import { Code, ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import type { Api } from "./api.js";
import { byId, el, hideAlert, showAlert } from "./dom.js";
import { CONTACT_FIELDS, clearErrors, markError, renderInputs } from "./form-fields.js";
import { conflictOf, explain, fieldLabel, upsertSentence } from "./words.js";

export interface CreateDeps {
  readonly api: Api;
  readonly firmId: string;
  readonly saved: (contact: Contact, sentence: string) => void;
  readonly open: (id: string) => void;
  readonly failed: (error: ConnectError) => void;
}

/** The New contact dialog: UpsertContact, and its result in plain words. */
export function startCreate(deps: CreateDeps): void {
  const dialog = byId<HTMLDialogElement>("create-dialog");
  const form = byId<HTMLFormElement>("create-form");
  const error = byId("create-error");
  const inputs = renderInputs(byId("create-fields"), "new");
  const submit = form.querySelector("button[type=submit]") as HTMLButtonElement;

  byId("new-contact").addEventListener("click", () => {
    form.reset();
    clearErrors(inputs);
    hideAlert(error);
    dialog.showModal();
    inputs.get("firstName")?.input.focus();
  });
  byId("create-cancel").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(inputs);
    hideAlert(error);
    // An empty input is left out: on an update of a matched contact it keeps what is stored.
    const values = Object.fromEntries(
      CONTACT_FIELDS.map((name) => [name, inputs.get(name)?.input.value.trim() ?? ""]).filter(
        ([, v]) => v !== "",
      ),
    );
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await deps.api.run((client, options) =>
        client.upsertContact({ firmId: deps.firmId, ...values }, options),
      );
      dialog.close();
      if (response.contact) deps.saved(response.contact, upsertSentence(response));
    } catch (failure) {
      const problem = ConnectError.from(failure);
      const conflict = conflictOf(problem);
      if (problem.code === Code.InvalidArgument) {
        let first = true;
        for (const detail of problem.findDetails(BadRequestSchema)) {
          for (const { field, description } of detail.fieldViolations) {
            const sentence = `${fieldLabel(field)} ${description.replace(/\b(trackingId|email|firstName|lastName)\b/g, (n) => fieldLabel(n).toLowerCase())}.`;
            if (markError(inputs, field, sentence) && first) {
              inputs.get(field as "email")?.input.focus();
              first = false;
            }
          }
        }
        showAlert(
          error,
          "Not saved: please check the marked fields.",
          `${Code[problem.code]}: ${problem.rawMessage}`,
        );
      } else if (conflict) {
        const label = fieldLabel(conflict.field).toLowerCase();
        markError(inputs, conflict.field, `Another contact already has this ${label}.`);
        const actions: Node[] = [];
        if (conflict.contactId) {
          const open = el("button", {
            type: "button",
            className: "secondary",
            textContent: "Open that contact",
          });
          open.addEventListener("click", () => {
            dialog.close();
            deps.open(conflict.contactId as string);
          });
          actions.push(open);
        }
        showAlert(
          error,
          `Not saved: another contact of this firm already has this ${label}.`,
          `${Code[problem.code]}: ${problem.rawMessage}`,
          ...actions,
        );
      } else {
        const { sentence, detail } = explain(problem, "save the contact");
        showAlert(error, sentence, detail);
        deps.failed(problem);
      }
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}
