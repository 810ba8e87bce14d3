/**
 * Optional IndexedDB persistence (browsers): batches saved when the page is
 * hidden, removed when acknowledged or dropped, and read back by the next
 * page of the same origin — which sends them under their saved
 * Idempotency-Keys, so a batch whose keepalive request did get through is
 * stored once.
 */
export interface StoredBatch {
  key: string;
  lines: string[];
  bytes: number;
  savedAt: number;
}

export interface BatchStore {
  save(batches: StoredBatch[]): void;
  remove(key: string): void;
  /** Every saved batch, oldest first. */
  load(): Promise<StoredBatch[]>;
}

import { browser, type IdbDatabase, type IdbObjectStore } from './browser-globals.ts';

const STORE = 'batches';

/** Saved batches older than the ingest's idempotency window (24 h) could be stored twice: they are not sent. */
const MAX_AGE_MS = 23 * 60 * 60 * 1000;

export function indexedDbStore(name: string): BatchStore | undefined {
  const idb = browser.indexedDB;
  if (!idb) return undefined;
  let db: Promise<IdbDatabase> | undefined;
  /** The open connection, once there is one: writes start their transaction synchronously, inside a pagehide handler, before the page can go. */
  let opened: IdbDatabase | undefined;
  const open = () => {
    db ??= new Promise<IdbDatabase>((resolve, reject) => {
      const request = idb.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'key' });
      request.onsuccess = () => {
        opened = request.result;
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
    });
    return db;
  };
  const write = (work: (store: IdbObjectStore) => void) => {
    const run = (database: IdbDatabase) => {
      const tx = database.transaction(STORE, 'readwrite');
      work(tx.objectStore(STORE));
      tx.commit?.();
    };
    try {
      if (opened) run(opened);
      else open().then(run, () => undefined);
    } catch {
      // a closing page or a full disk: the batch is still sent, just not kept
    }
  };
  void open().catch(() => undefined);
  return {
    save: (batches) =>
      write((store) => {
        for (const b of batches) store.put(b);
      }),
    remove: (key) => write((store) => store.delete(key)),
    load: async () => {
      const database = await open();
      const all = await new Promise<StoredBatch[]>((resolve, reject) => {
        const request = database.transaction(STORE, 'readonly').objectStore(STORE).getAll();
        request.onsuccess = () => resolve(request.result as StoredBatch[]);
        request.onerror = () => reject(request.error);
      });
      const fresh = all.filter((b) => Date.now() - b.savedAt < MAX_AGE_MS && Array.isArray(b.lines));
      for (const stale of all.filter((b) => !fresh.includes(b))) write((store) => store.delete(stale.key));
      return fresh.sort((a, b) => a.savedAt - b.savedAt);
    },
  };
}
