/**
 * Containers inside a real VS Code, on the project's real overlay2 and vfs
 * roots: each container in the Images tree; its read-write layer in the Layer
 * Files view with the letters `docker diff` prints (A, C, D: compared with the
 * daemon's own answer); its config opened read-only; the image it came from
 * revealed in the Images tree.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Container } from '../../src/core/model';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import type { FileNode, LayerFilesNode } from '../../src/layerFilesTreeProvider';
import type { PathHistoryResult } from '../../src/pathHistoryCommands';
import { api, children, label, sleep, testRoots, useRoots } from './extensionApi';
import { after, suite, test } from './harness';

const truthDirs: Record<string, string> = (JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}') as { dockerTruth?: Record<string, string> }).dockerTruth ?? {};

function rows(a: ExtensionApi, node?: LayerFilesNode): FileNode[] {
  return a.layerFiles.getChildren(node).flatMap((c) => (c.kind === 'file' ? [c, ...rows(a, c)] : []));
}

/** The container node as the Images tree lists it: root → Containers → container. */
async function containerNode(a: ExtensionApi, name: string): Promise<Extract<TreeNode, { kind: 'container' }>> {
  for (const top of await children(a)) {
    for (const node of await children(a, top)) {
      if (node.kind !== 'containers') continue;
      for (const c of await children(a, node)) if (c.kind === 'container' && c.container.name === name) return c;
    }
  }
  assert.fail(`container ${name} is in the Images tree`);
}

for (const name of ['overlay2', 'vfs'] as const) {
  suite(`Containers (${name})`, () => {
    const root = (): string => {
      const r = testRoots[name];
      if (!r) throw new Error(`the ${name} project root was not made (run as root)`);
      return r;
    };

    after(async () => {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await useRoots(await api(), undefined);
    });

    test('the container is in the Images tree and its files carry the docker diff letters A, C, D', async () => {
      const a = await api();
      await useRoots(a, [root()]);
      const node = await containerNode(a, 'dle-ctr');
      const item = a.imagesTree.getTreeItem(node);
      assert.equal(label(item), 'dle-ctr');
      assert.equal(item.contextValue, 'container');
      await a.layerFiles.show(node);
      const letters: string[] = [];
      for (const row of rows(a)) {
        const it = a.layerFiles.getTreeItem(row);
        const mark = a.layerFiles.decorations!.provideFileDecoration(it.resourceUri!);
        assert.ok(mark?.badge, `${row.path} has a badge`);
        letters.push(`${mark.badge} ${row.path}`);
        if (mark.badge === 'C') assert.match(mark.tooltip ?? '', /^Changed in the container/);
        assert.match(String(it.tooltip), /in the container/);
      }
      const truth = readFileSync(path.join(truthDirs[name], 'diff-dle-ctr.txt'), 'utf8').split('\n').filter(Boolean).sort();
      assert.deepEqual(letters.sort(), truth, 'the letters docker diff printed');
    });

    test('Show Path History on a container file ends with the container\'s own version, diffed with the image\'s', async () => {
      const a = await api();
      const store = await useRoots(a, [root()]);
      const node = await containerNode(a, 'dle-ctr');
      await a.layerFiles.show(node);
      const keep = rows(a).find((r) => r.path === '/data/keep.txt');
      assert.ok(keep, '/data/keep.txt is listed');
      const image = store.images.find((i) => i.id === node.container.imageId)!;
      const result = await vscode.commands.executeCommand<PathHistoryResult>('dockerLayers.showPathHistory', keep, { steps: [image.steps.length] });
      assert.ok(result, 'the command ran');
      const last = result.versions[result.versions.length - 1];
      assert.equal(last.container?.name, 'dle-ctr');
      assert.equal(last.change, 'modified');
      const run = image.steps.findIndex((s) => /echo overwritten/.test(s.createdBy));
      assert.deepEqual(result.shown, [run, image.steps.length], 'the container version beside the image version below it');
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      assert.ok(input instanceof vscode.TabInputTextDiff, 'a diff editor');
      const read = async (uri: vscode.Uri) => new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      assert.equal(await read(input.original), 'overwritten\n');
      assert.equal(await read(input.modified), readFileSync(path.join(node.container.layer!.content!.dir, 'data', 'keep.txt'), 'utf8'));
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    test('Open Container Config shows config.v2.json read-only, as on disk', async () => {
      const a = await api();
      await useRoots(a, [root()]);
      const node = await containerNode(a, 'dle-ctr');
      const c: Container = node.container;
      assert.ok(c.configPath, 'the container has a config file');
      const uri = await vscode.commands.executeCommand<vscode.Uri>('dockerLayers.openContainerConfig', node);
      assert.ok(uri, 'the command opened it');
      const editor = vscode.window.activeTextEditor;
      assert.equal(editor?.document.uri.toString(), uri.toString());
      assert.equal(editor.document.languageId, 'json');
      assert.match(uri.path, /\/dle-ctr\/config\.v2\.json$/);
      const onDisk = readFileSync(c.configPath, 'utf8');
      assert.equal(editor.document.getText(), onDisk);
      assert.equal((JSON.parse(editor.document.getText()) as { Name: string }).Name, '/dle-ctr');
      // Nothing can write it back: no file system serves the scheme, and the file is unchanged.
      await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uri, new TextEncoder().encode('{}'))));
      await editor.edit((b) => b.insert(new vscode.Position(0, 0), 'x'));
      assert.equal(await editor.document.save(), false, 'a content-provider document cannot be saved');
      assert.equal(readFileSync(c.configPath, 'utf8'), onDisk);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    });

    test('Reveal Image selects the image the container was made from in the Images tree', async () => {
      const a = await api();
      const store = await useRoots(a, [root()]);
      await vscode.commands.executeCommand('dockerLayers.images.focus');
      const node = await containerNode(a, 'dle-ctr');
      const revealed = await vscode.commands.executeCommand<TreeNode>('dockerLayers.revealContainerImage', node);
      assert.equal(revealed?.kind, 'image');
      const expected = store.images.find((i) => i.id === node.container.imageId);
      assert.ok(expected, 'the container image is in the store');
      for (let i = 0; i < 40 && a.imagesView.selection[0]?.kind !== 'image'; i++) await sleep(50);
      const selected = a.imagesView.selection[0];
      assert.equal(selected?.kind, 'image');
      if (selected?.kind === 'image') assert.equal(selected.image.id, node.container.imageId);
    });
  });
}
