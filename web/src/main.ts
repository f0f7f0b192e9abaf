import { Code, type ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { ChangeKind } from "../../gen/contacts/v1/contact_service_pb.js";
import { createApi } from "./api.js";
import { createBook } from "./book.js";
import { startCreate } from "./create.js";
import { byId, showAlert } from "./dom.js";
import { isDeletion, startLive } from "./live.js";
import { createPanel } from "./panel.js";
import { apiUrlFrom } from "./upsert-form.js";

// The firm is remembered on this device; the access key only for this tab's session.
const FIRM_KEY = "contact-book.firm";
const API_KEY = "contact-book.key";
/** How long the find box waits after the last key press before it asks the service. */
const SEARCH_DEBOUNCE_MS = 250;

const firmForm = byId<HTMLFormElement>("firm-form");
const firmInput = byId<HTMLInputElement>("firm-input");
const keyInput = byId<HTMLInputElement>("key-input");
const offline = byId("offline");
const toast = byId("toast");

/** How long a passing message (saved, deleted) stays on screen. */
const TOAST_MS = 8_000;
let toastTimer: ReturnType<typeof setTimeout> | undefined;

function say(text: string): void {
  toast.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.textContent = "";
  }, TOAST_MS);
}

function askForFirm(message?: string): void {
  byId("book").hidden = true;
  byId("firm-line").hidden = true;
  firmForm.hidden = false;
  firmInput.value = localStorage.getItem(FIRM_KEY) ?? "";
  keyInput.value = sessionStorage.getItem(API_KEY) ?? "";
  const error = byId("firm-error");
  error.textContent = message ?? "";
  error.hidden = !message;
  if (message?.includes("key")) {
    keyInput.setAttribute("aria-invalid", "true");
    keyInput.focus();
  } else firmInput.focus();
}

let stopLive: (() => void) | undefined;

function openBook(apiUrl: string, firmId: string): void {
  firmForm.hidden = true;
  byId("book").hidden = false;
  byId("firm-line").hidden = false;
  byId("firm-name").textContent = `Firm: ${firmId}`;
  const api = createApi(apiUrl, () => sessionStorage.getItem(API_KEY) ?? "");
  let refused = false;
  // A refused key or firm stops everything and asks again; other failures are shown where they happened.
  const failed = (error: ConnectError) => {
    if (refused) return;
    if (error.code === Code.Unauthenticated || error.code === Code.PermissionDenied) {
      refused = true;
      stopLive?.();
      askForFirm(
        error.code === Code.Unauthenticated
          ? "The contacts service did not accept this access key. Check it and open the book again."
          : `This access key may not open firm “${firmId}”. Check the firm and the key.`,
      );
    }
  };
  const open = (id: string) => void panel.open(id);
  const book = createBook({ api, firmId, open, failed });
  const panel = createPanel({
    api,
    firmId,
    saved: (contact: Contact) => book.changed(contact, "Saved"),
    deleted: (id) => book.removed(id),
    said: say,
    failed,
  });
  startCreate({
    api,
    firmId,
    open,
    failed,
    saved: (contact, sentence) => {
      book.changed(contact, "Saved");
      say(sentence);
      void panel.open(contact.id);
    },
  });

  const search = byId<HTMLInputElement>("search");
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.value = "";
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void book.show(search.value), SEARCH_DEBOUNCE_MS);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      clearTimeout(timer);
      void book.show(search.value);
    }
  });

  void book.show("").then(() => {
    if (refused) return;
    stopLive = startLive({
      api,
      firmId,
      since: () => book.newest(),
      connected: (up) => {
        offline.hidden = up && navigator.onLine;
      },
      lost: () => void book.show(search.value),
      failed,
      changed: async (change) => {
        if (isDeletion(change)) {
          book.removed(change.contactId);
          if (panel.shown() === change.contactId) {
            showAlert(byId("panel-error"), "Someone else deleted this contact.");
          }
          return;
        }
        const found = await api
          .run((client, options) => client.getContact({ firmId, id: change.contactId }, options))
          .catch(() => undefined);
        if (!found?.contact) return;
        book.changed(found.contact, change.kind === ChangeKind.CREATED ? "New" : "Updated");
        if (panel.shown() === change.contactId) void panel.refresh();
      },
    });
  });
}

function start(): void {
  const apiUrl = apiUrlFrom(location.search);
  if (apiUrl instanceof Error) {
    showAlert(byId("book-error"), "This page is not set up to reach a contacts service.", apiUrl.message);
    byId("book").hidden = false;
    return;
  }
  window.addEventListener("offline", () => {
    offline.hidden = false;
  });
  window.addEventListener("online", () => {
    offline.hidden = true;
  });
  offline.hidden = navigator.onLine;
  firmForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const firmId = firmInput.value.trim();
    if (!firmId) {
      askForFirm("Enter the firm whose contacts you want to see.");
      return;
    }
    localStorage.setItem(FIRM_KEY, firmId);
    const key = keyInput.value.trim();
    if (key) sessionStorage.setItem(API_KEY, key);
    else sessionStorage.removeItem(API_KEY);
    keyInput.removeAttribute("aria-invalid");
    location.reload();
  });
  byId("change-firm").addEventListener("click", () => {
    stopLive?.();
    askForFirm();
  });
  const firmId = localStorage.getItem(FIRM_KEY);
  if (firmId) openBook(apiUrl, firmId);
  else askForFirm();
}

start();
