/**
 * Snappy block-format decompression (https://github.com/google/snappy/blob/main/format_description.txt),
 * the compression of Loki's protobuf push bodies.
 *
 * Hand-written because the pure-JS implementations on npm cannot take
 * untrusted input: snappyjs (and the copy of it in hyparquet) reads a long
 * literal's length as a signed 32-bit number, and a negative length moves the
 * read position backwards — our fuzzing found six-byte bodies that kept a
 * worker busy for seconds or forever. Native and WASM builds do not run in
 * Workers. This decoder checks every element against the input and the
 * declared output size before it copies, and each element consumes input, so
 * it runs in time linear in the body and allocates only the declared size
 * (which the caller bounds). Tested against the `snappy` native library's
 * output and fuzzed (test/ingest/snappy.test.ts, test/ingest/fuzz.test.ts).
 */

export class SnappyError extends Error {}

/** The declared (uncompressed) size exceeds what the caller accepts. */
export class SnappyTooLargeError extends SnappyError {
  constructor(
    readonly declared: number,
    readonly limit: number,
  ) {
    super(`the uncompressed length of ${declared} bytes exceeds ${limit}`);
  }
}

export function snappyUncompress(input: Uint8Array, maxLength: number): Uint8Array {
  // Preamble: the uncompressed length, a little-endian varint of at most 32 bits.
  let length = 0;
  let pos = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= input.length) throw new SnappyError('truncated length header');
    const byte = input[pos++]!;
    if (shift === 28 && byte > 0x0f) throw new SnappyError('length header exceeds 32 bits');
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > maxLength) throw new SnappyTooLargeError(length, maxLength);

  const output = new Uint8Array(length);
  let out = 0;
  while (pos < input.length) {
    const tag = input[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      // Literal: length-1 in the tag's upper 6 bits, or in the 1–4 bytes that follow (60–63).
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (pos + extra > input.length) throw new SnappyError('truncated literal length');
        len = 0;
        for (let i = 0; i < extra; i++) len += input[pos + i]! * 2 ** (8 * i);
        pos += extra;
      }
      len += 1;
      if (len > input.length - pos) throw new SnappyError('literal runs past the end of the input');
      if (len > length - out) throw new SnappyError('literal runs past the declared length');
      output.set(input.subarray(pos, pos + len), out);
      pos += len;
      out += len;
      continue;
    }
    // Copy: `len` bytes from `offset` bytes back in the output.
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (pos + 1 > input.length) throw new SnappyError('truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[pos]!;
      pos += 1;
    } else if (kind === 2) {
      if (pos + 2 > input.length) throw new SnappyError('truncated copy');
      len = (tag >>> 2) + 1;
      offset = input[pos]! | (input[pos + 1]! << 8);
      pos += 2;
    } else {
      if (pos + 4 > input.length) throw new SnappyError('truncated copy');
      len = (tag >>> 2) + 1;
      offset = (input[pos]! | (input[pos + 1]! << 8) | (input[pos + 2]! << 16)) + input[pos + 3]! * 2 ** 24;
      pos += 4;
    }
    if (offset === 0 || offset > out) throw new SnappyError(`copy offset ${offset} is outside the ${out} bytes written so far`);
    if (len > length - out) throw new SnappyError('copy runs past the declared length');
    if (offset >= len) {
      output.copyWithin(out, out - offset, out - offset + len);
    } else {
      // The copy overlaps its own output (a repeated pattern): byte by byte.
      for (let i = 0; i < len; i++) output[out + i] = output[out - offset + i]!;
    }
    out += len;
  }
  if (out !== length) throw new SnappyError(`the data holds ${out} bytes; the header declares ${length}`);
  return output;
}
