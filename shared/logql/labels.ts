/**
 * What a record's labels are, in LogQL's terms — the one definition the SQL
 * compiler, the in-memory evaluator and every answer share.
 *
 * - Stream labels (what a selector `{…}` matches, what /labels, /series and
 *   volume list): `service_name` (the record's service), `detected_level`
 *   (its level name from the SeverityNumber: trace … fatal, or unknown), and
 *   every resource attribute, its name made a Prometheus label name (every
 *   character other than a letter, digit or _ becomes _, a leading digit gets
 *   a _ before it: `service.namespace` → `service_namespace`, as Loki's OTLP
 *   ingestion names them).
 * - Entry labels (what the pipeline's label filters, grouping and the answer's
 *   streams see): the stream labels and the record's attributes, named the
 *   same way — our attributes are already parsed, so they play the part of
 *   Loki's structured metadata and of what `| json` / `| logfmt` extract.
 *   A stream label hides an attribute of the same name.
 * - `service` and `level` are other names for `service_name` and
 *   `detected_level` in matchers and filters; they are not labels of their own.
 * - A label whose value is empty is absent (as in Loki). When two keys of one
 *   map have the same label name, the key spelt exactly like the name wins,
 *   else the first.
 */
import { LEVEL_NAMES } from '../severity.ts';

/** Names that never come from the attribute maps. */
const RESERVED = new Set(['service_name', 'service', 'detected_level', 'level', '__error__', '__error_details__', '__line__', '__stream_shard__']);

export function isReservedLabel(name: string): boolean {
  return RESERVED.has(name);
}

/** An attribute key as a label name. */
export function labelNameOf(key: string): string {
  // One _ per UTF-8 byte, as ClickHouse's replaceRegexpAll (which works on bytes) writes it.
  const name = key.replace(/[^A-Za-z0-9_]/gu, (c) => '_'.repeat(utf8Bytes(c)));
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

function utf8Bytes(c: string): number {
  const code = c.codePointAt(0)!;
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

export function levelName(severityNumber: number): string {
  return LEVEL_NAMES[Math.min(Math.floor((severityNumber + 3) / 4), 6)] ?? 'unknown';
}

/** The columns labels come from. */
export interface LabelSource {
  ServiceName: string;
  SeverityNumber: number;
  ResourceAttributes: Record<string, string>;
  LogAttributes?: Record<string, string>;
}

/** A map's attributes as labels (exact spelling first, then the first key of each name; empty values absent). */
function addMapLabels(out: Map<string, string>, map: Record<string, string>): void {
  const keys = Object.keys(map);
  const taken = new Set<string>();
  for (const key of keys) {
    if (labelNameOf(key) !== key || isReservedLabel(key) || taken.has(key)) continue;
    taken.add(key);
    if (!out.has(key) && map[key] !== '') out.set(key, map[key]!);
  }
  for (const key of keys) {
    const name = labelNameOf(key);
    if (name === key || isReservedLabel(name) || taken.has(name)) continue;
    taken.add(name);
    if (!out.has(name) && map[key] !== '') out.set(name, map[key]!);
  }
}

/** A label's value in one map by the rule above ('' when absent): what the SQL's mapLabel() reads. */
export function mapLabel(map: Record<string, string>, name: string): string {
  if (isReservedLabel(name)) return '';
  if (Object.hasOwn(map, name)) return map[name]!;
  for (const key of Object.keys(map)) if (labelNameOf(key) === name) return map[key]!;
  return '';
}

export function streamLabels(row: LabelSource): Map<string, string> {
  const out = new Map<string, string>();
  if (row.ServiceName !== '') out.set('service_name', row.ServiceName);
  out.set('detected_level', levelName(row.SeverityNumber));
  addMapLabels(out, row.ResourceAttributes);
  return out;
}

export function entryLabels(row: LabelSource): Map<string, string> {
  const out = streamLabels(row);
  if (row.LogAttributes) addMapLabels(out, row.LogAttributes);
  return out;
}

/** A stream label's value ('' when absent), `service`/`level` included. */
export function streamLabel(row: LabelSource, name: string): string {
  if (name === 'service_name' || name === 'service') return row.ServiceName;
  if (name === 'detected_level' || name === 'level') return levelName(row.SeverityNumber);
  return mapLabel(row.ResourceAttributes, name);
}

/** An entry label's value ('' when absent): the stream label, else the attribute. */
export function entryLabel(row: LabelSource, name: string): string {
  const stream = streamLabel(row, name);
  if (stream !== '' || isReservedLabel(name)) return stream;
  return row.LogAttributes ? mapLabel(row.LogAttributes, name) : '';
}

/** A label set as a stable key (sorted names). */
export function labelsKey(labels: ReadonlyMap<string, string>): string {
  return JSON.stringify([...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** A label set as a JSON object for answers: null prototype, sorted names. */
export function labelsObject(labels: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of [...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) out[k] = v;
  return out;
}
