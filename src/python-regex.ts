/**
 * Python regular expressions, as Django's `re_path()` reads them, compiled to JavaScript
 * (used by `rePath()` for string patterns).
 *
 * How it works. A Python `str` pattern means something else than the same text in a
 * JavaScript `RegExp`, even where the syntax is shared: Python 3's `\w`, `\d`, `\s` and `\b`
 * are Unicode-aware (`聊天` matches `\w+`), JavaScript's are ASCII. The pattern is read once,
 * token by token, and written out as a `u`-flag `RegExp` with the same meaning:
 *
 * - `\w` is Python's definition, "the characters of `str.isalnum()`, and the underscore":
 *   letters and numbers (`[\p{L}\p{N}_]`; combining marks are not in it, as in Python);
 *   `\d` is `\p{Nd}`; `\s` is `str.isspace()`'s set; `\b` and `\B` use that `\w`. Inside
 *   character classes too (`[\w.-]`), negated ones (`[^\W\d]`) included.
 * - Python-only syntax: `(?P<name>…)`, `(?P=name)`, `(?#comment)`, leading inline flags
 *   `(?aimsux)` (`a`: the ASCII meanings, `x`: verbose), `\A`, `\Z`, `\a`, `\U0001F600`,
 *   octal escapes, `{,n}`, and literal braces and brackets that Python accepts unescaped.
 * - `.` never matches `\n` (and does match `\r`), as in Python.
 * - What JavaScript cannot express (scoped flags `(?i:…)`, conditionals `(?(1)…)`, atomic
 *   groups, possessive quantifiers, `\N{…}`) is refused with {@link ImproperlyConfigured} when
 *   the route is declared, never silently read otherwise.
 *
 * `$` keeps JavaScript's meaning (the very end, not "before a final newline"): for an endpoint
 * route Django uses `fullmatch`, where the two agree.
 */
import { ImproperlyConfigured } from './errors.js';

/** The meanings of the class escapes, as class contents (without brackets). */
interface Classes { w: string; d: string; s: string }

const UNICODE: Classes = {
  w: '\\p{L}\\p{N}_',
  d: '\\p{Nd}',
  // str.isspace(): bidirectional types WS, B, S and category Zs (not U+FEFF, unlike JavaScript's \s).
  s: '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000',
};
const ASCII: Classes = { w: 'A-Za-z0-9_', d: '0-9', s: '\\t\\n\\v\\f\\r ' };

const SYNTAX = new Set('^$\\.*+?()[]{}|/');
const CLASS_SYNTAX = new Set('\\]-[^');
const OCTAL = /^[0-7]$/;

/** A compiled pattern: the search form, and the whole-string form Django uses for endpoints. */
export interface PythonRegex {
  /** `regex.search()`. */
  search: RegExp;
  /** `regex.fullmatch()`. */
  full: RegExp;
}

/**
 * Compiles a Python `re` pattern (a `str` pattern, as in Django's `re_path`) to JavaScript.
 *
 * @example
 * ```ts
 * import { compilePythonRegex } from './python-regex.js';
 *
 * compilePythonRegex('ws/chat/(?P<room_name>\\w+)/$').search.exec('ws/chat/聊天/')?.groups; // { room_name: '聊天' }
 * ```
 */
export function compilePythonRegex(pattern: string): PythonRegex {
  const { body, flags } = new Translator(pattern).translate();
  try {
    return {
      search: new RegExp(body, flags),
      full: new RegExp(`(?<![\\s\\S])(?:${body})(?![\\s\\S])`, flags),
    };
  } catch (error) {
    throw new ImproperlyConfigured(`Invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

class Translator {
  readonly #src: string;
  #i = 0;
  #classes: Classes = UNICODE;
  #dotAll = false;
  #verbose = false;

  constructor(src: string) {
    this.#src = src;
  }

  translate(): { body: string; flags: string } {
    let flags = 'u';
    // Global inline flags: Python 3.11 allows them only at the start.
    for (let m = /^\(\?([aiLmsux]+)\)/.exec(this.#src); m !== null; m = /^\(\?([aiLmsux]+)\)/.exec(this.#src.slice(this.#i))) {
      for (const flag of m[1]!) {
        if (flag === 'a') this.#classes = ASCII;
        else if (flag === 'L') this.#fail('the L (locale) flag is for bytes patterns only');
        else if (flag === 's') this.#dotAll = true;
        else if (flag === 'x') this.#verbose = true;
        else if ((flag === 'i' || flag === 'm') && !flags.includes(flag)) flags += flag;
      }
      this.#i += m[0].length;
    }
    let out = '';
    while (this.#i < this.#src.length) out += this.#token();
    return { body: out, flags };
  }

  #fail(why: string): never {
    throw new ImproperlyConfigured(`Cannot use the regular expression ${JSON.stringify(this.#src)} in rePath(): ${why} (at ${this.#i})`);
  }

  /** One token outside a character class, translated. */
  #token(): string {
    const src = this.#src;
    const c = src[this.#i]!;
    if (this.#verbose && /\s/.test(c)) return (this.#i++, '');
    if (this.#verbose && c === '#') {
      const end = src.indexOf('\n', this.#i);
      this.#i = end === -1 ? src.length : end + 1;
      return '';
    }
    if (c === '\\') return this.#escape();
    if (c === '[') return this.#charClass();
    if (c === '(') return this.#group();
    this.#i++;
    switch (c) {
      case '.':
        return this.#dotAll ? '[\\s\\S]' : '[^\\n]';
      case '{': {
        const m = /^(\d*)(?:(,)(\d*))?\}/.exec(src.slice(this.#i));
        if (m === null || (m[1] === '' && m[2] === undefined)) return '\\{'; // Python reads it as a literal
        this.#i += m[0].length;
        return this.#quantifier(m[2] === undefined ? `{${m[1]}}` : `{${m[1] || '0'},${m[3]}}`);
      }
      case '}':
      case ']':
        return `\\${c}`; // literal in Python; an error unescaped under JavaScript's u flag
      case '*': case '+': case '?':
        return this.#quantifier(c);
      default:
        return c;
    }
  }

  /** A quantifier and a following lazy `?`; a possessive `+` has no JavaScript equivalent. */
  #quantifier(c: string): string {
    const next = this.#src[this.#i];
    if (next === '+') this.#fail('possessive quantifiers are not supported');
    if (next === '?') return (this.#i++, `${c}?`);
    return c;
  }

  #group(): string {
    const rest = this.#src.slice(this.#i);
    const named = /^\(\?P<([^>]+)>/.exec(rest);
    if (named) return (this.#i += named[0].length, `(?<${named[1]}>`);
    const backref = /^\(\?P=([^)]+)\)/.exec(rest);
    if (backref) return (this.#i += backref[0].length, `\\k<${backref[1]}>`);
    if (rest.startsWith('(?#')) {
      const end = this.#src.indexOf(')', this.#i);
      if (end === -1) this.#fail('unterminated comment');
      this.#i = end + 1;
      return '';
    }
    const plain = /^\((?:\?(?::|=|!|<=|<!|<(?=[^=!])))?/.exec(rest)!;
    if (plain[0] === '(' && rest[1] === '?') {
      if (rest[2] === '>') this.#fail('atomic groups are not supported');
      if (rest[2] === '(') this.#fail('conditional groups are not supported');
      if (/^\(\?[-aiLmsux]+[:)]/.test(rest)) this.#fail('inline flags are supported only at the start of the pattern');
      this.#fail('unknown extension');
    }
    this.#i += plain[0].length;
    return plain[0];
  }

  /** An escape outside a character class. */
  #escape(): string {
    const src = this.#src;
    const c = src[this.#i + 1];
    if (c === undefined) this.#fail('a trailing backslash');
    this.#i += 2;
    const { w, d, s } = this.#classes;
    switch (c) {
      case 'w': return `[${w}]`;
      case 'W': return `[^${w}]`;
      case 'd': return `[${d}]`;
      case 'D': return `[^${d}]`;
      case 's': return `[${s}]`;
      case 'S': return `[^${s}]`;
      case 'b': return `(?:(?<=[${w}])(?![${w}])|(?<![${w}])(?=[${w}]))`;
      case 'B': return `(?:(?<=[${w}])(?=[${w}])|(?<![${w}])(?![${w}]))`;
      case 'A': return '(?<![\\s\\S])';
      case 'Z': return '(?![\\s\\S])';
      default: {
        if (/[1-9]/.test(c) && !this.#isOctal(c)) {
          const two = /^[0-9]/.test(src[this.#i] ?? '') ? src[this.#i++]! : '';
          return `(?:\\${c}${two})`; // Python's group reference, delimited from any digit after it
        }
        return literal(this.#character(c), SYNTAX);
      }
    }
  }

  /** Whether `\<first>` starts a 3-digit octal escape (Python: the first digit is 0-7 and two more octal digits follow). */
  #isOctal(first: string): boolean {
    return OCTAL.test(first) && OCTAL.test(this.#src[this.#i] ?? '') && OCTAL.test(this.#src[this.#i + 1] ?? '');
  }

  /** The character an escape `\c` (already consumed) stands for, outside or inside a class. */
  #character(c: string): string {
    const src = this.#src;
    const hex = (length: number): string => {
      const digits = src.slice(this.#i, this.#i + length);
      if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(digits)) this.#fail(`\\${c} needs ${length} hex digits`);
      this.#i += length;
      const code = Number.parseInt(digits, 16);
      if (code > 0x10ffff) this.#fail('a code point above U+10FFFF');
      return String.fromCodePoint(code);
    };
    switch (c) {
      case 'a': return '\x07';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'v': return '\v';
      case 'x': return hex(2);
      case 'u': return hex(4);
      case 'U': return hex(8);
      case 'N': return this.#fail('\\N{…} named characters are not supported');
    }
    if (OCTAL.test(c)) {
      let digits = c;
      while (digits.length < 3 && OCTAL.test(src[this.#i] ?? '')) digits += src[this.#i++];
      return String.fromCodePoint(Number.parseInt(digits, 8));
    }
    if (/[A-Za-z0-9]/.test(c)) this.#fail(`bad escape \\${c}`);
    return c; // an escaped punctuation mark or non-ASCII character is itself
  }

  /** A character class, `[` to its `]`. Negated escapes (`\W`…) inside it become lookarounds. */
  #charClass(): string {
    const src = this.#src;
    this.#i++;
    const negated = src[this.#i] === '^';
    if (negated) this.#i++;
    let content = '';
    const excluded: string[] = []; // the contents of \W, \D, \S met inside: "not these"
    let first = true;
    for (;;) {
      const c = src[this.#i];
      if (c === undefined) this.#fail('unterminated character set');
      if (c === ']' && !first) break;
      first = false;
      if (c === '\\') {
        const e = src[this.#i + 1];
        if (e === undefined) this.#fail('a trailing backslash');
        this.#i += 2;
        const { w, d, s } = this.#classes;
        if (e === 'w' || e === 'd' || e === 's') content += e === 'w' ? w : e === 'd' ? d : s;
        else if (e === 'W' || e === 'D' || e === 'S') excluded.push(e === 'W' ? w : e === 'D' ? d : s);
        else if (e === 'b') content += '\\x08';
        else if (/[AZB]/.test(e) || /[89]/.test(e)) this.#fail(`bad escape \\${e} in a character set`);
        else content += literal(this.#character(e), CLASS_SYNTAX);
        continue;
      }
      this.#i++;
      // A '-' between two items is the range operator, at either end a literal: the same in both languages.
      content += c === '-' ? '-' : literal(c, CLASS_SYNTAX);
    }
    this.#i++; // the ']'
    if (excluded.length === 0) return `[${negated ? '^' : ''}${content}]`;
    if (!negated) return `(?:${[...(content ? [`[${content}]`] : []), ...excluded.map((x) => `[^${x}]`)].join('|')})`;
    // Not (content or not-X or not-Y): in X and in Y, and not in content.
    const last = excluded.pop()!;
    return `(?:${content ? `(?![${content}])` : ''}${excluded.map((x) => `(?=[${x}])`).join('')}[${last}])`;
  }
}

/** `c` as a literal in a JavaScript `u` pattern (escaped when it is syntax there). */
function literal(c: string, syntax: Set<string>): string {
  if (syntax.has(c)) return `\\${c}`;
  const code = c.codePointAt(0)!;
  // Control characters and lone surrogates are written as code points, so the source stays readable and valid.
  return code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff) ? `\\u{${code.toString(16)}}` : c;
}
