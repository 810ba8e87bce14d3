/**
 * The blind tokens' keyed PRF (ADR 0017): keyed BLAKE2s with a 128-bit
 * output (RFC 7693: BLAKE2s-128 under a 256-bit key — the key is a parameter
 * of the hash, which makes it a PRF/MAC by design) of a term's UTF-8 bytes.
 * Chosen over HMAC-SHA-256 (the first scheme, never released), keyed BLAKE3
 * and SipHash-2-4/128 by `npm run bench:encryption`: in StableLib's
 * implementation (@stablelib/blake2s: typed arrays, no allocation per call) it
 * is about 3× cheaper per term than the others in JavaScript, in every runtime
 * measured (docs/benchmarks.md). BLAKE2s rather than BLAKE2b: 32-bit words, what
 * JavaScript computes natively.
 *
 * One hash instance per key, reset per term (reset puts the padded key back as
 * the first block; nothing is allocated). A PRF here is a function of (term
 * bytes, output buffer) so the benchmark can put the alternatives it compares
 * behind the same tokenizer (scripts/bench-encryption/prfs.ts).
 */
import { BLAKE2s } from '@stablelib/blake2s';

/** Writes the 16-byte keyed PRF of `term` into `out`'s first 16 bytes. */
export type TermPrf = (term: Uint8Array, out: Uint8Array) => void;
/** A PRF keyed with 32 bytes. */
export type TermPrfFactory = (key: Uint8Array) => TermPrf;

/** The scheme's name, as the HKDF info of the token key carries it (blind-tokens.ts): another PRF is another name. */
export const TOKEN_SCHEME = 'keyed BLAKE2s-128';

export const keyedBlake2s128: TermPrfFactory = (key) => {
  const h = new BLAKE2s(16, { key });
  return (term, out) => {
    h.reset();
    h.update(term);
    h.finish(out);
  };
};
