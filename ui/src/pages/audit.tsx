/** The tenant's audit trail: who changed what, when, with which credential. */
import { useEffect, useState } from 'preact/hooks';
import { type ApiFailure, json } from '../api.ts';
import { session } from '../session.ts';
import type { Page } from './page.ts';

interface Entry {
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown> | null;
  requestId: string | null;
}

function Audit() {
  const tenant = session.value?.tenant.id ?? '';
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    json<{ entries: Entry[] }>(`/v1/admin/tenants/${encodeURIComponent(tenant)}/audit`).then((a) => setEntries(a.entries), setError);
  }, [tenant]);
  return (
    <div class="page">
      <h1>Audit trail</h1>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      <table class="table">
        <thead>
          <tr>
            <th scope="col">When (UTC)</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(entries ?? []).map((e) => (
            <tr key={`${e.at}-${e.requestId}`}>
              <td>{e.at.slice(0, 19).replace('T', ' ')}</td>
              <td>
                <code>{e.actor}</code>
              </td>
              <td>{e.action}</td>
              <td>
                <code class="details">{e.details ? JSON.stringify(e.details) : ''}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries === null && !error && <p class="muted">Loading…</p>}
    </div>
  );
}

export const auditPage: Page = { path: '/audit', title: 'Audit', allowed: (scopes) => scopes.has('admin'), component: Audit };
