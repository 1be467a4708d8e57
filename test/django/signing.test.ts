// Django's signing, salted_hmac and session auth hash, against values computed
// by Debian's Django 3.2 itself (test/django/site/tools.py "vectors"), both
// ways; SECRET_KEY_FALLBACKS (Django ≥ 4.1, absent from 3.2) checked with
// values Django signed with the old key.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadSignature, DjangoSigner, DjangoTimestampSigner, PickledDataRefused, SignatureExpired,
  b62Decode, b62Encode, dumps, loads, saltedHmac, sessionAuthHash,
} from '../../src/django/index.js';
import { djangoTools } from './django-site.js';

const KEY = 'sy-new-secret-key-for-tests';
const OLD = 'sy-old-secret-key-for-tests';
const AT = 1700000000.5 * 1000;

interface Vectors {
  salted_hmac_sha1: string;
  salted_hmac_sha256: string;
  auth_hash: string;
  auth_hash_old_key: string;
  signed: string;
  signed_salt: string;
  timestamped: string;
  b62: string[];
  dumped: string;
  small: string;
  payload: Record<string, unknown>;
  by_old_key: string;
}

describe('Django signing, against Django 3.2', () => {
  let v: Vectors;
  before(async () => {
    [v] = await djangoTools<[Vectors]>({ DJSITE_SECRET_KEY: KEY, DJSITE_DATABASE: 'sqlite::memory:' }, [{ op: 'vectors', key: KEY, old_key: OLD }]);
  });

  test('salted_hmac (sha1 and sha256) and the session auth hash are Django\'s', () => {
    assert.equal(saltedHmac('sy.salt', 'value', KEY).toString('hex'), v.salted_hmac_sha1);
    assert.equal(saltedHmac('sy.salt', 'value', KEY, 'sha256').toString('hex'), v.salted_hmac_sha256);
    assert.equal(sessionAuthHash('md5$salt$abc', KEY), v.auth_hash);
    assert.equal(sessionAuthHash('md5$salt$abc', OLD), v.auth_hash_old_key);
  });

  test('Signer and TimestampSigner sign as Django, and verify Django\'s signatures', () => {
    assert.equal(new DjangoSigner({ key: KEY }).sign('hello'), v.signed);
    assert.equal(new DjangoSigner({ key: KEY, salt: 'sy.salt' }).sign('héllo'), v.signed_salt);
    assert.equal(new DjangoSigner({ key: KEY, salt: 'sy.salt' }).unsign(v.signed_salt), 'héllo');
    const stamper = new DjangoTimestampSigner({ key: KEY, salt: 'sy.salt' });
    assert.equal(stamper.sign('value', AT), v.timestamped);
    // Django stamps whole seconds: signed at 1700000000, so 60 s old at 1700000060.
    assert.equal(stamper.unsign(v.timestamped, 60, 1700000060 * 1000), 'value');
    assert.throws(() => stamper.unsign(v.timestamped, 60, 1700000060.001 * 1000), SignatureExpired);
    assert.deepEqual([0, 61, 62, 1700000000].map(b62Encode), v.b62);
    assert.deepEqual(v.b62.map(b62Decode), [0, 61, 62, 1700000000]);
    assert.ok(Number.isNaN(b62Decode('1r3!eq')));
  });

  test('dumps/loads: Django\'s compressed and plain tokens decode; ours match byte for byte up to zlib\'s own choices', () => {
    assert.deepEqual(loads(v.dumped, { key: KEY, salt: 'sy.salt' }), v.payload);
    assert.ok(v.dumped.startsWith('.'), 'Django compressed the large payload');
    // Node's zlib and Python's may pick other (equally valid) deflate matches: compare what they carry.
    const ours = dumps(v.payload, { key: KEY, salt: 'sy.salt' }, { compress: true, now: AT });
    assert.ok(ours.startsWith('.'), 'compressed as Django does, when shorter');
    assert.equal(ours.split(':')[1], v.dumped.split(':')[1], 'same timestamp');
    assert.deepEqual(loads(ours, { key: KEY, salt: 'sy.salt' }), v.payload);
    assert.equal(dumps({ a: 1 }, { key: KEY, salt: 'sy.salt' }, { compress: true, now: AT }), v.small);
    assert.deepEqual(loads(v.small, { key: KEY, salt: 'sy.salt' }), { a: 1 });
  });

  test('Django\'s signing.loads accepts a token Switchyard signed', async () => {
    const token = dumps({ from: 'switchyard', n: [1, 2, 3], text: 'snow ☃' }, { key: KEY, salt: 'sy.reverse' }, { compress: true });
    const [good, wrongSalt] = await djangoTools<[{ value: unknown }, { error: string }]>({ DJSITE_SECRET_KEY: KEY, DJSITE_DATABASE: 'sqlite::memory:' }, [
      { op: 'loads', token, key: KEY, salt: 'sy.reverse' },
      { op: 'loads', token, key: KEY, salt: 'other' },
    ]);
    assert.deepEqual(good.value, { from: 'switchyard', n: [1, 2, 3], text: 'snow ☃' });
    assert.equal(wrongSalt.error, 'BadSignature');
  });

  test('tampering, another salt or another key is BadSignature', () => {
    const options = { key: KEY, salt: 'sy.salt' };
    assert.throws(() => loads(v.dumped.replace(/:[^:]+$/, ':AAAA'), options), BadSignature);
    assert.throws(() => loads(`x${v.small}`, options), BadSignature);
    assert.throws(() => loads(v.small, { key: KEY, salt: 'other' }), BadSignature);
    assert.throws(() => loads(v.small, { key: OLD, salt: 'sy.salt' }), BadSignature);
    assert.throws(() => loads('no-separator', options), BadSignature);
    assert.throws(() => new DjangoSigner({ key: KEY, sep: 'a' }), TypeError);
    assert.throws(() => new DjangoSigner({ key: '' }), TypeError);
  });

  test('SECRET_KEY_FALLBACKS (Django ≥ 4.1 semantics): a token of the old key verifies only with the fallback', () => {
    const salt = 'django.contrib.sessions.backends.signed_cookies';
    assert.throws(() => loads(v.by_old_key, { key: KEY, salt }), BadSignature);
    assert.deepEqual(loads(v.by_old_key, { key: KEY, fallbackKeys: [OLD], salt }), v.payload);
    // New tokens are signed with the current key, never a fallback.
    const fresh = dumps({ a: 1 }, { key: KEY, fallbackKeys: [OLD], salt });
    assert.deepEqual(loads(fresh, { key: KEY, salt }), { a: 1 });
    assert.throws(() => loads(fresh, { key: OLD, salt }), BadSignature);
  });

  test('a validly signed pickle is refused, never decoded', () => {
    const pickle = Buffer.from('80049506000000000000007d942e', 'hex'); // pickle.dumps({}, 4)
    const token = new DjangoTimestampSigner({ key: KEY, salt: 's' }).sign(pickle.toString('base64url'));
    assert.throws(() => loads(token, { key: KEY, salt: 's' }), PickledDataRefused);
  });
});
