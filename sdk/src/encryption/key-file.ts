/**
 * The key file: what `npm run encryption-key -- create` writes (mode 0600)
 * and the explorer lets a person download after generating a key in the
 * browser — one format, read by `npm run decrypt` and by the explorer.
 * Everything needed to send (publicKey, searchSecret) and to read (privateKey).
 */
import type { P256PublicJwk } from './jwe.ts';

export interface KeyFile {
  kid: string;
  name: string;
  tenant: string;
  createdAt: string;
  publicKey: JsonWebKey;
  privateKey: JsonWebKey;
  searchSecret: string;
}

/** A key made by generateEncryptionKey, named, as a key file. */
export function keyFileOf(
  key: { kid: string; publicKey: P256PublicJwk; privateKey: JsonWebKey; searchSecret: string },
  name: string,
  tenant: string,
  createdAt = new Date(),
): KeyFile {
  return {
    kid: key.kid,
    publicKey: key.publicKey,
    privateKey: key.privateKey,
    searchSecret: key.searchSecret,
    name,
    tenant,
    createdAt: createdAt.toISOString(),
  };
}

/** The file's text: indented JSON and a final newline. */
export function keyFileText(file: KeyFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}
