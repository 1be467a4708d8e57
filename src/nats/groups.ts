/**
 * The NATS layer's group memberships: local to the process (as on the Redis
 * pub/sub layer: a process subscribes to a group's subject while it has a
 * member), each expiring `groupExpiry` after its last `groupAdd`, as in
 * Django. A group whose last member leaves or expires is reported
 * (`onEmpty`), so that the layer unsubscribes its subject.
 */

/** group → (member channel → time of its last groupAdd, ms). */
export class LocalGroups {
  readonly #groups = new Map<string, Map<string, number>>();
  readonly #expiryMs: number;
  readonly #onEmpty: (group: string) => void;

  constructor(groupExpirySeconds: number, onEmpty: (group: string) => void) {
    this.#expiryMs = groupExpirySeconds * 1000;
    this.#onEmpty = onEmpty;
  }

  /** Every group with a member here, with its members (read-only; see `ChannelLayer.localGroups`). */
  get all(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.#groups;
  }

  /** The groups with a member here. */
  names(): string[] {
    return [...this.#groups.keys()];
  }

  has(group: string): boolean {
    return this.#groups.has(group);
  }

  /** Adds (or refreshes) a membership. */
  add(group: string, channel: string): void {
    let members = this.#groups.get(group);
    if (members === undefined) this.#groups.set(group, (members = new Map()));
    members.set(channel, Date.now());
  }

  /** Removes a membership; a no-op when there is none. */
  discard(group: string, channel: string): void {
    const members = this.#groups.get(group);
    if (members !== undefined && members.delete(channel) && members.size === 0) this.#drop(group);
  }

  /** Calls `deliver` with each live member of `group` (expired ones leave on the way); false when it has none here. */
  forEachMember(group: string, deliver: (channel: string) => void): boolean {
    const members = this.#groups.get(group);
    if (members === undefined) return false;
    const oldest = Date.now() - this.#expiryMs;
    for (const [channel, addedAt] of members) {
      if (addedAt < oldest) members.delete(channel);
      else deliver(channel);
    }
    if (members.size === 0) this.#drop(group);
    return true;
  }

  /** A channel leaves every group. */
  leave(channel: string): void {
    for (const [group, members] of this.#groups) if (members.delete(channel) && members.size === 0) this.#drop(group);
  }

  /** Drops the expired memberships. */
  sweep(): void {
    const oldest = Date.now() - this.#expiryMs;
    for (const [group, members] of this.#groups) {
      for (const [channel, addedAt] of members) if (addedAt < oldest) members.delete(channel);
      if (members.size === 0) this.#drop(group);
    }
  }

  /** Forgets every membership (each group reported empty). */
  clear(): void {
    for (const group of [...this.#groups.keys()]) this.#drop(group);
  }

  #drop(group: string): void {
    this.#groups.delete(group);
    this.#onEmpty(group);
  }
}
