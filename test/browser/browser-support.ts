import { fileURLToPath } from "node:url";

// What the browser tests share: the browser, the page's source, the screens and the user's locale.

/** Debian's chromium package; `npx playwright install` cannot download browsers on these machines. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
export const WEB_ROOT = fileURLToPath(new URL("../../web", import.meta.url));
/** Screenshots for a person to look at (ignored by git): the page at a phone's width and at a desktop's. */
export const SCREENSHOTS = fileURLToPath(new URL("./screenshots", import.meta.url));
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };
/** The browser's locale and time zone, neither the machine's: the page must show times in these. */
export const LOCALE = "de-DE";
export const TIME_ZONE = "Asia/Tokyo";

export interface Layout {
  readonly scrollWidth: number;
  readonly clientWidth: number;
  /** Elements whose box reaches past the right edge, even inside a parent that clips them. */
  readonly sticksOut: string[];
}

/** Runs in the page (as text, since the tests are type-checked without the DOM library). */
export const MEASURE_LAYOUT = `(() => {
  const root = document.documentElement;
  return {
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    sticksOut: [...document.querySelectorAll("body *")]
      .filter((element) => element.getBoundingClientRect().right > root.clientWidth + 0.5)
      .map((element) => element.tagName.toLowerCase() + "#" + element.id + "." + element.className),
  };
})()`;

/** The instant as the browser's locale writes its date and its hour and minute in the browser's time zone. */
export function inBrowserZone(instant: Date): { date: string; time: string } {
  const format = (options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, ...options }).format(instant);
  return {
    date: format({ day: "2-digit", month: "2-digit", year: "numeric" }),
    time: format({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  };
}
