/**
 * The path search on the real roots: the layers that touch a path are known by
 * construction (test/fixtures/images/*\/Dockerfile), the container's by the
 * daemon's own `docker diff`; a search descending only a glob's folder finds
 * exactly what walking every whole layer finds; shared layers are walked
 * once; the CLI's exit status is grep's; a cancelled search stops.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ContentHashes } from '../../src/core/findPathContent';
import { findPath, parsePathPattern, searchTargets, type FindHit, type FindOptions, type PathPattern } from '../../src/core/findPath';
import { walkLayer } from '../../src/core/layerWalk';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { PROJECT_ROOTS, projectRoot, whyMissing, type TestRoot } from './support/roots';

function pattern(text: string): PathPattern {
  const p = parsePathPattern(text);
  assert.ok(typeof p !== 'string', `${text}: ${p}`);
  return p;
}

async function collect(store: Store, text: string | undefined, options: FindOptions = {}): Promise<FindHit[]> {
  const hits: FindHit[] = [];
  for await (const h of findPath(store, text === undefined ? undefined : pattern(text), options)) hits.push(h);
  return hits;
}

const bare = (tag: string) => tag.replace(/^docker\.io\/(library\/)?/, '');

/** A hit as [status, type, the tagged images (short names) whose steps make its layer, or the container]. */
function describe(h: FindHit): string {
  const owners = h.container
    ? [`container ${h.container.name}`]
    : [...new Set(h.uses.flatMap((u) => u.image.tags.map(bare)))].sort();
  return `${h.status} ${h.type} ${h.path} <- ${owners.join(' ')}`;
}

const roots = new Map<string, TestRoot>();
for (const name of PROJECT_ROOTS) {
  const r = projectRoot(name);
  if (r) roots.set(name, r);
}
const all = (t: { skip(reason: string): void }): boolean => {
  const missing = PROJECT_ROOTS.filter((n) => !roots.has(n));
  if (missing.length) t.skip(missing.map(whyMissing).join('; '));
  return missing.length === 0;
};

let opened: Promise<Store> | undefined;
/** The four project roots in one store (overlay2, vfs, containerd, legacy). */
const allRoots = () => (opened ??= Store.open(PROJECT_ROOTS.map((n) => roots.get(n)!.root)));
const inRoot = (hits: FindHit[], name: string) => hits.filter((h) => h.layer.source.root === roots.get(name)!.root);

/** What `docker diff` said the container changed (A/C/D lines), from the daemon's truth. */
function containerDiff(name: string): string[] {
  const file = path.join(roots.get(name)!.truth, 'diff-dle-ctr.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** The tags of a root's images (short names) that `filter` accepts: every fixture image is built FROM dle/base:1. */
function tagsIn(store: Store, name: string, filter: (tag: string) => boolean = () => true): string[] {
  const tags = store.images.filter((i) => i.source.root === roots.get(name)!.root).flatMap((i) => i.tags.map(bare));
  return [...new Set(tags.filter(filter))].sort();
}
const isApp = (tag: string) => tag.startsWith('dle/app:');

test('/data/keep.txt: added by dle/base’s COPY, modified by dle/app:1’s first RUN and by the container, in all four roots at once', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const hits = await collect(store, '/data/keep.txt');
  for (const name of PROJECT_ROOTS) {
    const mine = inRoot(hits, name);
    const expected = [
      `added file /data/keep.txt <- ${tagsIn(store, name).join(' ')}`,
      `modified file /data/keep.txt <- ${tagsIn(store, name, isApp).join(' ')}`,
    ];
    assert.ok(tagsIn(store, name, isApp).includes('dle/app:1'), `${name} holds dle/app:1`);
    if (containerDiff(name).includes('C /data/keep.txt')) expected.push('modified file /data/keep.txt <- container dle-ctr');
    assert.deepEqual(mine.map(describe), expected, name);
    // The steps that make those layers, by their commands (legacy graphs keep no history text).
    if (name !== 'legacy') {
      assert.match(mine[0].uses[0].createdBy, /COPY/, `${name}: the base's COPY`);
      assert.match(mine[1].uses[0].createdBy, /echo overwritten > \/data\/keep\.txt/, `${name}: app:1's first RUN`);
    }
    // Every image and step position that uses a shared layer is named; the layer is there once.
    for (const h of mine.filter((x) => !x.container)) {
      for (const u of h.uses) assert.equal(u.image.steps[u.stepIndex].layerKey, h.layer.key);
    }
    assert.equal(new Set(mine.map((h) => h.layer.key)).size, mine.length, `${name}: each layer once`);
  }
});

test('/waste/big: added (100,000 bytes), modified (50,000), deleted, each by its own RUN of dle/waste:1', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const hits = await collect(store, '/waste/big');
  for (const name of ['overlay2', 'vfs']) {
    const mine = inRoot(hits, name);
    assert.deepEqual(
      // Each layer is one step of dle/waste:1 (and of the intermediate images its build left).
      mine.map((h) => [h.status, h.type, h.size, bare(h.uses[0].image.tags[0] ?? ''), h.uses.filter((u) => !u.image.intermediate).length]),
      [
        ['added', 'file', 100_000, 'dle/waste:1', 1],
        ['modified', 'file', 50_000, 'dle/waste:1', 1],
        ['deleted', 'file', 0, 'dle/waste:1', 1],
      ],
      name,
    );
    assert.match(mine[0].uses[0].createdBy, /head -c 100000/);
    assert.match(mine[1].uses[0].createdBy, /head -c 50000/);
    assert.match(mine[2].uses[0].createdBy, /rm \/waste\/big/);
    const steps = mine.map((h) => h.uses[0].stepIndex);
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), `${name}: bottom to top`);
  }
  assert.deepEqual(inRoot(hits, 'containerd'), [], 'containerd holds no dle/waste');
});

test('/cmp/opq/o1.txt: added by cmp:a’s RUN; cmp:b’s layer replaces its folder (overlay: an opaque /cmp/opq; vfs: o1.txt deleted)', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  for (const name of ['overlay2', 'vfs']) {
    const o1 = inRoot(await collect(store, '/cmp/opq/o1.txt'), name);
    // vfs keeps snapshots: compared with its parent as docker diff does, cmp:b's layer deletes o1.txt.
    const vfsDeletes = name === 'vfs' ? ['deleted file /cmp/opq/o1.txt <- dle/cmp:b'] : [];
    assert.deepEqual(o1.map(describe), ['added file /cmp/opq/o1.txt <- dle/cmp:a dle/cmp:b', ...vfsDeletes], name);
    assert.match(o1[0].uses[0].createdBy, /echo o1 > \/cmp\/opq\/o1\.txt/);
    const glob = inRoot(await collect(store, '/cmp/**/o1.txt'), name);
    assert.deepEqual(glob.map(describe), o1.map(describe), `${name}: the glob finds what the substring finds`);
    const folder = inRoot(await collect(store, '/cmp/opq/**'), name).filter((h) => h.path === '/cmp/opq');
    const bOnly = folder.filter((h) => !h.uses.some((u) => u.image.tags.includes('dle/cmp:a')));
    // overlay records the replaced folder as opaque; vfs snapshots, compared as docker diff does, show it modified.
    assert.deepEqual(bOnly.map((h) => h.status), [name === 'overlay2' ? 'opaque' : 'modified'], `${name}: cmp:b's /cmp/opq`);
  }
});

test('glob vs substring: a pattern without wildcards matches anywhere; a glob matches the whole path or, without a slash, the name', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const sub = await collect(store, 'keep.tx');
  assert.ok(sub.length > 0 && sub.every((h) => h.path.includes('keep.tx')));
  assert.deepEqual((await collect(store, 'keep.t?')).length, 0, 'a name glob is anchored to the whole name');
  assert.deepEqual((await collect(store, 'keep.tx?')).map(describe), (await collect(store, '/data/keep.txt')).map(describe));
  const names = await collect(store, '*.conf');
  assert.deepEqual([...new Set(names.map((h) => h.path))].sort(), ['/etc/app/a.conf', '/etc/app/b.conf', '/etc/app/c.conf']);
  const paths = await collect(store, '/etc/*/?.conf');
  assert.deepEqual(paths.map(describe), names.map(describe), 'the path glob finds the same entries');
  assert.deepEqual(await collect(store, '/ETC/app/*'), [], 'case-sensitive, as paths are');
  assert.equal(typeof parsePathPattern('/usr/../etc/*'), 'string', '".." is refused');
  assert.equal((parsePathPattern('/usr/lib/**/libssl*') as PathPattern).folder, '/usr/lib');
  assert.equal((parsePathPattern('lib/*.so') as PathPattern).folder, '/lib');
  assert.equal((parsePathPattern('*.so') as PathPattern).folder, '/');
});

test('a glob walks only its folder, and finds exactly what walking every whole layer finds (all four roots)', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const targets = searchTargets(store);
  let everywhere = 0;
  await collect(store, '/', { onProgress: (x) => (everywhere = x.entries) });
  const globs = ['/data/**', '/cmp/opq/**', '/cmp/gone/**', '/cmp/**/*.txt', '/etc/app/**', '/root/example/**', '/waste/**', '/app/*', '/bin/s?'];
  for (const glob of globs) {
    const p = pattern(glob);
    assert.notEqual(p.folder, '/', glob);
    const expected: string[] = [];
    for (const { layer } of targets) {
      if (!layer.content) continue;
      for await (const e of walkLayer(layer.content)) if (p.test(e.path)) expected.push(`${layer.key} ${e.path} ${e.status} ${e.type} ${e.size} ${e.target ?? ''}`);
    }
    let entries = 0;
    const found = (await collect(store, glob, { onProgress: (x) => (entries = x.entries) })).map(
      (h) => `${h.layer.key} ${h.path} ${h.status} ${h.type} ${h.size} ${h.target ?? ''}`,
    );
    assert.deepEqual(found, expected, glob);
    assert.ok(expected.length > 0, `${glob} matches something`);
    assert.ok(entries < (glob.startsWith('/bin') ? everywhere : everywhere / 4), `${glob}: walked ${entries} entries of the ${everywhere} in all layers`);
  }
});

test('--image searches that image’s layers only; the CLI exits 0 found, 1 nothing found, 2 bad pattern or digest', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const app1 = store.images.find((i) => i.tags.includes('dle/app:1') && i.source.root === roots.get('overlay2')!.root)!;
  const hits = await collect(store, '/data/keep.txt', { image: app1 });
  assert.deepEqual(hits.map((h) => h.status), ['added', 'modified']);
  assert.ok(hits.every((h) => !h.container && h.uses.some((u) => u.image === app1)));

  const root = ['--root', roots.get('overlay2')!.root];
  const found = await runCli([...root, 'find', '/data/keep.txt', '--image', 'dle/app:1']);
  assert.equal(found.code, 0, found.stderr);
  assert.deepEqual(found.stdout.trim().split('\n').map((l) => l.slice(0, 1)), ['A', 'M']);
  assert.match(found.stdout, /dle\/app:1@6/);
  const none = await runCli([...root, 'find', '/no/such/path']);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /0 hits; searched \d+ of \d+ layers/);
  const json = await runCli([...root, '--json', 'find', '/no/such/path']);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout).hits, []);
  for (const bad of [['find'], ['find', '/a/../b/*'], ['find', 'x', '--sha256', 'nothex']]) {
    const r = await runCli([...root, ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /find/);
  }
  const unknown = await runCli([...root, 'find', 'x', '--image', 'no/such:image']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no image matches "no\/such:image"/);
});

test('--sha256 finds the layers carrying those bytes; a second search answers from the per-layer cache', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const kept = createHash('sha256').update(Buffer.alloc(10_000)).digest('hex'); // /waste/kept: 10,000 zero bytes
  const hashes = new ContentHashes();
  let last: { files: number; bytes: number; cached: number } | undefined;
  const hits = await collect(store, undefined, { sha256: kept, hashes, onProgress: (p) => (last = p.hashed) });
  assert.deepEqual(
    hits.map((h) => [h.path, h.status, h.size, h.sha256, bare(h.uses[0].image.tags[0])]),
    ['overlay2', 'vfs'].map(() => ['/waste/kept', 'added', 10_000, kept, 'dle/waste:1']),
  );
  assert.ok(last && last.files > 10 && last.bytes > 1_000_000 && last.cached === 0, JSON.stringify(last));
  const again = await collect(store, undefined, { sha256: kept, hashes, onProgress: (p) => (last = p.hashed) });
  assert.deepEqual(again.map(describe), hits.map(describe));
  assert.ok(last && last.files === 0 && last.cached > 10, `the second search reads nothing: ${JSON.stringify(last)}`);
  const both = await collect(store, '/waste/*', { sha256: kept, hashes });
  assert.deepEqual(both.map(describe), hits.map(describe), 'pattern and digest together');
});

test('a layer whose folder is gone is reported by id; the other layers are still searched (a copy of the overlay2 root)', async (t) => {
  if (!all(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-find-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'root');
  execFileSync('cp', ['-a', roots.get('overlay2')!.root, copy]);
  const before = await Store.open([copy]);
  const found = await collect(before, '/data/keep.txt');
  const added = found[0];
  assert.equal(added.status, 'added');
  // The copy's COPY layer loses its folder: the search says so and goes on.
  fs.rmSync(added.layer.content!.dir, { recursive: true });
  const store = await Store.open([copy]);
  const problems: string[] = [];
  const hits = await collect(store, '/data/keep.txt', { onProblem: (p) => problems.push(`${p.layer.id} ${p.code}: ${p.message}`) });
  // (Their status may change: the lower layer that held the file is gone, and its walk says so.)
  assert.deepEqual(hits.map((h) => h.layer.id), found.slice(1).map((h) => h.layer.id), 'app:1’s and the container’s copies are still found');
  assert.ok(problems.some((p) => p.startsWith(added.layer.id) && /not-found/.test(p)), problems.join('\n'));
  const r = await runCli(['--root', copy, 'find', '/data/old.txt', '--image', 'dle/base:1']);
  assert.equal(r.code, 2, `nothing found and a layer unreadable: the answer is incomplete (${r.stderr})`);
  assert.match(r.stderr, new RegExp(`layer ${added.layer.id.slice(7, 19)}`));
});

test('--sha256 never follows a layer folder swapped for a symlink after an earlier search (a copy of the overlay2 root)', async (t) => {
  const r = roots.get('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-find-swap-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'root');
  execFileSync('cp', ['-a', r.root, copy]);
  // On the host, outside every root: a folder whose keep.txt must never be read.
  const host = path.join(dir, 'host');
  fs.mkdirSync(host);
  const canary = Buffer.from('canary: host file, never part of a layer\n');
  fs.writeFileSync(path.join(host, 'keep.txt'), canary);
  const canaryHex = createHash('sha256').update(canary).digest('hex');
  const store = await Store.open([copy]);
  const added = (await collect(store, '/data/keep.txt')).find((h) => h.status === 'added');
  assert.ok(added?.layer.content, 'the COPY layer holds /data/keep.txt');
  const content = added.layer.content;
  const keptHex = createHash('sha256').update(fs.readFileSync(path.join(content.dir, 'data', 'keep.txt'))).digest('hex');
  const hashes = new ContentHashes();
  // A first search hashes /data/keep.txt: its folder was checked then.
  const first = await collect(store, '/data/keep.txt', { sha256: keptHex, hashes });
  assert.ok(first.some((h) => h.layer.id === added.layer.id), 'found by its digest before the swap');
  // The layer's /data becomes a symlink to the host folder.
  fs.rmSync(path.join(content.dir, 'data'), { recursive: true });
  fs.symlinkSync(host, path.join(content.dir, 'data'));
  // What the search's lstat of dir + path now gives is the canary (the path walk follows /data): the hash must not read it.
  const followed = fs.lstatSync(path.join(content.dir, 'data', 'keep.txt'));
  await assert.rejects(hashes.sha256(added.layer.key, content, '/data/keep.txt', followed), (err: Error & { code?: string }) => err.code === 'not-found' && /symbolic link/.test(err.message));
  const hits = await collect(store, undefined, { sha256: canaryHex, hashes });
  assert.deepEqual(hits, [], 'no hit for the host file');
  const again = await collect(await Store.open([copy]), '/data/*', { sha256: canaryHex, hashes: new ContentHashes() });
  assert.deepEqual(again, []);
});

test('a cancelled search stops at once with "cancelled"', async (t) => {
  if (!all(t)) return;
  const store = await allRoots();
  const controller = new AbortController();
  let seen = 0;
  const started = performance.now();
  await assert.rejects(
    (async () => {
      for await (const _ of findPath(store, pattern('/'), { signal: controller.signal })) {
        if (++seen === 1) controller.abort();
      }
    })(),
    (err: Error & { code?: string }) => err.code === 'cancelled',
  );
  assert.ok(seen <= 2, `${seen} hits after the abort`);
  assert.ok(performance.now() - started < 2000);
  const before = new AbortController();
  before.abort();
  await assert.rejects(collect(store, '/', { signal: before.signal }), (err: Error & { code?: string }) => err.code === 'cancelled');
});
