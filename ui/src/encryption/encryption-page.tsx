/**
 * The Encryption page (docs/encryption.md): load key files into the page to
 * read encrypted records and search them by blind tokens; generate a key pair
 * here (an `admin` session), register its public key and download the key
 * file. Private keys and search secrets never leave the page. A chunk of its
 * own, loaded when the page is opened (pages/encryption.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { type ApiFailure, json } from '../api.ts';
import type { KeyFile } from '../../../sdk/src/encryption/index.ts';
import { hasScope, session } from '../session.ts';
import { KeyLoader } from './key-panel.tsx';
import { loadKeyFile } from './key-loading.ts';
import { encryptionSdk, loadedKeys } from './keyring.ts';

interface RegisteredKey {
  kid: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
}

function BlindSearchHelp() {
  return (
    <section class="card" aria-labelledby="blind-search">
      <h2 id="blind-search">Searching encrypted records</h2>
      <p>
        With a key file that holds its search secret, the explorer shows a <strong>Blind search</strong> switch. Switched on, the words you type — and{' '}
        <code>name:value</code> of encrypted attributes — are turned here into their blind tokens, and only the tokens are sent.
      </p>
      <ul>
        <li>
          It finds exact words only: no prefix (<code>decl*</code>), wildcard, phrase order, range or existence test on encrypted text.
        </li>
        <li>
          Clear fields stay as typed: <code>level</code>, <code>service</code>, <code>trace_id</code>, <code>resource.*</code>, and the attributes the fields
          sidebar lists. Any other <code>name:value</code> is taken as an encrypted attribute.
        </li>
        <li>The server sees which tokens are searched (it already sees which records share a token), never the words.</li>
      </ul>
    </section>
  );
}

/** A key made here: its file, to download, and whether its public key is registered. */
interface Generated {
  kid: string;
  name: string;
  file: Blob;
  url: string;
  registered: boolean;
  error: string | null;
}

function GenerateKey({ tenant, onRegistered }: { tenant: string; onRegistered: () => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<Generated | null>(null);
  const [loadedIt, setLoadedIt] = useState(false);

  // The file's object URL is let go when the section goes (or a new key replaces it).
  const url = made?.url;
  useEffect(() => () => url && URL.revokeObjectURL(url), [url]);

  const generate = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setLoadedIt(false);
    try {
      const { generateEncryptionKey, keyFileOf, keyFileText } = await encryptionSdk();
      const file: KeyFile = keyFileOf(await generateEncryptionKey(), name, tenant);
      const blob = new Blob([keyFileText(file)], { type: 'application/json' });
      const generated: Generated = { kid: file.kid, name, file: blob, url: URL.createObjectURL(blob), registered: false, error: null };
      setMade(generated);
      try {
        // The public key only: the private key and the search secret stay in the file.
        await json(`/v1/admin/tenants/${encodeURIComponent(tenant)}/encryption-keys`, {
          method: 'POST',
          body: JSON.stringify({ name, publicKey: file.publicKey }),
        });
        setMade({ ...generated, registered: true });
        onRegistered();
      } catch (err) {
        setMade({ ...generated, error: (err as ApiFailure).explanation ?? (err as Error).message });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="generate-key">
      <h2 id="generate-key">Generate a key pair</h2>
      <p>
        Made in this browser (WebCrypto): a P-256 key pair and a search secret. The public key is registered with NeuralLog; the private key and the search
        secret go only into the file you download. <strong>Keep the file</strong>: NeuralLog cannot decrypt or recover anything without it.
      </p>
      <form onSubmit={generate}>
        <label>
          Name <input required maxLength={100} value={name} data-testid="generate-name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>{' '}
        <button type="submit" class="primary" disabled={busy} data-testid="generate-key">
          Generate and register
        </button>
      </form>
      {made && (
        <div class={made.registered ? 'message' : 'message error'} role={made.registered ? 'status' : 'alert'} data-testid="generated">
          <p>
            Key <code data-testid="generated-kid">{made.kid}</code>{' '}
            {made.registered ? 'is registered: SDKs may encrypt for it.' : `was made but is not registered: ${made.error}`}
          </p>
          <p>
            <a class="button" href={made.url} download={`neurallog-key-${made.name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.json`} data-testid="download-key">
              Download the key file
            </a>{' '}
            <button
              type="button"
              disabled={loadedIt}
              onClick={async () => {
                await loadKeyFile(await made.file.text());
                setLoadedIt(true);
              }}
            >
              {loadedIt ? 'Loaded into this page' : 'Also load it into this page'}
            </button>
          </p>
          <p class="muted">Give the SDK the file's publicKey (and searchSecret for blind tokens); read records with it here or with npm run decrypt.</p>
        </div>
      )}
    </section>
  );
}

function CannotManage() {
  return (
    <section class="card" aria-labelledby="generate-key">
      <h2 id="generate-key">Generate a key pair</h2>
      <p data-testid="cannot-manage">
        This session cannot register encryption keys: that needs a key with the <code>admin</code> scope. Sign in with one, or make the key on your machine with
        the CLI (which registers it with an admin credential):
      </p>
      <pre>npm run encryption-key -- create --name prod-2026 --out key.json</pre>
    </section>
  );
}

function RegisteredKeys({ tenant, version }: { tenant: string; version: number }) {
  const [keys, setKeys] = useState<RegisteredKey[] | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    json<{ keys: RegisteredKey[] }>(`/v1/admin/tenants/${encodeURIComponent(tenant)}/encryption-keys`)
      .then((answer) => setKeys(answer.keys))
      .catch((err: ApiFailure) => setError(err));
  }, [tenant, version]);
  const loaded = new Set(loadedKeys.value.map((k) => k.kid));
  return (
    <section class="card" aria-labelledby="registered-keys">
      <h2 id="registered-keys">Registered public keys</h2>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {keys && keys.length === 0 && <p class="muted">None yet.</p>}
      {keys && keys.length > 0 && (
        <table class="table" data-testid="registered-keys">
          <thead>
            <tr>
              <th scope="col">Key id (kid)</th>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.kid}>
                <td>
                  <code>{k.kid}</code>
                </td>
                <td>{k.name}</td>
                <td>{k.createdAt.slice(0, 19).replace('T', ' ')}</td>
                <td>
                  {k.revokedAt ? `revoked ${k.revokedAt.slice(0, 10)}` : 'active'}
                  {loaded.has(k.kid) ? ' · loaded here' : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="muted">
        Revoke a key with npm run encryption-key -- revoke &lt;kid&gt;: new records under it are refused; stored ones stay readable with its file.
      </p>
    </section>
  );
}

export function Encryption() {
  const tenant = session.value?.tenant.id ?? '';
  const admin = hasScope('admin');
  const [registered, setRegistered] = useState(0);
  return (
    <div class="page">
      <h1>Encryption</h1>
      <p>
        Records sent encrypted by the SDK are stored as envelopes the server cannot read. They are decrypted only here, in this page, with a key file you load —
        see docs/encryption.md. Whoever serves this page's JavaScript could read a key loaded into it: load keys only into the explorer you trust.
      </p>
      <KeyLoader />
      <BlindSearchHelp />
      {admin ? <GenerateKey tenant={tenant} onRegistered={() => setRegistered((n) => n + 1)} /> : <CannotManage />}
      {admin && <RegisteredKeys tenant={tenant} version={registered} />}
    </div>
  );
}
