/**
 * Shared and unique sizes against the daemon: `docker system df -v` of the
 * daemon that wrote each project root (SharedSize, UniqueSize, Size as human
 * strings, compared within the rounding they imply), and which layers each
 * image shares, derived independently from `docker image inspect` (two images
 * share the layer at position k exactly when their first k+1 diff ids agree).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { humanSize } from '../../src/core/format';
import { sharingOf } from '../../src/core/sharing';
import { Store } from '../../src/core/store';
import { cliJson, runCli } from './support/cli';
import { expectedOthers } from './support/sharingTruth';
import { PROJECT_ROOTS, SHARED_ROOTS, projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

interface ImageJson {
  id: string;
  tags: string[];
  size: number;
  sharedSize: number;
  uniqueSize: number;
  intermediate: boolean;
}

/** A row of `docker system df -v --format '{{json .}}'`'s Images. */
interface DfImage {
  ID: string;
  Repository: string;
  Tag: string;
  Size: string;
  SharedSize: string;
  UniqueSize: string;
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/**
 * The bytes a docker human size can stand for: go-units prints `%.<p>g` of the
 * value in decimal units (docker system df: Size with 3 significant digits,
 * SharedSize and UniqueSize with 4), so "1.986MB" is any size that rounds to
 * it: [1,985,500, 1,986,500]. Whole bytes below 1 kB are exact.
 */
export function humanRange(text: string, digits: number): [number, number] {
  const m = /^(\d+(?:\.\d+)?)(B|kB|MB|GB|TB)$/.exec(text);
  assert.ok(m, `a docker size: ${text}`);
  const value = Number(m[1]);
  const unit = UNITS[m[2]];
  if (unit === 1 || value === 0) return [value * unit, value * unit];
  const half = 0.5 * 10 ** (Math.floor(Math.log10(value)) - digits + 1);
  return [(value - half) * unit, (value + half) * unit];
}

function assertWithin(actual: number, text: string, digits: number, what: string): void {
  const [lo, hi] = humanRange(text, digits);
  assert.ok(actual >= lo && actual <= hi, `${what}: ${actual} bytes, but the daemon said ${text} ([${lo}, ${hi}])`);
}

test('humanRange reads docker sizes with the rounding they imply', () => {
  assert.deepEqual(humanRange('0B', 4), [0, 0]);
  assert.deepEqual(humanRange('24B', 4), [24, 24]);
  assert.deepEqual(humanRange('1.986MB', 4), [1_985_500, 1_986_500]);
  assert.deepEqual(humanRange('160kB', 4), [159_950, 160_050]);
  assert.deepEqual(humanRange('1.99MB', 3), [1_985_000, 1_995_000]);
});

for (const name of ['overlay2', 'vfs'] as const) {
  test(`${name}: sharedSize and uniqueSize equal the daemon's docker system df -v`, async (t) => {
    const r = projectRoot(name);
    if (!r) return t.skip(whyMissing(name));
    const dfFile = path.join(r.truth, 'system-df.json');
    if (!existsSync(dfFile)) return t.skip(`${dfFile} is missing: rerun test/fixtures/makeRoots.sh`);
    const df = (JSON.parse(readFileSync(dfFile, 'utf8')) as { Images: DfImage[] }).Images;
    assert.ok(df.length > 0, 'the daemon listed images');
    const { images } = await cliJson<{ images: ImageJson[] }>(['--root', r.root, 'images']);
    // system df lists what `docker images` lists: the same images, no more, no fewer.
    assert.deepEqual([...new Set(images.map((i) => i.id))].sort(), [...new Set(df.map((d) => d.ID))].sort());
    let sharing = 0;
    for (const d of df) {
      const image = images.find((i) => i.id === d.ID)!;
      const what = `${d.Repository}:${d.Tag}`;
      assertWithin(image.size, d.Size, 3, `${what} size`);
      assertWithin(image.sharedSize, d.SharedSize, 4, `${what} sharedSize`);
      assertWithin(image.uniqueSize, d.UniqueSize, 4, `${what} uniqueSize`);
      assert.equal(image.sharedSize + image.uniqueSize, image.size, `${what}: shared + unique = size`);
      if (image.sharedSize > 0) sharing++;
    }
    assert.ok(sharing >= 2, 'the roots hold images that share layers, so the figures say something');
  });
}

/** The roots whose truth holds `docker image inspect` of every image. */
const inspectedRoots: [string, () => TestRoot | undefined][] = [
  ['overlay2', () => projectRoot('overlay2')],
  ['vfs', () => projectRoot('vfs')],
  ['docker20-overlay2', () => sharedRoot('docker20-overlay2')],
];

for (const [name, get] of inspectedRoots) {
  for (const scope of ['listed', 'all'] as const) {
    const counted = scope === 'all' ? 'intermediate images counted, as Docker 23+' : 'listed images, as Docker 20.10';
    test(`${name}: which layers each image shares (${counted}) follows docker image inspect`, async (t) => {
      const r = get();
      if (!r) return t.skip(whyMissing(name));
      if (!r.truth) return t.skip(`${r.name} has no truth`);
      const store = await Store.open([r.root]);
      const sharing = sharingOf(store, scope);
      // The positions of each image's layers that another image in scope has too.
      const expected = new Map([...expectedOthers(r.truth, scope === 'all')].map(([id, others]) => [id, others.flatMap((n, k) => (n > 0 ? [k] : []))]));
      assert.ok(expected.size > 0, 'inspect files were read');
      let checked = 0;
      for (const [id, positions] of expected) {
        const image = store.findImage(id);
        const actual = image.layerKeys.flatMap((key, k) => (sharing.sharedWith(key, image).length > 0 ? [k] : []));
        assert.deepEqual(actual, positions, `${r.name} ${id.slice(7, 19)} ${image.tags[0] ?? ''}: shared layer positions`);
        const shared = sharing.of(image);
        assert.equal(shared.sharedLayers, positions.length);
        assert.equal(shared.uniqueLayers, image.layerKeys.length - positions.length);
        const bytes = positions.reduce((sum, k) => sum + store.layer(image.layerKeys[k])!.size, 0);
        assert.equal(shared.sharedSize, bytes, 'sharedSize is the sum of the shared layers\' own sizes');
        checked++;
      }
      t.diagnostic(`${r.name}: ${checked} images checked`);
    });
  }
}

test('the images sharing a layer are the images in scope that use it, never across sources', async (t) => {
  const r = projectRoot('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const v = projectRoot('vfs');
  const store = await Store.open(v ? [r.root, v.root] : [r.root]);
  const listed = sharingOf(store, 'listed');
  assert.equal(sharingOf(store, 'listed'), listed, 'computed once per store and scope');
  const base = store.images.find((i) => i.tags.includes('dle/base:1') && i.source.root === r.root)!;
  const bottom = base.layerKeys[0];
  // Every image built FROM dle/base:1 on that root uses its bottom layer; none of the vfs root's does.
  const users = listed.imagesUsing(bottom).map((i) => i.id).sort();
  const expected = store.images
    .filter((i) => !i.intermediate && i.source.key === base.source.key && i.layerKeys.includes(bottom))
    .map((i) => i.id)
    .sort();
  assert.deepEqual(users, expected);
  assert.ok(users.length >= 5, 'base, app:1, app:2, cmp:a, cmp:b and waste:1 share the bottom layer');
  assert.ok(!listed.sharedWith(bottom, base).some((i) => i.key === base.key), 'an image does not share with itself');
  const all = sharingOf(store, 'all');
  assert.ok(all.imagesUsing(bottom).length > users.length, 'counting intermediate images finds more users');
});

test('images -a counts intermediate images too: shared grows, unique shrinks, shared + unique = size', async (t) => {
  const r = projectRoot('overlay2') ?? sharedRoot('docker20-overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const listed = (await cliJson<{ images: ImageJson[] }>(['--root', r.root, 'images'])).images;
  const all = (await cliJson<{ images: ImageJson[] }>(['--root', r.root, 'images', '-a'])).images;
  assert.ok(all.length > listed.length, 'the root holds intermediate images');
  let grew = 0;
  for (const i of listed) {
    const a = all.find((x) => x.id === i.id)!;
    assert.ok(a.sharedSize >= i.sharedSize, `${i.tags[0]}: counting more images never shares less`);
    assert.equal(a.sharedSize + a.uniqueSize, a.size);
    if (a.sharedSize > i.sharedSize) grew++;
  }
  assert.ok(grew > 0, 'a classic build leaves intermediate images that share its lower layers');
});

for (const name of [...PROJECT_ROOTS, ...SHARED_ROOTS]) {
  test(`${name}: every image's shared + unique = size, each within [0, size]`, async (t) => {
    const r = (PROJECT_ROOTS as readonly string[]).includes(name) ? projectRoot(name as (typeof PROJECT_ROOTS)[number]) : sharedRoot(name);
    if (!r) return t.skip(whyMissing(name));
    for (const flag of [[], ['-a']]) {
      const images: ImageJson[] = (await cliJson<{ images: ImageJson[] }>(['--root', r.root, 'images', ...flag])).images;
      assert.ok(images.length > 0);
      for (const i of images) {
        assert.ok(i.sharedSize >= 0 && i.sharedSize <= i.size, `${i.id} sharedSize ${i.sharedSize} of ${i.size}`);
        assert.equal(i.sharedSize + i.uniqueSize, i.size, `${i.id}`);
      }
    }
  });
}

test('the images table shows SHARED and UNIQUE beside SIZE', async (t) => {
  const r = projectRoot('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const { images } = await cliJson<{ images: ImageJson[] }>(['--root', r.root, 'images']);
  const out = await runCli(['--root', r.root, 'images']);
  assert.equal(out.code, 0, out.stderr);
  const [header, ...rows] = out.stdout.trimEnd().split('\n');
  assert.match(header, /\bSIZE +SHARED +UNIQUE +LAYERS\b/);
  for (const i of images) {
    const row = rows.find((line) => line.startsWith(`${i.tags[0]} `));
    assert.ok(row, `a row for ${i.tags[0]}`);
    assert.match(row, new RegExp(`${humanSize(i.size)} +${humanSize(i.sharedSize)} +${humanSize(i.uniqueSize)} +`), row);
  }
});
