/**
 * The ingest worker's copies of the actors' templates
 * (workers/ingest/pattern-snapshots.ts): what it asks the actor, and when.
 * The actor here is a stand-in that counts the snapshots it is asked for.
 */
import { describe, expect, it } from 'vitest';
import type { PatternSnapshot, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { PatternMiner, templateToId } from '../../shared/patterns/miner.ts';
import { MAX_COPIES, MAX_TEMPLATES_HELD, PatternSnapshots, REFRESH_MS } from '../../workers/ingest/pattern-snapshots.ts';

class ActorStandIn {
  asked = 0;
  failing = false;
  constructor(public snapshot: PatternSnapshot) {}
  async patternSnapshot(): Promise<PatternSnapshot> {
    this.asked++;
    if (this.failing) throw new Error('actor unavailable');
    return this.snapshot;
  }
  get stub(): DurableObjectStub<TenantActor> {
    return this as unknown as DurableObjectStub<TenantActor>;
  }
}

const templates = (...list: string[]) => list.map((template) => ({ service: 'api', template }));

describe('the worker’s copies of the actors’ templates', () => {
  it('asks once for concurrent first requests, and labels with the actor’s ids', async () => {
    const snapshots = new PatternSnapshots();
    const actor = new ActorStandIn({ version: 'a.1', templates: templates('user <*> logged in') });
    const [one, two] = await Promise.all([snapshots.lookup('t', actor.stub), snapshots.lookup('t', actor.stub)]);
    expect(actor.asked).toBe(1);
    expect(one!('api', 'user bob logged in')).toBe(templateToId('api', 'user <*> logged in'));
    expect(two!('api', 'a shape it does not know')).toBeNull();
    expect(one!('__proto__', 'user bob logged in')).toBeNull();
  });

  it('refreshes only when the actor names another version, at most once per REFRESH_MS, and not again per request when that fails', async () => {
    const snapshots = new PatternSnapshots();
    const actor = new ActorStandIn({ version: 'a.1', templates: templates('user <*> logged in') });
    await snapshots.lookup('t', actor.stub);
    const now = Date.now();
    expect(snapshots.seen('t', actor.stub, 'a.1', now + REFRESH_MS)).toBeNull(); // same version
    expect(snapshots.seen('t', actor.stub, 'a.2', now)).toBeNull(); // too soon after the fetch
    actor.snapshot = { version: 'a.2', templates: templates('user <*> logged in', 'order <*> paid') };
    await snapshots.seen('t', actor.stub, 'a.2', now + REFRESH_MS);
    expect(actor.asked).toBe(2);
    expect((await snapshots.lookup('t', actor.stub))!('api', 'order 7 paid')).toBe(templateToId('api', 'order <*> paid'));

    actor.failing = true;
    const later = Date.now() + 2 * REFRESH_MS;
    await snapshots.seen('t', actor.stub, 'a.3', later);
    expect(snapshots.seen('t', actor.stub, 'a.3', later + 1)).toBeNull(); // the failed refresh waits too
    expect(actor.asked).toBe(3);
    // The copy it had still labels.
    expect((await snapshots.lookup('t', actor.stub))!('api', 'order 8 paid')).toBe(templateToId('api', 'order <*> paid'));
  });

  it('keeps a copy for each of 1,000 actors served in turn, so no request waits for its actor’s snapshot twice', async () => {
    // load:tenants' pattern: 1,000 tenants, each sending in rotation. With room for fewer copies
    // than tenants, the least recently used is always the next one needed: every request missed.
    const snapshots = new PatternSnapshots();
    const actors = Array.from({ length: 1_000 }, (_, i) => new ActorStandIn({ version: `${i}.1`, templates: templates('request <*> served') }));
    for (let round = 0; round < 3; round++) {
      for (const [i, actor] of actors.entries()) {
        const label = await snapshots.lookup(`tenant-${i}`, actor.stub);
        expect(label!('api', 'request 7 served')).toBe(templateToId('api', 'request <*> served'));
      }
    }
    expect(actors.map((a) => a.asked)).toEqual(actors.map(() => 1));

    // Still bounded: one more actor than there is room for drops the least recently used copy.
    const extra = Array.from({ length: MAX_COPIES }, () => new ActorStandIn({ version: 'a.1', templates: templates('job <*> done') }));
    for (const [i, actor] of extra.entries()) await snapshots.lookup(`extra-${i}`, actor.stub);
    await snapshots.lookup('tenant-0', actors[0]!.stub);
    expect(actors[0]!.asked).toBe(2);
  });

  it('holds no copy of an actor with more templates than an isolate may hold, and does not ask again per request', async () => {
    const snapshots = new PatternSnapshots();
    const many = Array.from({ length: MAX_TEMPLATES_HELD + 1 }, (_, i) => ({ service: 'api', template: `event${i} happened` }));
    const actor = new ActorStandIn({ version: 'a.1', templates: many });
    expect(await snapshots.lookup('t', actor.stub)).toBeNull();
    expect(await snapshots.lookup('t', actor.stub)).toBeNull();
    expect(actor.asked).toBe(1);
  });

  it('labels as the actor’s own miner would, for every message the copy matches', async () => {
    const miner = new PatternMiner();
    const messages = Array.from({ length: 30 }, (_, i) => `job ${i} took ${i * 3} ms on node${i % 3}`);
    for (const m of messages) miner.assign('api', m);
    const actor = new ActorStandIn({ version: 'a.1', templates: [...miner.templates()].map(({ service, template }) => ({ service, template })) });
    const label = (await new PatternSnapshots().lookup('t', actor.stub))!;
    for (const m of messages) expect(label('api', m)).toBe(miner.assign('api', m).patternId);
  });
});
