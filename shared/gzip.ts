/**
 * gzip with the platform's CompressionStream, and the one property of the
 * format the ingest path is built on: gzip members concatenate into a valid
 * gzip stream (RFC 1952 §2.2). The ingest worker compresses each batch's rows
 * once; the tenant actor stores the member as it is, and a flush sends the
 * members one after another — to ClickHouse as an insert body with
 * `Content-Encoding: gzip`, and to R2 after the archive's header member —
 * without decompressing or compressing anything.
 *
 * Readers: gzip(1), zlib (Node, Python, Go, Java) and ClickHouse read every
 * member of such a stream; the Compression Streams API of workerd and of
 * browsers stops at the end of the first member ("trailing bytes"). So every
 * member we write names its own size in the header's FEXTRA field (RFC 1952
 * §2.3.1.1: subfield `NL`, 4 bytes little-endian — the idea of BGZF's `BC`
 * without its 64 KiB bound), which every gzip reader skips and which lets
 * `gunzipMembers` cut the stream into members and decompress each with the
 * platform's DecompressionStream.
 */

/** FLG bit: an extra field follows the fixed header. */
const FEXTRA = 0x04;
/** The fixed header: ID1 ID2 CM FLG MTIME(4) XFL OS. */
const FIXED_HEADER = 10;
/** XLEN (2) + SI1 SI2 LEN(2) + the size (4). */
const EXTRA_FIELD = 2 + 4 + 4;
const SUBFIELD = [0x4e, 0x4c]; // 'N', 'L'

/** One gzip member of `text`, naming its own size (see above). */
export async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  const plain = new Uint8Array(await new Response(stream).arrayBuffer());
  if (plain[3]! & FEXTRA) return plain; // not the header we expect: leave it as the platform made it
  const member = new Uint8Array(plain.byteLength + EXTRA_FIELD);
  member.set(plain.subarray(0, FIXED_HEADER), 0);
  member[3] = plain[3]! | FEXTRA;
  const view = new DataView(member.buffer);
  view.setUint16(FIXED_HEADER, EXTRA_FIELD - 2, true);
  member[FIXED_HEADER + 2] = SUBFIELD[0]!;
  member[FIXED_HEADER + 3] = SUBFIELD[1]!;
  view.setUint16(FIXED_HEADER + 4, 4, true);
  view.setUint32(FIXED_HEADER + 6, member.byteLength, true);
  member.set(plain.subarray(FIXED_HEADER), FIXED_HEADER + EXTRA_FIELD);
  return member;
}

/** The text of one gzip member. */
export async function gunzip(data: Uint8Array | ArrayBuffer): Promise<string> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).text();
}

/**
 * The text of a stream of members: each member that names its size is
 * decompressed on its own; a member that does not (written by someone else)
 * is taken to run to the end.
 */
export async function gunzipMembers(data: Uint8Array | ArrayBuffer): Promise<string> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const texts: string[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const size = memberSize(bytes, at) ?? bytes.byteLength - at;
    texts.push(await gunzip(bytes.subarray(at, at + size)));
    at += size;
  }
  return texts.join('');
}

/** The size a member at `at` names in its `NL` subfield, or null. */
function memberSize(bytes: Uint8Array, at: number): number | null {
  if (bytes[at] !== 0x1f || bytes[at + 1] !== 0x8b || !(bytes[at + 3]! & FEXTRA)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + FIXED_HEADER + 2 > bytes.byteLength) return null;
  const xlen = view.getUint16(at + FIXED_HEADER, true);
  let p = at + FIXED_HEADER + 2;
  const end = Math.min(p + xlen, bytes.byteLength);
  while (p + 4 <= end) {
    const len = view.getUint16(p + 2, true);
    if (bytes[p] === SUBFIELD[0] && bytes[p + 1] === SUBFIELD[1] && len === 4 && p + 8 <= end) {
      const size = view.getUint32(p + 4, true);
      return size > 0 && at + size <= bytes.byteLength ? size : null;
    }
    p += 4 + len;
  }
  return null;
}

/** The members one after another: one gzip stream of their texts in order. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
