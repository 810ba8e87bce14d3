/**
 * The platform's levels, from its one level table (shared/severity.ts): the
 * SDK sends the level's name, which the ingest maps to the same
 * OpenTelemetry SeverityNumber range that `level:error` searches.
 */
import { SEVERITY_RANGES, type SeverityName } from '../../shared/severity.ts';

export type Level = SeverityName;

/** trace, debug, info, warn, error, fatal — least to most severe. */
export const LEVELS = Object.keys(SEVERITY_RANGES) as Level[];

const RANK: ReadonlyMap<string, number> = new Map(LEVELS.map((level, i) => [level, i]));

/** Position of a level in LEVELS (trace 0 … fatal 5); -1 for a name that is not a level. */
export function levelRank(level: string): number {
  return RANK.get(level) ?? -1;
}

/** The SeverityNumber a level starts at (info → 9), for adapters that speak numbers. */
export function severityNumberOf(level: Level): number {
  return SEVERITY_RANGES[level][0];
}

/** The level whose range holds an OpenTelemetry SeverityNumber (1–24); undefined outside it. */
export function levelOfSeverityNumber(n: number): Level | undefined {
  return LEVELS.find((level) => n >= SEVERITY_RANGES[level][0] && n <= SEVERITY_RANGES[level][1]);
}
