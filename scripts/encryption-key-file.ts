/** The key file `npm run encryption-key -- create` writes (mode 0600) and `npm run decrypt` reads. */
import { readFileSync } from 'node:fs';
import type { KeyFile } from '../sdk/src/encryption/key-file.ts';

/** The format is the SDK's (sdk/src/encryption/key-file.ts), shared with the explorer, which makes key files too. */
export type { KeyFile };

export function readKeyFile(path: string): KeyFile {
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  if (typeof file.kid !== 'string' || typeof file.privateKey?.d !== 'string')
    throw new Error(`${path} is not a key file made by \`npm run encryption-key -- create\``);
  return file;
}
