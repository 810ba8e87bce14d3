/**
 * The app shell: sign-in until there is a session, then the navigation (the
 * pages the session's scopes allow) and the page of the URL. An expired or
 * revoked session returns to sign-in, and to the same URL afterwards.
 */
import { effect } from '@preact/signals';
import type { ComponentChildren } from 'preact';
import { useEffect, useErrorBoundary } from 'preact/hooks';
import { whenUnauthenticated } from './api.ts';
import { KeysIndicator } from './encryption/keys-indicator.tsx';
import { forgetKeys } from './encryption/keyring.ts';
import { auditPage } from './pages/audit.tsx';
import { encryptionPage } from './pages/encryption.tsx';
import { explorePage } from './pages/explore.tsx';
import { keysPage } from './pages/keys.tsx';
import type { Page } from './pages/page.ts';
import { SignIn } from './pages/sign-in.tsx';
import { usagePage } from './pages/usage.tsx';
import { patternsPage } from './pages/patterns.tsx';
import { anomaliesPage } from './pages/anomalies.tsx';
import { alertsPage } from './pages/alerts.tsx';
import { location, navigate } from './router.ts';
import { loadSession, scopes, session, sessionLost, signOut } from './session.ts';

/** A link inside the app: the router moves, the page does not reload. */
function followLink(path: string) {
  return (event: Event) => {
    event.preventDefault();
    navigate(path);
  };
}

/** A page that throws shows what went wrong, never a blank screen. */
function Guard({ children }: { children: ComponentChildren }) {
  const [error, reset] = useErrorBoundary();
  if (error) {
    return (
      <div class="page">
        <p class="message error" role="alert">
          This page failed: {(error as Error).message ?? String(error)}{' '}
          <button type="button" onClick={reset}>
            Try again
          </button>
        </p>
      </div>
    );
  }
  return <>{children}</>;
}

/** Every page of the app, in navigation order: adding one is adding it here. */
export const PAGES: readonly Page[] = [explorePage, patternsPage, anomaliesPage, alertsPage, encryptionPage, keysPage, usagePage, auditPage];

whenUnauthenticated(sessionLost);

// Keys loaded into the page are the signed-in person's: signing out, or a session that ends, forgets them.
effect(() => {
  if (session.value === null) forgetKeys();
});

export function App() {
  useEffect(() => {
    void loadSession();
  }, []);
  const current = session.value;
  if (current === undefined) return <p class="muted loading-app">Loading…</p>;
  if (current === null) return <SignIn />;

  const allowed = PAGES.filter((p) => p.allowed(scopes.value));
  const page = allowed.find((p) => p.path === location.value.path);
  const Component = page?.component;
  return (
    <div class="app">
      <header class="top">
        <a class="brand" href="/" onClick={followLink('/')}>
          NeuralLog
        </a>
        <nav aria-label="Pages">
          {allowed.map((p) => (
            <a
              key={p.path}
              href={p.path}
              aria-current={p === page ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(p.path);
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <KeysIndicator />
        <span class="tenant" title="Tenant">
          {current.tenant.name ?? current.tenant.id}
        </span>
        <button type="button" data-testid="sign-out" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main class="content">
        {Component ? (
          <Guard key={page!.path}>
            <Component />
          </Guard>
        ) : (
          <div class="page">
            <h1>Not here</h1>
            <p>
              {PAGES.some((p) => p.path === location.value.path) ? 'This session may not open that page: its key lacks the scope.' : 'There is no such page.'}{' '}
              <a href="/" onClick={followLink('/')}>
                Back to the explorer
              </a>
            </p>
          </div>
        )}
      </main>
    </div>
  );
}
