// The newer features on an image archive: `find` (substring, glob, --sha256),
// `compare` (two images, a range, and across roots) and `history` give on the
// project's own `docker save` (save-docker20.tar: dle/base:1, dle/app:1,
// dle/app:2) what they give on the overlay2 root the same daemon wrote, whose
// layers are that archive's, unpacked. Layer ids are chain ids: the same on
// both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareFiles, comparePoint, resolveComparison, type CompareResult, type FileChange } from '../../src/core/compare';
import { findPath, parsePathPattern, type FindHit, type FindOptions } from '../../src/core/findPath';
import { readLayerFile } from '../../src/core/layerFiles';
import type { Image } from '../../src/core/model';
import { imagePathHistory, type StepVersion } from '../../src/core/pathHistory';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { projectRoot, repoRoot, whyMissing } from './support/roots';

const SAVE = path.join(repoRoot, '.cache', 'roots', 'save-docker20.tar');
const TAGS = ['dle/base:1', 'dle/app:1', 'dle/app:2'];

let opened: Promise<{ archive: Store; disk: Store; root: string }> | undefined;
/** The archive's store and the overlay2 root's, or why the test cannot run. */
async function stores(t: { skip(reason: string): void }): Promise<{ archive: Store; disk: Store; root: string } | undefined> {
  const overlay2 = projectRoot('overlay2');
  if (!overlay2) return void t.skip(whyMissing('overlay2'));
  if (!fs.existsSync(SAVE)) return void t.skip(`${SAVE} is not made: run test/fixtures/makeRoots.sh`);
  opened ??= Promise.all([Store.open([SAVE]), Store.open([overlay2.root])]).then(([archive, disk]) => ({ archive, disk, root: overlay2.root }));
  return opened;
}

async function find(store: Store, text: string | undefined, options: FindOptions = {}): Promise<{ hits: FindHit[]; problems: string[] }> {
  const pattern = text === undefined ? undefined : parsePathPattern(text);
  assert.ok(typeof pattern !== 'string', `${text}: ${pattern}`);
  const hits: FindHit[] = [];
  const problems: string[] = [];
  for await (const h of findPath(store, pattern, { ...options, onProblem: (p) => problems.push(`${p.path}: ${p.message}`) })) hits.push(h);
  return { hits, problems };
}

/**
 * A hit of a layer the archive holds, as one line: layer, path, status, type,
 * size, digest, and the steps (of the archive's images) that make the layer.
 * Hits of what the archive does not hold (a container, other images' layers) are left out.
 */
function hitLines(hits: readonly FindHit[], layerIds: ReadonlySet<string>): string[] {
  return hits
    .filter((h) => !h.container && layerIds.has(h.layer.id))
    .map((h) => {
      const steps = h.uses
        .flatMap((u) => u.image.tags.filter((tag) => TAGS.includes(tag)).map((tag) => `${tag}@${u.stepIndex}`))
        .sort()
        .join(',');
      return `${h.layer.id} ${h.path} ${h.status} ${h.type} ${h.size}${h.sha256 ? ' ' + h.sha256 : ''} ${steps}`;
    })
    .sort();
}

const idsOf = (store: Store) => new Set(store.layers.map((l) => l.id));

for (const text of ['/data/keep.txt', '/etc/**/*.conf', '*.conf', '/data/*']) {
  test(`find ${text}: the archive gives the overlay2 root's hits`, async (t) => {
    const s = await stores(t);
    if (!s) return;
    const a = await find(s.archive, text);
    const b = await find(s.disk, text);
    assert.deepEqual(a.problems, [], 'no layer of the archive fails');
    assert.ok(a.hits.length > 0, 'hits');
    assert.deepEqual(hitLines(a.hits, idsOf(s.archive)), hitLines(b.hits, idsOf(s.archive)));
  });
}

test('find /etc/**/*.conf: the archive hits are the three known files, and the CLI reports no problem', async (t) => {
  const s = await stores(t);
  if (!s) return;
  const { hits } = await find(s.archive, '/etc/**/*.conf');
  assert.deepEqual(hits.map((h) => `${h.status} ${h.path} ${h.size}`).sort(), ['added /etc/app/a.conf 16', 'added /etc/app/b.conf 7', 'added /etc/app/c.conf 4']);
  const cli = await runCli(['--root', SAVE, 'find', '/etc/**/*.conf']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.doesNotMatch(cli.stderr, /not a (directory|folder)|cannot/);
});

test('find --sha256: the same files by content in the archive as in the overlay2 root', async (t) => {
  const s = await stores(t);
  if (!s) return;
  // The digests of dle/app:1's /data/keep.txt (rewritten at step 6) and of /bin/busybox (1.9 MB), read from the overlay2 root.
  const image = s.disk.findImage('dle/app:1');
  const digest = async (step: number, p: string) => {
    const read = await readLayerFile(s.disk.layer(image.steps[step].layerKey)!.content!, p);
    assert.equal(read.kind, 'file');
    return createHash('sha256').update(read.kind === 'file' ? read.data : '').digest('hex');
  };
  for (const [step, p] of [[6, '/data/keep.txt'], [0, '/bin/busybox']] as const) {
    const sha256 = await digest(step, p);
    const a = await find(s.archive, undefined, { sha256 });
    const b = await find(s.disk, undefined, { sha256 });
    assert.deepEqual(a.problems, [], 'every archive file was hashed');
    assert.ok(a.hits.some((h) => h.path === p && h.sha256 === sha256), `${p} is found by its digest`);
    assert.deepEqual(hitLines(a.hits, idsOf(s.archive)), hitLines(b.hits, idsOf(s.archive)), p);
    // With a path pattern too (a glob: the archive's layers are walked whole, the root's scoped).
    const glob = `/${p.split('/')[1]}/**`;
    const ga = await find(s.archive, glob, { sha256 });
    const gb = await find(s.disk, glob, { sha256 });
    assert.deepEqual(hitLines(ga.hits, idsOf(s.archive)), hitLines(gb.hits, idsOf(s.archive)), `${glob} ${p}`);
    assert.ok(ga.hits.length > 0);
  }
});

/** A comparison as lines: path, change, aspects, and each side's type, size, mode and target. */
function changeLines(r: CompareResult, withMtime: boolean): string[] {
  const side = (x: FileChange['before']) => (x ? `${x.type}/${x.size}/${(x.mode & 0o7777).toString(8)}${x.target !== undefined ? '→' + x.target : ''}` : '-');
  return r.changes.map((c) => {
    const aspects = withMtime ? c.aspects : c.aspects.filter((a) => a !== 'mtime');
    return `${c.path} ${c.change} [${aspects.join(',')}] ${side(c.before)} ${side(c.after)} ${c.sizeDelta}`;
  });
}

for (const [refA, refB] of [
  ['dle/app:1', 'dle/app:2'],
  ['dle/app:1@5..7', undefined],
  ['dle/app:2@1..8', undefined],
  ['dle/base:1', 'dle/app:2'],
] as const) {
  test(`compare ${refA}${refB ? ' ' + refB : ''}: the archive gives the overlay2 root's file changes`, async (t) => {
    const s = await stores(t);
    if (!s) return;
    const onArchive = resolveComparison(s.archive, refA, refB);
    const onDisk = resolveComparison(s.disk, refA, refB);
    const a = await compareFiles(onArchive.a, onArchive.b);
    const b = await compareFiles(onDisk.a, onDisk.b);
    assert.deepEqual(a.problems, []);
    assert.ok(a.changes.length > 0, 'the two differ');
    // Tar headers keep whole seconds: an mtime the root tells apart within a second may not differ in the archive.
    assert.deepEqual(changeLines(a, false), changeLines(b, false));
    assert.deepEqual(a.entries, b.entries);
    assert.equal(a.sizeDelta, b.sizeDelta);
    assert.equal(a.sharedLayers, b.sharedLayers);
    const ia = await compareFiles(onArchive.a, onArchive.b, { ignoreMtime: true });
    const ib = await compareFiles(onDisk.a, onDisk.b, { ignoreMtime: true });
    assert.deepEqual(changeLines(ia, true), changeLines(ib, true));
  });
}

test('compare across roots: dle/app:1 from the archive and from the overlay2 root have the same files', async (t) => {
  const s = await stores(t);
  if (!s) return;
  const both = await Store.open([SAVE, s.root]);
  const app = (kind: string): Image => both.images.find((i) => i.tags.includes('dle/app:1') && i.source.kind === kind)!;
  const [saved, disk] = [app('archive'), app('image-db')];
  assert.ok(saved && disk, 'dle/app:1 on both sides');
  const a = comparePoint(both, saved, saved.steps.length - 1, 'archive dle/app:1');
  const b = comparePoint(both, disk, disk.steps.length - 1, 'overlay2 dle/app:1');
  const r = await compareFiles(a, b, { ignoreMtime: true });
  assert.deepEqual(changeLines(r, true), []);
  assert.deepEqual(r.problems, []);
  assert.equal(r.sharedLayers, 0, 'no layer is shared across roots: every path was compared');
  assert.equal(r.entries.a, r.entries.b);
  assert.ok(r.contentCompared > 0, `files compared byte by byte, archive against folder: ${r.contentCompared}`);
  // One side's bytes changed: the comparison sees it (dle/app:2 differs from dle/app:1 by /app/version.txt).
  const two = both.images.find((i) => i.tags.includes('dle/app:2') && i.source.kind === 'image-db')!;
  const r2 = await compareFiles(a, comparePoint(both, two, two.steps.length - 1), { ignoreMtime: true });
  assert.deepEqual(r2.changes.map((c) => `${c.path} ${c.change}`), ['/app/version.txt added']);
});

test('compare across two archives: every file read from both blobs, the same files', async (t) => {
  const s = await stores(t);
  if (!s) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archive-features-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'save-copy.tar');
  fs.copyFileSync(SAVE, copy);
  const both = await Store.open([SAVE, copy]);
  const app = (file: string, tag: string): Image => both.images.find((i) => i.tags.includes(tag) && i.source.root === file)!;
  const point = (i: Image) => comparePoint(both, i, i.steps.length - 1);
  const r = await compareFiles(point(app(SAVE, 'dle/app:1')), point(app(copy, 'dle/app:1')));
  assert.deepEqual(changeLines(r, true), []);
  assert.deepEqual(r.problems, []);
  assert.equal(r.sharedLayers, 0);
  assert.ok(r.contentCompared > 0, `files compared byte by byte, archive against archive: ${r.contentCompared}`);
  const r2 = await compareFiles(point(app(SAVE, 'dle/app:1')), point(app(copy, 'dle/app:2')), { ignoreMtime: true });
  assert.deepEqual(r2.changes.map((c) => `${c.path} ${c.change}`), ['/app/version.txt added']);
});

/** A history as lines: step, change, type, size, mode, target, via. */
const historyLines = (vs: readonly StepVersion[]) =>
  vs.map((v) => `${v.step} ${v.change} ${v.type} ${v.size} ${v.mode.toString(8)}${v.target !== undefined ? ' →' + v.target : ''}${v.via ? ' via ' + v.via : ''}`);

async function history(store: Store, ref: string, p: string): Promise<{ versions: StepVersion[]; problems: string[] }> {
  const versions: StepVersion[] = [];
  const problems: string[] = [];
  for await (const v of imagePathHistory(store, store.findImage(ref), p, { onProblem: (step, pr) => problems.push(`${step}: ${pr.message}`) })) versions.push(v);
  return { versions, problems };
}

for (const [ref, p] of [
  ['dle/app:1', '/data/keep.txt'],
  ['dle/app:2', '/etc/app/a.conf'],
  ['dle/app:2', '/data/shadow-link'],
  ['dle/app:2', '/root/example/x'],
] as const) {
  test(`history ${ref} ${p}: the archive gives the overlay2 root's`, async (t) => {
    const s = await stores(t);
    if (!s) return;
    const a = await history(s.archive, ref, p);
    const b = await history(s.disk, ref, p);
    assert.deepEqual(a.problems, []);
    assert.ok(a.versions.length > 0);
    assert.deepEqual(historyLines(a.versions), historyLines(b.versions));
  });
}

test('history dle/app:1 /data/keep.txt on the archive: added at step 2, rewritten at step 6', async (t) => {
  const s = await stores(t);
  if (!s) return;
  const { versions } = await history(s.archive, 'dle/app:1', '/data/keep.txt');
  assert.deepEqual(versions.map((v) => `${v.step} ${v.change} ${v.size}`), ['2 added 8', '6 modified 12']);
  const cli = await runCli(['--root', SAVE, 'history', 'dle/app:1', '/data/keep.txt']);
  assert.equal(cli.code, 0, cli.stderr);
});
