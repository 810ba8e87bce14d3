/**
 * A record's body as the page shows it: as it is when it was sent in clear;
 * for an encrypted envelope, the message decrypted in this browser (marked
 * so), a placeholder naming the key to load, or the error naming the key —
 * never the envelope's raw JSON.
 */
import { Highlighted } from '../explorer/highlight.tsx';
import { navigate } from '../router.ts';
import { type Decryption, decryptionOf } from './decrypted.ts';
import { shortKid } from './keyring.ts';

export function EncryptedBadge({ kid }: { kid: string }) {
  return (
    <span class="decrypted-badge" title={`Decrypted in this browser with key ${kid}; the server has only the ciphertext`} data-testid="decrypted-badge">
      decrypted
    </span>
  );
}

/** The body in a row: one line. */
export function BodyText({ record, matcher }: { record: { id: string; body: string }; matcher: RegExp | null }) {
  const d = decryptionOf(record);
  switch (d.state) {
    case 'clear':
      return <Highlighted text={record.body} matcher={matcher} />;
    case 'pending':
      return <span class="encrypted-note">encrypted — decrypting…</span>;
    case 'decrypted':
      return (
        <>
          <EncryptedBadge kid={d.kid} /> <Highlighted text={d.message} matcher={matcher} />
        </>
      );
    case 'locked':
      return (
        <span class="encrypted-note" data-testid="encrypted-locked" title={`Encrypted for key ${d.kid}: load its key file (Encryption page) to read it here`}>
          encrypted — load key {shortKid(d.kid)}
        </span>
      );
    case 'failed':
      return (
        <span class="decrypt-error" data-testid="decrypt-error" title={d.message}>
          {d.message}
        </span>
      );
  }
}

/** The body in the record's panel: the whole message, what decrypted it, or what to do. */
export function BodyDetail({ decryption, body }: { decryption: Decryption; body: string }) {
  switch (decryption.state) {
    case 'clear':
      return <code class="value">{body}</code>;
    case 'pending':
      return <span class="muted">Decrypting…</span>;
    case 'decrypted':
      return (
        <>
          <code class="value" data-testid="decrypted-body">
            {decryption.message}
          </code>
          <p class="decrypted-note">
            <EncryptedBadge kid={decryption.kid} /> in this browser with key <code>{decryption.kid}</code>. The server stores only the envelope.
          </p>
        </>
      );
    case 'locked':
      return (
        <p class="encrypted-note" data-testid="encrypted-locked-detail">
          Encrypted — load key <code>{decryption.kid}</code> to read it.{' '}
          <a
            href="/encryption"
            onClick={(e) => {
              e.preventDefault();
              navigate('/encryption');
            }}
          >
            Load a key file
          </a>
        </p>
      );
    case 'failed':
      return (
        <p class="message error" role="alert" data-testid="decrypt-error-detail">
          {decryption.message}
        </p>
      );
  }
}
