import { describe, expect, it } from "vitest";
import { emailProblem } from "../../src/contacts/email.js";

describe("emailProblem: accepted addresses", () => {
  it.each([
    "ada@example.com",
    "Ada.Lovelace@Example.COM",
    "first.middle.last@sub.domain.example.co.uk",
    "ada+newsletter@example.com",
    "o'brien@example.ie",
    "a!#$%&'*+/=?^_`{|}~-z@example.com",
    "a@b.io",
    "123@456.example",
    "ada@my-host.example.com",
    "ada@xn--fsqu00a.xn--3lr804guic",
    "josé@exemple.fr",
    "jose\u0301@exemple.fr",
    "用户@例子.广告",
    "почта@пример.рф",
    "δοκιμή@παράδειγμα.δοκιμή",
    "अजय@डाटा.भारत",
    `${"a".repeat(64)}@example.com`,
    `ada@${"b".repeat(63)}.com`,
  ])("accepts %s", (email) => {
    expect(emailProblem(email)).toBeUndefined();
  });
});

describe("emailProblem: rejected addresses", () => {
  it.each([
    ["without an @", "ada.example.com", "must look like name@example.com"],
    ["with nothing before the @", "@example.com", "must look like name@example.com"],
    ["with nothing after the @", "ada@", "must look like name@example.com"],
    ["with two @", "ada@home@example.com", "the part before @ has a character or dot that is not allowed"],
    [
      "with two dots in a row before the @",
      "ada..lovelace@example.com",
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a leading dot",
      ".ada@example.com",
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a dot just before the @",
      "ada.@example.com",
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a space in the local part",
      "ada lovelace@example.com",
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a quoted local part",
      '"ada"@example.com',
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a comment",
      "ada(work)@example.com",
      "the part before @ has a character or dot that is not allowed",
    ],
    [
      "with a local part of 65 characters",
      `${"a".repeat(65)}@example.com`,
      "the part before @ must be at most 64 characters",
    ],
    [
      "with a local part of 65 non-ASCII letters",
      `${"é".repeat(65)}@example.com`,
      "the part before @ must be at most 64 characters",
    ],
    ["without a dot in the domain", "ada@localhost", "the domain must have a dot, as in example.com"],
    ["with two dots in a row in the domain", "ada@example..com", "the domain is not a valid host name"],
    ["with a leading dot in the domain", "ada@.example.com", "the domain is not a valid host name"],
    ["with a trailing dot in the domain", "ada@example.com.", "the domain is not a valid host name"],
    ["with a space in the domain", "ada@exa mple.com", "the domain is not a valid host name"],
    ["with a label starting with a hyphen", "ada@-example.com", "the domain is not a valid host name"],
    ["with a label ending with a hyphen", "ada@example-.com", "the domain is not a valid host name"],
    ["with a label of 64 characters", `ada@${"b".repeat(64)}.com`, "the domain is not a valid host name"],
    ["with an underscore in the domain", "ada@ex_ample.com", "the domain is not a valid host name"],
    ["with an IP address literal", "ada@[127.0.0.1]", "the domain is not a valid host name"],
    [
      "with a numeric top-level domain",
      "ada@127.0.0.1",
      "the domain's last label is not a valid top-level domain",
    ],
    [
      "with a one-letter top-level domain",
      "ada@example.c",
      "the domain's last label is not a valid top-level domain",
    ],
  ])("rejects an address %s", (_, email, problem) => {
    expect(emailProblem(email)).toBe(problem);
  });

  it("rejects every address with a space, wherever it is", () => {
    for (const email of ["ada @example.com", "ada@ example.com", "ada@example .com", "ada@example. com"]) {
      expect(emailProblem(email), email).toBeDefined();
    }
  });
});
