/**
 * A pattern's id: a pure function of (service, template text), so the
 * tenant's several actors (shards) and an actor after a restart name the same
 * template the same way without talking to each other.
 *
 * 64-bit FNV-1a over the UTF-8 bytes of `service + "\u0000" + template`,
 * written as 16 lowercase hex digits. FNV-1a is not a cryptographic hash:
 * ids are names, not secrets, and a tenant can only collide its own patterns.
 */

const encoder = new TextEncoder();

/** The id of a template of a service: 16 hex digits. */
export function templateToId(service: string, template: string): string {
  return fnv1a64(encoder.encode(`${service}\u0000${template}`));
}

/**
 * FNV-1a, 64 bits, in two 32-bit halves (exact in doubles: a half times the
 * prime's low part stays below 2^42). prime = 2^40 + 0x1b3, so
 * h * prime = h * 0x1b3 + (h << 40): the shift only feeds the high half.
 */
export function fnv1a64(bytes: Uint8Array): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < bytes.length; i++) {
    lo ^= bytes[i]!;
    const loProduct = (lo >>> 0) * 0x1b3;
    const hiProduct = (hi >>> 0) * 0x1b3 + Math.floor(loProduct / 0x100000000) + ((lo << 8) >>> 0);
    lo = loProduct >>> 0;
    hi = hiProduct >>> 0;
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}
