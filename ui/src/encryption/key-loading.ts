/**
 * Loading key files into the page (docs/encryption.md, "In the explorer"): a
 * key file (the one `npm run encryption-key -- create` writes, or the
 * explorer's own) is read, its private JWK imported into a non-extractable
 * CryptoKey (the SDK's Decryptor), its search secret turned into the
 * blind-token key (the SDK's BlindTokenizer) — and the text of the file
 * dropped; the result goes into the keyring's state (keyring.ts). A chunk of
 * its own with the SDK's encryption: most visits never need it.
 */
import type { BlindTokenizer, Decryptor } from '../../../sdk/src/encryption/index.ts';
import { decryptor, encryptionSdk, type LoadedKey, loadedKeys, tokenizers } from './keyring.ts';

/** What a key file holds (scripts/encryption-key-file.ts); a bare private JWK is taken too, without a search secret. */
interface KeyFileFields {
  kid?: unknown;
  name?: unknown;
  privateKey?: JsonWebKey;
  searchSecret?: unknown;
}

let emptyDecryptor: Promise<Decryptor> | null = null;

/** The decryptor to use now: the loaded keys, or none (it still names the key a record needs). */
export function currentDecryptor(): Promise<Decryptor> {
  const loaded = decryptor.value;
  if (loaded) return Promise.resolve(loaded);
  emptyDecryptor ??= encryptionSdk().then(({ Decryptor }) => Decryptor.create([]));
  return emptyDecryptor;
}

/** Loads one at a time: two files chosen together must not each replace the other's decryptor. */
let loading: Promise<unknown> = Promise.resolve();

/** Loads a key file's text; throws an Error saying what is wrong with it. Loading a key again changes nothing. */
export function loadKeyFile(text: string): Promise<LoadedKey> {
  const run = loading.then(() => load(text));
  loading = run.catch(() => undefined);
  return run;
}

async function load(text: string): Promise<LoadedKey> {
  const { BlindTokenizer, keyId } = await encryptionSdk();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('This is not a key file: it is not JSON. Choose the file `npm run encryption-key -- create` wrote (or the one downloaded here).');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('This is not a key file: it is not a JSON object.');
  const fields = parsed as KeyFileFields & JsonWebKey;
  const privateKey: JsonWebKey | undefined = typeof fields.d === 'string' ? fields : fields.privateKey;
  if (!privateKey || typeof privateKey.d !== 'string') {
    throw new Error('This file holds no private key ("privateKey" with "d"): only a key file can decrypt. A public key cannot.');
  }
  let kid: string;
  let added: Decryptor;
  try {
    kid = await keyId(privateKey);
    added = await (await currentDecryptor()).withKeys([privateKey]);
  } catch (err) {
    throw new Error(`The private key could not be imported (an EC P-256 key expected): ${(err as Error).message}`);
  }
  if (typeof fields.kid === 'string' && fields.kid !== kid) {
    throw new Error(`The file says its key is ${fields.kid}, but its key's thumbprint is ${kid}: the file was altered.`);
  }
  let tokenizer: BlindTokenizer | null = null;
  if (typeof fields.searchSecret === 'string') {
    try {
      tokenizer = await BlindTokenizer.fromSecret(fields.searchSecret);
    } catch (err) {
      throw new Error(`The file's search secret is not usable: ${(err as Error).message}`);
    }
  }
  const loaded: LoadedKey = { kid, name: typeof fields.name === 'string' ? fields.name : '', searchable: tokenizer !== null };
  const known = loadedKeys.peek().find((k) => k.kid === kid);
  decryptor.value = added;
  if (tokenizer && !known?.searchable && !sameSecretLoaded(tokenizer)) tokenizers.value = [...tokenizers.peek(), tokenizer];
  loadedKeys.value = known
    ? loadedKeys.peek().map((k) => (k.kid === kid ? { ...k, searchable: k.searchable || loaded.searchable } : k))
    : [...loadedKeys.peek(), loaded];
  return loaded;
}

/** The same secret gives the same token for the same word: one tokenizer per secret is enough. */
function sameSecretLoaded(candidate: BlindTokenizer): boolean {
  const probe = 'neurallog-probe';
  return tokenizers.peek().some((t) => t.token(probe) === candidate.token(probe));
}
