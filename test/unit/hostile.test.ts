/**
 * Broken and hostile roots (test/fixtures/makeHostile.mjs): for every case of
 * the corpus, through the core and through the CLI, a clear message that names
 * the item and the cause, every other image still listed, no crash, no
 * unhandled rejection, no hang. The read-only check over every case is in
 * hostileReadOnly.test.ts; the slow and live cases in hostileWalks.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encodeName } from '../../src/core/byteNames';
import { LayerError } from '../../src/core/errors';
import { readLayerFile } from '../../src/core/layerFiles';
import { mergedTree } from '../../src/core/layerStack';
import { walkLayer, type LayerEntry } from '../../src/core/layerWalk';
import type { Layer } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { failOnUnhandledRejections, findMessage, hostileCorpus, listedRefs, names, runCliChild, storeMessages, type HostileCase } from './support/hostile';

const corpus = hostileCorpus();
const cases = typeof corpus === 'string' ? [] : corpus.cases.filter((c) => !c.slow && !c.live);

failOnUnhandledRejections();

/** The case's layer, as its command names it (`IMAGE@N` or a layer id). */
function caseLayer(store: Store, c: HostileCase): Layer | undefined {
  if (!c.layer) return undefined;
  try {
    const step = store.resolveStep(c.command[1]);
    const key = step.image.steps[step.stepIndex].layerKey;
    return store.layer(key);
  } catch {
    return store.layers.find((l) => l.id === c.layer);
  }
}

/** A walk of the layer: its entries, problems and the error that ended it (a LayerError, never anything else). */
async function walk(layer: Layer): Promise<{ entries: LayerEntry[]; problems: string[]; error?: LayerError }> {
  const entries: LayerEntry[] = [];
  const problems: string[] = [];
  if (!layer.content) return { entries, problems, error: new LayerError('not-found', layer.problems.map((p) => p.message).join('; ')) };
  try {
    for await (const e of walkLayer(layer.content, { onProblem: (p) => problems.push(`${p.path}: ${p.message}`) })) entries.push(e);
    return { entries, problems };
  } catch (err) {
    assert.ok(err instanceof LayerError, `the walk fails with a LayerError, not ${String(err)}`);
    return { entries, problems, error: err };
  }
}

if (typeof corpus === 'string') test('hostile corpus', (t) => t.skip(corpus));

describe('through the core', () => {
  for (const c of cases) {
    test(`${c.name}: ${c.damage}`, { timeout: 60_000 }, async () => {
      const store = await Store.open([c.root]);
      const listed = listedRefs(store);
      for (const ref of c.images) assert.ok(listed.has(ref), `${ref} is still listed`);

      const layer = caseLayer(store, c);
      const walked = layer ? await walk(layer) : undefined;
      // Run as root, permissions are no obstacle: the unprivileged cases' messages are checked through the CLI.
      if (c.expect === 'problem' && !c.user) {
        const messages = [...storeMessages(store), ...(walked?.problems ?? []), ...(walked?.error ? [walked.error.message] : [])];
        assert.ok(findMessage(messages, c), `a message names ${c.subject} and says "${c.message}"; got:\n${messages.join('\n')}`);
      }
      if (!walked || !layer?.content || walked.error) return;
      if (c.expect === 'listed' && c.subject.startsWith('/')) {
        assert.ok(walked.entries.some((e) => e.path === c.subject), `${c.subject} is listed`);
      }
      // A name that is not valid UTF-8 is listed like any other, and read by its own bytes (byteNames.ts).
      if (c.rawName) {
        assert.ok(walked.entries.some((e) => e.path === c.rawName!.path), `${c.rawName.shown} is listed`);
        const read = await readLayerFile(layer.content, c.rawName.path);
        assert.equal(read.kind === 'file' ? Buffer.from(read.data).toString() : read.kind, c.rawName.text, `${c.rawName.shown} reads its bytes`);
      }
      // Every entry opens at once or is refused at once: a FIFO is never opened, a symlink never followed.
      for (const e of walked.entries) {
        if (e.type === 'dir' || e.status === 'deleted') continue;
        const started = Date.now();
        try {
          const read = await readLayerFile(layer.content, e.path);
          if (read.kind === 'symlink') assert.equal(read.target, e.target, `${e.path} reads as its stored target`);
          else assert.equal(e.type, 'file', `${e.path}: only regular files have bytes`);
        } catch (err) {
          assert.ok(err instanceof LayerError, `${e.path}: ${String(err)}`);
          assert.ok(e.type !== 'file' || err.code !== 'unsupported', `${e.path}: a regular file is read`);
        }
        assert.ok(Date.now() - started < 2000, `${e.path} (${e.type}) answers at once`);
      }
      // The merged filesystem as of the step: built, or refused with a LayerError.
      const step = store.resolveStep(c.command[1]);
      const contents = step.image.steps.slice(0, step.stepIndex + 1).flatMap((s) => store.layer(s.layerKey)?.content ?? []);
      await mergedTree(contents).catch((err) => assert.ok(err instanceof LayerError, String(err)));
    });
  }
});

/**
 * A name that is not valid UTF-8 through the CLI: shown as `\xNN` in text, its
 * mapped path in --json, and `export` with that path writes a file of the very
 * bytes name with its content.
 */
async function rawNameThroughCli(c: HostileCase, raw: NonNullable<HostileCase['rawName']>, text: string, json: string): Promise<void> {
  assert.ok(text.includes(raw.shown), `files shows ${raw.shown}:\n${text}`);
  const paths = (JSON.parse(json) as { files: { path: string }[] }).files.map((f) => f.path);
  assert.ok(paths.includes(raw.path), `--json lists ${JSON.stringify(raw.path)}`);
  const dest = mkdtempSync(path.join(tmpdir(), 'dle-raw-'));
  try {
    const r = await runCli(['--root', c.root, 'export', c.command[1], raw.path, dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(raw.shown.slice(1)), `export says ${raw.shown}:\n${r.stdout}`);
    const written = readdirSync(dest, { encoding: 'buffer' });
    assert.deepEqual(written, [encodeName(raw.path.slice(1))], 'the copy has the very bytes name');
    assert.equal(readFileSync(Buffer.concat([Buffer.from(dest + '/'), written[0]]), 'utf8'), raw.text);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

describe('through the CLI', () => {
  for (const c of cases) {
    test(`${c.name}: exit ${c.exit}, "${c.message}"`, { timeout: 60_000 }, async () => {
      // The unprivileged cases run the built CLI as their user; the others run in-process.
      const cli = async (args: string[]) => {
        const r = c.user ? runCliChild(c, args) : await runCli(['--root', c.root, ...args]);
        const status = 'status' in r ? r.status : r.code;
        assert.doesNotMatch(r.stderr, /unexpected error/, 'never the unexpected-error path');
        assert.equal(status, c.exit, r.stderr);
        return r;
      };
      const text = await cli(c.command);
      // One line per item, however hostile the names: no raw control character reaches the terminal.
      assert.doesNotMatch(text.stdout + text.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no control character in the output');
      const shown = c.expect === 'listed' ? (await cli([...c.command, '--json'])).stdout : text.stderr;
      assert.ok(names(shown, c.subject), `names ${c.subject}:\n${shown.slice(0, 2000)}`);
      assert.ok(shown.includes(c.message), `says "${c.message}":\n${shown.slice(0, 2000)}`);
      if (c.command[0] === 'containers') assert.ok(names(text.stdout, c.subject), `the container is still listed:\n${text.stdout}`);
      if (c.rawName && !c.user) await rawNameThroughCli(c, c.rawName, text.stdout, shown);

      const images = c.user ? runCliChild(c, ['images', '-a', '--json']) : await runCli(['--root', c.root, 'images', '-a', '--json']);
      assert.doesNotMatch(images.stderr, /unexpected error/);
      if (c.images.length === 0) return;
      const list = (JSON.parse(images.stdout) as { images: { id: string; tags: string[] }[] }).images;
      const refs = new Set(list.flatMap((i) => [...i.tags, i.id, i.id.replace(/^sha256:/, '')]));
      for (const ref of c.images) assert.ok(refs.has(ref), `images -a still lists ${ref}`);
    });
  }
});
