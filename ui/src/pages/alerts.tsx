/**
 * The Alerts page's place in the app (issue 16): its path, title and scopes
 * here, its code — current alerts, rules and their form, history — in a chunk
 * loaded when it is opened (alerts/alerts-page.tsx).
 */
import { lazyComponent } from './lazy.tsx';
import type { Page } from './page.ts';

export const canReadAlerts = (s: ReadonlySet<string>) => s.has('alerts:read') || s.has('alerts:write') || s.has('admin');

export const alertsPage: Page = {
  path: '/alerts',
  title: 'Alerts',
  allowed: canReadAlerts,
  component: lazyComponent(() => import('../alerts/alerts-page.tsx').then((m) => m.AlertsPage)),
};
