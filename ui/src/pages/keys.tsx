/** API keys of the tenant (admin scope): create with scopes — the key shown once, with a copy button —, list, revoke. */
import { useEffect, useState } from 'preact/hooks';
import { type ApiFailure, json, request } from '../api.ts';
import { session } from '../session.ts';
import type { Page } from './page.ts';

interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

const SCOPES = ['logs:write', 'logs:read', 'analytics:read', 'admin', 'billing:read'];

function Keys() {
  const tenant = session.value?.tenant.id ?? '';
  const base = `/v1/admin/tenants/${encodeURIComponent(tenant)}/keys`;
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['logs:write']);

  const load = () =>
    json<{ keys: ApiKey[] }>(base)
      .then((answer) => setKeys(answer.keys))
      .catch((err: ApiFailure) => setError(err));
  useEffect(() => void load(), [tenant]);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const key = await json<ApiKey & { key: string }>(base, { method: 'POST', body: JSON.stringify({ name, scopes }) });
      setCreated(key.key);
      setName('');
      await load();
    } catch (err) {
      setError(err as ApiFailure);
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await request(`${base}/${encodeURIComponent(id)}`, { method: 'DELETE' });
      await load();
    } catch (err) {
      setError(err as ApiFailure);
    }
  };

  return (
    <div class="page">
      <h1>API keys</h1>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {created && (
        <div class="created-key" role="status">
          <p>The new key, shown this once — copy it now:</p>
          <code data-testid="created-key">{created}</code>{' '}
          <button type="button" onClick={() => navigator.clipboard.writeText(created).catch(() => undefined)}>
            Copy
          </button>
        </div>
      )}
      <form class="card" onSubmit={create}>
        <h2>New key</h2>
        <label>
          Name <input required maxLength={100} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} class="inline">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) => setScopes((e.currentTarget as HTMLInputElement).checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))}
              />{' '}
              {scope}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      <table class="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Id</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(keys ?? []).map((key) => (
            <tr key={key.id}>
              <td>{key.name}</td>
              <td>
                <code>{key.id}</code>
              </td>
              <td>{key.scopes.join(', ')}</td>
              <td>{key.createdAt.slice(0, 19).replace('T', ' ')}</td>
              <td>{key.revokedAt ? `revoked ${key.revokedAt.slice(0, 10)}` : key.expiresAt ? `expires ${key.expiresAt.slice(0, 10)}` : 'active'}</td>
              <td>
                {!key.revokedAt && (
                  <button type="button" onClick={() => revoke(key.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {keys === null && !error && <p class="muted">Loading…</p>}
    </div>
  );
}

export const keysPage: Page = { path: '/keys', title: 'API keys', allowed: (scopes) => scopes.has('admin'), component: Keys };
