// Safe reads inside a layer and the merged view's provider, on real folders
// made here (symlinks out of the layer, a FIFO, whiteouts, opaque folders,
// devices when root) and on the project's real roots made by real daemons.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError } from '../../src/core/errors';
import {
  layerPathSegments,
  listLayerDir,
  readLayerFile,
  statLayerPath,
  type LayerFileContent,
} from '../../src/core/layerFiles';
import { listMergedDir, resolveMerged } from '../../src/core/mergedPath';
import type { Image, LayerContent } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { build, diffContent, hasTool, isRoot } from './support/layers';
import { projectRoot, whyMissing, type ProjectRootName } from './support/roots';

const text = (r: LayerFileContent): string => (r.kind === 'file' ? Buffer.from(r.data).toString('utf8') : `-> ${r.target}`);
const code = (c: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof LayerError, `a LayerError, not ${String(err)}`);
  assert.equal(err.code, c, err.message);
  if (message) assert.match(err.message, message);
  return true;
};
/** Rejects when `p` has not settled within `ms`: a read that blocks fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms).unref())]);
const snapshot = (dir: string, parentDir?: string): LayerContent => ({ dir, form: 'snapshot', parentDir, whiteouts: 'aufs', lowerDirs: [] });
const shadowFirstLine = (() => {
  try {
    return fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
})();

test('entry paths are normalised; "..", "//" and NUL are refused as invalid-id', () => {
  assert.deepEqual(layerPathSegments('/'), []);
  assert.deepEqual(layerPathSegments(''), []);
  assert.deepEqual(layerPathSegments('/etc/./app/'), ['etc', 'app']);
  assert.deepEqual(layerPathSegments('etc/app'), ['etc', 'app']);
  for (const bad of ['/../etc/shadow', '/etc/../../x', '/etc//app', '/a\0b', '..']) {
    assert.throws(() => layerPathSegments(bad), code('invalid-id'), bad);
  }
});

test('one layer: files read, symlinks answered with their target and never followed, nothing escapes', async () => {
  const dir = build('lf-one', {
    'etc/app/c.conf': 'new\n',
    'data/big.bin': 'x'.repeat(2048),
    'links/shadow': { link: '/etc/shadow' },
    'links/up': { link: '../../..' },
    'links/etc': { link: '/etc' },
    'links/loop': { link: 'loop' },
    'run/fifo': { fifo: true },
    'empty/': null,
  });
  const c = diffContent(dir, 'overlay');
  assert.equal(text(await readLayerFile(c, '/etc/app/c.conf')), 'new\n');
  assert.equal(text(await readLayerFile(c, 'etc/./app/c.conf')), 'new\n');

  const shadow = await readLayerFile(c, '/links/shadow');
  assert.equal(shadow.kind, 'symlink');
  assert.equal(text(shadow), '-> /etc/shadow');
  assert.equal(shadow.stat.type, 'symlink');
  if (shadowFirstLine) assert.ok(!JSON.stringify(shadow).includes(shadowFirstLine), "the host's /etc/shadow is never read");
  assert.equal(text(await readLayerFile(c, '/links/up')), '-> ../../..');
  assert.equal(text(await readLayerFile(c, '/links/loop')), '-> loop');
  assert.equal((await statLayerPath(c, '/links/up')).target, '../../..');

  // A symlink in the middle of a path stops it, whatever it points at.
  await assert.rejects(readLayerFile(c, '/links/etc/passwd'), code('not-found', /goes through \/links\/etc, a symbolic link \(→ \/etc\), which is not followed/));
  await assert.rejects(readLayerFile(c, '/links/up/etc/shadow'), code('not-found', /symbolic link/));
  await assert.rejects(statLayerPath(c, '/links/etc/passwd'), code('not-found', /not followed/));
  await assert.rejects(readLayerFile(c, '/links/../../../../etc/shadow'), code('invalid-id'));

  // A FIFO is refused at once, never opened (an open for reading would block).
  const started = Date.now();
  await assert.rejects(within(readLayerFile(c, '/run/fifo'), 2000), code('unsupported', /FIFO/));
  assert.ok(Date.now() - started < 2000);
  assert.equal((await statLayerPath(c, '/run/fifo')).type, 'fifo');

  await assert.rejects(readLayerFile(c, '/empty'), code('unsupported', /is a folder/));
  await assert.rejects(readLayerFile(c, '/data/big.bin', { maxBytes: 1024 }), code('unsupported', /2048 bytes, over the 1024-byte limit/));
  assert.equal((await readLayerFile(c, '/data/big.bin', { maxBytes: 2048 })).stat.size, 2048);
  await assert.rejects(readLayerFile(c, '/nothere'), code('not-found', /does not exist in this layer/));
  await assert.rejects(readLayerFile(c, '/etc/app/c.conf/x'), code('not-found'));
  await assert.rejects(readLayerFile(diffContent(path.join(dir, 'missing'), 'overlay'), '/x'), code('not-found', /layer folder/));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(readLayerFile(c, '/etc/app/c.conf', { signal: controller.signal }), code('cancelled'));

  const root = await statLayerPath(c, '/');
  assert.equal(root.type, 'dir');
  const names = (await listLayerDir(c, '/links')).map((e) => `${e.name}:${e.type}`).sort();
  assert.deepEqual(names, ['etc:symlink', 'loop:symlink', 'shadow:symlink', 'up:symlink']);
});

test('aufs whiteouts are deleted entries; bookkeeping is not a file', async () => {
  const dir = build('lf-aufs', { 'etc/.wh.gone.conf': '', '.wh.olddir': '', 'etc/kept': 'k', '.wh..wh.aufs': '' });
  const c = diffContent(dir, 'aufs');
  const st = await statLayerPath(c, '/etc/gone.conf');
  assert.equal(st.deleted, true);
  assert.equal(st.diskPath, path.join(dir, 'etc', '.wh.gone.conf'));
  await assert.rejects(readLayerFile(c, '/etc/gone.conf'), code('not-found', /was deleted in this layer/));
  await assert.rejects(readLayerFile(c, '/olddir/inside.txt'), code('not-found', /was deleted in this layer \(its folder \/olddir was deleted\)/));
  await assert.rejects(readLayerFile(c, '/etc/.wh.gone.conf'), code('not-found', /aufs bookkeeping/));
  await assert.rejects(readLayerFile(c, '/.wh..wh.aufs'), code('not-found', /aufs bookkeeping/));
  const listing = await listLayerDir(c, '/etc');
  assert.deepEqual(listing.map((e) => [e.name, e.deleted]).sort(), [['gone.conf', true], ['kept', false]]);
});

test('overlay whiteouts (0/0 character devices) are deleted; a real device is refused unopened', async (t) => {
  if (!isRoot) return t.skip('needs root: mknod');
  const dir = build('lf-ovl-dev', { 'etc/kept': 'k' });
  execFileSync('mknod', [path.join(dir, 'etc', 'gone'), 'c', '0', '0']);
  execFileSync('mknod', [path.join(dir, 'null'), 'c', '1', '3']);
  const c = diffContent(dir, 'overlay');
  assert.equal((await statLayerPath(c, '/etc/gone')).deleted, true);
  await assert.rejects(readLayerFile(c, '/etc/gone'), code('not-found', /was deleted in this layer/));
  const dev = await statLayerPath(c, '/null');
  assert.deepEqual([dev.type, dev.deleted], ['char', false]);
  await assert.rejects(readLayerFile(c, '/null'), code('unsupported', /character device/));
  // The same 0/0 device in an aufs-style layer is just a device.
  assert.equal((await statLayerPath(diffContent(dir, 'aufs'), '/etc/gone')).deleted, false);
});

test('merged view (aufs): whiteouts, opaque markers and non-folders above hide what is below', async () => {
  const l2 = build('lfm-a2', { 'etc/a.conf': 'a2', 'etc/b.conf': 'b2', 'opt/o.txt': 'o', 'srv/s.txt': 's', 'var/gone/g': 'g', 'keep.txt': 'keep me' });
  const l1 = build('lfm-a1', { 'etc/.wh.a.conf': '', 'opt/.wh..wh..opq': '', 'opt/n.txt': 'n', 'var/.wh.gone': '', 'keep.txt': 'overwritten' });
  const up = build('lfm-a0', { srv: 'now a file', 'links/etc': { link: '/etc' }, 'etc/b.conf': 'b0', 'etc/.wh.b.conf': '', 'var/gone/again': 'again' });
  const layers = [diffContent(up, 'aufs'), diffContent(l1, 'aufs'), diffContent(l2, 'aufs')];
  const at = async (p: string) => (await resolveMerged(layers, p))?.layerIndex;
  assert.equal(await at('/keep.txt'), 1);
  assert.equal(text(await readLayerFile(layers[1], '/keep.txt')), 'overwritten');
  assert.equal(await at('/etc/a.conf'), undefined); // whited out in l1
  assert.equal(await at('/etc/b.conf'), 0); // an entry and its whiteout in one layer: the entry shows
  assert.equal(await at('/opt/o.txt'), undefined); // l1's /opt is opaque
  assert.equal(await at('/opt/n.txt'), 1);
  assert.equal(await at('/srv/s.txt'), undefined); // /srv is a file on top
  assert.equal(await at('/srv'), 0);
  assert.equal(await at('/var/gone/g'), undefined); // l1 deleted /var/gone
  assert.equal(await at('/var/gone/again'), 0);
  assert.equal(await at('/etc'), 0);
  assert.equal(await at('/'), 0);
  assert.equal(await at('/nothere'), undefined);
  assert.equal(await at('/etc/.wh.a.conf'), undefined);
  await assert.rejects(resolveMerged(layers, '/links/etc/passwd'), code('not-found', /symbolic link/));
  await assert.rejects(resolveMerged(layers, '/../x'), code('invalid-id'));
  const stat = (await resolveMerged(layers, '/keep.txt'))?.stat;
  assert.equal(stat?.size, 'overwritten'.length);

  const names = async (p: string) => (await listMergedDir(layers, p)).map((e) => `${e.name}@${e.layerIndex}`);
  assert.deepEqual(await names('/'), ['etc@0', 'keep.txt@1', 'links@0', 'opt@1', 'srv@0', 'var@0']);
  assert.deepEqual(await names('/etc'), ['b.conf@0']);
  assert.deepEqual(await names('/opt'), ['n.txt@1']);
  assert.deepEqual(await names('/var'), ['gone@0']);
  assert.deepEqual(await names('/var/gone'), ['again@0']);
  await assert.rejects(listMergedDir(layers, '/srv'), code('not-found', /not a folder/));
});

test('merged view (overlay): 0/0 whiteouts and trusted.overlay.opaque folders', async (t) => {
  if (!isRoot) return t.skip('needs root: mknod c 0 0 and trusted.* xattrs');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const l1 = build('lfm-o1', { 'etc/app/a.conf': 'a', 'etc/app/b.conf': 'b', 'data/old.txt': 'old', 'root/example/x': 'x' });
  const up = build('lfm-o0', { 'etc/app/c.conf': 'new', 'data/new.txt': 'created' });
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(up, 'etc', 'app')]);
  execFileSync('mknod', [path.join(up, 'data', 'old.txt'), 'c', '0', '0']);
  fs.mkdirSync(path.join(up, 'root'));
  execFileSync('mknod', [path.join(up, 'root', 'example'), 'c', '0', '0']);
  const layers = [diffContent(up, 'overlay'), diffContent(l1, 'overlay')];
  const at = async (p: string) => (await resolveMerged(layers, p))?.layerIndex;
  assert.equal(await at('/etc/app/a.conf'), undefined);
  assert.equal(await at('/etc/app/c.conf'), 0);
  assert.equal(await at('/data/old.txt'), undefined);
  assert.equal(await at('/data/new.txt'), 0);
  assert.equal(await at('/root/example/x'), undefined);
  assert.equal(await at('/root'), 0);
  // Without the upper layer, everything below is back.
  assert.equal(await resolveMerged(layers.slice(1), '/etc/app/a.conf').then((r) => r?.layerIndex), 0);
  assert.deepEqual((await listMergedDir(layers, '/etc/app')).map((e) => e.name), ['c.conf']);
  assert.deepEqual((await listMergedDir(layers, '/data')).map((e) => e.name), ['new.txt']);
  assert.deepEqual((await listMergedDir(layers, '/root')).map((e) => e.name), []);
});

test('snapshot layers: each is the whole filesystem; the provider is the lowest unchanged copy', async () => {
  const s0 = build('lfs-0', { 'data/keep.txt': 'keep me', 'etc/passwd': 'root' });
  const s1 = path.join(path.dirname(s0), 'lfs-1');
  execFileSync('cp', ['-a', s0, s1]);
  fs.writeFileSync(path.join(s1, 'data', 'keep.txt'), 'overwritten');
  fs.symlinkSync('/etc/shadow', path.join(s1, 'data', 'shadow-link'));
  const s2 = path.join(path.dirname(s0), 'lfs-2');
  execFileSync('cp', ['-a', s1, s2]);
  fs.rmSync(path.join(s2, 'etc', 'passwd'));
  const layers = [snapshot(s2, s1), snapshot(s1, s0), snapshot(s0)];
  assert.equal((await resolveMerged(layers, '/data/keep.txt'))?.layerIndex, 1);
  assert.equal((await resolveMerged(layers, '/data/shadow-link'))?.stat.target, '/etc/shadow');
  assert.equal(await resolveMerged(layers, '/etc/passwd'), undefined);
  assert.equal((await resolveMerged(layers.slice(1), '/etc/passwd'))?.layerIndex, 1);
  assert.equal(text(await readLayerFile(layers[0], '/data/keep.txt')), 'overwritten');
  assert.equal(text(await readLayerFile(layers[0], '/data/shadow-link')), '-> /etc/shadow');
  await assert.rejects(readLayerFile(layers[0], '/data/shadow-link/x'), code('not-found', /not followed/));
});

/** Layer contents of an image up to `step`, top first, with the step each came from. */
function stack(store: Store, image: Image, step: number): { contents: LayerContent[]; steps: number[] } {
  const contents: LayerContent[] = [];
  const steps: number[] = [];
  for (let i = step; i >= 0; i--) {
    const key = image.steps[i].layerKey;
    if (key === undefined) continue;
    const content = store.layer(key)?.content;
    assert.ok(content, `step ${i} has content`);
    contents.push(content);
    steps.push(i);
  }
  return { contents, steps };
}

for (const name of ['overlay2', 'vfs', 'containerd', 'legacy'] as ProjectRootName[]) {
  test(`${name} root: merged files come from the right layer; /etc/shadow is never read through /data/shadow-link`, async (t) => {
    const r = projectRoot(name);
    if (!r) return t.skip(whyMissing(name));
    const store = await Store.open([r.root]);
    const image = store.findImage('dle/app:1');
    const top = image.steps.length - 1;
    const { contents, steps } = stack(store, image, top);

    const keep = await resolveMerged(contents, '/data/keep.txt');
    assert.ok(keep, '/data/keep.txt is in the merged view');
    assert.equal(text(await readLayerFile(contents[keep.layerIndex], '/data/keep.txt')), 'overwritten\n');
    const wrote = steps[keep.layerIndex];
    if (name !== 'legacy') assert.match(image.steps[wrote].createdBy, /echo overwritten/);
    // Below the step that overwrote it, the base's copy shows.
    const below = stack(store, image, wrote - 1);
    const base = await resolveMerged(below.contents, '/data/keep.txt');
    assert.ok(base);
    assert.equal(text(await readLayerFile(below.contents[base.layerIndex], '/data/keep.txt')), 'keep me\n');
    assert.equal((await resolveMerged(below.contents, '/data/old.txt'))?.stat.type, 'file');

    assert.equal(await resolveMerged(contents, '/data/old.txt'), undefined, 'deleted by a whiteout');
    assert.equal(await resolveMerged(contents, '/root/example/x'), undefined, 'its folder was deleted');
    assert.equal(await resolveMerged(contents, '/etc/app/a.conf'), undefined, '/etc/app was replaced (opaque)');
    const conf = await resolveMerged(contents, '/etc/app/c.conf');
    assert.ok(conf);
    assert.equal(text(await readLayerFile(contents[conf.layerIndex], '/etc/app/c.conf')), 'new\n');
    assert.deepEqual((await listMergedDir(contents, '/etc/app')).map((e) => e.name), ['c.conf']);
    assert.ok((await listMergedDir(contents, '/data')).every((e) => e.name !== 'old.txt'));

    const link = await resolveMerged(contents, '/data/shadow-link');
    assert.ok(link);
    assert.equal(link.stat.target, '/etc/shadow');
    const read = await readLayerFile(contents[link.layerIndex], '/data/shadow-link');
    assert.deepEqual([read.kind, text(read)], ['symlink', '-> /etc/shadow']);
    if (shadowFirstLine) assert.ok(!JSON.stringify(read).includes(shadowFirstLine));
    assert.equal(text(await readLayerFile(contents[link.layerIndex], '/data/passwd-link')), '-> ../../etc/passwd');
    await assert.rejects(resolveMerged(contents, '/data/shadow-link/x'), code('not-found', /not followed/));

    // A layer's own view: the whiteout of /data/old.txt in the step that deleted it.
    if (contents[keep.layerIndex].form === 'diff') {
      assert.equal((await statLayerPath(contents[keep.layerIndex], '/data/old.txt')).deleted, true);
      await assert.rejects(readLayerFile(contents[keep.layerIndex], '/data/old.txt'), code('not-found', /deleted in this layer/));
    }
    // busybox, from the base layer, is a binary regular file.
    const bb = await resolveMerged(contents, '/bin/busybox');
    assert.ok(bb);
    assert.equal(steps[bb.layerIndex], 0);
    const bytes = await readLayerFile(contents[bb.layerIndex], '/bin/busybox');
    assert.ok(bytes.kind === 'file' && Buffer.from(bytes.data.subarray(0, 4)).toString('latin1') === '\x7fELF');
  });
}
