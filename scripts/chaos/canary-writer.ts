/**
 * The canary writer: a steady stream of numbered records per tenant, sent
 * the way a careful shipper sends — every batch under its own
 * Idempotency-Key, retried with the same body and key until it is seen
 * acknowledged (scripts/chaos/retry-decision.ts) — and a ledger of what was
 * sent and acknowledged, for the checker (scripts/chaos/checker.ts).
 *
 * Each record carries its number three ways: the attributes `canary_seq`,
 * `canary_writer` and `canary_run`, and the body (`canary <run> <tenant>
 * seq=<n>`), so the run's records are found by one word (the run id).
 */
import { type AttemptOutcome, nextStep } from './retry-decision.ts';
import type { SentBatch } from './tally.ts';

export interface CanaryTenant {
  id: string;
  /** logs:write and logs:read. */
  key: string;
  /** The plan's shard count (1: one actor). */
  shards: number;
}

export interface CanaryWriterOptions {
  url: string;
  /** One word, in every record: the checker searches for it. */
  runId: string;
  tenants: CanaryTenant[];
  /** Records per second, all tenants together. */
  recordsPerSecond: number;
  recordsPerBatch: number;
  /** Batches of one tenant in flight at once. */
  concurrency?: number;
}

interface Batch extends SentBatch {
  key: string;
  body: string;
  attempts: number;
  /** Refused for good: no longer pending. */
  refused: boolean;
}

/** What the stack answered, in order: the schedule reads the ones of each fault's window. */
export interface AnswerEvent {
  at: number;
  tenant: string;
  /** 0: no answer (connection refused or dropped). */
  status: number;
  retryAfter: string | null;
}

export class TenantLedger {
  readonly batches: Batch[] = [];
  /** Batches waiting for a sender (new ones, and none else: a sender keeps its batch until acked). */
  readonly queue: Batch[] = [];
  nextSeq = 0;
  lastAckAt = 0;
  ackedRecords = 0;
  constructor(readonly tenant: CanaryTenant) {}
}

export class CanaryWriter {
  readonly ledgers: Map<string, TenantLedger>;
  readonly answers: AnswerEvent[] = [];
  /** Batches the server refused for good (a 4xx): a bug, reported. */
  readonly refused: { tenant: string; status: number; key: string }[] = [];
  #generating = false;
  #timer: NodeJS.Timeout | null = null;
  #senders: Promise<void>[] = [];
  #stopping = false;

  constructor(readonly options: CanaryWriterOptions) {
    this.ledgers = new Map(options.tenants.map((t) => [t.id, new TenantLedger(t)]));
  }

  start(): void {
    this.#generating = true;
    const perTenant = this.options.recordsPerSecond / this.options.tenants.length;
    const intervalMs = Math.max(10, (1000 * this.options.recordsPerBatch) / perTenant);
    // Batches are made on a clock, whatever the stack answers: a fault grows the client's backlog, as it would a shipper's.
    this.#timer = setInterval(() => {
      if (!this.#generating) return;
      for (const ledger of this.ledgers.values()) ledger.queue.push(this.#makeBatch(ledger));
    }, intervalMs);
    for (const ledger of this.ledgers.values()) {
      for (let i = 0; i < (this.options.concurrency ?? 2); i++) this.#senders.push(this.#sender(ledger));
    }
  }

  /** Stops making batches; resolves when every batch made was acknowledged (or refused), or after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<{ unacknowledged: number }> {
    this.#generating = false;
    if (this.#timer) clearInterval(this.#timer);
    const deadline = Date.now() + timeoutMs;
    while (this.pendingBatches() > 0 && Date.now() < deadline) await sleep(200);
    this.#stopping = true;
    await Promise.all(this.#senders);
    return { unacknowledged: this.pendingBatches() };
  }

  pendingBatches(): number {
    let n = 0;
    for (const ledger of this.ledgers.values()) for (const b of ledger.batches) if (!b.acked && !b.refused) n++;
    return n;
  }

  /** Records acknowledged so far, all tenants. */
  ackedRecords(): number {
    let n = 0;
    for (const ledger of this.ledgers.values()) n += ledger.ackedRecords;
    return n;
  }

  #makeBatch(ledger: TenantLedger): Batch {
    const { runId, recordsPerBatch } = this.options;
    const from = ledger.nextSeq;
    ledger.nextSeq += recordsPerBatch;
    const at = new Date().toISOString();
    const records = [];
    for (let seq = from; seq < from + recordsPerBatch; seq++) {
      records.push({
        timestamp: at,
        level: 'info',
        service: 'canary',
        message: `canary ${runId} ${ledger.tenant.id} seq=${seq}`,
        canary_run: runId,
        canary_writer: `${runId}-${ledger.tenant.id}`,
        canary_seq: seq,
      });
    }
    const batch: Batch = {
      from,
      to: from + recordsPerBatch,
      attempted: false,
      acked: false,
      key: `${runId}-${ledger.tenant.id}-${from}`,
      body: JSON.stringify(records),
      attempts: 0,
      refused: false,
    };
    ledger.batches.push(batch);
    return batch;
  }

  async #sender(ledger: TenantLedger): Promise<void> {
    while (!this.#stopping) {
      const batch = ledger.queue.shift();
      if (!batch) {
        await sleep(20);
        continue;
      }
      await this.#deliver(ledger, batch);
    }
  }

  /** Sends one batch until it is acknowledged (or refused for good, or the writer is stopped). */
  async #deliver(ledger: TenantLedger, batch: Batch): Promise<void> {
    while (!this.#stopping) {
      batch.attempts++;
      batch.attempted = true;
      const outcome = await this.#attempt(ledger, batch);
      const at = Date.now();
      this.answers.push({
        at,
        tenant: ledger.tenant.id,
        status: 'status' in outcome ? outcome.status : 0,
        retryAfter: 'status' in outcome ? outcome.retryAfter : null,
      });
      const step = nextStep(outcome, batch.attempts, Math.random());
      if (step.kind === 'acked') {
        batch.acked = true;
        ledger.lastAckAt = at;
        ledger.ackedRecords += batch.to - batch.from;
        return;
      }
      if (step.kind === 'refused') {
        batch.refused = true;
        this.refused.push({ tenant: ledger.tenant.id, status: step.status, key: batch.key });
        return;
      }
      await sleep(step.afterMs);
    }
  }

  async #attempt(ledger: TenantLedger, batch: Batch): Promise<AttemptOutcome> {
    try {
      const res = await fetch(`${this.options.url}/v1/logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ledger.tenant.key}`, 'content-type': 'application/json', 'idempotency-key': batch.key },
        body: batch.body,
        signal: AbortSignal.timeout(60_000),
      });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    } catch (err) {
      return { networkError: (err as Error).message };
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
