// Django's sessions and users read by switchyard/django, from rows and cookies
// written by Django 3.2 itself (test/django/site/tools.py): the db and
// cached_db backends on PostgreSQL (a database of the test's own) and SQLite,
// signed_cookies, and every kind of bad input: tampered, expired, foreign key,
// pickled, stale auth hash, unknown backend, inactive user; a database that is
// down refuses the handshake fast with one log line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Application } from '../../src/asgi.js';
import { captureLibraryLogs } from '../helpers/logs.js';
import { getSession } from '../../src/middleware/index.js';
import { HttpCommunicator, WebsocketCommunicator } from '../../src/testing/index.js';
import {
  DjangoAuthMiddlewareStack, DjangoReadOnlyError, DjangoSite, type DjangoSiteOptions, postgresDatabase, sqliteDatabase,
} from '../../src/django/index.js';
import { type SiteEnv, OwnDatabase, djangoTools } from './django-site.js';

const KEY = 'sy-sessions-key';
const OLD = 'sy-sessions-old-key';
const OTHER = 'some-other-sites-key';
const WEEKS_3 = 21 * 86400;

/** Reports who the middleware says the user is, and what the session holds. */
const whoAmI: Application = async (scope, receive, send) => {
  await receive();
  await send({ type: 'websocket.accept' });
  const user = scope.user as Record<string, unknown>;
  const session = getSession(scope);
  await send({ type: 'websocket.send', text: JSON.stringify({ ...user, note: (await session.get('note')) ?? null }) });
  await send({ type: 'websocket.close' });
};

interface Who { username: string; isAuthenticated: boolean; id: number | null; groups?: string[]; isStaff?: boolean; isSuperuser?: boolean; isActive?: boolean; note: string | null }

async function who(app: Application, cookie?: string): Promise<Who> {
  const client = new WebsocketCommunicator(app, '/ws/', cookie === undefined ? {} : { headers: [['cookie', `sessionid=${cookie}`]] });
  const result = await client.connect(5000);
  assert.equal(result.connected, true, `handshake refused: ${JSON.stringify(result)}`);
  return client.receiveJsonFrom<Who>(5000);
}

const USERS = [
  { username: 'ann', password: 'ann-pw', is_staff: true, groups: ['editors', 'authors'] },
  { username: 'bob', password: 'bob-pw', is_active: false },
];

/** Makes every kind of session with Django for one database; returns the cookies by name. */
async function makeSessions(database: string, withSignedCookies: boolean): Promise<Record<string, string>> {
  const env = (extra: Partial<SiteEnv> = {}): SiteEnv => ({ DJSITE_SECRET_KEY: KEY, DJSITE_DATABASE: database, ...extra });
  await djangoTools(env(), [{ op: 'migrate' }, { op: 'users', users: USERS }]);
  const now = Date.now() / 1000;
  const runs: [SiteEnv, Record<string, Record<string, unknown>>][] = [
    [env(), {
      ann: { op: 'session', username: 'ann', data: { note: 'héllo' } },
      expired: { op: 'session', username: 'ann', expiry: -5 },
      staleHash: { op: 'session', username: 'ann', hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
      otherBackend: { op: 'session', username: 'ann', backend: 'somewhere.else.Backend' },
      inactive: { op: 'session', username: 'bob' },
      inactiveAllowed: { op: 'session', username: 'bob', backend: 'django.contrib.auth.backends.AllowAllUsersModelBackend' },
    }],
    [env({ DJSITE_SESSION_SERIALIZER: 'pickle' }), { pickled: { op: 'session', username: 'ann' } }],
    [env({ DJSITE_SECRET_KEY: OLD }), { oldKey: { op: 'session', username: 'ann' } }],
    [env({ DJSITE_SESSION_ENGINE: 'cached_db' }), { cachedDb: { op: 'session', username: 'ann', data: { note: 'cached' } } }],
  ];
  if (withSignedCookies) {
    const signed = (extra: Partial<SiteEnv> = {}) => env({ DJSITE_SESSION_ENGINE: 'signed_cookies', ...extra });
    runs.push(
      [signed(), {
        cookieAnn: { op: 'session', username: 'ann', data: { note: 'in the cookie' } },
        cookieExpired: { op: 'session', username: 'ann', at: now - WEEKS_3 },
        cookieStaleHash: { op: 'session', username: 'ann', hash: 'nope' },
      }],
      [signed({ DJSITE_SECRET_KEY: OTHER }), { cookieForeign: { op: 'session', username: 'ann' } }],
      [signed({ DJSITE_SECRET_KEY: OLD }), { cookieOldKey: { op: 'session', username: 'ann' } }],
      [signed({ DJSITE_SESSION_SERIALIZER: 'pickle' }), { cookiePickled: { op: 'session', username: 'ann' } }],
    );
  }
  const cookies: Record<string, string> = {};
  await Promise.all(runs.map(async ([runEnv, commands]) => {
    const results = await djangoTools<string[]>(runEnv, Object.values(commands));
    Object.keys(commands).forEach((name, i) => (cookies[name] = results[i]!));
  }));
  return cookies;
}

const DATABASES = [
  { name: 'PostgreSQL', signedCookies: true },
  { name: 'SQLite', signedCookies: false },
] as const;

for (const { name, signedCookies } of DATABASES) {
  describe(`Django sessions and users on ${name}`, () => {
    let own: OwnDatabase | null = null;
    let dir = '';
    let cookies: Record<string, string>;
    const sites: DjangoSite[] = [];
    let options: Omit<DjangoSiteOptions, 'sessionEngine'>;
    let databaseSetting = '';
    const site = (extra: Partial<DjangoSiteOptions> = {}): Application => {
      const made = new DjangoSite({ ...options, ...extra });
      sites.push(made);
      return DjangoAuthMiddlewareStack(whoAmI, made);
    };

    before(async () => {
      let database: string;
      if (name === 'PostgreSQL') {
        own = await OwnDatabase.create();
        database = `postgres:${own.name}`;
        options = { secretKey: KEY, database: postgresDatabase(own.url) };
      } else {
        dir = mkdtempSync(join(tmpdir(), 'sy-django-'));
        database = `sqlite:${join(dir, 'db.sqlite3')}`;
        options = { secretKey: KEY, database: sqliteDatabase(join(dir, 'db.sqlite3')) };
      }
      databaseSetting = database;
      cookies = await makeSessions(database, signedCookies);
    });
    after(async () => {
      await Promise.all(sites.map((s) => s.close()));
      await own?.drop();
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    test('db: the session of a Django login is that user, with flags and groups; the session data reads', async () => {
      const app = site();
      const ann = await who(app, cookies.ann);
      assert.equal(ann.isAuthenticated, true);
      assert.equal(ann.username, 'ann');
      assert.equal(typeof ann.id, 'number');
      assert.deepEqual(ann.groups, ['authors', 'editors']);
      assert.equal(ann.isStaff, true);
      assert.equal(ann.isSuperuser, false);
      assert.equal(ann.note, 'héllo');
      assert.equal('password' in ann, false, 'the password hash never reaches the scope');
    });

    test('db: no cookie, an unknown key, a short key: anonymous', async () => {
      const app = site();
      for (const cookie of [undefined, 'x'.repeat(32), 'abc']) {
        const anon = await who(app, cookie);
        assert.deepEqual([anon.isAuthenticated, anon.username, anon.id], [false, '', null]);
      }
    });

    test('db: an expired row, a tampered row signature, a stale auth hash, another backend: anonymous', async () => {
      const app = site();
      for (const cookie of ['expired', 'staleHash', 'otherBackend']) {
        assert.equal((await who(app, cookies[cookie])).isAuthenticated, false, cookie);
      }
      // The stale-hash session is forgotten on this connection (Django would flush it).
      assert.equal((await who(app, cookies.staleHash)).note, null);
      // Tamper with the row itself: its signature no longer matches.
      const table = 'django_session';
      if (own !== null) {
        await own.sql(`UPDATE ${table} SET session_data = overlay(session_data placing 'A' from 3 for 1) WHERE session_key = $1`, [cookies.otherBackend]);
        assert.equal((await who(app, cookies.otherBackend)).isAuthenticated, false);
      }
    });

    test('db: a session Django deletes after Switchyard read it is gone on the next connection (no stale cache)', async () => {
      const app = site();
      const [cookie] = await djangoTools<string[]>({ DJSITE_SECRET_KEY: KEY, DJSITE_DATABASE: databaseSetting }, [{ op: 'session', username: 'ann' }]);
      assert.equal((await who(app, cookie)).username, 'ann');
      await djangoTools({ DJSITE_SECRET_KEY: KEY, DJSITE_DATABASE: databaseSetting }, [{ op: 'delete', session_key: cookie }]);
      assert.equal((await who(app, cookie)).isAuthenticated, false);
    });

    test('db: an inactive user is anonymous, unless signed in through AllowAllUsersModelBackend', async () => {
      assert.equal((await who(site(), cookies.inactive)).isAuthenticated, false);
      const allowAll = site({ authenticationBackends: ['django.contrib.auth.backends.AllowAllUsersModelBackend'] });
      const bob = await who(allowAll, cookies.inactiveAllowed);
      assert.deepEqual([bob.isAuthenticated, bob.username, bob.isActive], [true, 'bob', false]);
    });

    test('db: a pickled session is anonymous, and a warning says why', async () => {
      const logs = captureLibraryLogs('warn');
      try {
        assert.equal((await who(site(), cookies.pickled)).isAuthenticated, false);
      } finally {
        logs.restore();
      }
      assert.equal(logs.lines.length, 1);
      assert.equal(logs.lines[0]!.code, 'SY_DJANGO_PICKLED');
      assert.match(String(logs.lines[0]!.msg), /JSONSerializer.*arbitrary code/);
    });

    test('db: SECRET_KEY rotation: a session of the old key needs it in secretKeyFallbacks', async () => {
      assert.equal((await who(site(), cookies.oldKey)).isAuthenticated, false);
      assert.equal((await who(site({ secretKeyFallbacks: [OLD] }), cookies.oldKey)).username, 'ann');
    });

    test('cached_db: Django\'s rows read the same', async () => {
      const ann = await who(site({ sessionEngine: 'cached_db' } as Partial<DjangoSiteOptions>), cookies.cachedDb);
      assert.deepEqual([ann.username, ann.note], ['ann', 'cached']);
    });

    test('read-only: session.save() throws DjangoReadOnlyError, and nothing was written', async () => {
      const made = new DjangoSite(options);
      sites.push(made);
      const session = made.openSession(cookies.ann);
      await session.set('note', 'changed');
      await assert.rejects(session.save(), DjangoReadOnlyError);
      assert.equal(await made.openSession(cookies.ann).get('note'), 'héllo');
    });

    if (signedCookies) {
      test('signed_cookies: Django\'s cookie is the user, with its data', async () => {
        const ann = await who(site({ sessionEngine: 'signed_cookies' }), cookies.cookieAnn);
        assert.deepEqual([ann.isAuthenticated, ann.username, ann.note], [true, 'ann', 'in the cookie']);
      });

      test('signed_cookies: tampered, older than SESSION_COOKIE_AGE, another site\'s key, stale hash, pickled: anonymous', async () => {
        const app = site({ sessionEngine: 'signed_cookies' });
        const good = cookies.cookieAnn!;
        const tampered = `${good.slice(0, 5)}${good[5] === 'A' ? 'B' : 'A'}${good.slice(6)}`;
        for (const cookie of [tampered, good.replace(/:[^:]+$/, ':x'), cookies.cookieExpired, cookies.cookieForeign, cookies.cookieStaleHash, cookies.cookiePickled]) {
          const anon = await who(app, cookie);
          assert.deepEqual([anon.isAuthenticated, anon.note], [false, null], cookie);
        }
        // A shorter cookie age expires a cookie Django signed a minute ago... not yet; three weeks ago, yes.
        assert.equal((await who(site({ sessionEngine: 'signed_cookies', sessionCookieAge: 4 * WEEKS_3 }), cookies.cookieExpired)).username, 'ann');
      });

      test('signed_cookies: SECRET_KEY_FALLBACKS verify the old key\'s cookie and its auth hash', async () => {
        assert.equal((await who(site({ sessionEngine: 'signed_cookies' }), cookies.cookieOldKey)).isAuthenticated, false);
        assert.equal((await who(site({ sessionEngine: 'signed_cookies', secretKeyFallbacks: [OLD] }), cookies.cookieOldKey)).username, 'ann');
      });
    }
  });
}

describe('a Django database that is down', () => {
  let blackhole: Server;
  const held: import('node:net').Socket[] = [];
  before(async () => {
    blackhole = createServer((socket) => void held.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => blackhole.close(resolve));
  });

  const cases = [
    { what: 'a closed port', database: () => postgresDatabase('postgres://postgres@127.0.0.1:1/nothing'), within: 1000, match: /ECONNREFUSED/ },
    {
      what: 'a server that never answers',
      database: () => postgresDatabase({ connectionString: `postgres://postgres@127.0.0.1:${(blackhole.address() as { port: number }).port}/x`, connectionTimeoutMillis: 300 }),
      within: 1500,
      match: /timeout/i,
    },
    { what: 'a missing SQLite file', database: () => sqliteDatabase('/nonexistent/db.sqlite3'), within: 1000, match: /SQLite \/nonexistent/ },
  ];
  for (const { what, database, within, match } of cases) {
    test(`${what}: the handshake is refused (503) within ${within} ms, with one clear log line`, async () => {
      const made = new DjangoSite({ secretKey: KEY, database: database() });
      const logs = captureLibraryLogs('warn');
      const started = Date.now();
      try {
        const client = new WebsocketCommunicator(DjangoAuthMiddlewareStack(whoAmI, made), '/ws/chat/', { headers: [['cookie', 'sessionid=abcdefghijklmnopqrstuvwxyz012345']] });
        const result = await client.connect(5000);
        assert.equal(result.connected, false);
        assert.equal(result.response?.status, 503);
      } finally {
        logs.restore();
        await made.close();
      }
      assert.ok(Date.now() - started < within, `took ${Date.now() - started} ms`);
      assert.equal(logs.lines.length, 1, JSON.stringify(logs.lines));
      const [line] = logs.lines;
      assert.equal(line!.code, 'SY_DJANGO_DATABASE');
      assert.equal(line!.level, 50);
      assert.match(String(line!.msg), /^Django database unavailable: .*\(handshake refused\)$/);
      assert.match(String(line!.msg), match);
    });
  }

  test('an HTTP request is answered 503, with the same log line', async () => {
    const made = new DjangoSite({ secretKey: KEY, database: postgresDatabase('postgres://postgres@127.0.0.1:1/nothing') });
    const logs = captureLibraryLogs('warn');
    try {
      const response = await new HttpCommunicator(DjangoAuthMiddlewareStack(whoAmI, made), 'GET', '/events/', {
        headers: [['cookie', 'sessionid=abcdefghijklmnopqrstuvwxyz012345']],
      }).getResponse(5000);
      assert.equal(response.status, 503);
    } finally {
      logs.restore();
      await made.close();
    }
    assert.equal(logs.lines.length, 1);
    assert.match(String(logs.lines[0]!.msg), /^Django database unavailable: .*ECONNREFUSED.*\(request refused\)$/);
  });

  test('a user an outer middleware already signed in (a token) is kept, and the database is not asked', async () => {
    const made = new DjangoSite({ secretKey: KEY, database: postgresDatabase('postgres://postgres@127.0.0.1:1/nothing') });
    const tokenUser = { id: 9, username: 'robot', isAuthenticated: true as const };
    const userOnly: Application = async (scope, receive, send) => {
      await receive();
      await send({ type: 'websocket.accept' });
      await send({ type: 'websocket.send', text: JSON.stringify(scope.user) });
    };
    const client = new WebsocketCommunicator(DjangoAuthMiddlewareStack(userOnly, made), '/ws/', {
      headers: [['cookie', 'sessionid=abcdefghijklmnopqrstuvwxyz012345']],
      scope: { user: tokenUser },
    });
    try {
      assert.equal((await client.connect(5000)).connected, true);
      assert.deepEqual(await client.receiveJsonFrom(), tokenUser);
    } finally {
      await made.close();
    }
  });

  test('no cookie needs no database: an anonymous user connects even while it is down', async () => {
    const made = new DjangoSite({ secretKey: KEY, database: postgresDatabase('postgres://postgres@127.0.0.1:1/nothing') });
    try {
      assert.equal((await who(DjangoAuthMiddlewareStack(whoAmI, made))).isAuthenticated, false);
    } finally {
      await made.close();
    }
  });
});
