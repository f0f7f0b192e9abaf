import { FUZZ_CONTENT_TYPES, fuzzBody, fuzzPath } from "./fuzz-vocabulary.js";
import { H2_PREFACE } from "./h2-fuzz-frames.js";
import type { Random } from "./seeded-random.js";

// Seeded HTTP/1.1 byte sequences for a raw socket: pipelined requests with bogus methods and versions, every
// kind of body framing (Content-Length true, false or absurd; chunked with bad and huge sizes, missing CRLFs,
// extensions and trailers), Expect: 100-continue, bodies cut off. And the first bytes that route a connection.

const METHODS = [
  "POST",
  "POST",
  "POST",
  "GET",
  "OPTIONS",
  "HEAD",
  "PUT",
  "DELETE",
  "PRI",
  "FOO",
  "",
  "P OST",
  "GET\0",
];
const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2.0",
  "HTTP/9.9",
  "HTTP/1.1x",
  "",
  "http/1.1",
];

/** A chunked body, well-formed or broken in one of the ways a parser must survive. */
function chunked(random: Random, body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let rest = body;
  while (rest.length > 0) {
    const n = random.int(1, Math.max(1, rest.length));
    const size = random.chance(0.9)
      ? n.toString(16)
      : random.pick(["zz", "-1", "ffffffffffffffff", "1;ext=1", " 5", ""]);
    const crlf = random.chance(0.95) ? "\r\n" : random.pick(["\n", "", "\r"]);
    parts.push(
      Buffer.from(`${size}${crlf}`),
      rest.subarray(0, n),
      Buffer.from(random.chance(0.95) ? "\r\n" : "x"),
    );
    rest = rest.subarray(n);
  }
  if (random.chance(0.05)) parts.push(Buffer.from("7fffffff\r\n")); // announces 2 GiB, sends nothing
  const trailers = random.chance(0.2) ? `grpc-status: 0\r\nx-t: ${"t".repeat(random.int(0, 100))}\r\n` : "";
  if (random.chance(0.9)) parts.push(Buffer.from(`0\r\n${trailers}\r\n`));
  return Buffer.concat(parts);
}

/** One request: a request line, headers, and a body framed truthfully or not. */
function request(random: Random, firmId: string): Buffer {
  const body = fuzzBody(random, firmId);
  const lines = [`${random.pick(METHODS)} ${fuzzPath(random)} ${random.pick(VERSIONS)}`];
  if (random.chance(0.9)) lines.push("Host: localhost");
  if (random.chance(0.9)) lines.push(`Content-Type: ${random.pick(FUZZ_CONTENT_TYPES)}`);
  if (random.chance(0.2)) lines.push("Connect-Protocol-Version: 1");
  if (random.chance(0.1)) lines.push("Expect: 100-continue");
  if (random.chance(0.1))
    lines.push(`Connection: ${random.pick(["close", "keep-alive", "Upgrade, HTTP2-Settings"])}`);
  if (random.chance(0.05)) lines.push("Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__");
  if (random.chance(0.05)) lines.push(`X-Long: ${"x".repeat(random.int(1_000, 100_000))}`);
  if (random.chance(0.05)) lines.push("Bad Header Name: x", "NoColon");
  if (random.chance(0.05)) lines.push("Content-Encoding: gzip");
  const framing = random.int(0, 9);
  let payload = body;
  if (framing <= 4) {
    lines.push(`Content-Length: ${body.length}`);
  } else if (framing <= 7) {
    lines.push("Transfer-Encoding: chunked");
    payload = chunked(random, body);
  } else if (framing === 8) {
    lines.push(
      `Content-Length: ${random.pick(["-1", "99999999999999999999", "1e3", "0x10", `${body.length + 10}`, "5, 6"])}`,
    );
  } else {
    lines.push(`Content-Length: ${body.length}`, "Transfer-Encoding: chunked"); // both: a smuggling classic
  }
  const eol = random.chance(0.97) ? "\r\n" : "\n";
  return Buffer.concat([Buffer.from(`${lines.join(eol)}${eol}${eol}`), payload]);
}

/** 1 to 4 pipelined requests, sometimes cut off anywhere, sometimes followed by garbage. */
export function h1Sequence(random: Random, firmId: string): Buffer {
  const parts = Array.from({ length: random.int(1, 4) }, () => request(random, firmId));
  if (random.chance(0.1)) parts.push(random.bytes(random.int(1, 100)));
  const bytes = Buffer.concat(parts);
  return random.chance(0.2) ? bytes.subarray(0, random.int(1, bytes.length)) : bytes;
}

/** The first bytes of a connection: nothing, a prefix of the HTTP/2 preface then something else, or near-misses. */
export function prefaceSequence(random: Random, firmId: string): Buffer {
  switch (random.int(0, 5)) {
    case 0:
      return Buffer.alloc(0); // an empty connection
    case 1:
      return H2_PREFACE.subarray(0, random.int(1, H2_PREFACE.length - 1));
    case 2:
      return Buffer.concat([
        H2_PREFACE.subarray(0, random.int(1, H2_PREFACE.length - 1)),
        random.bytes(random.int(1, 40)),
      ]);
    case 3:
      return Buffer.concat([
        H2_PREFACE.subarray(0, random.int(1, H2_PREFACE.length - 1)),
        request(random, firmId),
      ]);
    case 4: {
      const near = Buffer.from(H2_PREFACE);
      near[random.int(0, near.length - 1)] ^= 1 << random.int(0, 7);
      return near;
    }
    default:
      return random.bytes(random.int(1, 30));
  }
}
