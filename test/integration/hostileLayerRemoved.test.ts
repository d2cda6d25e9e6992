/**
 * The live hostile cases (`live: "remove-layer-during-walk"` in the manifest):
 * a layer's content folder removed while the Layer Files view walks it.
 *
 * Each runs on a disposable copy of the case's root made here: removing inside
 * it is the point of the case, so the read-only fingerprint of the other cases
 * does not apply. To be deterministic, not racy, the copy's layer gets a folder
 * of ENTRIES hard links (its walk certainly outlasts the first rows), and the
 * layer's folder is taken away once VS Code has taken the first rows: renamed
 * out of the root, on the extension host's own thread, so that it is gone at
 * once and whole (an rm -r would race the walk, and hold the host for seconds),
 * then deleted. The walk is asserted to be still running at that moment.
 *
 * Then: the walk ends, promptly, with a message that the folder does not exist
 * naming the layer; what was listed stays listed; no unhandled rejection; the
 * view is not frozen (another layer still lists).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension';
import type { Load } from '../../src/layerFilesItems';
import { names, type HostileCase } from '../unit/support/hostile';
import { api, readHostileManifest, sleep, useRoots, waitFor, watchUnhandled } from './extensionApi';
import { after, suite, test } from './harness';

const manifest = readHostileManifest();
/** Entries added to the copy's layer: walking them takes far longer than noticing the first rows (a few ms). */
const ENTRIES = 50_000;
/** How long the walk may take to end once its folder is gone; it should stop within STOP_MS. */
const END_MS = 30_000;
const STOP_MS = 2000;

/** The copy of the case's root, its layer grown by a folder of ENTRIES hard links (made in a child process). */
async function grownCopy(c: HostileCase, work: string): Promise<string> {
  const root = path.join(work, 'root');
  await promisify(execFile)('cp', ['-a', c.root, root]);
  // A new inode every 50,000 names: ext4 allows 65,000 links to one.
  const script = `const fs = require('fs'); const [dir, n] = process.argv.slice(1); fs.mkdirSync(dir);
    for (let i = 0; i < Number(n); i++) i % 50000 ? fs.linkSync(dir + '/f' + (i - i % 50000), dir + '/f' + i) : fs.writeFileSync(dir + '/f' + i, '');`;
  await promisify(execFile)(process.execPath, ['-e', script, path.join(root, c.damaged[0], 'many'), String(ENTRIES)], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  return root;
}

/** The new listing once VS Code has taken its first rows; polled every few ms (waitFor's 100 ms would let the walk run on). */
async function firstRows(a: ExtensionApi, before: Load | undefined): Promise<Load> {
  for (const end = Date.now() + 30_000; Date.now() < end; await sleep(2)) {
    const load = a.layerFiles.load;
    if (load && load !== before && load.firstRowsMs !== undefined) return load;
  }
  throw new Error('the first rows: not in the Layer Files view within 30 s');
}

suite('Layer removed during its walk', () => {
  const work: string[] = [];

  after(async () => {
    await useRoots(await api(), undefined);
    // Asynchronously: a synchronous rm of the grown layers would hold the extension host for seconds.
    await Promise.all(work.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  if (typeof manifest === 'string') {
    test.skip(manifest, () => undefined);
    return;
  }

  for (const c of manifest.cases.filter((x) => x.live === 'remove-layer-during-walk')) {
    test(c.name, async () => {
      const a = await api();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-removed-'));
      work.push(dir);
      const root = await grownCopy(c, dir);
      const store = await useRoots(a, [root]);
      const [ref, at] = c.command[1].split('@');
      const image = store.images.find((i) => i.tags.includes(ref));
      assert.ok(image, `${ref} is listed`);
      const stepIndex = Number(at);
      const layer = store.layer(image.steps[stepIndex].layerKey);
      assert.ok(layer?.content && names(layer.id, c.subject), `${c.command[1]} is the layer ${c.subject}`);
      const folder = path.join(root, c.damaged[0]);
      assert.equal(layer.content.dir, folder, 'its folder is the one the case removes, in the copy');

      await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
      await waitFor('the Layer Files view', () => a.layerFiles.view?.visible);
      const watch = watchUnhandled();
      try {
        const before = a.layerFiles.load;
        const shown = a.layerFiles.show({ kind: 'step', image, stepIndex });
        // VS Code took the first rows: the folder goes, at once, while the walk still runs.
        const load = await firstRows(a, before);
        const listed = load.listing!.children('/').map((e) => e.path);
        const atRemoval = { entries: load.entries, done: load.done };
        const removed = performance.now();
        renameSync(folder, path.join(dir, 'removed'));
        assert.equal(atRemoval.done, false, `the walk was still running when its folder went (${atRemoval.entries} of ${ENTRIES}+ entries)`);

        await waitFor('the walk to end', () => load.done, END_MS);
        await shown;
        const endMs = performance.now() - removed;
        const shownText = [load.error ?? '', a.layerFiles.view?.message ?? ''];
        console.log(`    ${c.name}: removed after ${atRemoval.entries} entries (first rows ${load.firstRowsMs?.toFixed(0)} ms); ended ${endMs.toFixed(0)} ms later with ${load.entries} entries, ${load.problems.length} problems; the view says: ${shownText.filter(Boolean).join(' | ')}`);
        assert.equal(load.cancelled, false, 'it ended by itself, not cancelled');
        const lost = listed.filter((p) => !load.listing?.tree.get(p));
        assert.deepEqual(lost, [], 'what was listed stays listed');
        assert.ok(load.entries >= atRemoval.entries);

        // Not frozen: another layer of the image still lists.
        const other = image.steps.findIndex((s, i) => i !== stepIndex && store.layer(s.layerKey)?.content);
        await a.layerFiles.show({ kind: 'step', image, stepIndex: other });
        const next = a.layerFiles.load!;
        assert.notEqual(next, load);
        assert.ok(next.done && !next.error && (next.listing?.count ?? 0) > 0, `step ${other} lists: ${next.error ?? a.layerFiles.view?.message}`);

        // The walk stops at once, with one message that says the folder is gone and names the layer.
        const said = shownText.find((t) => t.includes(c.message) && (names(t, c.subject) || t.includes(c.damaged[0])));
        assert.ok(said, `the view says the folder "${c.message}", naming the layer ${c.subject}: ${shownText.join(' | ')}; the first problems: ${load.problems.slice(0, 3).join(' | ')}`);
        assert.ok(endMs < STOP_MS, `the walk stopped within ${STOP_MS} ms of its folder going (${endMs.toFixed(0)} ms, ${load.problems.length} problems)`);
      } finally {
        assert.deepEqual(watch.stop(), [], 'no unhandled rejection or uncaught error');
      }
    }, { timeout: 90_000 });
  }
});
