/**
 * Compare Image with… and Compare Layers… inside a real VS Code, on the
 * project's real overlay2 root: the Comparison view lists what the cmpb
 * Dockerfile changes with A/D/M badges, the configs open side by side, a
 * changed file opens in the native diff editor, a removed one read-only,
 * the Quick Pick offers the other side, and the ignore setting applies.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ComparisonApi } from '../../src/compareImagesCommands';
import type { CompareNode, Comparison } from '../../src/compareTreeProvider';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import { parseLayerUri } from '../../src/layerUri';
import { api, sleep, testRoots, useRoots, waitFor } from './extensionApi';
import { after, suite, test } from './harness';

async function overlay2(a: ExtensionApi): Promise<Store> {
  if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
  return useRoots(a, [testRoots.overlay2]);
}

function image(store: Store, tag: string): Image {
  const found = store.images.find((i) => i.tags.includes(tag));
  assert.ok(found, `${tag} is in the store`);
  return found;
}

const activeInput = () => vscode.window.tabGroups.activeTabGroup.activeTab?.input;
const activeDiff = () => waitFor('a diff editor', async () => (activeInput() instanceof vscode.TabInputTextDiff ? (activeInput() as vscode.TabInputTextDiff) : undefined));
const text = async (uri: vscode.Uri) => Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
const closeAll = () => vscode.commands.executeCommand('workbench.action.closeAllEditors');

/** Every node of the Comparison view, depth first, as VS Code gets them. */
function nodes(c: ComparisonApi, node?: CompareNode): CompareNode[] {
  return c.provider.getChildren(node).flatMap((n) => [n, ...nodes(c, n)]);
}

/** `path change` of each changed path the view lists, with its badge. */
function listed(c: ComparisonApi): string[] {
  return nodes(c)
    .filter((n) => n.kind === 'change')
    .map((n) => {
      const item = c.provider.getTreeItem(n);
      const mark = c.provider.markOf(item.resourceUri!);
      return `${n.path} ${n.kind === 'change' ? n.change.change : ''} ${mark?.status ?? 'no badge'}`;
    });
}

function node(c: ComparisonApi, path: string): CompareNode {
  const found = nodes(c).find((n) => n.path === path);
  assert.ok(found, `${path} is listed`);
  return found;
}

/** The listed rows (`path change badge`) less those whose only change is their mtime. */
function withoutMtimeOnly(rows: string[], comparison: Comparison): string[] {
  const mtimeOnly = new Set(comparison.result.changes.filter((c) => c.change === 'changed' && c.aspects.every((x) => x === 'mtime')).map((c) => c.path));
  return rows.filter((row) => !mtimeOnly.has(row.split(' ')[0]));
}

suite('Compare images and layers', () => {
  after(async () => {
    await closeAll();
    await vscode.workspace.getConfiguration('dockerLayers').update('compare.ignore', undefined, vscode.ConfigurationTarget.Global);
    await useRoots(await api(), undefined);
  });

  test('Compare Image with… lists what dle/cmp:b changes, and opens the configs side by side', async () => {
    const a = await api();
    const store = await overlay2(a);
    const [cmpA, cmpB] = [image(store, 'dle/cmp:a'), image(store, 'dle/cmp:b')];
    await closeAll();
    const result = (await vscode.commands.executeCommand('dockerLayers.compareImageWith', { kind: 'image', image: cmpA }, { kind: 'image', image: cmpB })) as Comparison;
    assert.ok(result, 'the comparison ran');
    // test/fixtures/images/cmpb/Dockerfile, with the badges of the Source Control view. Whether a
    // folder's mtime differs depends on whether the two builds fell in one second (the packed roots
    // keep whole seconds): rows that only change mtime are left out, as the core finds them.
    assert.deepEqual(withoutMtimeOnly(listed(a.comparison), result), [
      '/cmp/file.txt changed modified',
      '/cmp/gone removed deleted',
      '/cmp/gone/sub removed deleted',
      '/cmp/gone/sub/g.txt removed deleted',
      '/cmp/link changed modified',
      '/cmp/mode.txt changed modified',
      '/cmp/opq/n.txt added added',
      '/cmp/opq/o1.txt removed deleted',
      '/cmp/opq/o2.txt removed deleted',
    ]);
    const mode = a.comparison.provider.getTreeItem(node(a.comparison, '/cmp/mode.txt'));
    assert.equal(mode.description, 'mode -rw-r--r-- → -rwxr-xr-x');
    assert.equal(a.comparison.provider.getTreeItem(node(a.comparison, '/cmp/opq/n.txt')).description, 'added: file +2B');
    const changed = result.result.changes.filter((c) => c.change === 'changed').length;
    assert.match(a.comparison.view.message ?? '', new RegExp(`1 added, 5 removed, ${changed} changed`));
    // The configs, in the native diff editor, sorted.
    const diff = await activeDiff();
    assert.deepEqual(parseLayerUri(diff.original), { k: 'json', image: cmpA.key, step: cmpA.steps.length - 1 });
    assert.deepEqual(parseLayerUri(diff.modified), { k: 'json', image: cmpB.key, step: cmpB.steps.length - 1 });
    assert.match(await text(diff.modified), /"org\.example\.side": "b"/);
  });

  test('a changed file opens in the native diff editor, a removed one read-only', async () => {
    const a = await api();
    assert.ok(a.comparison.provider.comparison, 'the comparison of the test before is shown');
    await closeAll();
    const file = a.comparison.provider.getTreeItem(node(a.comparison, '/cmp/file.txt'));
    assert.ok(file.command, 'a changed file has a command');
    await vscode.commands.executeCommand(file.command.command, ...(file.command.arguments ?? []));
    const diff = await activeDiff();
    assert.equal(await text(diff.original), 'one\n');
    assert.equal(await text(diff.modified), 'two\n');
    assert.deepEqual(parseLayerUri(diff.modified), { k: 'merged', image: a.comparison.provider.comparison.b.image.key, step: a.comparison.provider.comparison.b.stepIndex, path: '/cmp/file.txt' });

    await closeAll();
    const gone = a.comparison.provider.getTreeItem(node(a.comparison, '/cmp/opq/o1.txt'));
    await vscode.commands.executeCommand(gone.command!.command, ...(gone.command!.arguments ?? []));
    const input = await waitFor('a text editor', async () => (activeInput() instanceof vscode.TabInputText ? (activeInput() as vscode.TabInputText) : undefined));
    assert.equal(await text(input.uri), 'o1\n');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(input.uri, Buffer.from('x'))), (e: unknown) => e instanceof vscode.FileSystemError);
    // A folder opens nothing: it only holds its changes.
    assert.equal(a.comparison.provider.getTreeItem(node(a.comparison, '/cmp/gone')).command, undefined);
  });

  test('Compare Layers… offers the other steps in a Quick Pick and compares the range', async () => {
    const a = await api();
    const store = await overlay2(a);
    const app = image(store, 'dle/app:1');
    const top = app.steps.findIndex((s) => /rm -rf \/etc\/app/.test(s.createdBy));
    assert.ok(top > 0);
    await closeAll();
    // Given the other side (as a script would): steps top-2+1..top together.
    const pair = (await vscode.commands.executeCommand('dockerLayers.compareLayers', { kind: 'step', image: app, stepIndex: top }, top - 2)) as Comparison;
    assert.deepEqual(
      pair.result.changes.filter((c) => c.change !== 'changed' || !c.aspects.every((x) => x === 'mtime')).map((c) => `${c.path} ${c.change}`),
      ['/app added', '/data/keep.txt changed', '/data/new.txt added', '/data/old.txt removed', '/etc/app/a.conf removed', '/etc/app/b.conf removed', '/etc/app/c.conf added', '/root/example removed', '/root/example/x removed'],
    );
    // Through the Quick Pick: its first choice is "Nothing (before step 0)", i.e. everything up to the step.
    const running = vscode.commands.executeCommand('dockerLayers.compareLayers', { kind: 'step', image: app, stepIndex: top });
    await sleep(800);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const picked = (await running) as Comparison;
    assert.ok(picked, 'a choice was made in the Quick Pick');
    assert.equal(picked.a.stepIndex, -1);
    assert.equal(picked.b.stepIndex, top);
    assert.ok(picked.result.changes.length > 0 && picked.result.changes.every((c) => c.change === 'added'));
  });

  test('dockerLayers.compare.ignore leaves paths out', async () => {
    const a = await api();
    const store = await overlay2(a);
    await vscode.workspace.getConfiguration('dockerLayers').update('compare.ignore', ['/cmp/opq/**', '/cmp/gone'], vscode.ConfigurationTarget.Global);
    const result = (await vscode.commands.executeCommand('dockerLayers.compareImageWith', { kind: 'image', image: image(store, 'dle/cmp:a') }, image(store, 'dle/cmp:b').key)) as Comparison;
    assert.deepEqual(withoutMtimeOnly(listed(a.comparison), result), ['/cmp/file.txt changed modified', '/cmp/link changed modified', '/cmp/mode.txt changed modified']);
    assert.match(a.comparison.view.message ?? '', /ignoring \/cmp\/opq\/\*\*, \/cmp\/gone/);
    await vscode.commands.executeCommand('dockerLayers.clearComparison');
    assert.deepEqual(a.comparison.provider.getChildren(), []);
  });
});
