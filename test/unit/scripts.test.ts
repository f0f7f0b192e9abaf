import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// docs/scripts.md is the one-line description of every npm script, and `npm run check` is what CI runs: both
// drift silently when a script is added or a CI step changes, so this test holds them to package.json and .ci/run.

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;

/** The script names in the first column of docs/scripts.md's first table, in order. */
function documentedScripts(): string[] {
  const table = read("docs/scripts.md").split("\n## ")[0] ?? "";
  return [...table.matchAll(/^\| `([^`]+)` +\| +\S/gm)].map((match) => match[1] ?? "");
}

/** `npm run x` and `npm test` steps of a shell text, in order, as script names. */
function npmSteps(shell: string): string[] {
  return [...shell.matchAll(/^\s*npm (?:run ([\w:-]+)|(test)\b)/gm)].map(
    (match) => match[1] ?? match[2] ?? "",
  );
}

describe("npm scripts", () => {
  it("docs/scripts.md describes every script of package.json, and no other", () => {
    expect(documentedScripts().sort()).toEqual(Object.keys(scripts).sort());
  });

  it("npm run check runs .ci/run's steps after installing, in the same order", () => {
    const check = (scripts.check ?? "").split("&&").map((step) => step.trim());
    const steps = npmSteps(check.join("\n"));
    expect(steps).toHaveLength(check.length); // every step of check is an npm script
    expect(steps).toEqual(npmSteps(read(".ci/run")));
    expect(steps.at(-1)).toBe("test");
  });

  it("every script a script calls exists", () => {
    for (const [name, command] of Object.entries(scripts)) {
      for (const called of command.matchAll(/npm run ([\w:-]+)/g)) {
        expect(Object.keys(scripts), `${name} calls ${called[1]}`).toContain(called[1]);
      }
    }
  });
});
