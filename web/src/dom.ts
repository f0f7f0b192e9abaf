/** The element with this id; the page's HTML must have it. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** A new element with properties and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
}

/** Shows a plain sentence in an alert box, with the technical detail behind a disclosure. */
export function showAlert(box: HTMLElement, sentence: string, detail?: string, ...actions: Node[]): void {
  const parts: Node[] = [el("p", { textContent: sentence })];
  if (actions.length > 0) parts.push(el("p", { className: "alert-actions" }, ...actions));
  if (detail) {
    parts.push(
      el(
        "details",
        {},
        el("summary", { textContent: "Technical details" }),
        el("code", { textContent: detail }),
      ),
    );
  }
  box.replaceChildren(...parts);
  box.hidden = false;
}

export function hideAlert(box: HTMLElement): void {
  box.replaceChildren();
  box.hidden = true;
}

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
/** A time in the browser's locale and zone. */
export const formatTime = (date: Date) => TIME_FORMAT.format(date);
