/**
 * Which buffered rows an erasure (`DELETE /v1/logs`) removes: the same scope
 * as its ClickHouse DELETE — time range, levels, services and the query —
 * evaluated on the row as buffered, with the query language's in-memory
 * evaluator (the same meaning as the SQL compiler's; a differential test
 * holds them together).
 */
import { compileMatcher } from '../../shared/query-language/evaluate.ts';
import { decodeStoredRow } from '../../shared/row-format.ts';
import type { EraseScope } from './contract.ts';

export function eraseMatcher(scope: EraseScope): (line: string) => boolean {
  const query = compileMatcher(scope.query, scope.now);
  const services = new Set(scope.services);
  return (line) => {
    const row = decodeStoredRow(line);
    if (row.Timestamp < scope.from || row.Timestamp >= scope.to) return false;
    if (scope.severityRanges.length > 0 && !scope.severityRanges.some(([lo, hi]) => row.SeverityNumber >= lo && row.SeverityNumber <= hi)) return false;
    if (services.size > 0 && !services.has(row.ServiceName)) return false;
    return query(row);
  };
}
