import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createAuthenticator, grantsFirm, parseApiKeys } from "../../src/auth/api-keys.js";

const sha = (token: string) => createHash("sha256").update(token).digest("hex");
const file = JSON.stringify([
  { name: "crm-sync", sha256: sha("s3cret-crm"), firms: ["acme", "globex"] },
  { name: "ops", sha256: sha("s3cret-ops").toUpperCase(), firms: ["*"] },
]);

describe("API keys", () => {
  const authenticate = createAuthenticator(parseApiKeys(file));

  it("finds the principal of a known bearer token, by its hash", () => {
    expect(authenticate("Bearer s3cret-crm")).toEqual({ name: "crm-sync", firms: ["acme", "globex"] });
    expect(authenticate("bearer s3cret-ops")?.name).toBe("ops");
  });

  it("finds nobody for a missing, malformed or unknown token", () => {
    for (const header of [
      null,
      "",
      "Bearer",
      "Basic s3cret-crm",
      "s3cret-crm",
      "Bearer wrong",
      `Bearer ${sha("s3cret-crm")}`,
    ]) {
      expect(authenticate(header)).toBeUndefined();
    }
  });

  it("grants the listed firms, or every firm with *", () => {
    const crm = authenticate("Bearer s3cret-crm");
    const ops = authenticate("Bearer s3cret-ops");
    expect(crm && grantsFirm(crm, "acme")).toBe(true);
    expect(crm && grantsFirm(crm, "initech")).toBe(false);
    expect(ops && grantsFirm(ops, "initech")).toBe(true);
  });

  it("rejects a file that is not a list of well-formed keys, naming every problem", () => {
    expect(() => parseApiKeys("{")).toThrow(/is not JSON/);
    expect(() => parseApiKeys("{}")).toThrow(/array/);
    expect(() => parseApiKeys(JSON.stringify([{ name: "", sha256: "abc", firms: [] }]))).toThrow(
      /\[0\]\.name.*\[0\]\.sha256.*\[0\]\.firms/,
    );
    expect(() =>
      parseApiKeys(
        JSON.stringify([
          { name: "a", sha256: sha("x"), firms: ["f"] },
          { name: "b", sha256: sha("x"), firms: ["f"] },
        ]),
      ),
    ).toThrow(/same sha256/);
  });
});
