import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../support/constants.ts';

const basic = `Basic ${btoa(`elastic:${TEST_API_KEY}`)}`;

function es(method: string, path: string, body?: string, auth = basic): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test/es${path}`, { method, headers: { authorization: auth, 'content-type': 'application/x-ndjson' }, body }),
  );
}

describe('Elasticsearch bulk API', () => {
  it('answers the probes shippers make first, as Elasticsearch', async () => {
    for (const path of ['', '/']) {
      const res = await es('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-elastic-product')).toBe('Elasticsearch');
      expect(await res.json()).toMatchObject({ version: { number: expect.stringMatching(/^8\./) }, tagline: 'You Know, for Search' });
    }
    expect(await (await es('PUT', '/_index_template/logs', '{}')).json()).toEqual({ acknowledged: true });
    const denied = await es('GET', '/', undefined, `Basic ${btoa('elastic:nlk_wrong')}`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { type: 'security_exception' }, status: 401 });
  });

  it('takes index/create pairs, answers per item, and fails only the bad items', async () => {
    const body = [
      '{"index":{"_index":"app-logs"}}',
      `{"@timestamp":"${new Date(Date.now() - 3_600_000).toISOString()}","message":"ok one","log":{"level":"warn"},"service":{"name":"api"}}`,
      '{"create":{"_index":"app-logs","_id":"fixed-id"}}',
      '{"message":"ok two"}',
      '{"index":{}}',
      '{"message": not json}',
      '{"delete":{"_index":"app-logs","_id":"x"}}',
      '{"index":{}}',
      '{"message":"bad trace","trace_id":"xyz"}',
      '',
    ].join('\n');
    const res = await es('POST', '/_bulk', body);
    expect(res.status).toBe(200);
    const json = await res.json<{ errors: boolean; items: Record<string, { status: number; _id: string; error?: { type: string } }>[] }>();
    expect(json.errors).toBe(true);
    expect(json.items.map((i) => Object.values(i)[0]!.status)).toEqual([201, 201, 400, 400, 400]);
    expect(json.items[1]!.create!._id).toBe('fixed-id');
    expect(json.items[2]!.index!.error!.type).toBe('document_parsing_exception');
    expect(Object.keys(json.items[3]!)).toEqual(['delete']);
  });

  it('rejects a malformed action line for the whole request, as Elasticsearch does', async () => {
    const res = await es('POST', '/app/_bulk', 'not json\n{"message":"x"}\n');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'illegal_argument_exception' }, status: 400 });
    const odd = await es('POST', '/_bulk', '{"index":{}}\n');
    expect(odd.status).toBe(400);
  });
});
