/**
 * The fault suite's report: a table per fault (how long, what the client was
 * answered, resume and drain times), the checker's tallies per tenant, and
 * the verdict — what the issue expects everywhere.
 */
import { fmt, type SuiteResult } from './schedule.ts';

export interface Verdict {
  ok: boolean;
  failures: string[];
}

/** What must hold after every run: nothing lost, duplicated or invented; refusals as 503 + Retry-After; recovery without help. */
export function verdict(result: SuiteResult): Verdict {
  const failures: string[] = [];
  for (const { tenant, tally } of result.tallies) {
    if (tally.lost > 0) failures.push(`${tenant}: ${tally.lost} lost (e.g. seq ${tally.examples.lost.join(', ')})`);
    if (tally.duplicated > 0) failures.push(`${tenant}: ${tally.duplicated} duplicated (e.g. seq ${tally.examples.duplicated.join(', ')})`);
    if (tally.phantom > 0) failures.push(`${tenant}: ${tally.phantom} phantom`);
  }
  if (result.unacknowledged > 0) failures.push(`${result.unacknowledged} batches never acknowledged (ingest did not resume)`);
  if (result.refused.length > 0) failures.push(`${result.refused.length} batches refused for good: ${JSON.stringify(result.refused.slice(0, 3))}`);
  if (result.serverErrors > 0) failures.push(`${result.serverErrors} answers were 500 (a refusal must be a 503 with Retry-After)`);
  // A 504 while the actors' disk is full is the known deviation (docs/reliability.md: workerd resets an
  // object whose own commit failed, and the worker cannot tell that from a lost answer): reported, not
  // failed. A 504 anywhere else is a failure.
  const unexplained = result.unknownOutcomes - diskFullUnknownOutcomes(result);
  if (unexplained > 0) failures.push(`${unexplained} answers were 504 (outcome unknown) where a refusal should be a 503 with Retry-After`);
  if (result.tooManyParts > 0) failures.push(`ClickHouse said "too many parts" ${result.tooManyParts} times`);
  for (const phase of result.phases) {
    if (phase.skipped) continue;
    if (phase.resumeMs === null) failures.push(`${phase.fault}: ingest did not resume`);
    if (phase.drainMs === null) failures.push(`${phase.fault}: the backlog did not drain`);
    if (phase.refusalsWithoutRetryAfter > 0) failures.push(`${phase.fault}: ${phase.refusalsWithoutRetryAfter} refusals without Retry-After`);
  }
  return { ok: failures.length === 0, failures };
}

/** 504s answered during the phases that fill the actors' disk (the known deviation). */
export function diskFullUnknownOutcomes(result: Pick<SuiteResult, 'phases'>): number {
  return result.phases.filter((p) => p.fault.startsWith('disk-full')).reduce((sum, p) => sum + (p.answers['504'] ?? 0), 0);
}

export function formatReport(result: SuiteResult): string {
  const lines: string[] = [];
  const v = verdict(result);
  lines.push(`Fault suite ${result.runId}, started ${result.startedAt}, ${(result.totalMs / 60_000).toFixed(1)} min`);
  lines.push(
    `canary: ${result.recordsPerSecond} records/s over ${result.tenants.map((t) => (t.shards > 1 ? `${t.id} (${t.shards} shards)` : t.id)).join(', ')}`,
  );
  lines.push('');
  lines.push('| fault | held | resumed after | drained after | client answers (status: count; 0 = no answer) | notes |');
  lines.push('|---|---|---|---|---|---|');
  for (const p of result.phases) {
    if (p.skipped) {
      lines.push(`| ${p.fault} | skipped: ${p.skipped} | | | | |`);
      continue;
    }
    const answers = Object.entries(p.answers)
      .map(([status, n]) => `${status}: ${n}`)
      .join(', ');
    lines.push(`| ${p.fault} | ${fmt(p.durationMs)} | ${fmt(p.resumeMs)} | ${fmt(p.drainMs)} | ${answers} | ${p.notes.join('; ')} |`);
  }
  lines.push('');
  lines.push('| tenant | sent | acknowledged | found | lost | duplicated | phantom | stored, ack lost |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const { tenant, tally: t } of result.tallies) {
    lines.push(`| ${tenant} | ${t.sent} | ${t.acked} | ${t.found} | ${t.lost} | ${t.duplicated} | ${t.phantom} | ${t.storedUnacknowledged} |`);
  }
  lines.push('');
  lines.push(
    `500s answered: ${result.serverErrors}; 504s (outcome unknown): ${result.unknownOutcomes}; batches refused for good: ${result.refused.length}; never acknowledged: ${result.unacknowledged}; ` +
      `"too many parts": ${result.tooManyParts}; most active parts in one partition: ${result.maxPartsPerPartition}`,
  );
  lines.push('');
  lines.push("The stack's error and warning events (count, first one):");
  for (const [name, { count, example }] of Object.entries(result.events)) lines.push(`  ${name} ×${count}: ${example.slice(0, 400)}`);
  if (result.unknownOutcomes > 0) {
    // Not a failure of the promise (nothing lost; the client retries under its key) but not the 503 the issue asks for:
    // docs/reliability.md, "known deviations".
    lines.push(`NOTE: ${result.unknownOutcomes} answers were 504 "outcome unknown" (with Retry-After) — expected 503; see docs/reliability.md`);
  }
  lines.push(v.ok ? 'VERDICT: pass — 0 lost, 0 duplicated, 0 phantom' : `VERDICT: FAIL\n${v.failures.map((f) => `  - ${f}`).join('\n')}`);
  return lines.join('\n');
}
