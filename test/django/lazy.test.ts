// The database drivers are loaded on first use only: importing 'switchyard' or
// 'switchyard/django', and configuring a site, loads neither pg nor
// node-sqlite3-wasm (a service without PostgreSQL or SQLite need not install
// them). This file imports nothing else that could load them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = (name: string): boolean => Object.keys(require.cache).some((path) => path.includes(`/node_modules/${name}/`));

test('importing switchyard and switchyard/django, and configuring a site, loads no database driver; the first query does', async () => {
  await import('../../src/index.js');
  const django = await import('../../src/django/index.js');
  const site = new django.DjangoSite({ secretKey: 'k', database: 'postgres://postgres@127.0.0.1:5432/postgres' });
  const sqlite = django.sqliteDatabase('/nonexistent/switchyard-lazy.sqlite3');
  assert.deepEqual([loaded('pg'), loaded('node-sqlite3-wasm')], [false, false]);
  try {
    assert.deepEqual(await site.database.query('SELECT 1 AS one', []), [{ one: 1 }]);
    await assert.rejects(sqlite.query('SELECT 1', []), django.DjangoDatabaseError);
    assert.deepEqual([loaded('pg'), loaded('node-sqlite3-wasm')], [true, true]);
  } finally {
    await site.close();
    await sqlite.close();
  }
});
