/**
 * The base class of every Switchyard error: a stable string `code` and the
 * subclass's own name. It lives alone, as a leaf module, so that a family of
 * errors kept in its own file (`django-errors.ts`) can extend it while
 * `errors.ts` re-exports that family: were the base in `errors.ts`, the two
 * would import each other and the family's classes could be evaluated before
 * their base exists. Import it from `errors.ts` (or `switchyard`), as before.
 */

/** Base class: every Switchyard error has a stable string code. */
export class SwitchyardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
