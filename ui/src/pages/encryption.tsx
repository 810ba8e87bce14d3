/**
 * The Encryption page's place in the app (docs/encryption.md): its path,
 * title and scope here, its code — key files, key generation, blind-search
 * help — in a chunk loaded when it is opened (encryption/encryption-page.tsx).
 */
import { lazyComponent } from './lazy.tsx';
import type { Page } from './page.ts';

export const encryptionPage: Page = {
  path: '/encryption',
  title: 'Encryption',
  allowed: (scopes) => scopes.has('logs:read'),
  component: lazyComponent(() => import('../encryption/encryption-page.tsx').then((m) => m.Encryption)),
};
