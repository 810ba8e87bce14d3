/**
 * Loading key files into the page, the keys loaded, and forgetting them —
 * the encryption page's first part (the header's indicator: keys-indicator.tsx).
 */
import { useState } from 'preact/hooks';
import { loadKeyFile } from './key-loading.ts';
import { forgetKeys, loadedKeys } from './keyring.ts';

export function KeyLoader() {
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pasted, setPasted] = useState('');

  const load = async (texts: { label: string; text: string }[]) => {
    setError(null);
    setStatus(null);
    const done: string[] = [];
    for (const { label, text } of texts) {
      try {
        const key = await loadKeyFile(text);
        done.push(`${key.kid}${key.searchable ? ' (with its search secret)' : ''}`);
      } catch (err) {
        setError(`${label}: ${(err as Error).message}`);
      }
    }
    if (done.length > 0) setStatus(`Loaded ${done.join(', ')}.`);
  };

  const keys = loadedKeys.value;
  return (
    <section class="card" aria-labelledby="load-keys">
      <h2 id="load-keys">Decryption keys in this page</h2>
      <p>
        Choose the key file <code>npm run encryption-key -- create</code> wrote (or one downloaded below). Its private key is imported into this page as a
        non-extractable key, held in memory only: never sent to the server, never stored in the browser. <strong>Reloading the page forgets it.</strong>
      </p>
      <label class="file-pick">
        Key file{' '}
        <input
          type="file"
          accept=".json,application/json"
          multiple
          data-testid="key-file"
          onChange={async (e) => {
            const input = e.currentTarget as HTMLInputElement;
            const files = [...(input.files ?? [])];
            await load(await Promise.all(files.map(async (f) => ({ label: f.name, text: await f.text() }))));
            input.value = '';
          }}
        />
      </label>
      <details>
        <summary>Or paste the key file</summary>
        <label class="paste-key">
          <span class="sr-only">Key file contents</span>
          <textarea
            rows={6}
            spellcheck={false}
            autocomplete="off"
            value={pasted}
            data-testid="key-paste"
            placeholder='{"kid": "…", "privateKey": {…}, "searchSecret": "…"}'
            onInput={(e) => setPasted((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <button
          type="button"
          disabled={pasted.trim() === ''}
          onClick={async () => {
            const text = pasted;
            setPasted(''); // the key's text leaves the page's form at once
            await load([{ label: 'The pasted key', text }]);
          }}
        >
          Load the pasted key
        </button>
      </details>
      {error && (
        <p class="message error" role="alert" data-testid="key-error">
          {error}
        </p>
      )}
      {status && (
        <p class="message" role="status" data-testid="key-status">
          {status}
        </p>
      )}
      {keys.length === 0 ? (
        <p class="muted" data-testid="no-keys">
          No key loaded: encrypted records show which key they need.
        </p>
      ) : (
        <>
          <table class="table" data-testid="loaded-keys">
            <thead>
              <tr>
                <th scope="col">Key id (kid)</th>
                <th scope="col">Name</th>
                <th scope="col">Blind search</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.kid}>
                  <td>
                    <code>{k.kid}</code>
                  </td>
                  <td>{k.name}</td>
                  <td>{k.searchable ? 'yes (search secret loaded)' : 'no search secret in the file'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={forgetKeys} data-testid="forget-keys">
            Forget keys
          </button>
        </>
      )}
    </section>
  );
}
