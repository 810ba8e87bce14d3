/**
 * Batch ids: 26 characters of Crockford base32, the first 10 the creation time
 * in milliseconds, the rest random (the ULID layout). They sort by time, so R2
 * listings and logs read in order, and they are safe in URLs and object keys.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newBatchId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rest = '';
  for (let i = 0; i < 16; i++) rest += ALPHABET[random[i]! & 31];
  return time + rest;
}
