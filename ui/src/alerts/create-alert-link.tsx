/**
 * Explore's way to an alert: "Create alert" opens the Alerts page's form for a
 * new rule on the current search's query (`/alerts?new=1&q=…`). Shown only to
 * a session that may create rules (`alerts:write` or `admin`).
 */
import { navigate } from '../router.ts';
import { scopes } from '../session.ts';

export function CreateAlertLink({ q }: { q: string }) {
  const s = scopes.value;
  if (!s.has('alerts:write') && !s.has('admin')) return null;
  const params = { new: '1', q };
  return (
    <a
      class="button"
      href={`/alerts?${new URLSearchParams(q ? params : { new: '1' })}`}
      title="A new alert rule on this search's query"
      data-testid="create-alert"
      onClick={(e) => {
        e.preventDefault();
        navigate('/alerts', params);
      }}
    >
      Create alert
    </a>
  );
}
