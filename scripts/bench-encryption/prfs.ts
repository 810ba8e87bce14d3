/**
 * The keyed PRFs `npm run bench:encryption` compares for the blind tokens
 * (ADR 0017), behind the SDK's tokenizer (BlindTokenizer's measurement
 * knob), each keyed with the same 32-byte token key, its keyed state made
 * once and cloned (or reset) per term: HMAC-SHA-256 (the first scheme),
 * keyed BLAKE3 and keyed BLAKE2s by @noble/hashes, and keyed BLAKE2s-128 by
 * @stablelib/blake2s — the SDK's (token-prf.ts). SipHash-2-4/128 (the
 * `siphash` package, not a dependency) is measured in Node only, when
 * installed (scripts/bench-encryption.ts).
 */
import { type _BLAKE2s, blake2s } from '@noble/hashes/blake2.js';
import { type _BLAKE3, blake3 } from '@noble/hashes/blake3.js';
import { _HMAC } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { keyedBlake2s128, type TermPrfFactory } from '../../sdk/src/encryption/token-prf.ts';

export const hmacSha256: TermPrfFactory = (key) => {
  const keyed = new _HMAC(sha256, key);
  let scratch: typeof keyed | undefined;
  return (term, out) => {
    const mac = keyed._cloneInto(scratch);
    scratch = mac;
    mac.update(term);
    mac.digestInto(out);
  };
};

export const nobleKeyedBlake2s: TermPrfFactory = (key) => {
  const keyed = blake2s.create({ key });
  let scratch: _BLAKE2s | undefined;
  return (term, out) => {
    const h = keyed._cloneInto(scratch);
    scratch = h;
    h.update(term);
    h.digestInto(out);
  };
};

export const nobleKeyedBlake3: TermPrfFactory = (key) => {
  const keyed = blake3.create({ key });
  let scratch: _BLAKE3 | undefined;
  return (term, out) => {
    const h = keyed._cloneInto(scratch);
    scratch = h;
    h.update(term);
    h.digestInto(out);
  };
};

export const PRFS: readonly { name: string; factory: TermPrfFactory }[] = [
  { name: 'HMAC-SHA-256 (noble, v1)', factory: hmacSha256 },
  { name: 'keyed BLAKE3 (noble)', factory: nobleKeyedBlake3 },
  { name: 'keyed BLAKE2s (noble)', factory: nobleKeyedBlake2s },
  { name: 'keyed BLAKE2s-128 (StableLib, v2)', factory: keyedBlake2s128 },
];
