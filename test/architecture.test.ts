/**
 * The layers of docs/design.md ("Layout", "Dependency direction"), checked: every import,
 * `export ... from` and dynamic import() of every non-test file under src/ must go in an allowed
 * direction between the top-level modules (the folders under src/). A layer may use any layer
 * below it, never one above, so the directions can only form a DAG and no module cycle can arise.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Where the imports of each top-level module may go, and why. One row per folder under src/. */
const BACKGROUND = ['core', 'blobstore', 'metadata', 'iam', 'jobs', 'registry'];
const LAYERS: Record<string, { may: string[]; why: string }> = {
  core: { may: [], why: 'domain types, the error catalogue, Clock: imports nothing of ours' },
  config: { may: ['core'], why: 'the config schema; only app and cli read it' },
  tls: { may: ['core'], why: 'certificate files (berth tls init): a leaf that only cli uses' },
  blobstore: { may: ['core'], why: 'an interface over bytes and its drivers' },
  metadata: { may: ['core'], why: 'the store interfaces and their SQL drivers' },
  iam: { may: ['core'], why: 'pure policy evaluation' },
  jobs: { may: ['core', 'metadata'], why: 'the durable queue over the metadata store' },
  auth: { may: ['core', 'metadata', 'iam'], why: 'principals from SigV4 and tokens, identities in metadata' },
  // A domain module beside the registry (design item 7: KMS's rules live outside its door); it
  // wraps data keys with blobstore's envelope format.
  kms: { may: ['core', 'metadata', 'blobstore'], why: 'the KMS domain: keys, grants, sealing' },
  registry: { may: ['core', 'blobstore', 'metadata', 'iam', 'jobs'], why: 'the use cases over interfaces' },
  gc: { may: BACKGROUND, why: 'background features use the registry and interfaces, never http or app' },
  lifecycle: { may: BACKGROUND, why: 'background features use the registry and interfaces, never http or app' },
  scan: { may: BACKGROUND, why: 'background features use the registry and interfaces, never http or app' },
  replication: { may: BACKGROUND, why: 'background features use the registry and interfaces, never http or app' },
  events: { may: BACKGROUND, why: 'background features use the registry and interfaces, never http or app' },
  // Prometheus metrics and usage figures: observers of http's request facts, gauges and daily
  // aggregates over the metadata; background features report through core's Telemetry.
  metrics: { may: ['core', 'metadata', 'http'], why: 'request observers, metric gauges and usage aggregates; composed by app' },
  audit: { may: ['core', 'metadata'], why: "the audit trail's records, writer and LookupEvents over the metadata store" },
  secrets: { may: ['core', 'metadata'], why: "Secrets Manager's domain: secrets sealed at rest in the metadata store" },
  pullthrough: { may: [...BACKGROUND, 'secrets'], why: 'the pull-through cache: rules, the upstream client, pulls into the registry core' },
  // tls: the DER encoders and certificate issuing its development certificates use.
  signer: { may: [...BACKGROUND, 'secrets', 'tls'], why: "AWS Signer's profiles (keys sealed at rest) and managed signing's job over the registry core" },
  // lifecycle: ECR's lifecycle-policy preview actions are a thin door over the lifecycle feature.
  // events: the EventBridge door (`aws events`) over the events feature's rules and targets.
  http: {
    may: ['core', 'metadata', 'iam', 'auth', 'kms', 'registry', 'lifecycle', 'events', 'audit', 'secrets', 'pullthrough', 'signer'],
    why: 'front doors over the registry core and domain modules; builds nothing concrete',
  },
  app: {
    may: [
      'core',
      'config',
      'tls',
      'blobstore',
      'metadata',
      'iam',
      'jobs',
      'auth',
      'kms',
      'registry',
      'gc',
      'lifecycle',
      'scan',
      'replication',
      'events',
      'audit',
      'http',
      'metrics',
      'secrets',
      'pullthrough',
      'signer',
    ],
    why: 'the one composition root; only cli imports it',
  },
  cli: {
    may: [
      'core',
      'config',
      'tls',
      'blobstore',
      'metadata',
      'iam',
      'jobs',
      'auth',
      'kms',
      'registry',
      'gc',
      'lifecycle',
      'scan',
      'replication',
      'events',
      'audit',
      'http',
      'metrics',
      'app',
    ],
    why: 'the berth command: the top; nothing imports it',
  },
  console: { may: [], why: 'the web console talks to Berth over HTTP only' },
};

/**
 * Imports that break a rule today and are to be removed, each named with what replaces it.
 * Empty is the goal; an entry here is a debt, not a rule.
 */
const KNOWN_EXCEPTIONS: { file: string; specifier: string; remove: string }[] = [];

/**
 * Classes of another layer that http/ may still construct per request, to be built in app/ and
 * passed in instead. Errors and core's value types are always fine to construct.
 */
const KNOWN_HTTP_CONSTRUCTIONS: { file: string; name: string; remove: string }[] = [];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');

interface Import {
  file: string; // relative to the repository, with '/'
  specifier: string;
  from: string; // top-level module of the importing file
  to: string | undefined; // top-level module imported; undefined outside src/
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function moduleOf(absolute: string): string | undefined {
  const rel = relative(SRC, absolute);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '(src root)';
}

/** Relative imports of our own code, parsed by the TypeScript compiler (static, re-exports, import()). */
export function importsOf(path: string): Import[] {
  const info = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
  const from = moduleOf(path) ?? '(outside src)';
  const file = relative(ROOT, path).split(sep).join('/');
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((specifier) => ({ file, specifier, from, to: moduleOf(resolve(dirname(path), specifier)) }));
}

function isKnownException(i: Import): boolean {
  return KNOWN_EXCEPTIONS.some((k) => k.file === i.file && k.specifier === i.specifier);
}

/** Every rule an import breaks, worded to name the file, the import and the rule. */
export function violations(imports: Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    const rule = LAYERS[i.from];
    if (!rule) {
      out.push(`${i.file}: module '${i.from}' has no row in the layer table; place it there (see docs/design.md "Layout")`);
      continue;
    }
    if (i.to === i.from || isKnownException(i)) continue;
    if (i.to === undefined) {
      out.push(`${i.file} imports '${i.specifier}', outside src/: shipped code may not depend on tests or tools`);
    } else if (!rule.may.includes(i.to)) {
      const allowed = rule.may.length ? rule.may.join(', ') : 'nothing of ours';
      out.push(`${i.file} imports '${i.specifier}' (${i.to}): ${i.from} may import only ${allowed} — ${rule.why}`);
    }
  }
  return out;
}

/** Cycles between top-level modules in the actual import graph, as "a -> b -> a". */
export function moduleCycles(edges: Map<string, Set<string>>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const next of edges.get(m) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...edges.keys()].sort()) if (!state.has(m)) visit(m);
  return cycles;
}

function edgesOf(imports: Import[]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    if (i.to === undefined || i.to === i.from) continue;
    edges.set(i.from, (edges.get(i.from) ?? new Set()).add(i.to));
  }
  return edges;
}

const allImports = (): Import[] => sourceFiles(SRC).flatMap(importsOf);

/**
 * `new X(...)` in a file of `layer` where X is imported from another layer (other than core) and
 * is not an error: the layer builds a service it should be given ("only app/ constructs").
 */
export function foreignConstructions(path: string, layer: string): { file: string; name: string; specifier: string }[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const importedFrom = new Map<string, string>();
  for (const st of source.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || st.importClause?.isTypeOnly) continue;
    const bindings = st.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) importedFrom.set(el.name.text, st.moduleSpecifier.text);
  }
  const found: { file: string; name: string; specifier: string }[] = [];
  const file = relative(ROOT, path).split(sep).join('/');
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
      const name = node.expression.text;
      const specifier = importedFrom.get(name);
      const to = specifier?.startsWith('.') ? moduleOf(resolve(dirname(path), specifier)) : undefined;
      if (specifier && to && to !== layer && to !== 'core' && !/(Error|Exception)$/.test(name)) found.push({ file, name, specifier });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The table as README.md's "Layout" section shows it, one row per module: the README block after
 * LAYOUT_MARKER must read exactly this, so the documented directions cannot drift from the checked ones.
 */
export function renderedLayers(): string {
  const width = Math.max(...Object.keys(LAYERS).map((m) => m.length)) + 1;
  return Object.entries(LAYERS)
    .map(([m, r]) => `${m.padEnd(width)}→ ${r.may.length ? r.may.join(', ') : 'nothing of ours'}`)
    .join('\n');
}
const LAYOUT_MARKER = "<!-- The block below is test/architecture.test.ts's layer table; that test fails when they differ. -->";

test("README.md's Layout section shows the checked layer table, row for row", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(LAYOUT_MARKER);
  assert.ok(at >= 0, `README.md has no line "${LAYOUT_MARKER}"`);
  const block = /```text\n([\s\S]*?)\n```/.exec(readme.slice(at))?.[1];
  assert.equal(block, renderedLayers(), "README.md's layer block differs from LAYERS: paste renderedLayers() into it");
});

test('every import in src/ goes in an allowed direction between layers', () => {
  const imports = allImports();
  assert.ok(imports.length > 100, `the parser found only ${imports.length} imports: is it reading src/?`);
  assert.deepEqual(violations(imports), []);
});

test('no import cycles between top-level modules', () => {
  assert.deepEqual(moduleCycles(edgesOf(allImports())), []);
});

test('the layer table itself has no cycle, so following it cannot make one', () => {
  const table = new Map(Object.entries(LAYERS).map(([m, r]) => [m, new Set(r.may)]));
  assert.deepEqual(moduleCycles(table), []);
});

test('every known exception still exists (remove the entry when its import is gone)', () => {
  const imports = allImports();
  for (const k of KNOWN_EXCEPTIONS) {
    assert.ok(
      imports.some((i) => i.file === k.file && i.specifier === k.specifier),
      `stale exception: ${k.file} '${k.specifier}'`,
    );
  }
});

test('http/ builds no service of another layer: app/ composes them and passes them in', () => {
  const found = sourceFiles(join(SRC, 'http'))
    .flatMap((f) => foreignConstructions(f, 'http'))
    .filter((c) => !KNOWN_HTTP_CONSTRUCTIONS.some((k) => k.file === c.file && k.name === c.name))
    .map((c) => `${c.file} constructs ${c.name} from '${c.specifier}': only app/ builds services; take it as an option`);
  assert.deepEqual(found, []);
  for (const k of KNOWN_HTTP_CONSTRUCTIONS) {
    const path = join(ROOT, k.file);
    assert.ok(
      foreignConstructions(path, 'http').some((c) => c.name === k.name),
      `stale exception: ${k.file} ${k.name}`,
    );
  }
});

test('the checker names a forbidden import and a cycle (it is not vacuous)', () => {
  const bad: Import[] = [
    { file: 'src/core/x.ts', specifier: '../registry/registry.js', from: 'core', to: 'registry' },
    { file: 'src/registry/y.ts', specifier: '../http/server.js', from: 'registry', to: 'http' },
    { file: 'src/gc/z.ts', specifier: '../app/app.js', from: 'gc', to: 'app' },
  ];
  const found = violations(bad);
  assert.equal(found.length, 3);
  assert.match(found[0]!, /^src\/core\/x\.ts imports '\.\.\/registry\/registry\.js' \(registry\): core may import only nothing of ours/);
  assert.match(found[2]!, /gc may import only .*never http or app/);
  const cycle = moduleCycles(edgesOf([...bad, { file: 'src/http/a.ts', specifier: '../core/b.js', from: 'http', to: 'core' }]));
  assert.ok(
    cycle.some((c) => c.includes('core -> registry -> http -> core')),
    cycle.join('; '),
  );
});
