/**
 * Work that may outlive the response: a request hands it to its
 * ExecutionContext's `waitUntil`, so the runtime keeps the request's context
 * alive until the work settles (and work other requests await — a shared
 * D1 read — is not cancelled when this one ends).
 */
import type { Context } from 'hono';

/** Lets work outlive the response (the request's ExecutionContext), or runs it unattended where there is none. */
export type Background = (work: Promise<unknown>) => void;

/** Where there is no ExecutionContext (an app or a function called directly, in a test): the work runs, its failure is dropped. */
export const unattended: Background = (work) => void work.catch(() => undefined);

/** The request's `waitUntil`, from a Hono context. */
export function backgroundOf(c: Context): Background {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return unattended;
  }
}
