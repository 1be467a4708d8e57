// Signed values (src/middleware/signing.ts): only the exact, canonical signature verifies.
// base64url has several spellings of the same bytes (a flipped unused low bit in the last
// character, `=` padding, the `+/` alphabet); Node's decoder accepts them all, so a signature
// compared as decoded bytes lets a tampered cookie string verify.
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Signer } from 'switchyard/middleware';

const signer = new Signer(['secret-one', 'secret-two'], { salt: 'test' });
const NOW = Date.UTC(2026, 0, 1);

function parts(signed: string): { stamped: string; signature: string } {
  const dot = signed.lastIndexOf('.');
  return { stamped: signed.slice(0, dot), signature: signed.slice(dot + 1) };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

test('the signature as issued verifies', () => {
  const signed = signer.sign('value', NOW);
  assert.equal(signer.unsign(signed, null, NOW), 'value');
  assert.match(parts(signed).signature, /^[A-Za-z0-9_-]{43}$/);
});

test('a flipped unused bit in the last character does not verify', () => {
  const signed = signer.sign('value', NOW);
  const { stamped, signature } = parts(signed);
  // 32 bytes = 43 characters; the last one carries 4 data bits and 2 unused ones.
  const last = ALPHABET.indexOf(signature.at(-1)!);
  for (const flip of [1, 2, 3]) {
    const variant = `${stamped}.${signature.slice(0, -1)}${ALPHABET[last ^ flip]}`;
    assert.deepEqual(Buffer.from(variant.slice(variant.lastIndexOf('.') + 1), 'base64url'), Buffer.from(signature, 'base64url'),
      'the variant decodes to the same bytes');
    assert.equal(signer.unsign(variant, null, NOW), null, `last character ^${flip}`);
  }
});

test('trailing "=" padding does not verify', () => {
  const signed = signer.sign('value', NOW);
  assert.equal(signer.unsign(`${signed}=`, null, NOW), null);
  assert.equal(signer.unsign(`${signed}==`, null, NOW), null);
});

test('the "+/" alphabet does not verify', () => {
  // Sign until the signature has a '-' or '_' to swap (most do).
  for (let i = 0; ; i++) {
    const signed = signer.sign(`value${i}`, NOW);
    if (!/[-_]/.test(parts(signed).signature)) continue;
    const swapped = signed.slice(0, signed.lastIndexOf('.') + 1) + parts(signed).signature.replace(/-/g, '+').replace(/_/g, '/');
    assert.equal(signer.unsign(signed, null, NOW), `value${i}`);
    assert.equal(signer.unsign(swapped, null, NOW), null);
    return;
  }
});

test('whitespace, other junk in the signature and a truncated signature do not verify', () => {
  const signed = signer.sign('value', NOW);
  const { stamped, signature } = parts(signed);
  for (const variant of [`${stamped}. ${signature}`, `${signed} `, `${signed}\n`, `${stamped}.${signature.slice(0, 20)}!${signature.slice(20)}`,
    `${stamped}.${signature.slice(0, -1)}`, `${stamped}.`]) {
    assert.equal(signer.unsign(variant, null, NOW), null, JSON.stringify(variant));
  }
});

test('the timestamp must be canonical base 36 too (signed with the right key, but spelled otherwise)', () => {
  const { stamped } = parts(signer.sign('value', NOW));
  const stamp = stamped.slice(stamped.lastIndexOf('.') + 1);
  assert.equal(signer.unsign(`value.${stamp}.${macOf('secret-one', `value.${stamp}`)}`, null, NOW), 'value', 'the forging helper is right');
  // parseInt would read a prefix, a sign, spaces or capitals of these.
  for (const badStamp of [`${stamp}!`, `+${stamp}`, ` ${stamp}`, stamp.toUpperCase(), '']) {
    const forged = `value.${badStamp}.${macOf('secret-one', `value.${badStamp}`)}`;
    assert.equal(signer.unsign(forged, null, NOW), null, JSON.stringify(badStamp));
  }
});

test('rotation: the second secret still verifies; a foreign secret or salt does not', () => {
  const old = new Signer(['secret-two'], { salt: 'test' }).sign('v', NOW);
  assert.equal(signer.unsign(old, null, NOW), 'v');
  assert.equal(signer.unsign(new Signer(['other'], { salt: 'test' }).sign('v', NOW), null, NOW), null);
  assert.equal(signer.unsign(new Signer(['secret-one'], { salt: 'other' }).sign('v', NOW), null, NOW), null);
});

/** The signature `Signer` computes (as Django's salted HMAC, see signing.ts), to forge values with a known key. */
function macOf(secret: string, data: string): string {
  const key = createHash('sha256').update(`test\0signer\0${secret}`).digest();
  return createHmac('sha256', key).update(data).digest('base64url');
}
