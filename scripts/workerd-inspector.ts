/**
 * A DevTools-protocol client for workerd's isolates, through its inspector
 * (`inspectorPort` of Miniflare: NEURALLOG_INSPECTOR_PORT): list them, read a
 * heap, force a full GC.
 *
 * workerd runs one isolate per worker, and Miniflare adds its own: the entry
 * worker every request passes through (`core:entry`), the assets router and
 * RPC proxy in front of a worker with assets (`assets:*`), the R2 and D1
 * simulators (`r2:<bucket>`, `d1:<db>`) and their entry workers, caches and
 * outbound services. Used by the local runtime (scripts/workers-runtime.ts:
 * periodic GC of Miniflare's isolates) and the soak's memory probe
 * (scripts/soak/memory-probe.ts).
 */
import WebSocket from 'ws';

export interface InspectorTarget {
  /** workerd's name for the isolate's service, e.g. `core:user:neurallog-ingest`, `core:entry`, `r2:bucket`. */
  id: string;
  webSocketDebuggerUrl: string;
}

/** The isolates an inspector serves (its /json list). */
export async function inspectorTargets(inspectorPort: number): Promise<InspectorTarget[]> {
  const res = await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(10_000) });
  const list = (await res.json()) as { id: string; webSocketDebuggerUrl: string }[];
  return list.map(({ id, webSocketDebuggerUrl }) => ({ id, webSocketDebuggerUrl }));
}

/**
 * Short names for the isolates a soak is about, so `SOAK_FORCE_GC=entry,r2` reads as what it
 * selects. Anything else is matched as a target id, exactly.
 */
/**
 * Our workers' isolates (the ingest isolate also hosts the Durable Objects): Miniflare names a user
 * worker's service `core:user:<name>`, its own dev-registry proxy (NEURALLOG_ACTORS_APART) too.
 */
const isOurs = (id: string) => id.startsWith('core:user:') && id !== 'core:user:dev-registry-proxy';

const TARGET_GROUPS: ReadonlyMap<string, (id: string) => boolean> = new Map([
  ['all', () => true],
  ['ours', isOurs],
  /** Everything Miniflare adds around them. */
  ['miniflare', (id: string) => !isOurs(id)],
  ['gateway', (id: string) => id === 'core:user:neurallog'],
  ['ingest', (id: string) => id === 'core:user:neurallog-ingest' || id === 'core:user:neurallog-actors'],
  ['entry', (id: string) => id === 'core:entry'],
  ['assets', (id: string) => id.startsWith('assets:')],
  ['r2', (id: string) => id.startsWith('r2:') && id !== 'r2:public'],
  ['d1', (id: string) => id.startsWith('d1:')],
]);

/** The target ids a comma-separated spec (group names and/or exact ids) selects, in the inspector's order. */
export function selectTargets(ids: readonly string[], spec: string): string[] {
  const parts = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = parts.filter((p) => !TARGET_GROUPS.has(p) && !ids.includes(p));
  if (unknown.length > 0)
    throw new Error(`no isolate or group named ${unknown.join(', ')} (groups: ${[...TARGET_GROUPS.keys()].join(', ')}; isolates: ${ids.join(', ')})`);
  return ids.filter((id) => parts.some((p) => p === id || TARGET_GROUPS.get(p)?.(id) === true));
}

export interface HeapUsage {
  /** Live (and not yet collected) objects in the V8 heap. */
  usedBytes: number;
  /** What the V8 heap has committed. */
  totalBytes: number;
  /** Native memory workerd reports as held by JS objects (streams, buffers), and ArrayBuffer backing stores. */
  embedderBytes: number;
  backingStorageBytes: number;
}

/**
 * One DevTools session on an isolate: optionally a full GC, then its heap usage. Null when the
 * isolate does not answer in time: the heap is read at once, but the GC runs (and is answered) at
 * the isolate's next event, so an idle isolate does not answer a GC request until it gets work.
 */
export async function isolateHeap(target: InspectorTarget, options: { collectGarbage: boolean; timeoutMs?: number }): Promise<HeapUsage | null> {
  const methods = options.collectGarbage ? ['HeapProfiler.collectGarbage', 'Runtime.getHeapUsage'] : ['Runtime.getHeapUsage'];
  return new Promise((resolve) => {
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    const finish = (value: HeapUsage | null) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), options.timeoutMs ?? 15_000);
    let sent = 0;
    const next = () => ws.send(JSON.stringify({ id: ++sent, method: methods[sent - 1], params: {} }));
    ws.on('open', next);
    ws.on('error', () => finish(null));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, number>; error?: unknown };
      if (message.id !== sent) return; // events, or an answer to nothing we asked
      if (!message.result) return finish(null);
      if (sent < methods.length) return next();
      const u = message.result;
      finish({
        usedBytes: u.usedSize ?? 0,
        totalBytes: u.totalSize ?? 0,
        embedderBytes: u.embedderHeapUsedSize ?? 0,
        backingStorageBytes: u.backingStorageSize ?? 0,
      });
    });
  });
}

/**
 * Heap usage of the selected isolates, all at once. With `collectGarbage`, an isolate answers only
 * after its next event (below), so an idle one answers null after `timeoutMs`.
 */
export async function isolateHeaps(inspectorPort: number, spec: string, collectGarbage: boolean, timeoutMs = 15_000): Promise<Map<string, HeapUsage | null>> {
  const targets = await inspectorTargets(inspectorPort);
  const chosen = selectTargets(
    targets.map((t) => t.id),
    spec,
  );
  const usage = await Promise.all(chosen.map((id) => isolateHeap(targets.find((t) => t.id === id)!, { collectGarbage, timeoutMs })));
  return new Map(chosen.map((id, i) => [id, usage[i]!]));
}

/**
 * A full GC of the selected isolates every `everyMs`, until stopped.
 *
 * workerd runs the collection V8's inspector asks for as a task of the isolate, that is at its
 * next event, and answers then: an isolate that gets traffic is collected within the round, an
 * idle one (which makes no garbage) when it next wakes. So each round asks every selected isolate
 * that has no request outstanding and does not wait for the answers; a request is given up after
 * `everyMs * 20`. Each answer (the heap right after the collection: the isolate's live heap) goes
 * to `onCollected`. A round that fails (workerd restarting, say) is reported to `onError` and the
 * next one tries again.
 */
export function collectGarbageEvery(
  inspectorPort: number,
  spec: string,
  everyMs: number,
  callbacks: { onCollected?: (id: string, heap: HeapUsage) => void; onError?: (err: Error) => void } = {},
): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const outstanding = new Set<string>();
  const round = async () => {
    try {
      const targets = await inspectorTargets(inspectorPort);
      for (const id of selectTargets(
        targets.map((t) => t.id),
        spec,
      )) {
        if (outstanding.has(id)) continue;
        outstanding.add(id);
        void isolateHeap(targets.find((t) => t.id === id)!, { collectGarbage: true, timeoutMs: everyMs * 20 }).then((heap) => {
          outstanding.delete(id);
          if (heap && !stopped) callbacks.onCollected?.(id, heap);
        });
      }
    } catch (err) {
      callbacks.onError?.(err as Error);
    }
    if (!stopped) timer = setTimeout(round, everyMs);
  };
  timer = setTimeout(round, everyMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
