/**
 * The merged filesystem's "from which step" and Show Path History inside a
 * real VS Code, on the project's real overlay2 root: each merged row names
 * the step and its command; the history of a file lists its versions and
 * opens the native diff editor between two of them (chosen by argument, and
 * through the Quick Pick itself), over the read-only `docker-layer:` files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { shortStep } from '../../src/core/format';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FileNode, LayerFilesNode } from '../../src/layerFilesTreeProvider';
import { mergedFileUri, parseLayerUri } from '../../src/layerUri';
import type { PathHistoryResult } from '../../src/pathHistoryCommands';
import { api, sleep, testRoots, tooltipText, useRoots, waitFor } from './extensionApi';
import { after, suite, test } from './harness';

function need(): string {
  if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
  return testRoots.overlay2;
}

function tagged(store: Store, tag: string): Image {
  const image = store.images.find((i) => i.tags.includes(tag));
  assert.ok(image, `${tag} is in the store`);
  return image;
}

/** The repository (DLE_REPO), where the fixture images' Dockerfiles and files are. */
const repo = (): string => {
  assert.ok(process.env.DLE_REPO, 'DLE_REPO is set');
  return process.env.DLE_REPO;
};

const stepOf = (image: Image, re: RegExp, from = 0): number => {
  const i = image.steps.findIndex((s, k) => k >= from && re.test(s.createdBy));
  assert.ok(i >= 0, `a step matching ${re}`);
  return i;
};

/** The row of `p` in the Layer Files view, searched depth first as VS Code asks for rows. */
function row(a: ExtensionApi, p: string, node?: LayerFilesNode): FileNode | undefined {
  for (const child of a.layerFiles.getChildren(node)) {
    if (child.kind !== 'file') continue;
    if (child.path === p) return child;
    if (p.startsWith(child.path + '/')) return row(a, p, child);
  }
  return undefined;
}

/** The active tab's two sides when it is a diff. */
function activeDiff(): { original: vscode.Uri; modified: vscode.Uri } | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputTextDiff ? { original: input.original, modified: input.modified } : undefined;
}


/** The Layer Files view showing the merged filesystem of image `tag` as of its top step. */
async function mergedAtTop(tag: string): Promise<{ a: ExtensionApi; image: Image }> {
  const a = await api();
  const image = tagged(await useRoots(a, [need()]), tag);
  await a.layerFiles.show({ kind: 'step', image, stepIndex: image.steps.length - 1 });
  await a.layerFiles.setMerged(true);
  return { a, image };
}

const text = async (uri: vscode.Uri) => new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));

suite('Merged view and Path History', () => {
  after(async () => {
    const a = await api();
    await a.layerFiles.setMerged(false);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
  });

  test('each merged row names the step it comes from, with the step command in its tooltip', async () => {
    const { a, image } = await mergedAtTop('dle/app:1');
    const run = stepOf(image, /echo overwritten/);
    const copy = stepOf(image, /COPY dir:/, 1);
    const keep = row(a, '/data/keep.txt');
    assert.ok(keep, '/data/keep.txt is listed in the merged view');
    const item = a.layerFiles.getTreeItem(keep);
    assert.equal(item.description, `12B · from step ${run}`);
    const tip = tooltipText(item);
    assert.ok(tip.includes(`from step ${run}: ${shortStep(image.steps[run].createdBy).slice(0, 40)}`), tip);
    assert.ok(tip.includes(`changed in step ${copy}, step ${run}`), tip);
    const passwd = a.layerFiles.getTreeItem(row(a, '/etc/passwd')!);
    assert.ok(tooltipText(passwd).includes(`from step ${copy}: COPY dir:`), tooltipText(passwd));
    // The row opens read-only, as that version.
    assert.deepEqual(parseLayerUri(item.resourceUri!), { k: 'merged', image: image.key, step: image.steps.length - 1, path: '/data/keep.txt' });
    assert.equal(await text(item.resourceUri!), 'overwritten\n');
  });

  test('Show Path History on a file lists its versions and diffs the two chosen', async () => {
    const { a, image } = await mergedAtTop('dle/app:1');
    const node = row(a, '/data/keep.txt')!;
    const run = stepOf(image, /echo overwritten/);
    const copy = stepOf(image, /COPY dir:/, 1);
    const result = await vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', node, { steps: [run, copy] });
    assert.ok(result, 'the command ran');
    assert.deepEqual(result.versions.map((v) => `${v.step} ${v.change}`), [`${copy} added`, `${run} modified`]);
    assert.deepEqual(result.shown, [copy, run], 'older on the left');
    const diff = await waitFor('the diff editor', activeDiff);
    assert.equal(diff.original.toString(), mergedFileUri(image, copy, '/data/keep.txt').toString());
    assert.equal(diff.modified.toString(), mergedFileUri(image, run, '/data/keep.txt').toString());
    assert.equal(await text(diff.original), readFileSync(path.join(repo(), 'test/fixtures/images/base/rootfs/data/keep.txt'), 'utf8'));
    assert.equal(await text(diff.modified), 'overwritten\n');
    assert.notEqual(await text(diff.original), await text(diff.modified));
    // The read-only file system refuses a write to either side.
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(diff.modified, new Uint8Array([1]))));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // One version: compared with its previous one.
    const one = await vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', node, { steps: [run] });
    assert.deepEqual(one?.shown, [copy, run]);
    assert.ok(await waitFor('the diff editor', activeDiff));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('the Quick Pick: Enter, Enter compares the newest version with its previous one', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = tagged(store, 'dle/waste:1');
    const ref = { imageKey: image.key, step: image.steps.length - 1, merged: true, path: '/waste/big', type: 'unknown' };
    const running = vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', ref);
    // The newest version is preselected; the second pick offers "its previous version" first.
    await sleep(1500);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await sleep(800);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const result = await running;
    assert.ok(result, 'the command ran');
    const add = stepOf(image, /head -c 100000/);
    const mod = stepOf(image, /head -c 50000/);
    const del = stepOf(image, /rm \/waste\/big/);
    assert.deepEqual(result.versions.map((v) => `${v.step} ${v.change}`), [`${add} added`, `${mod} modified`, `${del} deleted`]);
    // The newest version is the deletion: the version it deleted is shown, alone.
    assert.deepEqual(result.shown, [mod]);
    const input = await waitFor('the editor', () => {
      const i = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return i instanceof vscode.TabInputText ? i : undefined;
    });
    assert.equal(input.uri.toString(), mergedFileUri(image, mod, '/waste/big').toString());
    assert.equal((await vscode.workspace.fs.stat(input.uri)).size, 50000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // Two versions that both have content: the diff editor opens between them.
    const both = await vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', ref, { steps: [add, mod] });
    assert.deepEqual(both?.shown, [add, mod]);
    const diff = await waitFor('the diff editor', activeDiff);
    assert.equal((await vscode.workspace.fs.stat(diff.original)).size, 100000);
    assert.equal((await vscode.workspace.fs.stat(diff.modified)).size, 50000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, { timeout: 30_000 });

  test('from the command palette it asks for the image first; Escape cancels without an error', async () => {
    const a = await api();
    await useRoots(a, [need()]);
    const running = vscode.commands.executeCommand<PathHistoryResult | undefined>('dockerLayers.showPathHistory');
    await sleep(1000);
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await running, undefined);
    const contributed = (vscode.extensions.getExtension('docker-layer-explorer.docker-layer-explorer')!.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands;
    assert.ok(contributed.some((c) => c.command === 'dockerLayers.showPathHistory'), 'in the command palette');
  });

  test('a path no step touched says so', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = tagged(store, 'dle/app:1');
    const result = await vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', { imageKey: image.key, step: 0, merged: true, path: '/no/such', type: 'unknown' });
    assert.deepEqual(result?.versions, []);
    assert.equal(result?.shown, undefined);
  });
});
