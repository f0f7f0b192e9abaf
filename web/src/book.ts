import { ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { type Api, dateOf } from "./api.js";
import { byId, el, formatTime, hideAlert, showAlert } from "./dom.js";
import { searchFilters } from "./search.js";
import { displayName, explain } from "./words.js";

/** Contacts per page as the user scrolls. */
export const PAGE_SIZE = 50;

/** The book: the list of contacts, newest change first, paged as the user scrolls, or what a search found. */
export interface Book {
  /** Shows the firm's contacts (or what `text` finds), from the top. */
  show(text: string): Promise<void>;
  /** A contact changed elsewhere (or here): updates its row, or adds it at the top of the full list, marked. */
  changed(contact: Contact, mark: string): void;
  /** A contact was deleted: removes its row. */
  removed(id: string): void;
  /** The newest update time listed, for the live feed's start. */
  newest(): Date | undefined;
}

export interface BookDeps {
  readonly api: Api;
  readonly firmId: string;
  readonly open: (id: string) => void;
  /** Called with a failure the page as a whole must handle (the key refused). */
  readonly failed: (error: ConnectError) => void;
}

export function createBook(deps: BookDeps): Book {
  const list = byId<HTMLUListElement>("contacts");
  const count = byId("count");
  const loading = byId("loading");
  const empty = byId("empty");
  const more = byId<HTMLButtonElement>("more");
  const error = byId("book-error");
  const rows = new Map<string, HTMLLIElement>();
  let text = "";
  let token = "";
  let filter = "";
  let done = false;
  let busy = false;
  let controller = new AbortController();
  let newest: Date | undefined;

  const rowOf = (contact: Contact, mark = ""): HTMLLIElement => {
    const updated = dateOf(contact.updateTime);
    const button = el(
      "button",
      { type: "button", className: "row" },
      el("span", { className: "name", textContent: displayName(contact) }),
      el("span", { className: "email", textContent: contact.email }),
      el("span", {
        className: "meta",
        textContent: [contact.company, updated && `updated ${formatTime(updated)}`]
          .filter(Boolean)
          .join(" · "),
      }),
    );
    if (mark) button.append(el("span", { className: "mark", textContent: mark }));
    button.dataset.id = contact.id;
    button.addEventListener("click", () => deps.open(contact.id));
    const item = el("li", {}, button);
    if (mark) item.classList.add("marked");
    return item;
  };

  const say = () => {
    const n = rows.size;
    const noun = n === 1 ? "contact" : "contacts";
    if (text) count.textContent = `${n} ${noun} found for “${text}”${done ? "" : ", scroll for more"}`;
    else count.textContent = done ? `${n} ${noun}` : `${n} ${noun} shown, scroll for more`;
    empty.hidden = n > 0 || busy;
    empty.textContent = text
      ? `No contact matches “${text}”. Try the start of a first or last name, a whole email or a tracking ID.`
      : "This firm has no contacts yet. Add one with New contact.";
    more.hidden = done || busy;
  };

  const add = (contacts: readonly Contact[]) => {
    for (const contact of contacts) {
      if (rows.has(contact.id)) continue;
      const row = rowOf(contact);
      rows.set(contact.id, row);
      list.append(row);
      const time = dateOf(contact.updateTime);
      if (time && (!newest || time > newest)) newest = time;
    }
  };

  const loadPage = async (): Promise<void> => {
    if (busy || done) return;
    busy = true;
    loading.hidden = false;
    more.hidden = true;
    const signal = controller.signal;
    try {
      const page = await deps.api.run(
        (client, options) =>
          client.listContacts(
            {
              firmId: deps.firmId,
              pageSize: PAGE_SIZE,
              pageToken: token,
              filter,
              orderBy: "update_time desc",
            },
            options,
          ),
        signal,
      );
      if (signal.aborted) return;
      add(page.contacts);
      token = page.nextPageToken;
      done = token === "";
      hideAlert(error);
    } catch (failure) {
      if (signal.aborted) return;
      const problem = ConnectError.from(failure);
      const { sentence, detail } = explain(problem, "load the contacts");
      const retry = el("button", { type: "button", className: "secondary", textContent: "Try again" });
      retry.addEventListener("click", () => void loadPage());
      showAlert(error, sentence, detail, retry);
      deps.failed(problem);
    } finally {
      if (!signal.aborted) {
        busy = false;
        loading.hidden = true;
        say();
      }
    }
  };

  // A search: the tracking id's contact (exact, at most one) first, then the name or email pages.
  const search = async (value: string, signal: AbortSignal) => {
    const { main, exact } = searchFilters(value);
    filter = main;
    if (exact) {
      const found = await deps.api
        .run(
          (client, options) => client.listContacts({ firmId: deps.firmId, filter: exact }, options),
          signal,
        )
        .catch(() => undefined);
      if (found && !signal.aborted) add(found.contacts);
    }
  };

  more.addEventListener("click", () => void loadPage());
  // Infinite scroll: the sentinel under the list coming into view loads the next page.
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && rows.size > 0) void loadPage();
  }).observe(byId("sentinel"));

  return {
    async show(value) {
      controller.abort();
      controller = new AbortController();
      const signal = controller.signal;
      text = value.trim();
      token = "";
      done = false;
      busy = false;
      rows.clear();
      list.replaceChildren();
      filter = "";
      count.textContent = "";
      empty.hidden = true;
      if (text) await search(text, signal);
      if (!signal.aborted) await loadPage();
    },
    changed(contact, mark) {
      const old = rows.get(contact.id);
      if (!old && text) return; // a search shows only what it found
      const row = rowOf(contact, mark);
      old?.remove();
      rows.set(contact.id, row);
      list.prepend(row);
      const time = dateOf(contact.updateTime);
      if (time && (!newest || time > newest)) newest = time;
      say();
    },
    removed(id) {
      rows.get(id)?.remove();
      rows.delete(id);
      say();
    },
    newest: () => newest,
  };
}
