/**
 * Run by Deno (test/sdk/encryption-deno.test.ts): the SDK's encryption, unchanged, seals a record for the
 * public key given (a JWK as JSON) and prints the record and the blind tokens of a word, as JSON.
 */
import { createEncryption } from '../../../sdk/src/encryption/index.ts';

const [publicKey, searchSecret] = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args;
const encryption = await createEncryption({ publicKey: JSON.parse(publicKey!), searchSecret: searchSecret!, encryptAttributes: ['user'] });
const record = await encryption.encryptRecord({ timestamp: new Date().toISOString(), level: 'info', message: 'sealed in deno', attributes: { user: 'dina' } });
console.log(JSON.stringify({ record, tokens: encryption.searchTokens('deno') }));
