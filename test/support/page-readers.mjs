// Reads pages of ListContacts at once from default grpc-js clients, in a process of its own, and prints each page's
// size in bytes as one JSON line. Kept out of the test's process so that receiving megabytes does not stall the
// event loop that times the test's own calls. Usage: node page-readers.mjs <url> <base64 request> <pages> <clients>
import * as grpc from "@grpc/grpc-js";

const [url, request, pages, clients] = process.argv.slice(2);
const readers = Array.from(
  { length: Number(clients) },
  () => new grpc.Client(new URL(url).host, grpc.credentials.createInsecure()),
);
const body = Buffer.from(request, "base64");
try {
  const sizes = await Promise.all(
    Array.from(
      { length: Number(pages) },
      (_, i) =>
        new Promise((resolve, reject) => {
          readers[i % readers.length].makeUnaryRequest(
            "/contacts.v1.ContactService/ListContacts",
            () => body,
            (bytes) => bytes,
            {},
            (error, bytes) => (error ? reject(error) : resolve(bytes.length)),
          );
        }),
    ),
  );
  process.stdout.write(`${JSON.stringify(sizes)}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
  process.exitCode = 1;
} finally {
  for (const reader of readers) reader.close();
}
