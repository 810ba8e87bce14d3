/** Where archived batches are read from: the local stack's R2 (./local-archive.ts) or, in tests, anything that lists and gets keys. */
export interface ArchiveSource {
  /** Keys under a prefix, every page. */
  list(prefix: string): AsyncIterable<string>;
  /** The tenants that have archived batches (the `logs/<tenant>/` prefixes). */
  tenants(): Promise<string[]>;
  /** An object's bytes; null when it is gone. */
  get(key: string): Promise<Uint8Array<ArrayBuffer> | null>;
}
