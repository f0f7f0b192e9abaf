import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { docPages } from "../support/doc-blocks.js";

// The README sends newcomers into docs/, and the pages send them to each other and into the code: a moved file
// or a renamed heading breaks a link silently, so every relative link (and its #anchor) must resolve.

const ROOT = path.resolve(import.meta.dirname, "../..");
const PAGES = [...docPages(ROOT), "examples/README.md"];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```$/gm, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? "")));
}

/** Every relative link of a page that does not resolve, as `target (why)`. */
function brokenLinks(page: string, text = readFileSync(path.join(ROOT, page), "utf8")): string[] {
  const broken: string[] = [];
  const withoutFences = text.replace(/^```[\s\S]*?^```$/gm, "");
  for (const [, target = ""] of withoutFences.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    const [file = "", anchor] = target.split("#");
    const resolved = file === "" ? path.join(ROOT, page) : path.resolve(ROOT, path.dirname(page), file);
    if (!existsSync(resolved)) {
      broken.push(`${target} (no such file)`);
      continue;
    }
    if (anchor !== undefined && statSync(resolved).isFile() && !anchors(resolved).has(anchor)) {
      broken.push(`${target} (no such heading)`);
    }
  }
  return broken;
}

describe("links in the README and docs/", () => {
  it.each(PAGES)("%s: every relative link resolves, anchors included", (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it("anchors are GitHub's", () => {
    expect(anchorOf("Incremental sync: why `updatedAfter` never misses a change")).toBe(
      "incremental-sync-why-updatedafter-never-misses-a-change",
    );
    expect(anchorOf("Keeping a copy in sync, live")).toBe("keeping-a-copy-in-sync-live");
    expect(anchorOf("REST, as the API reference documents it")).toBe(
      "rest-as-the-api-reference-documents-it",
    );
  });

  it("finds a missing file and a missing heading", () => {
    const text = "[a](api.md#no-such-heading), [b](nope.md), [c](api.md#errors), [d](../README.md)";
    expect(brokenLinks("docs/page.md", text)).toEqual([
      "api.md#no-such-heading (no such heading)",
      "nope.md (no such file)",
    ]);
  });
});

describe("each docs page", () => {
  it.each(docPages(ROOT).filter((page) => page.startsWith("docs/")))(
    "%s says first who it is for",
    (page) => {
      const [title, blank, first] = readFileSync(path.join(ROOT, page), "utf8").split("\n");
      expect(title).toMatch(/^# /);
      expect(blank).toBe("");
      expect(first).toMatch(/^For /);
    },
  );
});
