import { describe, expect, it } from 'vitest';
import { allowedMethods, resolveUpstream } from '../../workers/gateway/routes.ts';

describe('gateway route table', () => {
  it('sends writes to ingest and reads to query on the shared path', () => {
    expect(resolveUpstream('POST', '/v1/logs')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/logs')).toBe('QUERY');
    expect(resolveUpstream('GET', '/v1/logs/')).toBe('QUERY');
    expect(resolveUpstream('DELETE', '/v1/logs')).toBe('INGEST'); // erasure reaches the actors' buffers
    expect(resolveUpstream('GET', '/v1/dead-letters')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/dead-letters/2026-11-29/01M8ME5PE26NQ63BXN8C87A7YX')).toBe('INGEST');
    expect(resolveUpstream('PUT', '/v1/logs')).toBeNull();
    expect(allowedMethods('/v1/logs')).toEqual(['POST', 'DELETE', 'GET', 'HEAD']);
    expect(resolveUpstream('GET', '/v1/logs/histogram')).toBe('QUERY');
    expect(resolveUpstream('POST', '/v1/logs/histogram')).toBeNull();
    expect(resolveUpstream('GET', '/v1/tail')).toBe('INGEST'); // served by the actors' TailHub
    expect(resolveUpstream('POST', '/otlp/v1/logs')).toBe('INGEST');
    expect(resolveUpstream('POST', '/loki/api/v1/push')).toBe('INGEST');
    expect(resolveUpstream('POST', '/v1/syslog')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/logsx')).toBeNull();
  });
});
