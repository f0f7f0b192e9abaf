import type { DataSource } from "typeorm";

/**
 * The key that signs ListContacts page tokens: a random secret the migration stored once, so every instance
 * signs and checks tokens alike without configuration. Read once at startup.
 */
export async function readPageTokenKey(dataSource: DataSource): Promise<Buffer> {
  const rows = (await dataSource.query("SELECT secret FROM page_token_secrets WHERE id = 1")) as {
    secret: Buffer;
  }[];
  const secret = rows[0]?.secret;
  if (!Buffer.isBuffer(secret) || secret.length !== 32) throw new Error("the page token secret is missing");
  return secret;
}
