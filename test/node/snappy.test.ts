/**
 * Our snappy decoder (workers/ingest/protocols/snappy.ts) against the
 * reference: whatever the `snappy` native library (Google's C++ snappy)
 * compresses, we decompress to the same bytes; and input that is not snappy —
 * including the bodies that sent snappyjs into a (near-)endless loop — is
 * refused at once with a SnappyError.
 */
import fc from 'fast-check';
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { snappyUncompress, SnappyError, SnappyTooLargeError } from '../../workers/ingest/protocols/snappy.ts';

/** Data snappy compresses in every way: runs (overlapping copies), repeats far apart (2- and 4-byte offsets), noise (literals). */
const data = fc.oneof(
  fc.uint8Array({ maxLength: 5000 }),
  fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 200 })), { maxLength: 30 })
    .map((parts) => Uint8Array.from(parts.flatMap(([chunk, times]) => Array.from({ length: times }, () => [...chunk]).flat()))),
  fc.string({ maxLength: 3000 }).map((s) => new TextEncoder().encode(s.repeat(3))),
);

describe('snappy decoder', () => {
  it('decompresses what the reference implementation compresses, byte for byte', () => {
    fc.assert(
      fc.property(data, (bytes) => {
        expect(snappyUncompress(new Uint8Array(compressSync(Buffer.from(bytes))), 1 << 24)).toEqual(bytes);
      }),
      { numRuns: 1500 },
    );
    // Large: long literals (60–63 tags) and 4-byte offsets.
    const big = new Uint8Array(300_000).map((_, i) => (i * 2654435761) >>> 24);
    big.set(big.subarray(0, 70_000), 200_000);
    expect(snappyUncompress(new Uint8Array(compressSync(Buffer.from(big))), 1 << 24)).toEqual(big);
  });

  it('refuses the bodies that kept snappyjs busy (a negative long-literal length), at once', () => {
    for (const body of [
      [87, 252, 173, 243, 209, 194],
      [147, 13, 252, 105, 251, 189, 244, 219, 196, 17],
      [234, 59, 252, 134, 101, 186, 217, 221, 212],
      [102, 252, 192, 83, 230, 141, 28, 80, 110],
    ]) {
      expect(() => snappyUncompress(Uint8Array.from(body), 1 << 20)).toThrow(SnappyError);
    }
  });

  it('checks the declared size against the limit before allocating', () => {
    const declared = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]); // 2^32 - 1
    expect(() => snappyUncompress(declared, 1 << 20)).toThrow(SnappyTooLargeError);
    expect(() => snappyUncompress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x1f]), 1 << 20)).toThrow(/exceeds 32 bits/);
  });

  it('never throws anything but SnappyError on damaged or random input', () => {
    const damaged = fc.tuple(data, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([bytes, at, value]) => {
      const compressed = new Uint8Array(compressSync(Buffer.from(bytes)));
      compressed[at % compressed.length] = value;
      return compressed;
    });
    fc.assert(
      fc.property(fc.oneof(damaged, fc.uint8Array({ maxLength: 64 })), (body) => {
        try {
          snappyUncompress(body, 1 << 20);
        } catch (err) {
          expect(err).toBeInstanceOf(SnappyError);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
