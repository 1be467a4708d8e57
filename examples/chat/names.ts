/**
 * Which names an anonymous client may give itself, and how fast it may find out.
 *
 * Anonymous users may not take a registered user's name (they would pass for
 * them), so the room answers "That name belongs to a registered user". That
 * answer tells whether a name is registered: unthrottled, a script checked
 * 1,960 names in 10 s. Every answer about a new name is therefore rate-limited
 * per client address: each name an address has not used before takes a token
 * (20 at once, then one every 3 s), whether it turns out registered or not, so
 * being throttled reveals nothing either. Names an address already used cost
 * nothing, so a person keeps chatting under their name as long as they like.
 * An IPv6 address counts by its /64 (one host usually holds the whole prefix).
 * State is per process: a client spreading over N processes gets N times the
 * rate, still hours for a list of names.
 */
import { isIP } from 'node:net';
import { TokenBucket } from 'switchyard/middleware';

/** What {@link AnonymousNames.check} says about a name. */
export type NameVerdict = 'ok' | 'registered' | 'throttled';

/** Options of {@link AnonymousNames}. Defaults: 20 new names at once, then one every 3 s. */
export interface AnonymousNamesOptions {
  /** Whether `name` belongs to a registered user. */
  isRegistered: (name: string) => boolean;
  /** New names an address may try at once. Default 20. */
  burst?: number;
  /** New names per second after that. Default 1/3. */
  perSecond?: number;
}

/** Names an address used recently, remembered so reusing them is free (bounded per address). */
const REMEMBERED = 32;
/** Addresses tracked before the table starts over (bounds memory under a spray of addresses). */
const MAX_ADDRESSES = 10_000;

interface AddressState { bucket: TokenBucket; names: Map<string, Exclude<NameVerdict, 'throttled'>> }

/**
 * Answers "may an anonymous client at this address call itself this?", at a bounded rate per address.
 *
 * @example
 * ```ts
 * const names = new AnonymousNames({ isRegistered: (name) => users.has(name) });
 * names.check('203.0.113.9', 'alice'); // 'registered', 'ok', or 'throttled'
 * ```
 */
export class AnonymousNames {
  readonly #options: Required<AnonymousNamesOptions>;
  readonly #addresses = new Map<string, AddressState>();

  constructor(options: AnonymousNamesOptions) {
    this.#options = { burst: 20, perSecond: 1 / 3, ...options };
  }

  /** The verdict for `name` from `address` (`scope.client[0]`; `undefined` for none). */
  check(address: string | undefined, name: string, now = performance.now()): NameVerdict {
    const key = addressKey(address);
    let state = this.#addresses.get(key);
    if (state === undefined) {
      if (this.#addresses.size >= MAX_ADDRESSES) this.#addresses.clear();
      state = { bucket: new TokenBucket(this.#options.burst, this.#options.perSecond, now), names: new Map() };
      this.#addresses.set(key, state);
    }
    const known = state.names.get(name);
    if (known !== undefined) return known;
    if (!state.bucket.take(now)) return 'throttled';
    const verdict = this.#options.isRegistered(name) ? 'registered' : 'ok';
    if (state.names.size >= REMEMBERED) state.names.delete(state.names.keys().next().value!);
    state.names.set(name, verdict);
    return verdict;
  }
}

/** An IPv4 address as it is, an IPv6 one by its /64 prefix. */
function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
