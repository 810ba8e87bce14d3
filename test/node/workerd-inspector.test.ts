/**
 * Which of workerd's isolates a selection names (scripts/workerd-inspector.ts): the local runtime
 * collects `miniflare` (never our workers), the soak judges `ours`, and a bisection names one
 * simulator at a time. The ids are those a local stack's inspector lists.
 */
import { describe, expect, it } from 'vitest';
import { selectTargets } from '../../scripts/workerd-inspector.ts';

const IDS = [
  'core:user:neurallog',
  'outbound:0',
  'cache:0',
  'assets:router:neurallog',
  'assets:rpc-proxy:neurallog',
  'core:user:neurallog-ingest',
  'd1:db:entry',
  'd1:db',
  'r2:bucket:entry',
  'r2:bucket',
  'core:user:neurallog-query',
  'core:user:neurallog-admin',
  'core:entry',
  'MINIFLARE_DEV_CONTROL',
  'r2:public',
  'core:user:dev-registry-proxy',
];

describe('selectTargets', () => {
  const cases: [string, string[]][] = [
    ['ours', ['core:user:neurallog', 'core:user:neurallog-ingest', 'core:user:neurallog-query', 'core:user:neurallog-admin']],
    [
      'miniflare',
      [
        'outbound:0',
        'cache:0',
        'assets:router:neurallog',
        'assets:rpc-proxy:neurallog',
        'd1:db:entry',
        'd1:db',
        'r2:bucket:entry',
        'r2:bucket',
        'core:entry',
        'MINIFLARE_DEV_CONTROL',
        'r2:public',
        'core:user:dev-registry-proxy',
      ],
    ],
    ['entry', ['core:entry']],
    ['r2', ['r2:bucket:entry', 'r2:bucket']],
    ['d1', ['d1:db:entry', 'd1:db']],
    ['ingest', ['core:user:neurallog-ingest']],
    ['gateway,assets', ['core:user:neurallog', 'assets:router:neurallog', 'assets:rpc-proxy:neurallog']],
    [' entry , d1:db ', ['d1:db', 'core:entry']],
    ['', []],
  ];
  it.each(cases)('%j selects %j', (spec, expected) => {
    expect(selectTargets(IDS, spec)).toEqual(expected);
  });

  it('never selects one of our workers for the local runtime’s collection, nor one of Miniflare’s as ours', () => {
    const ours = selectTargets(IDS, 'ours');
    expect(selectTargets(IDS, 'miniflare').filter((id) => ours.includes(id))).toEqual([]);
    expect([...ours, ...selectTargets(IDS, 'miniflare')].sort()).toEqual([...IDS].sort());
  });

  it('refuses a name that is neither a group nor an isolate, listing what there is', () => {
    expect(() => selectTargets(IDS, 'entry,r3')).toThrow(/no isolate or group named r3 .*groups: all, ours, miniflare/);
  });
});
