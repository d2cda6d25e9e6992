/**
 * Find Path in Images inside a real VS Code, on the project's real overlay2
 * root: the Quick Pick lists what the core's search finds, as it finds it;
 * accepting a file hit opens it in place, read-only, from that layer; a
 * folder hit shows its layer in Layer Files, filtered to the path.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { findPath, parsePathPattern, type FindHit, type PathPattern } from '../../src/core/findPath';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FindPathPick } from '../../src/findPathQuickPick';
import { parseLayerUri } from '../../src/layerUri';
import { onOverlay2, sleep, waitFor } from './extensionApi';
import { before, suite, test } from './harness';

async function coreHits(store: Store, text: string): Promise<string[]> {
  const out: string[] = [];
  for await (const h of findPath(store, parsePathPattern(text) as PathPattern)) out.push(key(h));
  return out;
}

const key = (h: FindHit) => `${h.layer.key} ${h.path} ${h.status}`;

/** Runs the command as the palette would (with the pattern typed) and waits for its search to end. */
async function search(a: ExtensionApi, text: string): Promise<FindPathPick> {
  const previous = a.findPath.current;
  await vscode.commands.executeCommand('dockerLayers.findPath', text);
  const pick = await waitFor('the Find Path pick', () => (a.findPath.current !== previous ? a.findPath.current : undefined));
  await pick.idle();
  return pick;
}

async function accept(pick: FindPathPick, hit: (h: FindHit) => boolean): Promise<void> {
  const item = pick.pick.items.find((i) => hit(i.hit));
  assert.ok(item, 'the hit is listed');
  pick.pick.activeItems = [item];
  await sleep(100);
  await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
}

suite('Find Path in Images', () => {
  let a: ExtensionApi;
  let store: Store;

  before(async () => {
    ({ a, store } = await onOverlay2());
  });

  test('the Quick Pick lists every hit of /data/keep.txt (the core’s, in order) and opens one read-only from its layer', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const pick = await search(a, '/data/keep.txt');
    const items = pick.pick.items;
    assert.deepEqual(items.map((i) => key(i.hit)), await coreHits(store, '/data/keep.txt'));
    assert.deepEqual(items.map((i) => i.hit.status), ['added', 'modified', 'modified']);
    assert.match(items[0].description ?? '', /^added file · 8B · .*dle\/base:1 @\d/);
    assert.match(items[1].description ?? '', /dle\/app:1 @6/);
    assert.match(items[1].detail ?? '', /echo overwritten > \/data\/keep\.txt/);
    assert.match(items[2].description ?? '', /container dle-ctr/);
    assert.ok(items.every((i) => i.alwaysShow), 'the typed pattern does not fuzzy-filter the hits away');
    assert.match(pick.pick.title ?? '', /3 hits, \d+ of \d+ layers searched/);
    assert.equal(pick.pick.busy, false);

    await accept(pick, (h) => h.status === 'modified' && !h.container);
    const uri = await waitFor('the file in an editor', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputText && input.uri.scheme === 'docker-layer' ? input.uri : undefined;
    });
    const target = parseLayerUri(uri);
    assert.equal(target?.k, 'file');
    assert.equal(target?.k === 'file' && target.path, '/data/keep.txt');
    assert.equal(target?.k === 'file' && target.layer, items[1].hit.layer.key);
    assert.equal((await vscode.workspace.openTextDocument(uri)).getText(), 'overwritten\n', 'dle/app:1’s own copy');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uri, Buffer.from('x'))), (err: vscode.FileSystemError) => err.code === 'NoPermissions');
  }, { timeout: 40_000 });

  test('a folder hit shows its layer in Layer Files, filtered to it; a new pattern replaces the search', async () => {
    const pick = await search(a, '/cmp/opq/**');
    assert.deepEqual(pick.pick.items.map((i) => key(i.hit)), await coreHits(store, '/cmp/opq/**'));
    const opaque = pick.pick.items.find((i) => i.hit.status === 'opaque');
    assert.ok(opaque, 'cmp:b replaced /cmp/opq wholesale: an opaque folder');
    const before = a.findPath.chosen;
    await accept(pick, (h) => h === opaque.hit);
    await waitFor('the choice', () => (a.findPath.chosen !== before ? true : undefined));
    await a.findPath.chosen;
    const load = await waitFor('Layer Files on cmp:b’s layer', () => {
      const l = a.layerFiles.load;
      return l?.subject.layer?.key === opaque.hit.layer.key && a.layerFiles.filter === '/cmp/opq' ? l : undefined;
    });
    assert.equal(load.subject.kind, 'step');
    a.layerFiles.setFilter(undefined); // the filter stays across selections: leave none for the suites after this one
    const selected = () => a.imagesView.selection.some((n) => n.kind === 'step' && n.image.steps[n.stepIndex].layerKey === opaque.hit.layer.key);
    await waitFor('the step selected in the Images tree', () => selected() || undefined).catch((err: Error) => {
      throw new Error(`${err.message}: visible ${a.imagesView.visible}, selected ${JSON.stringify(a.imagesView.selection.map((n) => (n.kind === 'step' ? `${n.image.tags}@${n.stepIndex}` : n.kind)))}`);
    });

    const none = await search(a, '/no/such/path/anywhere');
    assert.deepEqual(none.pick.items, []);
    assert.match(none.pick.title ?? '', /0 hits/);
    assert.ok(pick.pick.items.length > 0 && a.findPath.current === none, 'the newer pick replaces the older');
    none.pick.hide();

    // Closing the pick cancels its search (which, over 15 layers, may also have ended first: then there was nothing to stop).
    await vscode.commands.executeCommand('dockerLayers.findPath', '/');
    const closed = a.findPath.current!;
    closed.pick.hide();
    await closed.searching;
    if (closed.closedWhileSearching) assert.equal(closed.outcome, 'cancelled', `closed while searching, yet the search went on: ${JSON.stringify(closed.progress)}`);
    else assert.equal(closed.outcome, 'done');
  }, { timeout: 40_000 });
});
