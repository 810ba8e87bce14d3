/**
 * Reading a log request's body within the configured limit.
 *
 * The limit counts bytes after decompression, and a gzip body is counted while
 * it is inflated: a 1 MB "zip bomb" that would inflate to gigabytes is cut off
 * at the limit, never held in memory. Decompression is the platform's
 * DecompressionStream.
 */
import { ApiError } from '../../shared/api-error.ts';

/** The body as text, and its size in bytes after decompression (what limits and quotas count). */
export async function readBodyText(request: Request, maxBytes: number): Promise<{ text: string; bytes: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const parts: string[] = [];
  let total = 0;
  try {
    total = await readDecoded(request, maxBytes, (value) => parts.push(decoder.decode(value, { stream: true })));
    parts.push(decoder.decode());
  } catch (err) {
    if (err instanceof TypeError && /decod|utf-?8/i.test(err.message)) {
      throw new ApiError(400, 'invalid_encoding', 'the body is not valid UTF-8');
    }
    throw err;
  }
  return { text: parts.join(''), bytes: total };
}

/** The body as bytes (for binary formats: protobuf, snappy), within the same limit. */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const total = await readDecoded(request, maxBytes, (value) => parts.push(value));
  if (parts.length === 1) return parts[0]!;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}

/** Streams the decompressed body to `sink`, refusing it past `maxBytes`; returns its size. */
async function readDecoded(request: Request, maxBytes: number, sink: (chunk: Uint8Array) => void): Promise<number> {
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported; send identity or gzip`, {
      field: 'Content-Encoding',
    });
  }
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return 0;

  const source = encoding === 'identity' ? request.body : request.body.pipeThrough(new DecompressionStream('gzip'));
  const reader = source.getReader();
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      if (encoding !== 'identity') throw new ApiError(400, 'invalid_gzip', `the gzip body could not be decompressed: ${(err as Error).message}`);
      throw err;
    }
    if (next.done) break;
    total += next.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    sink(next.value);
  }
  return total;
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'request_too_large', `the body exceeds ${maxBytes} bytes (counted after decompression)`, { limit: maxBytes });
}
