/**
 * Find by content inside a real VS Code, on the project's real overlay2 root:
 * typing `sha256:<digest>` (or the bare digest) in Find Path in Images… lists
 * exactly the layers the installed CLI's `find --sha256` lists; Find Files
 * with the Same Content, on a Layer Files row or on a file opened in place,
 * hashes that file through the core and gives the same list; a symlink row
 * offers no such command and is refused, never followed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { FindHit } from '../../src/core/findPath';
import { resolveMerged } from '../../src/core/mergedPath';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FindPathPick } from '../../src/findPathQuickPick';
import type { FileNode } from '../../src/layerFilesTreeProvider';
import { mergedLayers } from '../../src/layerTargets';
import { layerFileUri } from '../../src/layerUri';
import { EXTENSION_ID, onOverlay2, testRoots, waitFor } from './extensionApi';
import { before, suite, test } from './harness';

const KEEP = '/data/keep.txt';

function image(store: Store, tag: string): Image {
  const found = store.images.find((i) => i.tags.includes(tag));
  assert.ok(found, `${tag} is in the store`);
  return found;
}

/** The sha256 of `path` as `tag` holds it, read straight from the root's file on disk (the copy its top layer holding it has). */
async function digestOnDisk(store: Store, tag: string, p: string): Promise<string> {
  const img = image(store, tag);
  const { contents } = mergedLayers(store, img, img.steps.length - 1);
  const hit = await resolveMerged(contents, p);
  assert.ok(hit && hit.stat.type === 'file', `${p} is a file of ${tag}`);
  return createHash('sha256').update(readFileSync(hit.stat.diskPath)).digest('hex');
}

/** `layer id, path, status` of each hit of the installed CLI's `find --sha256 HEX --json` on the overlay2 root. */
async function cliHits(hex: string): Promise<string[]> {
  const cli = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'cli.js');
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, [cli, '--root', testRoots.overlay2!, 'find', '--sha256', hex, '--json'], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const doc = JSON.parse(stdout) as { hits: { path: string; status: string; layer: { id: string } }[] };
  return doc.hits.map((h) => `${h.layer.id} ${h.path} ${h.status}`);
}

/** Every row of the Layer Files view, depth first. */
function rows(a: ExtensionApi, node?: FileNode): FileNode[] {
  return a.layerFiles.getChildren(node).flatMap((n) => (n.kind === 'file' ? [n, ...rows(a, n)] : []));
}

const row = (h: FindHit) => `${h.layer.id} ${h.path} ${h.status}`;

/** Waits for a pick other than `previous` and for its search to end. */
async function nextPick(a: ExtensionApi, previous: FindPathPick | undefined): Promise<FindPathPick> {
  const pick = await waitFor('the Find Path pick', () => (a.findPath.current !== previous ? a.findPath.current : undefined));
  await pick.idle();
  return pick;
}

async function search(a: ExtensionApi, text: string): Promise<FindPathPick> {
  const previous = a.findPath.current;
  await vscode.commands.executeCommand('dockerLayers.findPath', text);
  return nextPick(a, previous);
}

/** The `when` regular expression of a Layer Files context-menu entry, as the installed package.json declares it. */
function menuRegExp(command: string): RegExp {
  const menus = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.menus['view/item/context'] as { command: string; when: string }[];
  const when = menus.find((m) => m.command === command && m.when.includes('dockerLayers.layerFiles'))?.when;
  const m = when && /viewItem =~ \/(.+)\/$/.exec(when);
  assert.ok(m, `${command} has a Layer Files menu entry`);
  return new RegExp(m[1]);
}

suite('Find by content', () => {
  let a: ExtensionApi;
  let store: Store;
  let digest: string;
  let expected: string[];

  before(async () => {
    ({ a, store } = await onOverlay2());
    digest = await digestOnDisk(store, 'dle/app:1', KEEP);
    expected = await cliHits(digest);
  });

  test('sha256:<digest of /data/keep.txt in dle/app:1> lists exactly what `find --sha256` lists; a bare digest too', async () => {
    assert.ok(expected.length > 0, 'the CLI finds dle/app:1’s own copy at least');
    const pick = await search(a, `sha256:${digest}`);
    const items = pick.pick.items;
    assert.deepEqual(items.map((i) => row(i.hit)), expected);
    assert.ok(items.every((i) => i.hit.sha256 === digest && i.hit.path === KEEP && i.hit.type === 'file'));
    const app = image(store, 'dle/app:1');
    const own = items.find((i) => i.hit.uses.some((u) => u.image.key === app.key));
    assert.ok(own, 'dle/app:1’s layer is listed');
    assert.match(own.description ?? '', /^(added|modified) file · 12B · .*dle\/app:\d @\d+/);
    assert.match(pick.pick.title ?? '', new RegExp(`sha256:${digest.slice(0, 12)}…: ${expected.length} hits?, \\d+ of \\d+ layers searched; hashed \\d+ files? \\(.+\\), \\d+ from the cache`));
    assert.equal(pick.pick.busy, false);

    // The same search again is answered from the digest cache of this store; a bare digest is a content search too.
    const bare = await search(a, digest.toUpperCase());
    assert.deepEqual(bare.pick.items.map((i) => row(i.hit)), expected);
    assert.match(bare.pick.title ?? '', /hashed 0 files \(0B\), [1-9]\d* from the cache/);

    // Bytes two layers hold: /cmp/mode.txt as dle/cmp:a adds it and as dle/cmp:b's chmod copies it up.
    const same = await digestOnDisk(store, 'dle/cmp:b', '/cmp/mode.txt');
    const both = await search(a, `sha256:${same}`);
    const cli = await cliHits(same);
    assert.deepEqual(both.pick.items.map((i) => row(i.hit)), cli);
    assert.deepEqual(both.pick.items.map((i) => i.hit.status), ['added', 'modified']);

    const bad = await search(a, 'sha256:1234');
    assert.deepEqual(bad.pick.items, []);
    assert.match(bad.pick.title ?? '', /"sha256:1234" is not a sha256 digest/);
    bad.pick.hide();
  }, { timeout: 60_000 });

  test('Find Files with the Same Content on a Layer Files row, and on a file opened in place, gives the same list', async () => {
    const app = image(store, 'dle/app:1');
    const step = app.steps.findIndex((s) => /echo overwritten > \/data\/keep\.txt/.test(s.createdBy));
    assert.ok(step > 0, 'the step that overwrites /data/keep.txt');
    await vscode.commands.executeCommand('dockerLayers.showLayerFiles', { kind: 'step', image: app, stepIndex: step });
    await a.layerFiles.idle();
    const keep = rows(a).find((n) => n.path === KEEP);
    assert.ok(keep, `${KEEP} is a row of the step’s layer`);
    const menu = menuRegExp('dockerLayers.findSameContent');
    assert.match(a.layerFiles.getTreeItem(keep).contextValue ?? '', menu, 'the context menu offers the command on the file row');

    let previous = a.findPath.current;
    await vscode.commands.executeCommand('dockerLayers.findSameContent', keep);
    const fromRow = await nextPick(a, previous);
    assert.deepEqual(fromRow.pick.items.map((i) => row(i.hit)), expected);
    assert.match(fromRow.pick.title ?? '', new RegExp(`^Files with the same content as ${KEEP} — sha256:${digest.slice(0, 12)}`));
    fromRow.pick.hide();

    // A file opened in place (the active editor): the command takes it without an argument.
    const layer = store.layer(app.steps[step].layerKey)!;
    await vscode.window.showTextDocument(layerFileUri(layer, KEEP), { preview: true });
    previous = a.findPath.current;
    await vscode.commands.executeCommand('dockerLayers.findSameContent');
    const fromEditor = await nextPick(a, previous);
    assert.deepEqual(fromEditor.pick.items.map((i) => row(i.hit)), expected);
    fromEditor.pick.hide();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, { timeout: 60_000 });

  test('a symlink row has no such menu entry, and the command refuses it without following it', async () => {
    const cmpB = image(store, 'dle/cmp:b');
    const step = cmpB.steps.findIndex((s) => /ln -sfn \/data\/new\.txt \/cmp\/link/.test(s.createdBy));
    assert.ok(step > 0);
    await vscode.commands.executeCommand('dockerLayers.showLayerFiles', { kind: 'step', image: cmpB, stepIndex: step });
    await a.layerFiles.idle();
    const link = rows(a).find((n) => n.path === '/cmp/link');
    assert.ok(link && link.type === 'symlink', '/cmp/link is a symlink row');
    assert.doesNotMatch(a.layerFiles.getTreeItem(link).contextValue ?? '', menuRegExp('dockerLayers.findSameContent'));
    const previous = a.findPath.current;
    assert.equal(await vscode.commands.executeCommand('dockerLayers.findSameContent', link), undefined);
    assert.equal(a.findPath.current, previous, 'no search was started');
  }, { timeout: 30_000 });
});
