// A Switchyard service beside a real Django site (Debian's Django 3.2 under
// daphne, channels 4, channels_redis 4, PostgreSQL through psycopg2):
// - a user signs in through Django's own LoginView (CSRF flow), opens the
//   Switchyard chat with that cookie and is that user there (presence shows
//   the Django username); logs out in Django: the live connection closes and
//   the next one is anonymous; changes the password in Django: the other
//   session's cookie no longer signs in. For db (PostgreSQL) and signed_cookies.
// - a Django view's async_to_sync(group_send) reaches a Switchyard consumer and
//   Switchyard's groupSend reaches a Django consumer, on both layer flavours,
//   Fernet-encrypted and sharded over two Redis databases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setChannelLayer } from '../../src/layers/registry.js';
import { Presence } from '../../src/presence/index.js';
import { RedisChannelLayer, RedisPubSubChannelLayer } from '../../src/redis/index.js';
import { type Server, serve } from '../../src/server/index.js';
import { DJANGO_LOGOUT_CLOSE_CODE, DjangoSite, postgresDatabase } from '../../src/django/index.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { frameClient, type FrameClient } from '../helpers/ws-client.js';
import { Daphne, DjangoClient, OwnDatabase, type SiteEnv, djangoTools } from './django-site.js';
import { type Hello, djangoChatApplication } from './fixtures/chat.js';

const KEY = 'sy-site-test-secret-key';
const PREFIX = `sy-django-${process.pid}`;
// Two shards on two Redis servers: the shared one, and one of the test's own.
const HOSTS = ['redis://127.0.0.1:6379/6'];
const FERNET = ['sy-django-fernet-2026'];
// channels_redis 4.0.0 (Debian's) ignores symmetric_encryption_keys on its pub/sub layer
// (encryption came to pub/sub later): the pub/sub cells run sharded but unencrypted.
const PUBSUB_KEYS: string[] = [];
const ENGINES = ['db', 'signed_cookies'] as const;
type Engine = (typeof ENGINES)[number];

describe('a Switchyard service beside a real Django site', () => {
  let own: OwnDatabase;
  let secondRedis: OwnedRedis;
  const daphnes = new Map<Engine, Daphne>();
  const servers = new Map<Engine, Server>();
  const sites: DjangoSite[] = [];
  const sockets: FrameClient[] = [];
  let core: RedisChannelLayer;
  let pubsub: RedisPubSubChannelLayer;

  const env = (engine: Engine): SiteEnv => ({
    DJSITE_SECRET_KEY: KEY,
    DJSITE_DATABASE: `postgres:${own.name}`,
    DJSITE_SESSION_ENGINE: engine,
    DJSITE_LAYER: JSON.stringify({ hosts: HOSTS, prefix: PREFIX, keys: FERNET, pubsub_keys: PUBSUB_KEYS }),
  });
  const chat = (engine: Engine) => `${servers.get(engine)!.url.replace('http', 'ws')}/ws/chat/lobby/`;
  const open = async (url: string, cookie = ''): Promise<FrameClient> => {
    const socket = await frameClient(url, { headers: cookie ? { cookie } : {} });
    sockets.push(socket);
    return socket;
  };
  const hello = async (engine: Engine, cookie: string): Promise<Hello> => {
    const socket = await open(chat(engine), cookie);
    const frame = (await socket.next((f) => f.type === 'hello')) as unknown as Hello;
    socket.close();
    return frame;
  };

  before(async () => {
    own = await OwnDatabase.create();
    secondRedis = await OwnedRedis.start();
    HOSTS.push(secondRedis.url);
    const users = ENGINES.flatMap((engine) => ['ann', 'bea', 'cid'].map((name) => ({
      username: `${name}_${engine}`, password: `${name}-pw`, is_staff: name === 'ann', groups: name === 'ann' ? ['editors'] : [],
    })));
    await djangoTools(env('db'), [{ op: 'migrate' }, { op: 'users', users }]);
    core = new RedisChannelLayer({ hosts: HOSTS, prefix: PREFIX, symmetricEncryptionKeys: FERNET });
    pubsub = new RedisPubSubChannelLayer({ hosts: HOSTS, prefix: PREFIX, symmetricEncryptionKeys: PUBSUB_KEYS });
    setChannelLayer('default', core);
    setChannelLayer('pubsub', pubsub);
    await Promise.all(ENGINES.map(async (engine) => {
      daphnes.set(engine, await Daphne.start(env(engine)));
      const site = new DjangoSite({ secretKey: KEY, sessionEngine: engine, database: postgresDatabase(own.url) });
      sites.push(site);
      servers.set(engine, await serve(djangoChatApplication(site), { host: '127.0.0.1', port: 0, logLevel: 'silent', lifespan: 'off' }));
    }));
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([...servers.values()].map((server) => server.close()));
    await Promise.all([...daphnes.values()].map((daphne) => daphne.stop()));
    await Promise.all(sites.map((site) => site.close()));
    await Presence.forLayer(core, { name: 'django-chat' }).close();
    await core.flush();
    await pubsub.flush();
    await Promise.all([core.close(), pubsub.close()]);
    await own.drop();
    await secondRedis.stop();
  });

  for (const engine of ENGINES) {
    const name = (who: string) => `${who}_${engine}`;

    test(`${engine}: signed in through Django's LoginView, the user is that user in the Switchyard chat, and presence shows the username`, async () => {
      const browser = new DjangoClient(daphnes.get(engine)!.url);
      const other = await open(chat(engine)); // an anonymous visitor already in the room
      assert.equal((await other.next((f) => f.type === 'hello')).user, null);
      await browser.login(name('ann'), 'ann-pw');
      assert.equal(await browser.whoami(), name('ann'));
      const ann = await open(chat(engine), browser.cookieHeader);
      const greeting = (await ann.next((f) => f.type === 'hello')) as unknown as Hello;
      assert.deepEqual(greeting.user, { username: name('ann'), groups: ['editors'], isStaff: true });
      assert.deepEqual(greeting.online, [name('ann')], JSON.stringify(greeting));
      // (Other users' comings and goings from earlier tests may come first: wait for ann's.)
      const mentions = (key: 'joined' | 'left') => (f: Record<string, unknown>) => f.type === 'presence' && (f[key] as string[]).includes(name('ann'));
      assert.deepEqual((await other.next(mentions('joined'))).joined, [name('ann')]);
      ann.close();
      assert.deepEqual((await other.next(mentions('left'))).left, [name('ann')]);
      other.close();
    });

    test(`${engine}: logging out in Django closes the live Switchyard connection, and the next one is anonymous`, async () => {
      const browser = new DjangoClient(daphnes.get(engine)!.url);
      await browser.login(name('bea'), 'bea-pw');
      const oldCookie = browser.cookieHeader;
      const live = await open(chat(engine), oldCookie);
      assert.equal(((await live.next((f) => f.type === 'hello')) as unknown as Hello).user?.username, name('bea'));
      await browser.logout();
      assert.equal(await live.closed, DJANGO_LOGOUT_CLOSE_CODE, 'Django\'s user_logged_out reached the live connection');
      assert.equal(browser.sessionid, undefined, 'Django deleted the session cookie');
      assert.equal((await hello(engine, browser.cookieHeader)).user, null);
      // Replaying the old cookie: Switchyard answers exactly as Django does. A db session is
      // gone; a signed cookie cannot be revoked (Django's documented limit), so both still accept it.
      const replay = new DjangoClient(daphnes.get(engine)!.url);
      replay.cookies.set('sessionid', /sessionid=([^;]+)/.exec(oldCookie)![1]!);
      const djangoSays = await replay.whoami();
      assert.equal(djangoSays, engine === 'db' ? null : name('bea'));
      assert.equal((await hello(engine, oldCookie)).user?.username ?? null, djangoSays);
    });

    test(`${engine}: changing the password in Django signs the other session out of Switchyard, live and next time`, async () => {
      const laptop = new DjangoClient(daphnes.get(engine)!.url);
      const phone = new DjangoClient(daphnes.get(engine)!.url);
      await laptop.login(name('cid'), 'cid-pw');
      await phone.login(name('cid'), 'cid-pw');
      const phoneCookie = phone.cookieHeader;
      const live = await open(chat(engine), phoneCookie);
      assert.equal(((await live.next((f) => f.type === 'hello')) as unknown as Hello).user?.username, name('cid'));
      await laptop.changePassword('cid-pw', 'cid-new-pw');
      assert.equal(await live.closed, DJANGO_LOGOUT_CLOSE_CODE, 'the password change reached the live connection');
      // The phone's cookie is still validly signed, but its _auth_user_hash is of the old password.
      assert.equal(await phone.whoami(), null, 'Django signs the phone out');
      assert.equal((await hello(engine, phoneCookie)).user, null, 'and so does Switchyard');
      // The laptop, which changed it, got a session with the new hash: signed in on both.
      assert.equal(await laptop.whoami(), name('cid'));
      assert.equal((await hello(engine, laptop.cookieHeader)).user?.username, name('cid'));
    });
  }

  for (const flavour of ['default', 'pubsub'] as const) {
    const label = flavour === 'default' ? 'core' : 'pubsub';

    test(`${label} layer, ${flavour === 'default' ? 'Fernet' : 'no encryption (channels_redis 4.0)'}, two shards: a Django view's async_to_sync(group_send) reaches a Switchyard consumer`, async () => {
      const group = `from-django-${label}`;
      const listener = await open(`${servers.get('db')!.url.replace('http', 'ws')}/ws/listen/${flavour}/${group}/`);
      await listener.next((f) => f.type === 'ready');
      const response = await fetch(`${daphnes.get('db')!.url}/send/`, {
        method: 'POST',
        body: JSON.stringify({ layer: flavour, group, message: { type: 'chat.message', text: 'hello from a Django view ☃', n: [1, 2] } }),
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await listener.next((f) => f.type === 'chat.message'), { type: 'chat.message', text: 'hello from a Django view ☃', n: [1, 2] });
      listener.close();
    });

    test(`${label} layer, ${flavour === 'default' ? 'Fernet' : 'no encryption (channels_redis 4.0)'}, two shards: Switchyard's groupSend reaches a Django Channels consumer under daphne`, async () => {
      const group = `from-switchyard-${label}`;
      const listener = await open(`${daphnes.get('db')!.url.replace('http', 'ws')}/ws/listen/${flavour}/${group}/`);
      await listener.next((f) => f.type === 'ready');
      await (flavour === 'default' ? core : pubsub).groupSend(group, { type: 'chat.message', text: 'hello from Switchyard ☃', n: 2 ** 40 });
      assert.deepEqual(await listener.next((f) => f.type === 'chat.message'), { type: 'chat.message', text: 'hello from Switchyard ☃', n: 2 ** 40 });
      listener.close();
    });
  }
});
