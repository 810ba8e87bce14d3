/**
 * Loki's live tail (GET /loki/api/v1/tail) over NeuralLog's own: what a
 * socket's LogQL keeps of the records its tenant's actors accept, and the
 * frames Loki sends for them (pkg/loghttp/tail.go):
 *
 *   {"streams": [{"stream": {labels}, "values": [["<ns>", "<line>"]]}],
 *    "dropped_entries": [{"labels": {labels}, "timestamp": "<ns>"}]}
 *
 * Both keys are left out when empty (Go's omitempty), as Loki does. A frame
 * holds at most 100 entries and 1,000 dropped entries (Loki's
 * maxEntriesPerTailResponse and maxDroppedEntriesPerTailResponse): past
 * those, entries go in further frames and dropped entries are skipped.
 *
 * The records are matched with the in-memory evaluator (evaluate.ts): the
 * same meaning as the SQL a query_range of the same LogQL runs.
 */
import type { StoredLog } from '../log-record.ts';
import { LogqlError, type LogQuery } from './ast.ts';
import { applyFormatting, compileSelection, type EvalRow, toStreams } from './evaluate.ts';
import { entryLabels, labelsObject } from './labels.ts';
import { parseLogql } from './parse.ts';
import { clickHouseTimeToNs } from './time.ts';

export const MAX_ENTRIES_PER_FRAME = 100;
export const MAX_DROPPED_PER_FRAME = 1_000;

export interface TailQuery {
  query: LogQuery;
  matches: (row: EvalRow) => boolean;
}

/** A tail's LogQL: a log query (a metric query is a 400, as in Loki), compiled to a matcher. */
export function compileTailQuery(text: string): TailQuery {
  const query = parseLogql(text);
  if (query.kind !== 'log') throw new LogqlError('tail supports log queries only, not metric queries: drop the range aggregation');
  return { query, matches: compileSelection(query) };
}

/** A stored row (ClickHouse's text times) as the evaluator's row. */
export function toTailRow(row: StoredLog): EvalRow {
  return {
    ns: clickHouseTimeToNs(row.Timestamp),
    LogId: row.LogId,
    Body: row.Body,
    ServiceName: row.ServiceName,
    SeverityNumber: row.SeverityNumber,
    ResourceAttributes: row.ResourceAttributes,
    LogAttributes: row.LogAttributes,
  };
}

function byTime(a: EvalRow, b: EvalRow): number {
  return a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.LogId < b.LogId ? -1 : a.LogId > b.LogId ? 1 : 0;
}

/** The frames (JSON texts) for the matching rows a socket gets and those its budget dropped. */
export function tailFrames(query: LogQuery, sent: EvalRow[], dropped: EvalRow[]): string[] {
  const ordered = [...sent].sort(byTime);
  const droppedEntries = [...dropped]
    .sort(byTime)
    .slice(0, MAX_DROPPED_PER_FRAME)
    .map((row) => ({ labels: labelsObject(applyFormatting(query.stages, entryLabels(row), row.Body).labels), timestamp: row.ns.toString() }));
  const frames: string[] = [];
  for (let at = 0; at < ordered.length || (at === 0 && droppedEntries.length > 0); at += MAX_ENTRIES_PER_FRAME) {
    const streams = toStreams(query.stages, ordered.slice(at, at + MAX_ENTRIES_PER_FRAME)).map((s) => ({
      stream: labelsObject(s.labels),
      values: s.entries.map(([ns, line]) => [ns.toString(), line]),
    }));
    // The dropped entries travel with the first frame, as Loki sends them with its next response.
    const frame = { ...(streams.length > 0 ? { streams } : {}), ...(at === 0 && droppedEntries.length > 0 ? { dropped_entries: droppedEntries } : {}) };
    frames.push(JSON.stringify(frame));
  }
  return frames;
}
