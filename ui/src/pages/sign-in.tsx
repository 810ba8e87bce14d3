/**
 * Sign in with an API key or a JWT: exchanged once for a session cookie
 * (HttpOnly: no script, ours included, can read it); the credential is not
 * kept. After signing in, the page the person came for is shown.
 */
import { useState } from 'preact/hooks';
import { ApiFailure } from '../api.ts';
import { signIn } from '../session.ts';

export function SignIn() {
  const [credential, setCredential] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(credential.trim());
      setCredential('');
    } catch (err) {
      setError(err instanceof ApiFailure && err.status === 401 ? 'That key or token is not valid.' : err instanceof ApiFailure ? err.explanation : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">NeuralLog</h1>
        <p class="muted">Sign in with an API key of your tenant, or a token from your identity provider.</p>
        <label>
          API key or token
          <input
            type="password"
            name="credential"
            autoComplete="off"
            required
            value={credential}
            data-testid="credential"
            onInput={(e) => setCredential((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        {error && (
          <p class="message error" role="alert" data-testid="sign-in-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || credential.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">`npm start` prints the dev tenant's key, and keeps it in .neurallog/dev-api-key.</p>
      </form>
    </main>
  );
}
