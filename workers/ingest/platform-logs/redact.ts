/**
 * Secrets out of free text before it is stored in the platform tenant.
 *
 * shared/logger.ts masks fields whose names say they hold a secret, but a tail
 * event also carries what nobody structured: console lines of libraries,
 * exception messages and stacks, a URL someone logged. Every credential
 * NeuralLog issues or accepts has a recognisable shape, so those shapes are
 * replaced wherever they appear; the replacements hold no quote or backslash,
 * so a JSON text stays JSON.
 */

const SHAPES: readonly [RegExp, string][] = [
  // API keys (shared/api-keys.ts: nlk_<id>_<secret><checksum>) and the platform-admin token (nlpa_…).
  [/\bnlk_[A-Za-z0-9_-]+/g, 'nlk_[redacted]'],
  [/\bnlpa_[A-Za-z0-9_-]+/g, 'nlpa_[redacted]'],
  // JWTs, session tokens included (three base64url parts, the first a JSON header).
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  // Authorization header values in any of the schemes shippers use.
  [/\b(Bearer|Basic|ApiKey)([ \t]+)[^\s"'\\,;]+/gi, '$1$2[redacted]'],
  // The explorer's session cookie and CSRF header, should a line carry them.
  [/\b(nl_session=)[^\s"'\\,;]+/gi, '$1[redacted]'],
  [/\b(x-csrf-token["']?\s*[:=]\s*["']?)[^\s"'\\,;]+/gi, '$1[redacted]'],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
  return out;
}
