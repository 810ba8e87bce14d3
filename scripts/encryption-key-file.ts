/** The key file `npm run encryption-key -- create` writes (mode 0600) and `npm run decrypt` reads. */
import { readFileSync } from 'node:fs';

/** What `create` writes: everything needed to send (publicKey, searchSecret) and to read (privateKey). */
export interface KeyFile {
  kid: string;
  name: string;
  tenant: string;
  createdAt: string;
  publicKey: JsonWebKey;
  privateKey: JsonWebKey;
  searchSecret: string;
}

export function readKeyFile(path: string): KeyFile {
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  if (typeof file.kid !== 'string' || typeof file.privateKey?.d !== 'string')
    throw new Error(`${path} is not a key file made by \`npm run encryption-key -- create\``);
  return file;
}
