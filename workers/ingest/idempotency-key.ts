import { ApiError } from '../../shared/api-error.ts';

/**
 * The request's `Idempotency-Key` (the IETF httpapi draft's header, as Stripe
 * uses it): a batch sent again under the same key within a day is answered as
 * the first time and stored and counted once. Visible ASCII, 1–255 characters.
 */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = header.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1–255 visible ASCII characters', { field: 'Idempotency-Key' });
  }
  return key;
}
