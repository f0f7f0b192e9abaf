import { FUZZ_CONTENT_TYPES, fuzzBody, fuzzPath } from "./fuzz-vocabulary.js";
import type { Random } from "./seeded-random.js";

// Seeded sequences of valid and invalid HTTP/2 frames for a raw socket. Header blocks are HPACK literal fields
// without indexing (RFC 7541 6.2.2), written by hand: no HPACK library is needed to produce them, and bytes a
// library would refuse to produce (garbage blocks, bad indices, huge table-size updates) are the point.

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

/** One frame: 24-bit length (the real one unless `length` lies), type, flags, 31-bit stream id, payload. */
export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
  length?: number,
) {
  const head = Buffer.alloc(9);
  head.writeUIntBE((length ?? payload.length) & 0xff_ffff, 0, 3);
  head[3] = type & 0xff;
  head[4] = flags & 0xff;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix whose upper bits are `high` (RFC 7541 5.1). */
function hpackInt(value: number, prefixBits: number, high: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const bytes = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A literal header field without indexing, with a literal name (RFC 7541 6.2.2), no Huffman coding. */
export function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v]);
}

const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
};

/** A header block for a request: real pseudo-headers mostly, sometimes missing, doubled, or garbage. */
function headerBlock(random: Random): Buffer {
  if (random.chance(0.05)) return random.bytes(random.int(1, 60)); // garbage
  if (random.chance(0.03)) return hpackInt(random.int(62, 100_000), 7, 0x80); // an index past both tables
  if (random.chance(0.03)) return hpackInt(0x7fff_ffff, 5, 0x20); // a huge dynamic table size update
  const fields: Buffer[] = [];
  const method = random.chance(0.85)
    ? "POST"
    : random.pick(["GET", "OPTIONS", "PUT", "", "P\u00d6ST", "CONNECT"]);
  if (!random.chance(0.03)) fields.push(literal(":method", method));
  if (!random.chance(0.03)) fields.push(literal(":scheme", random.chance(0.9) ? "http" : "ftp"));
  if (!random.chance(0.03)) fields.push(literal(":path", fuzzPath(random)));
  if (random.chance(0.9)) fields.push(literal(":authority", "localhost"));
  if (random.chance(0.9)) fields.push(literal("content-type", random.pick(FUZZ_CONTENT_TYPES)));
  if (random.chance(0.5)) fields.push(literal("te", "trailers"));
  if (random.chance(0.2))
    fields.push(literal("grpc-timeout", random.pick(["1m", "100n", "99999999H", "x", "5S"])));
  if (random.chance(0.1))
    fields.push(literal("grpc-encoding", random.pick(["gzip", "br", "identity", "zz"])));
  if (random.chance(0.1)) fields.push(literal("content-encoding", random.pick(["gzip", "br", "zz"])));
  if (random.chance(0.1)) fields.push(literal("connect-protocol-version", random.pick(["1", "2", ""])));
  if (random.chance(0.1))
    fields.push(literal("content-length", random.pick(["0", "5", "-1", "99999999999", "x"])));
  if (random.chance(0.05)) fields.push(literal(":path", "/again")); // a pseudo-header twice
  if (random.chance(0.05)) fields.push(literal("connection", "keep-alive")); // forbidden in HTTP/2
  if (random.chance(0.05)) fields.push(literal("Upper-Case", "x")); // forbidden in HTTP/2
  if (random.chance(0.05)) fields.push(literal(":bogus", "x"));
  if (random.chance(0.03)) fields.push(literal("x-big", "v".repeat(random.int(1_000, 20_000))));
  return Buffer.concat(random.chance(0.05) ? fields.reverse() : fields);
}

/** Settings parameters: sensible ones and ones the protocol forbids. */
function settingsPayload(random: Random): Buffer {
  const entries: Buffer[] = [];
  for (let i = random.int(0, 4); i > 0; i--) {
    const entry = Buffer.alloc(6);
    entry.writeUInt16BE(random.int(0, 8), 0);
    entry.writeUInt32BE(
      random.pick([0, 1, 2, 16_383, 16_384, 65_535, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]),
      2,
    );
    entries.push(entry);
  }
  const payload = Buffer.concat(entries);
  return random.chance(0.05) ? payload.subarray(0, Math.max(0, payload.length - 1)) : payload;
}

/**
 * One connection's bytes: usually the preface and SETTINGS, then 1 to 12 steps of requests, bodies, resets, window
 * updates, priorities, floods, GOAWAY, unknown frame types and garbage, on the stream in use or another.
 */
export function h2Sequence(random: Random, firmId: string): Buffer {
  const out: Buffer[] = [];
  out.push(random.chance(0.97) ? H2_PREFACE : H2_PREFACE.subarray(0, random.int(1, H2_PREFACE.length - 1)));
  if (random.chance(0.9))
    out.push(frame(SETTINGS, 0, 0, random.chance(0.8) ? Buffer.alloc(0) : settingsPayload(random)));
  let stream = 1;
  const anyStream = () =>
    random.chance(0.7) ? stream : random.pick([0, stream + 2, stream - 2, 2, 0x7fff_ffff, 0xffff_ffff]);
  for (let steps = random.int(1, 12); steps > 0; steps--) {
    const kind = random.int(0, 19);
    if (kind <= 4) {
      // A request's headers, sometimes split over CONTINUATION frames, sometimes with priority or padding.
      if (random.chance(0.6)) stream += 2;
      const block = headerBlock(random);
      const endStream = random.chance(0.2) ? END_STREAM : 0;
      let prefix = Buffer.alloc(0);
      let flags = endStream;
      if (random.chance(0.1)) {
        flags |= PRIORITY_FLAG;
        prefix = Buffer.concat([u32(random.chance(0.5) ? stream : 0), Buffer.from([random.int(0, 255)])]);
      }
      if (random.chance(0.05)) {
        flags |= PADDED;
        prefix = Buffer.concat([Buffer.from([random.int(0, 255)]), prefix]); // pad length, maybe past the frame
      }
      if (random.chance(0.25) && block.length > 1) {
        const cut = random.int(1, block.length - 1);
        out.push(frame(HEADERS, flags, anyStream(), Buffer.concat([prefix, block.subarray(0, cut)])));
        if (random.chance(0.1)) out.push(frame(PING, 0, 0, Buffer.alloc(8))); // not allowed between them
        const last = random.chance(0.9) ? END_HEADERS : 0;
        out.push(frame(CONTINUATION, last, random.chance(0.9) ? stream : stream + 2, block.subarray(cut)));
      } else {
        out.push(frame(HEADERS, flags | END_HEADERS, anyStream(), Buffer.concat([prefix, block])));
      }
      // A reset right behind the headers, in the same packet: the handler starts on a stream already gone.
      if (random.chance(0.25)) out.push(frame(RST_STREAM, 0, stream, u32(random.int(0, 13))));
    } else if (kind <= 8) {
      // DATA, on the open stream or before any headers, sometimes padded wrongly or split in several frames.
      const body = fuzzBody(random, firmId);
      const end = random.chance(0.7) ? END_STREAM : 0;
      if (random.chance(0.05)) {
        out.push(
          frame(DATA, end | PADDED, anyStream(), Buffer.concat([Buffer.from([random.int(0, 255)]), body])),
        );
      } else if (random.chance(0.2) && body.length > 1) {
        const cut = random.int(1, body.length - 1);
        out.push(
          frame(DATA, 0, anyStream(), body.subarray(0, cut)),
          frame(DATA, end, stream, body.subarray(cut)),
        );
      } else {
        out.push(frame(DATA, end, anyStream(), body));
      }
      if (random.chance(0.15)) out.push(frame(RST_STREAM, 0, stream, u32(random.int(0, 13)))); // mid-body or after
    } else if (kind <= 10) {
      const payload = random.chance(0.9) ? u32(random.int(0, 13)) : random.bytes(random.int(0, 8));
      out.push(frame(RST_STREAM, 0, anyStream(), payload));
    } else if (kind === 11) {
      const increment = random.pick([0, 1, 65_535, 0x7fff_ffff, 0xffff_ffff]);
      out.push(frame(WINDOW_UPDATE, 0, random.chance(0.5) ? 0 : anyStream(), u32(increment)));
    } else if (kind === 12) {
      // PRIORITY on the stream itself (a dependency on itself is a stream error), or of a wrong length.
      const payload = Buffer.concat([
        u32(random.chance(0.7) ? stream : random.int(0, 99)),
        Buffer.from([16]),
      ]);
      out.push(frame(PRIORITY, 0, anyStream(), random.chance(0.9) ? payload : payload.subarray(0, 3)));
    } else if (kind === 13) {
      // A SETTINGS flood (each needs an ACK), sometimes ACKs with a payload.
      for (let i = random.int(10, 300); i > 0; i--) {
        out.push(
          random.chance(0.95)
            ? frame(SETTINGS, 0, 0, settingsPayload(random))
            : frame(SETTINGS, ACK, 0, u32(1)),
        );
      }
    } else if (kind === 14) {
      // A PING flood (each needs an ACK), sometimes of a wrong length or on a stream.
      for (let i = random.int(10, 2_000); i > 0; i--) {
        out.push(
          frame(
            PING,
            random.chance(0.1) ? ACK : 0,
            random.chance(0.99) ? 0 : 1,
            Buffer.alloc(random.chance(0.99) ? 8 : 7),
          ),
        );
      }
    } else if (kind === 15) {
      const payload = Buffer.concat([
        u32(random.int(0, stream)),
        u32(random.int(0, 13)),
        random.bytes(random.int(0, 20)),
      ]);
      out.push(frame(GOAWAY, 0, random.chance(0.9) ? 0 : 1, payload));
    } else if (kind === 16) {
      out.push(
        frame(random.int(0x0a, 0xff), random.int(0, 255), anyStream(), random.bytes(random.int(0, 100))),
      );
    } else if (kind === 17) {
      out.push(
        frame(PUSH_PROMISE, END_HEADERS, stream, Buffer.concat([u32(stream + 1), headerBlock(random)])),
      );
    } else if (kind === 18) {
      // A frame that announces more (or less) than it carries, or is larger than SETTINGS_MAX_FRAME_SIZE.
      const payload = random.bytes(random.int(0, 40));
      out.push(
        frame(
          random.pick([DATA, HEADERS, SETTINGS, PING]),
          0,
          anyStream(),
          payload,
          random.int(0, 0xff_ffff),
        ),
      );
    } else {
      out.push(random.bytes(random.int(1, 64)));
    }
  }
  const bytes = Buffer.concat(out);
  // Truncation: the connection ends inside a frame.
  return random.chance(0.15) ? bytes.subarray(0, random.int(H2_PREFACE.length, bytes.length)) : bytes;
}
