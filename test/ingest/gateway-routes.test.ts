import { describe, expect, it } from 'vitest';
import { allowedMethods, resolveUpstream } from '../../workers/gateway/routes.ts';

describe('gateway route table', () => {
  it('sends writes to ingest and reads to query on the shared path', () => {
    expect(resolveUpstream('POST', '/v1/logs')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/logs')).toBe('QUERY');
    expect(resolveUpstream('GET', '/v1/logs/')).toBe('QUERY');
    expect(resolveUpstream('DELETE', '/v1/logs')).toBeNull();
    expect(allowedMethods('/v1/logs')).toEqual(['POST', 'GET', 'HEAD']);
    expect(resolveUpstream('GET', '/v1/logsx')).toBeNull();
  });
});
