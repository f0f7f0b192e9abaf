import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The fenced blocks of the README and docs/, as the doc tests read them. A command block is any block but a
 * `text` one (a sample of what the block before it prints), a `json` one (data) or one without a language (a
 * picture). Every command block is run by test/integration/readme-examples.test.ts, in page order, or marked
 * on the line before it (or before its `<!-- name:start -->`) with `<!-- not run: reason -->`.
 */
export interface DocBlock {
  readonly page: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** From `<!-- name:start -->` around it, when marked. */
  readonly name: string | undefined;
  /** The reason of a `<!-- not run: reason -->` before it. */
  readonly notRun: string | undefined;
  /** The `text` block right after it: what it prints when the page's blocks run in order on a new firm. */
  readonly sample: string | undefined;
}

const DATA_LANGS = new Set(["text", "json", ""]);
/** Languages the doc test can run: a bash script, or an ES module run with node. */
export const RUNNABLE_LANGS = new Set(["sh", "js"]);

/** The pages whose blocks run in order on a new firm, each page on its own (pages not listed run no block). */
export const RUN_PAGES = ["README.md", "docs/api.md", "docs/sync.md", "docs/operating.md"] as const;

/** README.md and every page of docs/, relative to the repository root. */
export function docPages(root: string): string[] {
  const docs = readdirSync(path.join(root, "docs"))
    .filter((file) => file.endsWith(".md"))
    .sort();
  return ["README.md", ...docs.map((file) => `docs/${file}`)];
}

/** The command blocks of one page, in order, each with its marks and sample. */
export function commandBlocks(root: string, page: string): DocBlock[] {
  const lines = readFileSync(path.join(root, page), "utf8").split("\n");
  const fenced: { line: number; lang: string; code: string; end: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const end = lines.findIndex((text, j) => j > i && text === "```");
    if (end < 0) throw new Error(`${page}:${i + 1}: a fence that does not close`);
    fenced.push({ line: i + 1, lang: open[1] ?? "", code: `${lines.slice(i + 1, end).join("\n")}\n`, end });
    i = end;
  }
  const before = (line: number): string[] => {
    const marks: string[] = [];
    for (let j = line - 2; j >= 0 && (lines[j] ?? "").startsWith("<!--"); j--) marks.push(lines[j] ?? "");
    return marks;
  };
  const blocks: DocBlock[] = [];
  fenced.forEach((block, k) => {
    if (DATA_LANGS.has(block.lang)) return;
    const marks = before(block.line);
    const next = fenced[k + 1];
    // Only blank lines and the block's `<!-- name:end -->` may stand between a block and its sample.
    const between = next ? lines.slice(block.end + 1, next.line - 1) : [];
    const adjacent = between.every((text) => text.trim() === "" || /^<!-- [\w-]+:end -->$/.test(text));
    blocks.push({
      page,
      line: block.line,
      lang: block.lang,
      code: block.code,
      name: marks.map((mark) => /^<!-- ([\w-]+):start -->$/.exec(mark)?.[1]).find(Boolean),
      notRun: marks.map((mark) => /^<!-- not run: (.+) -->$/.exec(mark)?.[1]).find(Boolean),
      sample: next?.lang === "text" && adjacent ? next.code : undefined,
    });
  });
  return blocks;
}

/**
 * Whether `printed` is what `sample` shows: `…` stands for any text (ids, times, fields left out), and
 * whitespace is ignored, so a sample may wrap or indent what a command printed on one line.
 */
export function matchesSample(printed: string, sample: string): boolean {
  const squeeze = (text: string) => text.replace(/\s+/g, "");
  const pattern = squeeze(sample)
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[\\s\\S]*?");
  return new RegExp(`^${pattern}$`).test(squeeze(printed));
}
