/**
 * Export… inside a real VS Code, on the project's real overlay2 root: a file
 * and a folder of the Layer Files view (a layer's own and the merged view)
 * saved to a temporary folder byte for byte, symlinks as symlinks; a
 * destination inside the root refused with a message and nothing written; the
 * context menu offered on exactly the rows that can be exported.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportResult } from '../../src/core/export';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FileNode, LayerFilesNode } from '../../src/layerFilesTreeProvider';
import { EXTENSION_ID, api, testRoots, useRoots, watchUnhandled } from './extensionApi';
import { after, suite, test } from './harness';

function need(): string {
  if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
  return testRoots.overlay2;
}

function appImage(store: Store): Image {
  const image = store.images.find((i) => i.tags.includes('dle/app:1'));
  assert.ok(image, 'dle/app:1 is in the store');
  return image;
}

/** Every row of the Layer Files view, depth first. */
function rows(a: ExtensionApi, node?: LayerFilesNode): FileNode[] {
  return a.layerFiles.getChildren(node).flatMap((c) => (c.kind === 'file' ? [c, ...rows(a, c)] : []));
}

function row(a: ExtensionApi, p: string): FileNode {
  const node = rows(a).find((n) => n.path === p);
  assert.ok(node, `${p} is listed`);
  return node;
}

/** The `when` clause of a command in the Layer Files view's context menu, as a test on a row's contextValue. */
function menuRegex(command: string): RegExp {
  const menus = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { menus: Record<string, { command: string; when?: string }[]> } }).contributes.menus;
  const entry = menus['view/item/context'].find((m) => m.command === command && m.when?.includes('dockerLayers.layerFiles'));
  assert.ok(entry?.when, `${command} is in the Layer Files context menu`);
  const m = /viewItem =~ \/(.+)\/$/.exec(entry.when);
  assert.ok(m, `a viewItem test in ${entry.when}`);
  return new RegExp(m[1]);
}

const out = mkdtempSync(path.join(os.tmpdir(), 'dle-export-'));

suite('Export', () => {
  after(async () => {
    const a = await api();
    await a.layerFiles.setMerged(false);
    await useRoots(a, undefined);
    rmSync(out, { recursive: true, force: true });
  });

  test('a merged file and a layer folder are saved byte for byte, symlinks as symlinks', async () => {
    const a = await api();
    const image = appImage(await useRoots(a, [need()]));
    await a.layerFiles.show({ kind: 'step', image, stepIndex: image.steps.length - 1 });
    await a.layerFiles.setMerged(true);
    const file = path.join(out, 'keep.txt');
    const saved = await vscode.commands.executeCommand<ExportResult>('dockerLayers.exportFile', row(a, '/data/keep.txt'), { dest: file });
    assert.equal(saved?.dest, file);
    assert.equal(readFileSync(file, 'utf8'), 'overwritten\n');
    assert.equal(lstatSync(file).mode & 0o777, 0o644);

    // A layer's own folder (the step that made the symlinks): the links are saved as links.
    const links = image.steps.findIndex((s) => /ln -s \/etc\/shadow/.test(s.createdBy));
    await a.layerFiles.setMerged(false);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: links });
    const folder = await vscode.commands.executeCommand<ExportResult>('dockerLayers.exportFile', row(a, '/data'), { dest: out });
    assert.equal(folder?.dest, path.join(out, 'data'), 'a folder goes into the folder chosen, under its own name');
    assert.deepEqual(readdirSync(path.join(out, 'data')).sort(), ['passwd-link', 'shadow-link']);
    assert.ok(lstatSync(path.join(out, 'data', 'shadow-link')).isSymbolicLink());
    assert.equal(readlinkSync(path.join(out, 'data', 'shadow-link')), '/etc/shadow');
    assert.equal(folder?.symlinks, 2);
  });

  test('a destination inside the Docker root is refused with a message; nothing is written', async () => {
    const a = await api();
    const root = need();
    const store = await useRoots(a, [root]);
    const image = appImage(store);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: image.steps.length - 1 });
    await a.layerFiles.setMerged(true);
    const watch = watchUnhandled();
    const inside = path.join(root, 'exported-keep.txt');
    const result = await vscode.commands.executeCommand<ExportResult | undefined>('dockerLayers.exportFile', row(a, '/data/keep.txt'), { dest: inside });
    assert.equal(result, undefined, 'refused (the error is shown, not thrown)');
    assert.equal(existsSync(inside), false);
    assert.deepEqual(watch.stop(), []);
    // The same through a folder that links into the root.
    const link = path.join(out, 'into-root');
    symlinkSync(root, link);
    assert.equal(await vscode.commands.executeCommand('dockerLayers.exportFile', row(a, '/data'), { dest: link }), undefined);
    assert.equal(existsSync(path.join(root, 'data')), false);
  });

  test('the context menu offers Export… on files, folders and symlinks, never on deleted or special entries', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = appImage(store);
    const re = menuRegex('dockerLayers.exportFile');
    const history = menuRegex('dockerLayers.showPathHistory');
    const rm = image.steps.findIndex((s) => /rm \/data\/old\.txt/.test(s.createdBy));
    await a.layerFiles.setMerged(false);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: rm });
    const seen: string[] = [];
    for (const node of rows(a)) {
      const context = String(a.layerFiles.getTreeItem(node).contextValue);
      seen.push(`${context} ${re.test(context)}`);
      assert.equal(re.test(context), node.status !== 'deleted', `${node.path} (${context})`);
      assert.ok(history.test(context), `Show Path History on ${node.path}`);
    }
    assert.ok(seen.some((s) => s.endsWith('false')) && seen.some((s) => s.endsWith('true')), seen.join(', '));
    assert.ok(re.test('symlink') && re.test('dir.merged') && !re.test('file.added.special'));
  });
});
