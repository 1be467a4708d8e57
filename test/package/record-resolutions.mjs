// Loaded with `--import` by test/package/exports.test.ts: records the URL of
// every module the ESM loader resolves, one a line, in the file named by
// SWITCHYARD_RESOLUTIONS. The hook runs on the loader's thread and appends
// synchronously, so the file is complete when the import that caused the
// resolution returns. (CommonJS `require()`s inside a CommonJS package do not
// pass through this hook on Node 20; the test reads `require.cache` for those.)
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, result.url + '\\n');
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: process.env.SWITCHYARD_RESOLUTIONS } });
