/**
 * The Layer Files view inside a real VS Code, on the project's real overlay2
 * root: a layer's own entries with their badges, a container's changes against
 * `docker diff`, the merged filesystem, the filter, and how soon the first
 * rows of a 100,000-file layer reach VS Code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FileNode, LayerFilesNode } from '../../src/layerFilesTreeProvider';
import { parseLayerUri } from '../../src/layerUri';
import { sleep } from './extensionApi';
import { after, before, suite, test } from './harness';

const roots: { overlay2?: string; truth?: Record<string, string> } = JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}');
const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';

async function api(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

function need(): string {
  if (!roots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
  return roots.overlay2;
}

async function useRoots(a: ExtensionApi, list: string[]): Promise<Store> {
  await vscode.workspace.getConfiguration('dockerLayers').update('roots', list, vscode.ConfigurationTarget.Global);
  return a.service.reload();
}


function appImage(store: Store): Image {
  const image = store.images.find((i) => i.tags.includes('dle/app:1'));
  assert.ok(image, 'dle/app:1 is in the store');
  return image;
}

const stepOf = (image: Image, re: RegExp): number => {
  const i = image.steps.findIndex((s) => re.test(s.createdBy));
  assert.ok(i >= 0, `a step matching ${re}`);
  return i;
};

/** Every row the view lists, depth first, as VS Code would get them. */
function rows(a: ExtensionApi, node?: LayerFilesNode): FileNode[] {
  const out: FileNode[] = [];
  for (const child of a.layerFiles.getChildren(node)) {
    if (child.kind !== 'file') continue;
    out.push(child);
    out.push(...rows(a, child));
  }
  return out;
}

function row(a: ExtensionApi, p: string): { node: FileNode; item: vscode.TreeItem } {
  const node = rows(a).find((n) => n.path === p);
  assert.ok(node, `${p} is listed`);
  return { node, item: a.layerFiles.getTreeItem(node) };
}

/** The badge the view's decoration provider gives a row, as VS Code asks for it. */
function badge(a: ExtensionApi, item: vscode.TreeItem): { badge?: string; color?: string; tooltip?: string } | undefined {
  assert.ok(item.resourceUri, 'the row has a resourceUri');
  const d = a.layerFiles.decorations!.provideFileDecoration(item.resourceUri);
  // ThemeColor keeps its id (not in the 1.90 typings).
  return d && { badge: d.badge, color: (d.color as unknown as { id?: string } | undefined)?.id, tooltip: d.tooltip };
}

async function focusView(a: ExtensionApi): Promise<void> {
  await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
  for (let i = 0; i < 100 && !a.layerFiles.view?.visible; i++) await sleep(50);
  assert.ok(a.layerFiles.view?.visible, 'the Layer Files view is visible');
}

suite('Layer Files view', () => {
  after(async () => {
    const a = await api();
    a.layerFiles.setFilter(undefined);
    a.layerFiles.setSort('name');
    await a.layerFiles.setMerged(false);
    await vscode.workspace.getConfiguration('dockerLayers').update('roots', undefined, vscode.ConfigurationTarget.Global);
  });

  test('the whiteout step lists deleted paths and the opaque folder, with their badges', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    await focusView(a);
    const image = appImage(store);
    const rm = stepOf(image, /rm \/data\/old\.txt/);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: rm });
    assert.equal(a.layerFiles.load?.done, true);
    // Folders first, then names, as the view shows them.
    assert.deepEqual(rows(a).map((n) => `${n.status} ${n.path}`), [
      'added /app',
      'modified /data',
      'modified /data/keep.txt',
      'added /data/new.txt',
      'deleted /data/old.txt',
      'modified /root',
      'deleted /root/example',
    ]);
    for (const p of ['/data/old.txt', '/root/example']) {
      const { node, item } = row(a, p);
      assert.equal(node.status, 'deleted');
      assert.match(String(item.description), /^deleted/);
      assert.match(String(item.contextValue), /\.deleted$/);
      assert.equal(item.command, undefined, 'a deleted entry opens nothing');
      assert.deepEqual(badge(a, item)?.badge, 'D');
      assert.equal(badge(a, item)?.color, 'gitDecoration.deletedResourceForeground');
    }
    assert.equal(row(a, '/root/example').node.type, 'dir');
    assert.equal(badge(a, row(a, '/data/new.txt').item)?.badge, 'A');
    assert.equal(badge(a, row(a, '/data/new.txt').item)?.color, 'gitDecoration.addedResourceForeground');
    const keep = row(a, '/data/keep.txt');
    assert.equal(badge(a, keep.item)?.badge, 'M');
    assert.equal(keep.item.description, '12B');
    assert.equal(keep.item.contextValue, 'file.modified');
    assert.equal(keep.item.command?.command, 'dockerLayers.openLayerFile');
    assert.equal(keep.item.command?.arguments?.[0], keep.node);
    assert.match(String(keep.item.tooltip), /-rw-r--r--/);
    // The view says what it lists.
    const description = a.layerFiles.view?.description ?? '';
    assert.match(description, new RegExp(`dle/app:1 step ${rm}`));
    assert.match(description, /3 files · 20B/); // keep.txt, new.txt and the deleted old.txt

    const replace = stepOf(image, /rm -rf \/etc\/app/);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: replace });
    const opaque = row(a, '/etc/app');
    assert.equal(opaque.node.status, 'opaque');
    assert.equal(opaque.item.contextValue, 'dir.opaque');
    assert.match(String(opaque.item.description), /opaque/);
    const mark = badge(a, opaque.item);
    assert.equal(mark?.badge, 'O');
    assert.match(mark?.tooltip ?? '', /hides everything below it in lower layers/);
    assert.deepEqual(rows(a).map((n) => `${n.status} ${n.path}`), ['modified /etc', 'opaque /etc/app', 'added /etc/app/c.conf']);
    assert.equal(badge(a, row(a, '/etc/app/c.conf').item)?.badge, 'A');
  });

  test('a container lists exactly its docker diff', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const container = store.containers.find((c) => c.name === 'dle-ctr');
    assert.ok(container, 'dle-ctr is in the store');
    await a.layerFiles.show({ kind: 'container', container });
    const letter = { added: 'A', deleted: 'D', modified: 'C', opaque: 'C' } as const;
    const listed = rows(a).map((n) => `${letter[n.status!]} ${n.path}`).sort();
    const truth = readFileSync(path.join(roots.truth!.overlay2, 'diff-dle-ctr.txt'), 'utf8').split('\n').filter(Boolean).sort();
    assert.deepEqual(listed, truth);
    assert.match(a.layerFiles.view?.description ?? '', /container dle-ctr/);
  });

  test('a symlink shows its target and is never followed', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = appImage(store);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: stepOf(image, /ln -s \/etc\/shadow/) });
    const link = row(a, '/data/shadow-link');
    assert.equal(link.item.description, '→ /etc/shadow');
    assert.equal(link.item.contextValue, 'symlink');
    assert.match(String(link.item.tooltip), /never followed/);
    assert.equal(row(a, '/data/passwd-link').item.description, '→ ../../etc/passwd');
  });

  test('the merged toggle shows the filesystem as of the step, each entry with the step that provides it', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = appImage(store);
    const replace = stepOf(image, /rm -rf \/etc\/app/);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: replace });
    await vscode.commands.executeCommand('dockerLayers.toggleMerged');
    await a.layerFiles.idle();
    assert.equal(a.layerFiles.isMerged, true);
    const paths = rows(a).map((n) => n.path);
    assert.ok(paths.includes('/etc/app/c.conf'));
    assert.ok(!paths.includes('/etc/app/a.conf') && !paths.includes('/etc/app/b.conf'), 'the opaque folder hides a.conf and b.conf');
    assert.ok(!paths.includes('/data/old.txt') && !paths.includes('/root/example'));
    const conf = row(a, '/etc/app/c.conf');
    assert.equal(conf.item.description, `4B · from step ${replace}`);
    assert.equal(conf.node.merged, true);
    assert.deepEqual(parseLayerUri(conf.item.resourceUri!), { k: 'merged', image: image.key, step: replace, path: '/etc/app/c.conf' });
    assert.equal(badge(a, conf.item)?.badge, 'A', 'changed by this step');
    const run = stepOf(image, /echo overwritten/);
    assert.equal(row(a, '/data/keep.txt').item.description, `12B · from step ${run}`);
    assert.equal(badge(a, row(a, '/data/keep.txt').item), undefined, 'not changed by this step');
    assert.match(a.layerFiles.view?.description ?? '', /as of step \d+ \(merged\)/);
    assert.equal(row(a, '/bin/busybox').item.description?.toString().endsWith('from step 0'), true);

    await vscode.commands.executeCommand('dockerLayers.toggleMerged');
    await a.layerFiles.idle();
    assert.equal(a.layerFiles.isMerged, false);
    assert.deepEqual(rows(a).map((n) => n.path), ['/etc', '/etc/app', '/etc/app/c.conf']);
  });

  test('the filter narrows to matching paths and their folders; sort by size puts the biggest first', async () => {
    const a = await api();
    const store = await useRoots(a, [need()]);
    const image = appImage(store);
    await a.layerFiles.show({ kind: 'step', image, stepIndex: image.steps.length - 1 });
    await a.layerFiles.setMerged(true);
    const all = rows(a).length;
    await vscode.commands.executeCommand('dockerLayers.filterFiles', '*.conf');
    assert.equal(a.layerFiles.filter, '*.conf');
    assert.deepEqual(rows(a).map((n) => n.path), ['/etc', '/etc/app', '/etc/app/c.conf']);
    assert.match(a.layerFiles.view?.description ?? '', /1 match/);
    await vscode.commands.executeCommand('dockerLayers.filterFiles', '/data/** size>10B');
    assert.deepEqual(rows(a).map((n) => n.path), ['/data', '/data/keep.txt']);
    await vscode.commands.executeCommand('dockerLayers.filterFiles', 'size>1MB');
    assert.deepEqual(rows(a).map((n) => n.path), ['/bin', '/bin/busybox']);
    await vscode.commands.executeCommand('dockerLayers.clearFilesFilter');
    assert.equal(a.layerFiles.filter, '');
    assert.equal(rows(a).length, all);

    await vscode.commands.executeCommand('dockerLayers.sortFiles');
    assert.equal(a.layerFiles.sortOrder, 'size');
    assert.equal(a.layerFiles.getChildren()[0].kind === 'file' && (a.layerFiles.getChildren()[0] as FileNode).path, '/bin');
    await vscode.commands.executeCommand('dockerLayers.sortFiles');
    assert.equal(a.layerFiles.sortOrder, 'name');
    await a.layerFiles.setMerged(false);
  });
});

/** A 100,000-file layer: in our own copy of the overlay2 root, 100 folders of 1,000 files added to dle/app:1's top layer. */
suite('Layer Files view: a 100,000-file layer', () => {
  let work = '';
  let copy = '';
  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'dle-files-'));
    copy = path.join(work, 'root');
    execFileSync('cp', ['-a', need(), copy]);
    const a = await api();
    const store = await useRoots(a, [copy]);
    const image = appImage(store);
    const topDir = store.layer(image.layerKeys[image.layerKeys.length - 1])?.content?.dir;
    if (!topDir?.startsWith(copy)) throw new Error(`dle/app:1's top layer is not in the copy: ${topDir}`);
    // Hard links of one empty file per folder: one syscall a name (ext4 allows 65,000 links to a file).
    for (let d = 0; d < 100; d++) {
      const dir = path.join(topDir, 'big', `d${String(d).padStart(3, '0')}`);
      mkdirSync(dir, { recursive: true });
      const seed = path.join(work, `seed${d}`);
      writeFileSync(seed, '');
      for (let f = 0; f < 1000; f++) linkSync(seed, path.join(dir, `f${String(f).padStart(4, '0')}`));
      await sleep(0); // the extension host has other work too
    }
  });
  after(async () => {
    await vscode.workspace.getConfiguration('dockerLayers').update('roots', undefined, vscode.ConfigurationTarget.Global);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a 100,000-file layer: the first rows reach VS Code within 200 ms; another selection cancels the walk', async () => {
    const a = await api();
    const store = await useRoots(a, [copy]);
    await focusView(a);
    const image = appImage(store);
    const stepIndex = image.steps.findIndex((s) => s.layerKey === image.layerKeys[image.layerKeys.length - 1]);
    const figures: number[] = [];
    for (let run = 0; run < 3; run++) {
      // A user's click: the view has not refreshed in the last 200 ms (VS Code debounces tree refreshes by 200 ms).
      await sleep(300);
      const before = a.layerFiles.load;
      const shown = a.layerFiles.show({ kind: 'step', image, stepIndex });
      // VS Code asks for the rows when the view refreshes; the provider notes when it first gave some.
      for (let i = 0; i < 500 && (a.layerFiles.load === before || a.layerFiles.load?.firstRowsMs === undefined); i++) await sleep(10);
      const load = a.layerFiles.load!;
      assert.notEqual(load, before);
      assert.ok(load.firstRowsMs !== undefined, 'VS Code asked for rows');
      figures.push(load.firstRowsMs);
      await shown;
      assert.equal(load.cancelled, false);
      assert.equal(load.entries, 100_000 + 100 + 1 + 3, 'the 100,000 files, their folders, /big and the layer’s own entries');
      console.log(
        `    100k layer: first entry ${load.firstEntryMs?.toFixed(0)} ms, first refresh ${load.firstRefreshMs?.toFixed(0)} ms, VS Code first asked ${load.firstAskMs?.toFixed(0)} ms, ` +
          `first rows in VS Code ${load.firstRowsMs.toFixed(0)} ms, all ${load.entries} entries ${load.doneMs?.toFixed(0)} ms, ${load.refreshes} refreshes, load ${os.loadavg()[0].toFixed(1)}`,
      );
    }
    const median = [...figures].sort((x, y) => x - y)[1];
    console.log(`    100k layer: first rows ${figures.map((f) => f.toFixed(0)).join(' / ')} ms (median ${median.toFixed(0)})`);
    assert.ok(median <= 200, `first rows after ${median.toFixed(0)} ms (median of 3)`);
    const big = a.layerFiles.getChildren().find((n) => n.kind === 'file' && n.path === '/big');
    assert.ok(big, '/big is listed');
    assert.equal(a.layerFiles.getChildren(big).length, 100);
    assert.equal(a.layerFiles.getChildren(a.layerFiles.getChildren(big)[0]).length, 1000);

    // A new selection while the big walk streams cancels it.
    const last = a.layerFiles.load;
    const shown = a.layerFiles.show({ kind: 'step', image, stepIndex });
    for (let i = 0; i < 400 && (a.layerFiles.load === last || (a.layerFiles.load?.entries ?? 0) < 1000); i++) await sleep(5);
    const running = a.layerFiles.load!;
    assert.equal(running.done, false, 'still walking');
    await a.layerFiles.show({ kind: 'step', image, stepIndex: 0 });
    await shown;
    assert.equal(running.cancelled, true);
    assert.ok(running.entries < 100_000);
    assert.notEqual(a.layerFiles.load, running);
  }, { timeout: 120_000 });
});
