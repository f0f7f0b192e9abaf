import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { readErrorSentence } from "../../web/src/messages.js";

const context = {
  apiUrl: "http://127.0.0.1:8080",
  pageOrigin: "http://127.0.0.1:5173",
  firmId: "acme",
  sentKey: true,
};

describe("readErrorSentence: the web page's sentences for a failed lookup or listing", () => {
  it.each([
    [Code.NotFound, "", "Firm “acme” has no contact with the ID “c-1”. Check the ID and the Firm ID."],
    [Code.PermissionDenied, "", "This API key may not read contacts of firm “acme”."],
    [Code.InvalidArgument, "firmId is required", "The contacts could not be read: Firm ID is required."],
    [Code.Canceled, "", "Reading the contacts was cancelled."],
    [Code.Aborted, "", "The contacts service could not answer this time. Try again in a moment."],
    [
      Code.Unavailable,
      "",
      "The contacts service cannot reach its database right now. Try again in a moment.",
    ],
    [
      Code.Unauthenticated,
      "",
      "The contacts service did not accept this API key. Check the key under Access.",
    ],
  ])("code %i reads as a sentence", (code, message, sentence) => {
    expect(readErrorSentence(new ConnectError(message, code), { ...context, contactId: "c-1" })).toBe(
      sentence,
    );
  });

  it("never speaks of saving, whatever the code", () => {
    for (let code = Code.Canceled; code <= Code.Unauthenticated; code++) {
      const sentence = readErrorSentence(new ConnectError("", code), { ...context, contactId: "c-1" });
      expect(sentence, `code ${code}`).not.toMatch(/sav/i);
      expect(sentence, `code ${code}`).toMatch(/^[A-Z].*\.$/);
    }
  });
});
