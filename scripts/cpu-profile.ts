/**
 * CPU profiles of workerd's isolates through the inspector (scripts/workerd-inspector.ts lists
 * them): a DevTools session on one isolate, and a sampling profile's self time per function.
 * Used by `npm run profile:abuse` and `npm run profile:ingest`.
 */
import WebSocket from 'ws';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface DevTools {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

export function devtools(url: string): Promise<DevTools> {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map<number, (value: unknown) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result ?? msg.error);
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        send: (method, params = {}) =>
          new Promise((done) => {
            const n = ++id;
            pending.set(n, done);
            ws.send(JSON.stringify({ id: n, method, params }));
          }),
        close: () => ws.close(),
      }),
    );
  });
}

/** A sampling profile's busy time (µs; idle apart, GC included and also given alone) and self time per `function  file:line`. */
export function selfTimes(profile: Profile): { busy: number; gc: number; self: Map<string, number> } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  profile.samples.forEach((nodeId, i) => {
    const frame = nodes.get(nodeId)!.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') return;
    busy += us;
    if (name === '(garbage collector)') gc += us;
    const where = frame.url ? `${frame.url.replace(/^.*\//, '')}:${frame.lineNumber + 1}` : 'native';
    self.set(`${name}  ${where}`, (self.get(`${name}  ${where}`) ?? 0) + us);
  });
  return { busy, gc, self };
}
