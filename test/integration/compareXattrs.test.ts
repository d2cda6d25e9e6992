/**
 * `dockerLayers.compare.xattrs` inside a real VS Code. The project roots hold
 * no extended attribute of their own (only overlayfs' bookkeeping, which is
 * left out), so a copy of the real overlay2 root is given one: `user.dle` on
 * dle/cmp:b's copy of /cmp/mode.txt. With the setting on, the Comparison view
 * shows the xattrs aspect on that row (and says once that attributes were
 * compared); off, it does not; with getfattr missing from the PATH the view
 * says so once, and no row claims an attribute difference.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CompareNode, Comparison } from '../../src/compareTreeProvider';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import { api, copyRoot, testRoots, tooltipText, useRoots } from './extensionApi';
import { after, before, suite, test } from './harness';

const MODE = 'mode -rw-r--r-- → -rwxr-xr-x';

function image(store: Store, tag: string): Image {
  const found = store.images.find((i) => i.tags.includes(tag));
  assert.ok(found, `${tag} is in the store`);
  return found;
}

const setXattrs = (on: boolean | undefined) => vscode.workspace.getConfiguration('dockerLayers').update('compare.xattrs', on, vscode.ConfigurationTarget.Global);

/** Compare Image with… from dle/cmp:a to dle/cmp:b, as the command runs it. */
async function compareCmp(store: Store): Promise<Comparison> {
  const result = (await vscode.commands.executeCommand('dockerLayers.compareImageWith', { kind: 'image', image: image(store, 'dle/cmp:a') }, image(store, 'dle/cmp:b').key)) as Comparison;
  assert.ok(result, 'the comparison ran');
  return result;
}

/** The Comparison view's row for `p`: its description and tooltip. */
function shown(a: ExtensionApi, p: string): { description: string; tooltip: string } {
  const all = (node?: CompareNode): CompareNode[] => a.comparison.provider.getChildren(node).flatMap((n) => [n, ...all(n)]);
  const node = all().find((n) => n.path === p);
  assert.ok(node, `${p} is listed`);
  const item = a.comparison.provider.getTreeItem(node);
  return { description: String(item.description ?? ''), tooltip: tooltipText(item) };
}

suite('Compare extended attributes', () => {
  let a: ExtensionApi;
  let copy: string;
  let store: Store;

  before(async () => {
    if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
    a = await api();
    copy = copyRoot(testRoots.overlay2, 'dle-xattrs-');
    const copied = await useRoots(a, [copy]);
    const cmpB = image(copied, 'dle/cmp:b');
    const step = cmpB.steps.findIndex((s) => /chmod 755 \/cmp\/mode\.txt/.test(s.createdBy));
    const dir = copied.layer(cmpB.steps[step]?.layerKey)?.content?.dir;
    assert.ok(dir, 'dle/cmp:b’s own layer is a folder on disk');
    // Only in the copy, made for this test: the project root itself is never written.
    execFileSync('setfattr', ['-h', '-n', 'user.dle', '-v', 'b-side', path.join(dir, 'cmp', 'mode.txt')]);
    store = await a.service.reload();
  });

  after(async () => {
    await setXattrs(undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
    rmSync(path.dirname(copy), { recursive: true, force: true });
  });

  test('off (the default): no attribute is read and the view says nothing of them', async () => {
    await setXattrs(undefined);
    const c = await compareCmp(store);
    assert.equal(c.result.xattrs, undefined);
    assert.equal(shown(a, '/cmp/mode.txt').description, MODE);
    assert.ok(c.result.changes.every((x) => !x.aspects.includes('xattrs')));
    assert.doesNotMatch(a.comparison.view.message ?? '', /extended attributes/);
  }, { timeout: 40_000 });

  test('on: the row whose attribute differs says xattrs, as the CLI does; overlayfs’ own attributes are not differences', async () => {
    await setXattrs(true);
    const c = await compareCmp(store);
    assert.equal(c.result.xattrs, 'compared');
    const mode = shown(a, '/cmp/mode.txt');
    assert.equal(mode.description, `${MODE}, xattrs`);
    assert.match(mode.tooltip, /xattrs: the extended attributes differ/);
    // Only mode.txt carries an attribute of its own; /cmp/opq's opaque marker is overlayfs' bookkeeping.
    assert.deepEqual(c.result.changes.filter((x) => x.aspects.includes('xattrs')).map((x) => x.path), ['/cmp/mode.txt']);
    assert.match(a.comparison.view.message ?? '', / · extended attributes compared$/);
  }, { timeout: 40_000 });

  test('on, without getfattr: the view says so once, and no row claims an attribute difference', async () => {
    await setXattrs(true);
    const saved = process.env.PATH;
    // The extension shares this host process: with no getfattr on its PATH, it cannot run it.
    process.env.PATH = '/nonexistent';
    let c: Comparison;
    try {
      c = await compareCmp(store);
    } finally {
      process.env.PATH = saved;
    }
    assert.equal(c.result.xattrs, 'no-getfattr');
    assert.match(a.comparison.view.message ?? '', /extended attributes not compared: getfattr is not installed/);
    assert.equal(shown(a, '/cmp/mode.txt').description, MODE);
    assert.ok(c.result.changes.every((x) => !x.aspects.includes('xattrs')));
    assert.doesNotMatch(shown(a, '/cmp/mode.txt').tooltip, /getfattr/, 'said in the view’s message, not per row');
  }, { timeout: 40_000 });
});
