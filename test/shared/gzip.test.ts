/**
 * shared/gzip.ts: members concatenate into one stream, and every member we
 * write names its size, so a stream of them is read whole even where the
 * platform's DecompressionStream stops after the first member.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes, gunzip, gunzipMembers, gzip } from '../../shared/gzip.ts';

async function platformGzip(text: string): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}

describe('gzip members', () => {
  it('reads back one member', async () => {
    const text = '["a",1]\n["ü€😀",2]\n';
    expect(await gunzip(await gzip(text))).toBe(text);
  });

  it('reads a stream of members whole, in order — where the platform alone reads only the first', async () => {
    const parts = ['["header"]\n', '["one"]\n["two"]\n', '', '["three"]\n'.repeat(10_000)];
    const stream = concatBytes(await Promise.all(parts.map(gzip)));
    expect(await gunzipMembers(stream)).toBe(parts.join(''));
    await expect(gunzip(stream)).rejects.toThrow();
  });

  it('takes a last member written by someone else (no size) as running to the end', async () => {
    const stream = concatBytes([await gzip('mine\n'), await platformGzip('theirs\n')]);
    expect(await gunzipMembers(stream)).toBe('mine\ntheirs\n');
  });

  it('refuses a stream whose sizes lie, rather than returning part of it', async () => {
    const member = await gzip('x\n'.repeat(100));
    const lying = member.slice();
    new DataView(lying.buffer).setUint32(16, 5, true); // the NL size: 5 bytes
    await expect(gunzipMembers(lying)).rejects.toThrow();
    const truncated = member.slice(0, member.byteLength - 4);
    await expect(gunzipMembers(truncated)).rejects.toThrow();
  });
});
