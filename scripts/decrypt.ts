/**
 * `npm run decrypt -- --key key.json [--key old.json] < export.ndjson`:
 * records as the search API or an export returns them (NDJSON, one record
 * a line, or search answers `{"logs": […]}`), decrypted with the private
 * keys given (several after a rotation) and printed as NDJSON: an encrypted
 * record with its body and encrypted attributes restored (and
 * `"decryptedWith": <kid>`), any other line as it came. A record that cannot
 * be decrypted is not printed: stderr says why — encrypted for another key
 * (naming it), or tampered with (GCM or AES-KW check failed) — and the exit
 * status is 1.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DecryptionError, Decryptor, envelopeOf } from '../sdk/src/encryption/index.ts';
import { readKeyFile } from './encryption-key-file.ts';

const { values } = parseArgs({ options: { key: { type: 'string', multiple: true } } });
if (!values.key?.length) {
  console.error('usage: npm run decrypt -- --key <key.json> [--key <older.json>] < export.ndjson');
  process.exit(2);
}
const decryptor = await Decryptor.create(values.key.map((path) => readKeyFile(path).privateKey));
let failures = 0;

async function emit(record: Record<string, unknown>): Promise<void> {
  if (!envelopeOf(record)) {
    console.log(JSON.stringify(record));
    return;
  }
  try {
    const { kid, message, attributes } = await decryptor.decrypt(record);
    const clear = (record.attributes ?? {}) as Record<string, unknown>;
    console.log(JSON.stringify({ ...record, body: message, attributes: { ...clear, ...attributes }, decryptedWith: kid }));
  } catch (err) {
    if (!(err instanceof DecryptionError)) throw err;
    failures++;
    const id = typeof record.id === 'string' ? record.id : '(no id)';
    console.error(`record ${id}: not decrypted — ${err.code === 'tampered' ? 'TAMPERED: ' : ''}${err.message}`);
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
  if (line.trim() === '') continue;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    console.log(line); // not JSON: passed through
    continue;
  }
  if (value !== null && typeof value === 'object' && Array.isArray((value as { logs?: unknown }).logs)) {
    for (const record of (value as { logs: Record<string, unknown>[] }).logs) await emit(record);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    await emit(value as Record<string, unknown>);
  } else {
    console.log(line);
  }
}
if (failures > 0) {
  console.error(`${failures} record${failures === 1 ? '' : 's'} not decrypted`);
  process.exit(1);
}
