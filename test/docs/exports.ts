/**
 * The public names of the package: every export of every subpath's index
 * (`switchyard`, `switchyard/server`...), read with the TypeScript compiler
 * from the sources, types included, each with whether it is `@deprecated`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export interface PublicExport {
  /** The import specifier: `switchyard`, `switchyard/server`... */
  module: string;
  name: string;
  /** A value (class, function, constant) rather than only a type. */
  isValue: boolean;
  /** Marked `@deprecated` where it is declared or re-exported. */
  deprecated: boolean;
}

/** The subpaths of package.json's `exports` that map to a source index, with that index. */
export function subpathIndexes(root: string): Array<{ module: string; file: string }> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const out: Array<{ module: string; file: string }> = [];
  for (const [key, target] of Object.entries(pkg.exports)) {
    const source = typeof target === 'object' && target !== null ? (target as Record<string, string>)['switchyard-source'] : undefined;
    if (source === undefined) continue;
    out.push({ module: key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, file: join(root, source) });
  }
  return out;
}

function isDeprecated(declarations: readonly ts.Declaration[] | undefined): boolean {
  return (declarations ?? []).some((d) => ts.getJSDocDeprecatedTag(d) !== undefined);
}

export function publicExports(root: string): PublicExport[] {
  const indexes = subpathIndexes(root).filter(({ file }) => ts.sys.fileExists(file));
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const program = ts.createProgram(indexes.map((i) => i.file), { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out: PublicExport[] = [];
  for (const { module, file } of indexes) {
    const source = program.getSourceFile(file)!;
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      // Follow re-exports to the declaration, noting a @deprecated on the way.
      let deprecated = isDeprecated(symbol.declarations);
      let target = symbol;
      while (target.flags & ts.SymbolFlags.Alias) {
        target = checker.getImmediateAliasedSymbol(target) ?? checker.getAliasedSymbol(target);
        deprecated ||= isDeprecated(target.declarations);
        if (!(target.flags & ts.SymbolFlags.Alias)) break;
      }
      out.push({ module, name: symbol.name, isValue: (target.flags & ts.SymbolFlags.Value) !== 0, deprecated });
    }
  }
  return out;
}
