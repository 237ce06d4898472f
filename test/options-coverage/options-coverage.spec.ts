import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { root } from '../support/compiled-sources.js';

/**
 * Every option must have a test that uses it. The list of options is read from the code (the types of
 * `AuthModuleOptions` and of its groups, through the TypeScript checker), never kept by hand, so an option added
 * without a test fails `npm test` here.
 *
 * The criterion, cheap and honest: the option's name is written as a key of an object literal in some spec file
 * (not this one, not a `.typecheck.ts` file that only compiles), and for an option of a group (`loginThrottle.perIp`)
 * the same spec file also writes the group's key (`loginThrottle:`): specs often pass a group's options through a
 * helper (`boot({ perIp: ... })` that builds `loginThrottle: { ... }`), so the two need not be in one literal. A
 * spec that sets an option is a spec that runs with it; whether it asserts its effect is for review, but an option
 * nobody ever sets cannot have a test of its effect.
 */
const GROUPS = ['jwt', 'loginThrottle', 'cookies', 'apiKeys', 'revocation'] as const;

/** `AuthModuleOptions` and the groups' options, from the types. */
function declaredOptions(): { top: string[]; groups: Record<string, string[]> } {
  const file = join(root, 'src/options/auth-options.ts');
  const program = ts.createProgram([file], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  let options: ts.InterfaceDeclaration | undefined;
  ts.forEachChild(source, (node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === 'AuthModuleOptions') options = node;
  });
  if (!options) throw new Error('AuthModuleOptions not found in src/options/auth-options.ts');
  const type = checker.getTypeAtLocation(options.name);
  const top = checker.getPropertiesOfType(type).map((p) => p.name);
  const groups: Record<string, string[]> = {};
  for (const group of GROUPS) {
    const symbol = type.getProperty(group);
    if (!symbol) throw new Error(`AuthModuleOptions has no ${group}`);
    const groupType = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(symbol, options));
    // `loginThrottle: LoginThrottleOptions | false`: the object members of the union.
    const members = groupType.isUnion() ? groupType.types : [groupType];
    const names = new Set<string>();
    for (const member of members) {
      if (member.flags & ts.TypeFlags.Object) for (const p of checker.getPropertiesOfType(member)) names.add(p.name);
    }
    groups[group] = [...names];
  }
  return { top, groups };
}

function specFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : specFiles(path);
    return e.name.endsWith('.spec.ts') && e.name !== 'options-coverage.spec.ts' ? [path] : [];
  });
}

const keyOf = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined;

/** Every key written in an object literal of the specs, and `group.key` for each pair of keys of one spec file. */
function usedKeys(): { keys: Set<string>; grouped: Set<string> } {
  const keys = new Set<string>();
  const grouped = new Set<string>();
  const files = [...specFiles(join(root, 'test')), ...specFiles(join(root, 'sample-app/test'))];
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const inFile = new Set<string>();
    const visit = (node: ts.Node) => {
      if (ts.isObjectLiteralExpression(node)) {
        for (const prop of node.properties) {
          const key = ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop) ? keyOf(prop.name) : undefined;
          if (key !== undefined) inFile.add(key);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    for (const key of inFile) keys.add(key);
    for (const group of GROUPS) if (inFile.has(group)) for (const key of inFile) grouped.add(`${group}.${key}`);
  }
  return { keys, grouped };
}

describe('every option of AuthModuleOptions is set by some test', () => {
  const declared = declaredOptions();
  const used = usedKeys();

  test('the options are read from the code (a sanity check of the parsing)', () => {
    expect(declared.top).toEqual(expect.arrayContaining(['jwt', 'store', 'loginThrottle', 'cookies', 'apiKeys', 'revocation']));
    expect(declared.groups.jwt).toEqual(expect.arrayContaining(['secret', 'accessTokenTtl', 'verifiedTokenCacheMb']));
    expect(declared.groups.loginThrottle).toEqual(expect.arrayContaining(['perIp', 'passwordChecks', 'pacingMs']));
    expect(declared.groups.cookies).toEqual(expect.arrayContaining(['enabled', 'csrf', 'tokensInBody']));
    expect(declared.groups.revocation).toEqual(expect.arrayContaining(['syncIntervalMs', 'channel']));
  });

  test('no top-level option without a spec that sets it', () => {
    const missing = declared.top.filter((name) => !used.keys.has(name));
    if (missing.length > 0) process.stdout.write(`[options-coverage] top-level options no spec sets: ${missing.join(', ')}\n`);
    expect(missing).toEqual([]);
  });

  const missingIn = (group: (typeof GROUPS)[number]) =>
    declared.groups[group]!.filter((name) => !used.grouped.has(`${group}.${name}`)).map((n) => `${group}.${n}`);

  test.each(GROUPS)('no %s option without a spec that sets it', (group) => {
    const missing = missingIn(group);
    if (missing.length > 0) process.stdout.write(`[options-coverage] options no spec sets: ${missing.join(', ')}\n`);
    expect(missing).toEqual([]);
  });
});
