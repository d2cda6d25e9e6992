/**
 * Image archives inside a real VS Code: Open Image Archive… on the project's
 * own `docker save` (of the images in the overlay2 root) adds it as a root;
 * the Images tree lists its images and their steps, the Layer Files view lists
 * a layer's files, and a file opens read-only. The Explorer's context menu
 * offers the command on `.tar` files and on an OCI layout's `oci-layout`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import { layerFileUri } from '../../src/layerUri';
import { after, suite, test } from './harness';

const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';
const REPO = process.env.DLE_REPO ?? '';
const SAVE = path.join(REPO, '.cache', 'roots', 'save-docker20.tar');
const OCI_TAR = path.join(REPO, '..', 'shared', 'fixtures', 'archives', 'dive-test-oci-uncompressed-image.tar');

async function api(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

const label = (item: vscode.TreeItem) => (typeof item.label === 'string' ? item.label : item.label?.label ?? '');

function need(file: string): string {
  if (!existsSync(file)) throw new Error(`${file} is missing: run test/fixtures/makeRoots.sh (as root)`);
  return file;
}

/** The tree's node for a root, found as VS Code asks for the rows. */
async function rootNode(a: ExtensionApi, root: string): Promise<TreeNode> {
  const top = await a.imagesTree.getChildren();
  const node = top.find((n) => n.kind === 'root' && n.status.root === root);
  assert.ok(node, `${root} is a root of the tree (${top.map((n) => label(a.imagesTree.getTreeItem(n))).join(', ')})`);
  return node;
}

const isFsError = (code: string) => (err: unknown) => err instanceof vscode.FileSystemError && err.code === code;

suite('Image archives', () => {
  const temps: string[] = [];
  after(async () => {
    const a = await api();
    for (const r of [SAVE, ...temps]) a.service.removeSessionRoot(r);
    await a.service.reload();
    for (const t of temps) await rm(path.dirname(t), { recursive: true, force: true });
  });

  test('Open Image Archive… adds a docker save tar: the tree lists its images and their steps', async () => {
    const a = await api();
    const archive = need(SAVE);
    await vscode.commands.executeCommand('dockerLayers.openArchive', vscode.Uri.file(archive));
    const root = await rootNode(a, archive);
    assert.equal(a.imagesTree.getTreeItem(root).label !== undefined, true);
    const images = await a.imagesTree.getChildren(root);
    const names = images.map((n) => label(a.imagesTree.getTreeItem(n)));
    for (const tag of ['dle/base:1', 'dle/app:1', 'dle/app:2']) assert.ok(names.includes(tag), `${tag} is listed (${names.join(', ')})`);
    const app2 = images.find((n) => n.kind === 'image' && n.image.tags.includes('dle/app:2'));
    assert.ok(app2?.kind === 'image');
    assert.deepEqual(app2.image.problems, []);
    const steps = await a.imagesTree.getChildren(app2);
    assert.equal(steps.length, app2.image.steps.length);
    assert.ok(steps.length >= 10, 'every history step, empty ones too');
    const last = label(a.imagesTree.getTreeItem(steps[steps.length - 1]));
    assert.match(last, /echo two > \/app\/version\.txt/, 'the top step is the last RUN');
  });

  test("a layer's files list in the Layer Files view, and a file opens read-only", async () => {
    const a = await api();
    const archive = need(SAVE);
    const store = await a.service.addSessionRoot(archive);
    const image = store.images.find((i) => i.source.root === archive && i.tags.includes('dle/app:2'));
    assert.ok(image, 'dle/app:2 from the archive');
    const stepIndex = image.steps.length - 1;
    await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
    // The view keeps its filter and mode across selections: start from neither.
    a.layerFiles.setFilter(undefined);
    await a.layerFiles.setMerged(false);
    await a.layerFiles.show({ kind: 'step', image, stepIndex });
    assert.equal(a.layerFiles.load?.done, true, 'the listing finished');
    const rows = a.layerFiles.getChildren(undefined);
    const paths: string[] = [];
    const walk = (nodes: typeof rows) => {
      for (const n of nodes) {
        if (n.kind !== 'file') continue;
        paths.push(`${n.status} ${n.path}`);
        walk(a.layerFiles.getChildren(n));
      }
    };
    walk(rows);
    assert.deepEqual(paths, ['modified /app', 'added /app/version.txt']);

    const layer = store.layer(image.steps[stepIndex].layerKey)!;
    const uri = layerFileUri(layer, '/app/version.txt');
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.getText(), 'two\n');
    const editor = await vscode.window.showTextDocument(doc);
    assert.equal(editor.document.uri.toString(), uri.toString());
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uri, Buffer.from('changed\n'))), isFsError('NoPermissions'));
    assert.equal(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString(), 'two\n', 'unchanged');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test("the Explorer offers it on .tar files, and on an OCI layout's oci-layout (opening the folder)", async () => {
    const a = await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const menu: { command: string; when: string }[] = ext.packageJSON.contributes.menus['explorer/context'];
    const item = menu.find((m) => m.command === 'dockerLayers.openArchive');
    assert.ok(item, 'the Explorer context menu has Open Image Archive…');
    // (VS Code gives the clause back normalised: quoted, and in code-server with the remote scheme added.)
    assert.match(item.when, /resourceExtname == '?\.tar'?/);
    assert.match(item.when, /resourceFilename == '?oci-layout'?/);

    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dle-oci-')), 'layout');
    mkdirSync(dir);
    execFileSync('tar', ['-xf', need(OCI_TAR), '-C', dir]);
    temps.push(dir);
    await vscode.commands.executeCommand('dockerLayers.openArchive', vscode.Uri.file(path.join(dir, 'oci-layout')));
    const root = await rootNode(a, dir);
    const images = await a.imagesTree.getChildren(root);
    assert.equal(images.filter((n) => n.kind === 'image').length, 1, 'the layout folder is the root, with its one image');
  });
});
