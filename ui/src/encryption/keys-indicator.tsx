/**
 * The header's indicator of the decryption keys this page holds — in the
 * main chunk, on every page; the Encryption page itself loads apart.
 */
import { navigate } from '../router.ts';
import { forgetKeys, loadedKeys, shortKid } from './keyring.ts';

/** The header's indicator: which keys this page holds, and a way to drop them. Nothing when none is loaded. */
export function KeysIndicator() {
  const keys = loadedKeys.value;
  if (keys.length === 0) return null;
  const kids = keys.map((k) => k.kid).join(', ');
  return (
    <span class="keys-indicator" data-testid="keys-indicator">
      <a
        href="/encryption"
        title={`Decryption keys held by this page (in memory, until it reloads): ${kids}`}
        onClick={(e) => {
          e.preventDefault();
          navigate('/encryption');
        }}
      >
        {keys.length === 1 ? 'Key' : `${keys.length} keys`}: {keys.map((k) => shortKid(k.kid)).join(', ')}
      </a>{' '}
      <button type="button" onClick={forgetKeys} data-testid="forget-keys-top">
        Forget keys
      </button>
    </span>
  );
}
