/**
 * The explorer's blind search (ui/src/encryption/blind-query.ts): the query
 * typed becomes the tokens the SDK would have sent for those words, clear
 * fields stay as typed, the result parses to the same shape, and what tokens
 * cannot express is refused.
 */
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../shared/query-language/parse.ts';
import { BlindTokenizer, createEncryption, generateEncryptionKey } from '../../sdk/src/encryption/index.ts';
import { blindQuery } from '../../ui/src/encryption/blind-query.ts';
import { BlindQueryError } from '../../ui/src/encryption/blind-state.ts';

const key = await generateEncryptionKey();
const tokenizer = await BlindTokenizer.fromSecret(key.searchSecret);
const t = (word: string) => tokenizer.token(word);
const none = new Set<string>();

describe('blind search in the explorer', () => {
  it('turns words into the tokens the SDK sends, and name:value of an encrypted attribute into its one token', async () => {
    const encryption = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret });
    expect(blindQuery('Declined', [tokenizer], none)).toBe(encryption.searchTokens('declined')[0]);
    expect(blindQuery('customer:alice@example.com', [tokenizer], none)).toBe(encryption.searchTokens('customer=alice@example.com')[0]);
    expect(blindQuery('attr.customer:alice@example.com', [tokenizer], none)).toBe(t('customer=alice@example.com'));
    // The tokens a sealed record carries hold the query's.
    const sealed = await encryption.encryptRecord({
      timestamp: '2026-11-30T00:00:00Z',
      level: 'warn',
      message: 'card declined for order A-17',
      attributes: { customer: 'alice@example.com' },
    });
    for (const token of blindQuery('"order a-17" customer:alice@example.com', [tokenizer], none).split(' ')) expect(sealed.encrypted.tokens).toContain(token);
  });

  it('keeps clear fields as typed: built-in ones, resource.*, and the clear attributes named', () => {
    expect(blindQuery('invoice service:billing level>=warn region:eu resource.host:db-1', [tokenizer], new Set(['region']))).toBe(
      `${t('invoice')} service:billing level>=warn region:eu resource.host:db-1`,
    );
  });

  it('keeps the query’s shape: negation, OR, parentheses, phrases (their words in any order)', () => {
    const sent = blindQuery('-"card declined" OR (level:error refund)', [tokenizer], none);
    expect(sent).toBe(`NOT (${t('card')} ${t('declined')}) OR level:error ${t('refund')}`); // AND binds tighter than OR: no parentheses needed
    expect(parseQuery(sent)).toMatchObject({
      type: 'or',
      children: [
        { type: 'not', child: { type: 'and' } },
        {
          type: 'and',
          children: [
            { type: 'field', field: 'level' },
            { type: 'text', value: t('refund') },
          ],
        },
      ],
    });
  });

  it('with several search secrets loaded, either secret’s tokens match', async () => {
    const second = await BlindTokenizer.fromSecret((await generateEncryptionKey()).searchSecret);
    expect(blindQuery('refund', [tokenizer, second], none)).toBe(`${t('refund')} OR ${second.token('refund')}`);
    expect(blindQuery('refund service:x', [tokenizer, second], none)).toBe(`(${t('refund')} OR ${second.token('refund')}) service:x`);
    // The same secret twice is one set of tokens.
    expect(blindQuery('refund', [tokenizer, tokenizer], none)).toBe(t('refund'));
  });

  it('refuses what tokens cannot express: a prefix, a comparison or existence test on an encrypted attribute, a query that does not parse', () => {
    for (const query of ['decl*', 'customer:ali*', 'amount>=10', 'customer:*', 'level:error AND', '"..."']) {
      expect(() => blindQuery(query, [tokenizer], none), query).toThrow(BlindQueryError);
    }
    expect(() => blindQuery('refund', [], none)).toThrow('search secret');
  });
});
