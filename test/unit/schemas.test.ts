/**
 * The `--json` contract: every command in COMMANDS has a JSON Schema at
 * schemas/<command>.schema.json (draft 2020-12, every field described), and
 * the real output of each schema's examples (`x-dle-examples`) on the real
 * roots validates against it and carries the current schemaVersion. Schemas
 * are discovered, so a command added later is held to the same contract.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { COMMANDS } from '../../src/cli/commands';
import { SCHEMA_VERSION } from '../../src/cli/jsonOutput';
import { runCli } from './support/cli';
import { PROJECT_ROOTS, projectRoot, repoRoot, whyMissing } from './support/roots';

const SCHEMA_DIR = path.join(repoRoot, 'schemas');
const SUFFIX = '.schema.json';

interface CommandSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  properties?: Record<string, { const?: unknown }>;
  'x-dle-examples'?: unknown;
}

const schemas = readdirSync(SCHEMA_DIR)
  .filter((f) => f.endsWith(SUFFIX))
  .sort()
  .map((file) => ({
    file,
    command: file.slice(0, -SUFFIX.length),
    schema: JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as CommandSchema,
  }));

function newAjv(): Ajv2020 {
  // strict: an unknown keyword or a misspelt one is an error, not silently ignored.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addKeyword('x-dle-examples');
  return ajv;
}

/** JSON pointers of the properties (at any depth) that have no description. */
function undescribed(node: unknown, at = ''): string[] {
  if (!node || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((n, i) => undescribed(n, `${at}/${i}`));
  const out: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'x-dle-examples' || key === 'const' || key === 'enum') continue;
    if (key === 'properties' && value && typeof value === 'object') {
      for (const [name, prop] of Object.entries(value)) {
        if (!prop || typeof prop !== 'object' || typeof (prop as { description?: unknown }).description !== 'string') {
          out.push(`${at}/properties/${name}`);
        }
      }
    }
    out.push(...undescribed(value, `${at}/${key}`));
  }
  return out;
}

test('every CLI command has a schema, and every schema names a command', () => {
  const have = new Set(schemas.map((s) => s.command));
  const missing = Object.keys(COMMANDS).filter((c) => !have.has(c));
  assert.deepEqual(missing, [], `commands without schemas/<command>${SUFFIX}`);
  const orphans = schemas.map((s) => s.command).filter((c) => !(c in COMMANDS));
  assert.deepEqual(orphans, [], 'schemas of no command');
});

for (const { file, command, schema } of schemas) {
  test(`${file}: a draft 2020-12 schema of the ${command} envelope, every field described`, () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.ok(schema.$id && schema.$id.includes(command), `$id names ${command}: ${schema.$id}`);
    assert.ok(schema.title && schema.description, 'title and description');
    assert.equal(schema.properties?.schemaVersion?.const, SCHEMA_VERSION, 'schemaVersion is the current one');
    assert.equal(schema.properties?.command?.const, command, 'command is the file name');
    assert.deepEqual(undescribed(schema), [], 'properties without a description');
    newAjv().compile(schema);
    const examples = schema['x-dle-examples'];
    assert.ok(Array.isArray(examples) && examples.length > 0, 'x-dle-examples lists argument lists');
    for (const args of examples as unknown[]) {
      assert.ok(Array.isArray(args) && args.every((a) => typeof a === 'string'), `an example is a list of strings: ${JSON.stringify(args)}`);
      assert.equal(args[0], command, `an example runs ${command}: ${JSON.stringify(args)}`);
      assert.ok(!args.some((a) => a === '--json' || a === '--root' || a.startsWith('--root=')), 'no --json, no --root in an example');
    }
  });

  test(`${command} --json: each example's real output validates against ${file}`, async (t) => {
    const validate = newAjv().compile(schema);
    const examples = (schema['x-dle-examples'] ?? []) as string[][];
    for (const name of PROJECT_ROOTS) {
      const r = projectRoot(name);
      if (!r) {
        if (name === 'overlay2') return t.skip(whyMissing(name));
        t.diagnostic(`${name}: ${whyMissing(name)}`);
        continue;
      }
      for (const args of examples) {
        const run = await runCli(['--root', r.root, ...args, '--json']);
        const label = `${name}: docker-layers ${args.join(' ')} --json`;
        // Exit 1 with nothing printed: the example's image is not on this root (only the
        // overlay2 root holds them all). Exit 1 with a document is a command's negative answer.
        if (run.code === 1 && run.stdout === '' && name !== 'overlay2') {
          t.diagnostic(`${label}: not on this root (${run.stderr.trim()})`);
          continue;
        }
        assert.ok(run.code === 0 || run.code === 1, `${label} exited ${run.code}: ${run.stderr}`);
        let doc: { schemaVersion?: unknown; command?: unknown };
        try {
          doc = JSON.parse(run.stdout);
        } catch (err) {
          assert.fail(`${label} printed no JSON document (${(err as Error).message}): ${run.stdout.slice(0, 200)}`);
        }
        assert.equal(doc.schemaVersion, SCHEMA_VERSION, `${label}: schemaVersion`);
        assert.equal(doc.command, command, `${label}: command`);
        assert.ok(validate(doc), `${label}: ${JSON.stringify(validate.errors, null, 2)}`);
      }
    }
  });
}

test('a document that breaks the promised shape fails validation (the schemas can fail)', () => {
  const images = schemas.find((s) => s.command === 'images');
  assert.ok(images, 'schemas/images.schema.json exists');
  const validate = newAjv().compile(images.schema);
  const good = {
    schemaVersion: SCHEMA_VERSION,
    command: 'images',
    images: [
      {
        id: 'sha256:' + 'a'.repeat(64), tags: [], digests: [], layers: 1, created: null, size: 3, sharedSize: 1, uniqueSize: 2,
        intermediate: false, source: 'image/overlay2', root: '/r', problems: [],
      },
    ],
  };
  assert.ok(validate(good), JSON.stringify(validate.errors));
  assert.ok(!validate({ ...good, schemaVersion: SCHEMA_VERSION + 1 }), 'another schemaVersion');
  assert.ok(!validate({ ...good, extra: 1 }), 'an unpromised top-level key');
  assert.ok(!validate({ ...good, images: [{ ...good.images[0], sharedSize: -1 }] }), 'a negative size');
  const { uniqueSize: _dropped, ...withoutUnique } = good.images[0];
  assert.ok(!validate({ ...good, images: [withoutUnique] }), 'a missing required field');
});
