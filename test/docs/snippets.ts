/**
 * Finds the TypeScript examples of the documentation: every ```ts block of
 * README.md and docs/*.md, and every ```ts block inside a doc comment
 * (`/** ... *\/`) of src/**\/*.ts, which is where TSDoc `@example`s live.
 *
 * The convention for writing them, so that each compiles on its own:
 * - a snippet is a module of its own (the test appends `export {}`), compiled
 *   strictly with the project's tsconfig, `switchyard` resolving to src/;
 * - it imports what it uses, by package name (`'switchyard'`,
 *   `'switchyard/server'`...), as a user's code would;
 * - what a fragment assumes and does not show (an `application`, a `user`)
 *   it declares in plain sight: `declare const application: Application;`;
 * - an example in a doc comment of an internal module (one no subpath
 *   exports) imports it by relative path, as its neighbours do
 *   (`import { Inbox } from './inbox.js';` in src/redis/inbox.ts): the test
 *   resolves such paths from the file the comment is in.
 *
 * There is no hidden prelude: what the reader sees is what is compiled.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface Snippet {
  /** A file name for the snippet, unique, readable in tsc's errors: `readme-2`, `src-server-index-L37`. */
  name: string;
  /** Where it comes from: `README.md:48`. */
  origin: string;
  code: string;
  /** For a doc comment's example: the directory of its file, which relative imports start from. */
  sourceDir?: string;
}

/** Line number (1-based) of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The ```ts blocks of a Markdown file. */
export function markdownSnippets(root: string, file: string): Snippet[] {
  const text = readFileSync(join(root, file), 'utf8');
  const base = file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m, i) => ({
    name: `${base}-${i + 1}`,
    origin: `${file}:${lineOf(text, m.index!)}`,
    code: m[1]!,
  }));
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

export interface CommentScan {
  snippets: Snippet[];
  /** `@example` tags whose example is not a ```ts block (so nothing would check it). */
  unfenced: string[];
}

/** The ```ts blocks inside the doc comments of every source file under `dir`. */
export function docCommentSnippets(root: string, dir: string): CommentScan {
  const snippets: Snippet[] = [];
  const unfenced: string[] = [];
  for (const full of tsFiles(join(root, dir))) {
    const file = relative(root, full);
    const text = readFileSync(full, 'utf8');
    const base = file.replace(/\.ts$/, '').replace(/[^A-Za-z0-9]+/g, '-');
    for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
      const start = lineOf(text, comment.index!);
      // Strip the comment's frame: `/**`, `*/` and each line's leading ` * `.
      const lines = comment[0].replace(/^\/\*\*/, '').replace(/\*\/$/, '').split('\n').map((l) => l.replace(/^\s*\* ?/, ''));
      for (let i = 0; i < lines.length; i++) {
        if (/^\s*@example\b/.test(lines[i]!)) {
          // The example is a fence before the next tag (the tag's line may hold a title, a line of prose may follow).
          let j = i + 1;
          while (j < lines.length && !/^```/.test(lines[j]!) && !/^\s*@\w/.test(lines[j]!)) j++;
          if (!/^```ts\s*$/.test(lines[j] ?? '')) unfenced.push(`${file}:${start + i}`);
        }
        if (/^```ts\s*$/.test(lines[i]!)) {
          const body: string[] = [];
          let j = i + 1;
          while (j < lines.length && !/^```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
          if (j === lines.length) unfenced.push(`${file}:${start + i} (unclosed fence)`);
          // `*\/` cannot appear inside a comment; examples write it `*\/`.
          snippets.push({
            name: `${base}-L${start + i}`,
            origin: `${file}:${start + i}`,
            code: body.join('\n').replaceAll('*\\/', '*/') + '\n',
            sourceDir: dirname(full),
          });
          i = j;
        }
      }
    }
  }
  return { snippets, unfenced };
}

/** Every snippet of the project: README.md, docs/*.md, and doc comments in src/. */
export function allSnippets(root: string): CommentScan {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  const markdown = ['README.md', ...docs].flatMap((file) => markdownSnippets(root, file));
  const comments = docCommentSnippets(root, 'src');
  return { snippets: [...markdown, ...comments.snippets], unfenced: comments.unfenced };
}
