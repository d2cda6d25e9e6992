// The walks of a comparison (compareWalk.ts): comparePaths is the order the
// walks give paths in; two top layers walked together give each path once,
// once both walks are past it, and build the same trees as walking each alone;
// a walk out of order is said, so that nothing paired on the way is trusted.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Side, walkTops, type Reporter } from '../../src/core/compareWalk';
import { comparePaths, compareNames, type LayerEntry } from '../../src/core/layerEntry';
import { mergedTree } from '../../src/core/layerStack';
import { walkLayer } from '../../src/core/layerWalk';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerContent } from '../../src/core/model';
import { build, diffContent, tmp } from './support/layers';

/** The walk order spelled out: the paths' names compared one by one, a folder before what is in it. */
function bySegments(p: string, q: string): number {
  const [x, y] = [p.split('/').slice(1), q.split('/').slice(1)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareNames(x[i], y[i]);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

test('comparePaths: the walk order, names compared whole (/a/b before /a-b)', () => {
  assert.ok(comparePaths('/a/b', '/a-b') < 0);
  assert.ok(comparePaths('/a', '/a/b') < 0);
  assert.ok(comparePaths('/ab', '/a/b') > 0);
  assert.equal(comparePaths('/x/y', '/x/y'), 0);
  // Random paths of a few names over characters on both sides of `/` (47): the same order as name by name.
  const chars = ['-', '.', '0', 'a', 'Z', '\u00e9', '\uef80'];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const paths = Array.from({ length: 400 }, () =>
    Array.from({ length: 1 + rand(3) }, () => '/' + Array.from({ length: 1 + rand(3) }, () => chars[rand(chars.length)]).join('')).join(''),
  );
  const sign = (n: number) => Math.sign(n);
  for (const p of paths) for (const q of paths.slice(0, 60)) assert.equal(sign(comparePaths(p, q)), sign(bySegments(p, q)), `${p} vs ${q}`);
});

const silent = (problems: string[]): Reporter => ({ problem: (side, path, message) => problems.push(`${side} ${path} ${message}`), walked: () => undefined });

test('walkTops: each path once, in order, when both walks are past it; the trees are those of each side alone', async () => {
  const lowerA = build('tops-lower-a', { 'etc/keep': 'k', 'etc/old': 'o', 'usr/lib/x': 'x' });
  const topA = build('tops-top-a', { 'etc/a-b': '1', 'etc/a/b': '2', 'usr/lib/y': 'y', 'zz/only-a': 'a' });
  const lowerB = build('tops-lower-b', { 'etc/keep': 'k', 'usr/lib/x': 'X' });
  const topB = build('tops-top-b', { 'etc/a/b': '3', 'etc/new': 'n', 'usr/lib/y': 'Y', 'usr/lib/z': 'z' });
  const layersA = [diffContent(lowerA, 'aufs'), diffContent(topA, 'aufs', [lowerA])];
  const layersB = [diffContent(lowerB, 'aufs'), diffContent(topB, 'aufs', [lowerB])];
  const [a, b] = [new Side('a', layersA), new Side('b', layersB)];
  const problems: string[] = [];
  for (const [side, layers] of [[a, layersA], [b, layersB]] as const) for await (const e of walkLayer(layers[0])) side.tree.apply(0, e);

  const given: { path: string; a?: string; b?: string }[] = [];
  const ordered = await walkTops([{ side: a, layer: 1 }, { side: b, layer: 1 }], silent(problems), (path) => {
    // Final on both sides: what each tree holds now is what it holds at the end.
    given.push({ path, a: a.tree.get(path)?.path, b: b.tree.get(path)?.path });
  });
  assert.equal(ordered, true);
  assert.deepEqual(problems, []);
  const tops = new Set<string>();
  for (const dir of [topA, topB]) for await (const e of walkLayer(diffContent(dir, 'aufs'))) tops.add(e.path);
  assert.deepEqual(given.map((g) => g.path), [...tops].sort(comparePaths), 'every path of either top, once, in walk order');
  for (const g of given) assert.deepEqual(g, { path: g.path, a: a.tree.get(g.path)?.path, b: b.tree.get(g.path)?.path }, `${g.path}: final when given`);
  for (const [side, layers] of [[a, layersA], [b, layersB]] as const) {
    const alone = await mergedTree(layers);
    assert.deepEqual([...side.tree.entries()].map((e) => [e.path, e.layer, e.type]), [...alone.entries()].map((e) => [e.path, e.layer, e.type]));
  }
});

test('walkTops: a walk out of path order is said, and nothing is given after it', async () => {
  // No walk gives paths out of order (an archive's is sorted too); one that did would make pairs unreliable.
  async function* unordered(): AsyncGenerator<LayerEntry> {
    for (const p of ['/b', '/a']) yield { path: p, status: 'added', type: 'file', size: 1, mode: 0o100644 };
  }
  const other = build('tops-other', { c: 'c' });
  const given: string[] = [];
  const side = new Side('a', [diffContent(other, 'aufs')]);
  const ordered = await walkTops([{ side, layer: 0, walk: unordered() }, { side: new Side('b', [diffContent(other, 'aufs')]), layer: 0 }], silent([]), (p) => given.push(p));
  assert.equal(ordered, false);
  assert.deepEqual(given, [], 'nothing is given once a walk is seen out of order (each walk is read one entry ahead)');
  // Every archive walk is in the same order as a folder walk.
  const dir = build('tops-tar-src', { b: 'b', 'a-b/c': 'c', 'a/d': 'd' });
  const file = path.join(tmp, 'tops-unsorted.tar');
  execFileSync('tar', ['-cf', file, '-C', dir, 'b', 'a-b', 'a']);
  const tarLayer: LayerContent = { dir: file, form: 'diff', whiteouts: 'aufs', lowerDirs: [], tar: { blob: { file, start: 0, size: fs.statSync(file).size, name: 'tops-unsorted.tar' }, lowerBlobs: [] } };
  const fromTar: string[] = [];
  for await (const e of walkLayer(tarLayer)) fromTar.push(e.path);
  assert.deepEqual(fromTar, [...fromTar].sort(comparePaths));
  assert.deepEqual(fromTar, ['/a', '/a/d', '/a-b', '/a-b/c', '/b']);
});
