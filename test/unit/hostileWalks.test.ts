/**
 * The hostile cases that are about time: a folder of 1,000,000 entries streams
 * and stops promptly when cancelled; FIFOs and devices never block the CLI (run
 * in a child process that a timeout would kill); a layer removed while it is
 * walked ends the walk with a message, never a crash or a hang.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/main';
import { LayerError } from '../../src/core/errors';
import { walkLayer } from '../../src/core/layerWalk';
import { Store } from '../../src/core/store';
import { copyRoot, failOnUnhandledRejections, hostileCorpus, runCliChild, type HostileCase } from './support/hostile';

const corpus = hostileCorpus();
failOnUnhandledRejections();
const byName = (name: string): HostileCase | undefined => (typeof corpus === 'string' ? undefined : corpus.cases.find((c) => c.name === name));
const skipWhy = (name: string) => (typeof corpus === 'string' ? corpus : `no case ${name} in the corpus`);

/** The content of the case's layer, from the store over its root. */
async function layerOf(c: HostileCase, root = c.root) {
  const store = await Store.open([root]);
  const step = store.resolveStep(c.command[1]);
  const layer = store.layer(step.image.steps[step.stepIndex].layerKey)!;
  assert.ok(layer.content, `${c.layer} has content`);
  return layer.content;
}

test('a folder of 1,000,000 entries: the first entries at once, cancelled promptly, then walked whole', { timeout: 300_000 }, async (t) => {
  const c = byName('overlay2-million-entries');
  if (!c) return t.skip(skipWhy('overlay2-million-entries'));
  const content = await layerOf(c);

  const controller = new AbortController();
  const started = performance.now();
  let firstMs = 0;
  let seen = 0;
  let abortedAt = 0;
  await assert.rejects(
    (async () => {
      for await (const e of walkLayer(content, { signal: controller.signal, stat: false })) {
        if (seen++ === 0) firstMs = performance.now() - started;
        if (e.path.startsWith('/million/') && seen === 50_000) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    })(),
    (err: unknown) => err instanceof LayerError && err.code === 'cancelled',
  );
  const stopMs = performance.now() - abortedAt;
  t.diagnostic(`first entry ${firstMs.toFixed(0)} ms; stopped ${stopMs.toFixed(1)} ms after the abort, at entry ${seen}`);
  assert.ok(abortedAt > 0, 'the walk reached the big folder');
  assert.ok(stopMs < 500, `stops within 500 ms of the abort (${stopMs.toFixed(1)} ms)`);
  assert.ok(seen < 60_000, `no more than a slice of entries after the abort (${seen})`);

  const t0 = performance.now();
  let count = 0;
  let last = '';
  for await (const e of walkLayer(content, { stat: false })) {
    count++;
    if (e.path.startsWith('/million/')) last = e.path;
  }
  t.diagnostic(`whole walk (stat: false): ${count} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.ok(count > 1_000_000, `${count} entries`);
  assert.equal(last, c.subject, 'the last of the million is listed');
});

test('FIFOs, sockets and devices never block: files and json of the layer in a child process', { timeout: 60_000 }, (t) => {
  for (const name of ['overlay2-special-files', 'vfs-special-files', 'legacy-special-files']) {
    const c = byName(name);
    if (!c) return t.skip(skipWhy(name));
    for (const args of [c.command, [...c.command, '--json'], ['json', c.command[1]], ['diff', c.command[1]]]) {
      const r = runCliChild(c, args, 15_000);
      assert.notEqual(r.status, null, `${name}: docker-layers ${args.join(' ')} finished (${r.ms} ms)`);
      assert.ok([0, 1].includes(r.status!), `${name}: ${args.join(' ')}: ${r.stderr}`);
    }
  }
});

test('a layer removed while it is walked: the walk ends with a message, the CLI exits with one', { timeout: 60_000 }, async (t) => {
  for (const name of ['overlay2-layer-removed-during-walk', 'vfs-layer-removed-during-walk']) {
    const c = byName(name);
    if (!c) return t.skip(skipWhy(name));
    const work = mkdtempSync(path.join(os.tmpdir(), 'dle-removed-'));
    try {
      // Through the core: the folder goes after the first entry.
      const root = copyRoot(c, work);
      const content = await layerOf(c, root);
      const target = path.join(root, c.damaged[0]);
      const problems: string[] = [];
      let entries = 0;
      try {
        for await (const _ of walkLayer(content, { onProblem: (p) => problems.push(`${p.path}: ${p.message}`) })) {
          if (entries++ === 0) rmSync(target, { recursive: true });
        }
      } catch (err) {
        assert.ok(err instanceof LayerError, `${name}: a LayerError, not ${String(err)}`);
        problems.push(err.message);
      }
      t.diagnostic(`${name}: ${entries} entries, then: ${problems.slice(0, 3).join(' | ')}`);
      assert.ok(problems.some((p) => p.includes(c.message)), `${name}: a message says "${c.message}": ${problems.join('\n')}`);

      // Through the CLI: the folder goes at the first line of output.
      rmSync(root, { recursive: true });
      const again = copyRoot(c, work);
      let stderr = '';
      let removed = false;
      const status = await run(['--root', again, ...c.command, '--json'], {
        write: () => {
          if (!removed) rmSync(path.join(again, c.damaged[0]), { recursive: true });
          removed = true;
        },
        warn: (text) => void (stderr += text + '\n'),
      });
      assert.ok(removed, 'the layer was removed during the command');
      assert.doesNotMatch(stderr, /unexpected error/);
      assert.ok([0, 1, 2].includes(status), `${name}: exit ${status}: ${stderr}`);
      assert.ok(status === 0 ? stderr.includes(c.message) : stderr.length > 0, `${name}: says what happened: ${stderr}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
});
