// compare on the project's real roots: dle/cmp:a against dle/cmp:b differs in
// exactly what test/fixtures/images/cmpb/Dockerfile does, on overlay2 and vfs;
// a range of dle/app:1 gives what its steps do; an image equals itself; and
// dle/app:1 built by the overlay2 daemon equals the one the vfs daemon built
// (other ids, other layer folders) in everything but mtimes; and file bytes
// are compared for real, never through a symlink.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compareFiles, comparePoint, ignoreMatcher, resolveComparison, type FileChange } from '../../src/core/compare';
import { ContentComparer } from '../../src/core/compareContent';
import type { Image } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { build, diffContent, generate, hasTool, tmp } from './support/layers';
import { execFileSync } from 'node:child_process';
import type { Layer, LayerContent, Source } from '../../src/core/model';
import { projectRoot, whyMissing, type ProjectRootName } from './support/roots';

/** `path change aspects` of each change: one string per path, easy to compare whole. */
const lines = (changes: readonly FileChange[]) => changes.map((c) => `${c.path} ${c.change}${c.aspects.length ? ' ' + c.aspects.join(',') : ''}`);

/**
 * What the cmpb Dockerfile does to dle/cmp:a, path by path: its RUN rewrites
 * /cmp/file.txt with the same number of bytes, chmods /cmp/mode.txt, re-points
 * /cmp/link, removes /cmp/gone with everything below, replaces /cmp/opq by a
 * new folder with n.txt, and leaves /cmp/same.txt alone. Modification times
 * are left out here: the roots are packed with whole-second mtimes, so whether
 * the two builds' times differ depends on whether they fell in one second
 * (the test checks the mtime aspect against the sides' own times instead).
 */
const CMP_EXPECTED = [
  '/cmp/file.txt changed content',
  '/cmp/gone removed',
  '/cmp/gone/sub removed',
  '/cmp/gone/sub/g.txt removed',
  '/cmp/link changed target',
  '/cmp/mode.txt changed mode',
  '/cmp/opq/n.txt added',
  '/cmp/opq/o1.txt removed',
  '/cmp/opq/o2.txt removed',
];

const stores = new Map<string, Promise<Store>>();
function storeOf(...names: ProjectRootName[]): Promise<Store> | undefined {
  const roots = names.map((n) => projectRoot(n));
  if (roots.some((r) => !r)) return undefined;
  const key = names.join('+');
  if (!stores.has(key)) stores.set(key, Store.open(roots.map((r) => r!.root)));
  return stores.get(key)!;
}

for (const name of ['overlay2', 'vfs'] as const) {
  test(`${name}: dle/cmp:a vs dle/cmp:b is exactly what the cmpb Dockerfile does`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const { a, b } = resolveComparison(store, 'dle/cmp:a', 'dle/cmp:b');
    const r = await compareFiles(a, b);
    // Without mtimes, exactly what was built; with them, an mtime change exactly where the two sides' times differ.
    const noMtime = r.changes.map((c) => ({ ...c, aspects: c.aspects.filter((x) => x !== 'mtime') })).filter((c) => c.change !== 'changed' || c.aspects.length > 0);
    assert.deepEqual(lines(noMtime), CMP_EXPECTED);
    assert.deepEqual(lines((await compareFiles(a, b, { ignoreMtime: true })).changes), CMP_EXPECTED);
    for (const c of r.changes.filter((c) => c.change === 'changed')) {
      const [x, y] = [c.before!.mtimeMs, c.after!.mtimeMs];
      assert.equal(c.aspects.includes('mtime'), x !== undefined && y !== undefined && x !== y, `${c.path}: mtime ${x} → ${y}`);
    }
    assert.deepEqual(r.problems, []);
    // The base and cmp:a's own layer are shared: only cmp:b's RUN layer is walked on its own.
    assert.equal(r.sharedLayers, a.layers.length);
    assert.equal(b.layers.length, a.layers.length + 1);
    const byPath = new Map(r.changes.map((c) => [c.path, c]));
    // Same size, other bytes: the content was read, not judged by size.
    const file = byPath.get('/cmp/file.txt')!;
    assert.equal(file.before!.size, 4);
    assert.equal(file.after!.size, 4);
    assert.equal(file.sizeDelta, 0);
    assert.ok(r.contentCompared >= 2, `file.txt and mode.txt compared byte by byte (${r.contentCompared})`);
    assert.equal(byPath.get('/cmp/mode.txt')!.before!.mode & 0o777, 0o644);
    assert.equal(byPath.get('/cmp/mode.txt')!.after!.mode & 0o777, 0o755);
    assert.equal(byPath.get('/cmp/link')!.before!.target, '/data/keep.txt');
    assert.equal(byPath.get('/cmp/link')!.after!.target, '/data/new.txt');
    assert.equal(byPath.get('/cmp/opq/n.txt')!.sizeDelta, 2);
    assert.equal(byPath.get('/cmp/gone/sub/g.txt')!.sizeDelta, -2);
    assert.equal(r.sizeDelta, 2 - 2 - 3 - 3);
    assert.ok(!byPath.has('/cmp/same.txt'));
    // The other way round: added and removed swap, the same paths change.
    const back = await compareFiles(b, a);
    const swap = { added: 'removed', removed: 'added', changed: 'changed' } as const;
    assert.deepEqual(lines(back.changes), lines(r.changes.map((c) => ({ ...c, change: swap[c.change] }))));
  });

  test(`${name}: ignore globs leave paths and what is below them out`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const { a, b } = resolveComparison(store, 'dle/cmp:a', 'dle/cmp:b');
    const r = await compareFiles(a, b, { ignore: ['/cmp/gone', 'o?.txt'], ignoreMtime: true });
    assert.deepEqual(lines(r.changes), ['/cmp/file.txt changed content', '/cmp/link changed target', '/cmp/mode.txt changed mode', '/cmp/opq/n.txt added']);
  });
}

test('ignoreMatcher: a glob with / matches the path and below, one without matches names', () => {
  const m = ignoreMatcher(['/var/log/**', '*.pyc', 'tmp/*']);
  assert.ok(m('/var/log'));
  assert.ok(m('/var/log/apt/history.log'));
  assert.ok(!m('/var/logs'));
  assert.ok(m('/usr/lib/x.pyc'));
  assert.ok(m('/tmp/a'));
  assert.ok(m('/tmp/a/b'), 'below a matched folder');
  assert.ok(!m('/tmp'));
  assert.ok(!ignoreMatcher([])('/x'));
});

test('overlay2: the range dle/app:1@5..7 is what its ENV and two RUN steps do together', async (t) => {
  const store = await storeOf('overlay2');
  if (!store) return t.skip(whyMissing('overlay2'));
  const { a, b } = resolveComparison(store, 'dle/app:1@5..7');
  assert.equal(a.stepIndex, 4);
  assert.equal(b.stepIndex, 7);
  const r = await compareFiles(a, b, { ignoreMtime: true });
  // test/fixtures/images/app1/Dockerfile, its first two RUN steps (the ENV step changes no file).
  assert.deepEqual(lines(r.changes), [
    '/app added',
    '/data/keep.txt changed content',
    '/data/new.txt added',
    '/data/old.txt removed',
    '/etc/app/a.conf removed',
    '/etc/app/b.conf removed',
    '/etc/app/c.conf added',
    '/root/example removed',
    '/root/example/x removed',
  ]);
  assert.equal(r.sharedLayers, a.layers.length);
  assert.equal(r.changes.find((c) => c.path === '/app')!.after!.uid, 1000);
  // A range of one step is that step against its parent.
  const one = resolveComparison(store, 'dle/app:1@8..8');
  const pair = resolveComparison(store, 'dle/app:1@7', 'dle/app:1@8');
  assert.deepEqual(lines((await compareFiles(one.a, one.b)).changes), lines((await compareFiles(pair.a, pair.b)).changes));
  // Steps that change no file (USER … EXPOSE) add nothing.
  const empty = resolveComparison(store, 'dle/app:1@9..14');
  assert.deepEqual((await compareFiles(empty.a, empty.b)).changes, []);
  // From step 0: everything the image has up to the end of the range is added.
  const all = resolveComparison(store, 'dle/app:1@0..2');
  const fromNothing = await compareFiles(all.a, all.b);
  assert.equal(all.a.layers.length, 0);
  assert.ok(fromNothing.changes.length > 0 && fromNothing.changes.every((c) => c.change === 'added'));
  assert.equal(fromNothing.changes.length, fromNothing.entries.b);
});

test('overlay2: a bad range or reference is refused with a message that names it', async (t) => {
  const store = await storeOf('overlay2');
  if (!store) return t.skip(whyMissing('overlay2'));
  assert.throws(() => resolveComparison(store, 'dle/app:1@3..1'), /range must go up/);
  assert.throws(() => resolveComparison(store, 'dle/app:1@3..99'), (e: Error & { code?: string }) => e.code === 'not-found' && /has 15 steps/.test(e.message));
  assert.throws(() => resolveComparison(store, 'dle/app:1@1..2', 'dle/app:2'), /is a range/);
  assert.throws(() => resolveComparison(store, 'dle/nothing:1', 'dle/app:2'), /"dle\/nothing:1"/);
  assert.throws(() => resolveComparison(store, 'dle/app:1'), /needs two images/);
});

test('overlay2 vs vfs: dle/app:1 from two daemons has the same files under other ids', async (t) => {
  const store = await storeOf('overlay2', 'vfs');
  if (!store) return t.skip(whyMissing(projectRoot('overlay2') ? 'vfs' : 'overlay2'));
  const app = (driver: string): Image => store.images.find((i) => i.tags.includes('dle/app:1') && i.source.driver === driver)!;
  const [ov, vfs] = [app('overlay2'), app('vfs')];
  assert.notEqual(ov.id, vfs.id);
  const a = comparePoint(store, ov, ov.steps.length - 1, 'overlay2 dle/app:1');
  const b = comparePoint(store, vfs, vfs.steps.length - 1, 'vfs dle/app:1');
  const r = await compareFiles(a, b, { ignoreMtime: true });
  assert.deepEqual(lines(r.changes), []);
  assert.equal(r.sharedLayers, 0, 'no layer is shared: every path was compared');
  assert.equal(r.entries.a, r.entries.b);
  // Every regular file (busybox, /etc/passwd…) was read on both sides: nothing is shared to skip.
  assert.ok(r.contentCompared > 0, `files compared byte by byte: ${r.contentCompared}`);
  // With mtimes, what differs is the mtime alone (each daemon ran the RUN steps at its own time).
  const withTimes = await compareFiles(a, b);
  assert.ok(withTimes.changes.length > 0);
  assert.ok(withTimes.changes.every((c) => c.change === 'changed' && c.aspects.join() === 'mtime'), lines(withTimes.changes).join('\n'));
  // The CLI takes the two by id.
  const cli = await runCli(['--root', projectRoot('overlay2')!.root, '--root', projectRoot('vfs')!.root, 'compare', ov.id, vfs.id, '--ignore-mtime', '--json']);
  const doc = JSON.parse(cli.stdout);
  assert.deepEqual(doc.files, []);
  // The configs differ (each daemon's own build: created, container ids), so the images differ.
  assert.ok(doc.config.length > 0);
  assert.equal(cli.code, 1);
});

test('CLI: compare exits 0 for an image and itself, 1 when they differ, 2 on bad arguments; --json', async (t) => {
  const root = projectRoot('overlay2');
  if (!root) return t.skip(whyMissing('overlay2'));
  const same = await runCli(['--root', root.root, 'compare', 'dle/app:1', 'dle/app:1']);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /Files: 0 added, 0 removed, 0 changed/);
  const differ = await runCli(['--root', root.root, 'compare', 'dle/cmp:a', 'dle/cmp:b']);
  assert.equal(differ.code, 1, differ.stderr);
  assert.match(differ.stdout, /M \/cmp\/mode\.txt {2}mode -rw-r--r-- → -rwxr-xr-x/);
  assert.match(differ.stdout, /M \/cmp\/link {2}(mtime, )?target \/data\/keep\.txt → \/data\/new\.txt/);
  assert.match(differ.stdout, /~ config\.Labels\["org\.example\.side"\]: "a" -> "b"/);
  assert.equal((await runCli(['--root', root.root, 'compare', 'dle/app:1'])).code, 2);
  assert.equal((await runCli(['--root', root.root, 'compare', 'dle/app:1', 'dle/app:2', 'dle/app:3'])).code, 2);
  assert.equal((await runCli(['--root', root.root, 'compare', 'dle/none:1', 'dle/app:2'])).code, 1);

  const json = await runCli(['--root', root.root, 'compare', 'dle/cmp:a', 'dle/cmp:b', '--ignore', '/cmp/opq/**', '--ignore-mtime', '--json']);
  // Its shape is held to schemas/compare.schema.json by schemas.test.ts (x-dle-examples).
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.command, 'compare');
  assert.equal(doc.equal, false);
  assert.deepEqual(
    doc.files.map((f: { path: string }) => f.path),
    CMP_EXPECTED.map((l) => l.split(' ')[0]).filter((p) => !p.startsWith('/cmp/opq')),
  );
  const link = doc.files.find((f: { path: string }) => f.path === '/cmp/link');
  assert.equal(link.before.target, '/data/keep.txt');
  assert.equal(link.after.target, '/data/new.txt');
  assert.deepEqual(doc.config.find((c: { path: string }) => c.path === 'config.Labels["org.example.side"]'), {
    path: 'config.Labels["org.example.side"]', pointer: '/config/Labels/org.example.side', change: 'changed', before: 'a', after: 'b',
  });
});

test('overlay2: a cancelled compare stops with "cancelled"', async (t) => {
  const store = await storeOf('overlay2');
  if (!store) return t.skip(whyMissing('overlay2'));
  const { a, b } = resolveComparison(store, 'dle/cmp:a', 'dle/cmp:b');
  const controller = new AbortController();
  const seen: string[] = [];
  const run = compareFiles(a, b, {
    signal: controller.signal,
    onProgress: (p) => {
      seen.push(p.phase);
      if (p.phase === 'walk' && p.done === 1) controller.abort();
    },
  });
  await assert.rejects(run, (e: Error & { code?: string }) => e.code === 'cancelled');
  assert.ok(seen.includes('walk'));
});

test('ContentComparer: bytes decide, small files and big ones, and a symlink on the way is never followed', async () => {
  const big = 'x'.repeat(300 * 1024);
  const a = diffContent(build('cmp-a', { 'etc/same': 'abc', 'etc/other': 'abc', 'etc/empty': '', 'big/file': big + 'a' }), 'overlay');
  const b = diffContent(build('cmp-b', { 'etc/same': 'abc', 'etc/other': 'abd', 'etc/empty': '', 'big/file': big + 'b' }), 'overlay');
  const c = new ContentComparer();
  assert.equal(await c.same(a, b, '/etc/same'), true);
  assert.equal(await c.same(a, b, '/etc/other'), false, 'same size, other bytes');
  assert.equal(await c.same(a, b, '/etc/empty'), true);
  assert.equal(await c.same(a, b, '/big/file'), false, 'streamed: the last byte differs');
  assert.equal(await c.same(a, a, '/big/file'), true, 'the same file on both sides');
  // A layer whose /etc is a symlink to a folder outside it holding the same bytes: never read through.
  build('outside', { 'etc/same': 'abc' });
  const evil = diffContent(build('cmp-evil', { etc: { link: path.join(tmp, 'outside', 'etc') } }), 'overlay');
  await assert.rejects(c.same(a, evil, '/etc/same'), /symbolic link/);
});

test('xattrs: a file whose only difference is an extended attribute is changed, "xattrs"', async (t) => {
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr and getfattr (package attr)');
  const layerOf = (name: string, content: LayerContent): Layer => ({ key: `test/${name}`, id: name, source: {} as Source, size: 0, empty: false, content, problems: [] });
  const x = build('xattr-a', { 'bin/tool': 'same bytes', 'bin/plain': 'p' });
  const y = build('xattr-b', { 'bin/tool': 'same bytes', 'bin/plain': 'p' });
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'a', path.join(x, 'bin/tool')]);
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'b', path.join(y, 'bin/tool')]);
  execFileSync('touch', ['-r', path.join(x, 'bin/tool'), path.join(y, 'bin/tool'), path.join(y, 'bin/plain'), path.join(y, 'bin')]);
  const point = (name: string, dir: string) => ({ image: {} as Image, stepIndex: 0, layers: [layerOf(name, diffContent(dir, 'overlay'))], label: name });
  const r = await compareFiles(point('a', x), point('b', y), { ignoreMtime: true, xattrs: true });
  assert.deepEqual(lines(r.changes), ['/bin/tool changed xattrs']);
  assert.equal(r.xattrs, 'compared');
  // Off by default (a getfattr run over every path costs about as much as the comparison).
  const off = await compareFiles(point('a', x), point('b', y), { ignoreMtime: true });
  assert.deepEqual(lines(off.changes), []);
  assert.equal(off.xattrs, undefined);
  // Without getfattr the result says so, once, and no path is marked.
  const pathBefore = process.env.PATH;
  process.env.PATH = path.join(tmp, 'no-such-bin');
  try {
    const without = await compareFiles(point('a', x), point('b', y), { ignoreMtime: true, xattrs: true });
    assert.equal(without.xattrs, 'no-getfattr');
    assert.deepEqual(lines(without.changes), []);
  } finally {
    process.env.PATH = pathBefore;
  }
});

test('paths on one side only are stat()ed in slices: a cancel as the walks end is answered at once, not after them', async (t) => {
  // The walks leave regular files to the byte comparers; a path on one side only is lstat()ed after the walks.
  // With 12,000 of them (an image against nothing) that must not hold the event loop or the cancel.
  const layerOf = (name: string, content: LayerContent): Layer => ({ key: `test/${name}`, id: name, source: {} as Source, size: 0, empty: false, content, problems: [] });
  const point = (name: string, dir: string) => ({ image: {} as Image, stepIndex: 0, layers: [layerOf(name, diffContent(dir, 'overlay'))], label: name });
  const many = generate('one-sided-many', 100, 120);
  const none = build('one-sided-none', { 'only-dir/': null });
  const t0 = performance.now();
  const whole = await compareFiles(point('none', none), point('many', many));
  const wholeMs = performance.now() - t0;
  assert.equal(whole.changes.filter((c) => c.change === 'added' && c.after?.type === 'file').length, 12_000);
  assert.ok(whole.changes.every((c) => c.after?.mtimeMs !== undefined || c.after?.type === 'dir' || c.before), 'every file has its stats');

  const controller = new AbortController();
  let abortedAt = 0;
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  try {
    const started = performance.now();
    const run = compareFiles(point('none', none), point('many', many), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'walk' && p.done === p.total && !abortedAt) {
          abortedAt = performance.now();
          // Aborted from a timer, as a Cancel button would: the signal fires between two slices.
          setTimeout(() => controller.abort(), 0);
        }
      },
    });
    await assert.rejects(run, (e: Error & { code?: string }) => e.code === 'cancelled');
    const latency = performance.now() - abortedAt;
    t.diagnostic(`whole comparison ${wholeMs.toFixed(0)} ms (walks ${(abortedAt - started).toFixed(0)} ms); cancelled ${latency.toFixed(0)} ms after the walks ended`);
    assert.ok(latency < Math.max(60, (wholeMs - (abortedAt - started)) / 3), `cancelled ${latency.toFixed(0)} ms after the walks, of ${wholeMs.toFixed(0)} ms in all`);
    assert.ok(ticks > 0);
  } finally {
    clearInterval(ticker);
  }
});
