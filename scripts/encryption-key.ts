/**
 * `npm run encryption-key -- <command>`: the tenant's zero-knowledge
 * encryption keys (docs/encryption.md). `create` makes the key pair and the
 * search secret here, with WebCrypto, writes them to a file only its owner
 * can read (mode 0600), and registers the public key through the admin API
 * (credential as `npm run admin` takes it: scripts/admin-client.ts). The
 * private key and the search secret never leave this machine.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BlindTokenizer, generateEncryptionKey, keyFileOf, keyFileText } from '../sdk/src/encryption/index.ts';
import { callAdmin } from './admin-client.ts';
import { type KeyFile, readKeyFile } from './encryption-key-file.ts';

const USAGE = `usage: npm run encryption-key -- <command>

  create --name <name> --out <key.json> [--tenant <id>]   make a key pair and search secret, register the public key
  register --key <key.json> [--tenant <id>]               register the public key of an existing key file
  list [--tenant <id>]
  revoke <kid> [--tenant <id>]                            new records under it are refused (stored ones stay readable)
  token --key <key.json> <term>…                          the blind tokens to search for (a word, or name=value)

--tenant defaults to NEURALLOG_TENANT, else the dev tenant (NEURALLOG_DEV_TENANT, "dev").`;

async function main(argv: string[]): Promise<unknown> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, out: { type: 'string' }, key: { type: 'string' }, tenant: { type: 'string' } },
  });
  const tenant = values.tenant ?? process.env.NEURALLOG_TENANT ?? process.env.NEURALLOG_DEV_TENANT ?? 'dev';
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new Error(`missing ${what}\n\n${USAGE}`);
    return v;
  };
  const register = (file: KeyFile) =>
    callAdmin('POST', `/tenants/${encodeURIComponent(tenant)}/encryption-keys`, { name: file.name, publicKey: file.publicKey });
  switch (positionals[0]) {
    case 'create': {
      const name = need(values.name, '--name');
      const out = need(values.out, '--out');
      const key = await generateEncryptionKey();
      const file = keyFileOf(key, name, tenant);
      // Written before registering, never over an existing file: a private key is not lost to a failed request.
      writeFileSync(out, keyFileText(file), { mode: 0o600, flag: 'wx' });
      try {
        const registered = await register(file);
        console.error(`${out}: the private key and the search secret (mode 0600). Keep it safe: NeuralLog cannot decrypt or recover anything without it.`);
        return registered;
      } catch (err) {
        throw new Error(
          `${out} was written but the key is not registered: ${(err as Error).message}\nregister it with: npm run encryption-key -- register --key ${out}`,
        );
      }
    }
    case 'register':
      return register(readKeyFile(need(values.key, '--key')));
    case 'list':
      return callAdmin('GET', `/tenants/${encodeURIComponent(tenant)}/encryption-keys`);
    case 'revoke':
      return callAdmin('DELETE', `/tenants/${encodeURIComponent(tenant)}/encryption-keys/${encodeURIComponent(need(positionals[1], '<kid>'))}`);
    case 'token': {
      const tokenizer = await BlindTokenizer.fromSecret(readKeyFile(need(values.key, '--key')).searchSecret);
      const terms = positionals.slice(1);
      need(terms[0], '<term>');
      return Object.fromEntries(terms.map((term) => [term, tokenizer.queryTokens(term)]));
    }
    default:
      throw new Error(USAGE);
  }
}

if (['help', '--help', '-h', undefined].includes(process.argv[2])) {
  console.log(USAGE);
  process.exit(0);
}

main(process.argv.slice(2)).then(
  (result) => console.log(JSON.stringify(result, null, 2)),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
