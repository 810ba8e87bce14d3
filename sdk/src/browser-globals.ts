/**
 * The few browser-only APIs the SDK touches (page visibility, IndexedDB),
 * typed here and read from globalThis, so the core type-checks against the
 * Workers runtime's types as well as the DOM's, and simply finds them
 * missing outside a browser.
 */
export interface PageEvents {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

export interface IdbObjectStore {
  put(value: unknown): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
}

export interface IdbDatabase {
  createObjectStore(name: string, options: { keyPath: string }): IdbObjectStore;
  transaction(store: string, mode: 'readonly' | 'readwrite'): { objectStore(name: string): IdbObjectStore; commit?: () => void };
}

export interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}

export interface BrowserGlobals extends Partial<PageEvents> {
  document?: PageEvents & { visibilityState: string };
  indexedDB?: { open(name: string, version: number): IdbOpenRequest };
}

export const browser = globalThis as unknown as BrowserGlobals;
