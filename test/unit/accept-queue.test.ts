import { describe, expect, it } from "vitest";
import { acceptQueueLength } from "../../src/http/accept-queue.js";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000007 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F91 00000000:0000 0A 00000000:00000009 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000002 00:00000000
`;

describe("acceptQueueLength", () => {
  it("sums rx_queue of the port's listening sockets, IPv4 and IPv6, ignoring established ones and other ports", () => {
    const read = (path: string) => (path.endsWith("6") ? TCP6 : TCP);
    expect(acceptQueueLength(8080, read)).toBe(3 + 2);
    expect(acceptQueueLength(8081, read)).toBe(9);
    expect(acceptQueueLength(8082, read)).toBe(0);
  });

  it("is 0 where /proc cannot be read", () => {
    expect(
      acceptQueueLength(8080, () => {
        throw new Error("ENOENT");
      }),
    ).toBe(0);
  });
});
