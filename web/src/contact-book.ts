import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import type { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { renderContact, timeElement } from "./contact-view.js";
import { readErrorSentence } from "./messages.js";

/** Contacts per ListContacts page: a screenful, then "More". */
export const PAGE_SIZE = 20;

/** What the contact book shares with the form: the client, and the firm and key the user entered above. */
export interface BookOptions {
  readonly client: Client<typeof ContactService>;
  readonly apiUrl: string;
  readonly timeoutMs: number;
  readonly firmId: () => string;
  readonly apiKey: () => string;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** A contact's name as a person reads it, or its email when it has none. */
export function displayName(contact: Contact): string {
  return (
    [contact.prefix, contact.firstName, contact.lastName, contact.suffix].filter(Boolean).join(" ") ||
    contact.email
  );
}

/** Wires the lookup by ID (GetContact) and the list of the firm's contacts (ListContacts, paged with "More"). */
export function startContactBook(options: BookOptions): void {
  const lookupForm = byId<HTMLFormElement>("lookup-form");
  const lookupId = byId<HTMLInputElement>("lookup-id");
  const lookupButton = lookupForm.querySelector("button[type=submit]") as HTMLButtonElement;
  const listButton = byId<HTMLButtonElement>("list-contacts");
  const moreButton = byId<HTMLButtonElement>("more-contacts");
  const list = byId<HTMLUListElement>("contact-list");
  const bookStatus = byId<HTMLElement>("book-status");
  const bookError = byId<HTMLElement>("book-error");
  const found = byId<HTMLElement>("found");
  const foundFields = byId<HTMLElement>("found-fields");
  // The firm and token of the listing "More" continues: a token is only valid for the firm it was issued for.
  let listing: { firmId: string; pageToken: string; shown: number } | undefined;

  const callOptions = () => {
    const key = options.apiKey().trim();
    const headers: Record<string, string> = key ? { Authorization: `Bearer ${key}` } : {};
    return { timeoutMs: options.timeoutMs, headers };
  };
  const context = (firmId: string, contactId?: string) => ({
    apiUrl: options.apiUrl,
    pageOrigin: location.origin,
    firmId,
    contactId,
    sentKey: options.apiKey().trim() !== "",
  });
  const clear = () => {
    bookStatus.textContent = "";
    bookError.textContent = "";
  };
  const show = (contact: Contact) => {
    renderContact(foundFields, contact);
    found.hidden = false;
    // A row clicked far down the list: bring the contact it shows into view.
    found.scrollIntoView({ block: "nearest" });
  };
  /** The firm ID from the form above, or undefined after saying that one is needed. */
  const firmOrSay = (): string | undefined => {
    const firmId = options.firmId().trim();
    if (!firmId) bookError.textContent = "Enter the Firm ID in the form above first.";
    return firmId || undefined;
  };
  const busy = async (button: HTMLButtonElement, work: () => Promise<void>) => {
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  };

  lookupForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear();
    found.hidden = true;
    const firmId = firmOrSay();
    if (!firmId) return;
    const id = lookupId.value.trim();
    if (!id) {
      bookError.textContent = "Enter the contact ID to look up.";
      lookupId.focus();
      return;
    }
    await busy(lookupButton, async () => {
      try {
        const { contact } = await options.client.getContact({ firmId, id }, callOptions());
        if (contact) show(contact);
      } catch (error) {
        bookError.textContent = readErrorSentence(ConnectError.from(error), context(firmId, id));
      }
    });
  });

  const loadPage = async (button: HTMLButtonElement) => {
    if (!listing) return;
    const { firmId, pageToken } = listing;
    await busy(button, async () => {
      try {
        const page = await options.client.listContacts(
          { firmId, pageSize: PAGE_SIZE, pageToken },
          callOptions(),
        );
        for (const contact of page.contacts) list.append(row(contact, show));
        listing = {
          firmId,
          pageToken: page.nextPageToken,
          shown: (listing?.shown ?? 0) + page.contacts.length,
        };
        moreButton.hidden = page.nextPageToken === "";
        const { shown } = listing;
        bookStatus.textContent =
          shown === 0
            ? `Firm “${firmId}” has no contacts.`
            : `Showing ${shown} ${shown === 1 ? "contact" : "contacts"}${moreButton.hidden ? "" : "; there are more"}.`;
      } catch (error) {
        bookError.textContent = readErrorSentence(ConnectError.from(error), context(firmId));
      }
    });
  };

  listButton.addEventListener("click", async () => {
    clear();
    const firmId = firmOrSay();
    if (!firmId) return;
    list.replaceChildren();
    moreButton.hidden = true;
    listing = { firmId, pageToken: "", shown: 0 };
    await loadPage(listButton);
  });
  moreButton.addEventListener("click", async () => {
    clear();
    await loadPage(moreButton);
  });
}

/** One list row: a button showing name, email, tracking ID and last update; clicking it shows the contact. */
function row(contact: Contact, show: (contact: Contact) => void): HTMLLIElement {
  const button = Object.assign(document.createElement("button"), {
    type: "button",
    className: "contact-row",
  });
  const text = (className: string, content: string) =>
    Object.assign(document.createElement("span"), { className, textContent: content });
  const updated = text("updated", "Updated ");
  if (contact.updateTime) updated.append(timeElement(timestampDate(contact.updateTime)));
  button.append(
    text("name", displayName(contact)),
    text("email", contact.email),
    text("tracking", contact.trackingId ? `Tracking ID ${contact.trackingId}` : "No tracking ID"),
    updated,
  );
  button.addEventListener("click", () => show(contact));
  const item = document.createElement("li");
  item.append(button);
  return item;
}
