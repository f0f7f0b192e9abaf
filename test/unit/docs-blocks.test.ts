import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandBlocks, docPages, matchesSample, RUN_PAGES, RUNNABLE_LANGS } from "../support/doc-blocks.js";

// Every command block of the README and docs/ either runs (test/integration/readme-examples.test.ts runs the
// blocks of RUN_PAGES in order) or says why not, so a block that fails as written cannot hide in a page.

const ROOT = path.resolve(import.meta.dirname, "../..");

describe("the command blocks of the README and docs/", () => {
  it.each(docPages(ROOT))("%s: each block is run or marked <!-- not run: reason -->", (page) => {
    const run = (RUN_PAGES as readonly string[]).includes(page);
    const unaccounted = commandBlocks(ROOT, page)
      .filter((block) => !block.notRun && !(run && RUNNABLE_LANGS.has(block.lang)))
      .map((block) => `${page}:${block.line} (${block.lang})`);
    expect(unaccounted).toEqual([]);
  });

  it("a sample belongs to a block that runs", () => {
    const orphans = docPages(ROOT)
      .flatMap((page) => commandBlocks(ROOT, page))
      .filter((block) => block.sample !== undefined && block.notRun !== undefined)
      .map((block) => `${block.page}:${block.line}`);
    expect(orphans).toEqual([]);
  });
});

describe("matchesSample", () => {
  it("takes … for any text and ignores whitespace, but not other differences", () => {
    const printed = '{"contact":{"id":"01a2","firmId":"f"},"result":"UPSERT_RESULT_CREATED"}\n';
    expect(matchesSample(printed, '{"contact":{"id":"…",…},\n  "result":"UPSERT_RESULT_CREATED"}')).toBe(
      true,
    );
    expect(matchesSample(printed, '{"contact":{…},"result":"UPSERT_RESULT_UPDATED"}')).toBe(false);
    // The whole output must be shown: a sample of the first answer only does not match two answers.
    expect(matchesSample(`${printed}{}`, '{"contact":{…},"result":"UPSERT_RESULT_CREATED"}')).toBe(false);
  });
});
