/**
 * Keeps src/core/errors.ts the one place wire error names live: scans the sources (not the tests)
 * for error constructions named by a string literal and for registered wire names written out,
 * and checks every catalogue entry is used. The sources are read from src/, next to dist/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CloudTrailCodes, Codes, EcrCodes, EventsCodes, IamCodes, KmsCodes } from './errors.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const SRC = join(ROOT, 'src');
const CATALOGUE = join(SRC, 'core', 'errors.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && path !== CATALOGUE ? [path] : [];
  });
}

interface Source {
  file: string;
  text: string;
}

function where(src: Source, index: number): string {
  return `${relative(ROOT, src.file)}:${src.text.slice(0, index).split('\n').length}`;
}

/** Constructors and factories whose first argument names the wire error. */
const ERROR_MAKERS = /\b(?:new\s+(?:EcrError|QueryError|IdentityError|KmsKeyError|RegistryError)|kmsError|kmsInvalid|kmsWireError|orNotFound)\s*\(\s*['"`]/g;
const TYPE_MEMBER = /\b__type\s*:\s*['"`]/g;
const STRING_LITERAL = /'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"|`([^`$\\]*)`/g;

const SECTIONS = { Codes, EcrCodes, IamCodes, KmsCodes, EventsCodes, CloudTrailCodes } as const;

/**
 * The AWS JSON names, which nothing else is called. IAM's names are left out: some are words
 * with other uses (AuthError's reasons, S3's AccessDenied), so they are caught at construction.
 */
function jsonNames(): Set<string> {
  const names = new Set<string>();
  for (const c of Object.values(Codes)) names.add(c.ecr);
  for (const section of [EcrCodes, KmsCodes, EventsCodes, CloudTrailCodes]) for (const c of Object.values(section)) names.add(c.code);
  return names;
}

/** The text with its comments blanked, lines kept, so a comment may name an error. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/^\s*\/\/.*$/gm, '');
}

/** Every place in `srcs` that names a wire error outside the catalogue, as file:line and what. */
export function offences(srcs: readonly Source[]): string[] {
  const names = jsonNames();
  const found: string[] = [];
  for (const { file, text: raw } of srcs) {
    const src = { file, text: code(raw) };
    for (const re of [ERROR_MAKERS, TYPE_MEMBER]) {
      for (const m of src.text.matchAll(re)) found.push(`${where(src, m.index)}: error named by a string literal: ${m[0]}`);
    }
    for (const m of src.text.matchAll(STRING_LITERAL)) {
      const value = m[1] ?? m[2] ?? m[3] ?? '';
      if (names.has(value) || /^[A-Z][A-Za-z0-9]*Exception$/.test(value)) found.push(`${where(src, m.index)}: wire name '${value}' outside the catalogue`);
    }
  }
  return found;
}

const all = (): Source[] => sources(SRC).map((file) => ({ file, text: readFileSync(file, 'utf8') }));

describe('the error catalogue', () => {
  it('is the only place a wire error name is written', () => {
    assert.deepEqual(offences(all()), []);
  });

  it('catches a handler that makes up its own name', () => {
    const handler = { file: join(SRC, 'http', 'ecr', 'actions', 'x.ts'), text: "import x;\n  throw new EcrError('FooException', 'x');\n" };
    assert.deepEqual(offences([handler]), [
      "src/http/ecr/actions/x.ts:2: error named by a string literal: new EcrError('",
      "src/http/ecr/actions/x.ts:2: wire name 'FooException' outside the catalogue",
    ]);
    const query = {
      file: join(SRC, 'http', 'iam', 'x.ts'),
      text: '/** Says NoSuchEntityException. */\nthrow new QueryError(\n  `Nope`, m);\nconst kms = ["KMSInternalException"];',
    };
    assert.deepEqual(offences([query]), [
      'src/http/iam/x.ts:2: error named by a string literal: new QueryError(\n  `',
      "src/http/iam/x.ts:4: wire name 'KMSInternalException' outside the catalogue",
    ]);
  });

  it('has no entry nothing uses', () => {
    const text = all()
      .map((s) => s.text)
      .join('\n');
    const unused = Object.entries(SECTIONS).flatMap(([section, entries]) =>
      Object.keys(entries)
        .filter((key) => !new RegExp(`(?<![A-Za-z])${section}\\.${key}\\b`).test(text))
        .map((key) => `${section}.${key}`),
    );
    assert.deepEqual(unused, []);
  });

  it('registers each name once in its section', () => {
    const ecrNames = new Set(Object.values(Codes).map((c) => c.ecr));
    for (const [section, entries] of Object.entries({ EcrCodes, IamCodes, KmsCodes, EventsCodes, CloudTrailCodes })) {
      const codes = Object.values(entries).map((c) => c.code);
      assert.equal(new Set(codes).size, codes.length, `${section} has a name twice`);
      if (section === 'EcrCodes')
        assert.deepEqual(
          codes.filter((c) => ecrNames.has(c)),
          [],
          'EcrCodes repeats a Codes entry',
        );
    }
  });
});
