/**
 * The request body → a list of records. Three shapes are accepted, as log
 * shippers send them: a JSON array of objects, one JSON object, or NDJSON (one
 * object per line). The Content-Type says which; a body labelled JSON that is
 * really NDJSON (a common shipper misconfiguration) is read as NDJSON.
 */
import { ApiError } from '../../shared/api-error.ts';

export type BodyFormat = 'json' | 'ndjson';

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
  'application/json-lines',
]);

export function bodyFormat(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  // curl without -H sends form-urlencoded; a missing type we read as JSON.
  if (type === '' || type === 'application/json' || type.endsWith('+json')) return 'json';
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  throw new ApiError(
    415,
    'unsupported_media_type',
    `Content-Type "${type}" is not supported; send application/json (an object or an array of objects) or application/x-ndjson`,
    { field: 'Content-Type' },
  );
}

export function parseRecords(text: string, format: BodyFormat, maxRecords: number): unknown[] {
  if (text.trim() === '') throw new ApiError(400, 'empty_body', 'the body holds no records');
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (looksLikeNdjson(text)) return parseNdjson(text, maxRecords);
      throw new ApiError(400, 'malformed_json', `the body is not valid JSON: ${(err as Error).message}`);
    }
    const records = Array.isArray(value) ? value : [value];
    if (records.length > maxRecords) throw tooMany(records.length, maxRecords);
    if (records.length === 0) throw new ApiError(400, 'empty_body', 'the array holds no records');
    return records;
  }
  return parseNdjson(text, maxRecords);
}

function looksLikeNdjson(text: string): boolean {
  const firstBreak = text.indexOf('\n');
  return firstBreak !== -1 && text.slice(firstBreak).trim() !== '' && text.trimStart().startsWith('{');
}

function parseNdjson(text: string, maxRecords: number): unknown[] {
  const lines = text.split('\n');
  const records: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (records.length === maxRecords) throw tooMany(countNonEmpty(lines), maxRecords);
    try {
      records.push(JSON.parse(line));
    } catch (err) {
      throw new ApiError(400, 'malformed_json', `record ${records.length} (line ${i + 1}) is not valid JSON: ${(err as Error).message}`, {
        record: records.length,
        line: i + 1,
      });
    }
  }
  return records;
}

function countNonEmpty(lines: string[]): number {
  let n = 0;
  for (const line of lines) if (line.trim() !== '') n++;
  return n;
}

function tooMany(count: number, limit: number): ApiError {
  return new ApiError(413, 'too_many_records', `the request holds ${count} records; the limit is ${limit}`, { records: count, limit });
}
