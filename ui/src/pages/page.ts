/**
 * A page of the app: where it lives, what the navigation calls it, who may
 * see it (scopes of the session), and what it draws. Adding a page (patterns,
 * anomalies, alerts…) is adding one module to PAGES in app.tsx.
 */
import type { ComponentType } from 'preact';

export interface Page {
  path: string;
  title: string;
  allowed: (scopes: ReadonlySet<string>) => boolean;
  component: ComponentType;
}
