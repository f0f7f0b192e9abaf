import { describe, expect, it } from "vitest";
import {
  ASSUMED_DESCRIPTOR_LIMIT,
  defaultMaxConnections,
  parseDescriptorLimit,
  readDescriptorLimit,
} from "../../src/http/descriptor-limit.js";

const limits = (soft: string, hard: string) =>
  [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             63353                63353                processes ",
    `Max open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     `,
    "Max locked memory         8388608              8388608              bytes     ",
  ].join("\n");

describe("the file-descriptor limit", () => {
  it("is the soft limit of Max open files, not the hard one", () => {
    expect(parseDescriptorLimit(limits("1024", "524288"))).toBe(1_024);
  });

  it("is unknown when unlimited, missing or unreadable", () => {
    expect(parseDescriptorLimit(limits("unlimited", "unlimited"))).toBeUndefined();
    expect(parseDescriptorLimit("Max processes 1 1 processes")).toBeUndefined();
    expect(
      readDescriptorLimit(() => {
        throw new Error("ENOENT");
      }),
    ).toBeUndefined();
  });

  it("is read from this process on Linux", () => {
    if (process.platform !== "linux") return;
    expect(readDescriptorLimit()).toBeGreaterThan(0);
  });

  it("gives MAX_CONNECTIONS a default of half of it, or half of 1024 when unknown", () => {
    expect(defaultMaxConnections(20_000)).toBe(10_000);
    expect(defaultMaxConnections(1_024)).toBe(512);
    expect(defaultMaxConnections(1)).toBe(1);
    expect(defaultMaxConnections(undefined)).toBe(ASSUMED_DESCRIPTOR_LIMIT / 2);
  });
});
