/**
 * Helpers for the switchyard/django tests: the real Django site under
 * test/django/site (Debian's Django 3.2, channels 4, channels_redis 4,
 * daphne, psycopg2, all run with /usr/bin/python3), a PostgreSQL database of
 * the test's own, and an HTTP client that signs in through Django's own
 * login view with its CSRF flow.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/time.js';

export const SITE_DIR = fileURLToPath(new URL('./site/', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** The environment that configures the site (see site/djsite/settings.py). */
export interface SiteEnv {
  DJSITE_SECRET_KEY: string;
  DJSITE_DATABASE: string;
  DJSITE_SESSION_ENGINE?: 'db' | 'cached_db' | 'signed_cookies';
  DJSITE_SESSION_SERIALIZER?: 'json' | 'pickle';
  DJSITE_LAYER?: string;
}

function siteEnv(env: SiteEnv): NodeJS.ProcessEnv {
  return { ...process.env, ...env, DJANGO_SETTINGS_MODULE: 'djsite.settings', PYTHONPATH: SITE_DIR, PYTHONDONTWRITEBYTECODE: '1' };
}

/** Runs site/tools.py commands with Django's own code; resolves to their results. */
export function djangoTools<T extends unknown[] = unknown[]>(env: SiteEnv, commands: Record<string, unknown>[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [`${SITE_DIR}tools.py`, JSON.stringify(commands)], { env: siteEnv(env), cwd: SITE_DIR, timeout: 60000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tools.py failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

/** A PostgreSQL database of the test's own on 127.0.0.1:5432, dropped by `drop()`. */
export class OwnDatabase {
  readonly name = `sy_django_${process.pid}_${randomBytes(4).toString('hex')}`;
  readonly url = `postgres://postgres@127.0.0.1:5432/${this.name}`;

  static async create(): Promise<OwnDatabase> {
    const db = new OwnDatabase();
    await OwnDatabase.#admin(`CREATE DATABASE ${db.name}`);
    return db;
  }

  async drop(): Promise<void> {
    await OwnDatabase.#admin(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
  }

  /** Runs one statement in this database (to age a session row, for example). */
  async sql(text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }

  static async #admin(text: string): Promise<void> {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  }
}

/** The site served by daphne on a free port. */
export class Daphne {
  readonly url: string;
  readonly #child: ChildProcess;
  #output = '';

  private constructor(port: number, env: SiteEnv) {
    this.url = `http://127.0.0.1:${port}`;
    this.#child = spawn(PYTHON, ['-m', 'daphne', '-b', '127.0.0.1', '-p', String(port), 'djsite.asgi:application'], {
      env: siteEnv(env), cwd: SITE_DIR, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stdout!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
  }

  static async start(env: SiteEnv): Promise<Daphne> {
    const daphne = new Daphne(await freePort(), env);
    const answers = async (): Promise<boolean> => {
      if (daphne.#child.exitCode !== null) throw new Error(`daphne exited with ${daphne.#child.exitCode}`);
      try { return (await fetch(`${daphne.url}/whoami/`)).ok; } catch { return false; /* not listening yet */ }
    };
    try {
      await until(answers, 20000, 'daphne to answer /whoami/');
      return daphne;
    } catch (error) {
      await daphne.stop();
      throw new Error(`daphne did not start (${(error as Error).message}): ${daphne.#output}`);
    }
  }

  get output(): string {
    return this.#output;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}

/** A browser-like client of the Django site: a cookie jar and Django's CSRF flow. */
export class DjangoClient {
  readonly cookies = new Map<string, string>();
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  get sessionid(): string | undefined {
    return this.cookies.get('sessionid');
  }

  async request(path: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { cookie: this.cookieHeader };
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ csrfmiddlewaretoken: this.cookies.get('csrftoken') ?? '', ...init.form }).toString();
    }
    const response = await fetch(`${this.#base}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** GET the form (CSRF cookie), then POST it; returns the POST's response. */
  async submit(path: string, form: Record<string, string>): Promise<Response> {
    const page = await this.request(path);
    await page.text();
    return this.request(path, { form });
  }

  async login(username: string, password: string): Promise<void> {
    const response = await this.submit('/login/', { username, password });
    if (response.status !== 302) throw new Error(`login of ${username} failed: ${response.status} ${await response.text()}`);
  }

  async logout(): Promise<void> {
    const response = await this.submit('/whoami/', {}).then(() => this.request('/logout/', { form: {} }));
    if (response.status !== 302) throw new Error(`logout failed: ${response.status}`);
  }

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const response = await this.submit('/password_change/', { old_password: oldPassword, new_password1: newPassword, new_password2: newPassword });
    if (response.status !== 302) throw new Error(`password change failed: ${response.status} ${await response.text()}`);
  }

  async whoami(): Promise<string | null> {
    return ((await (await this.request('/whoami/')).json()) as { username: string | null }).username;
  }
}
