// mergedTree on real folders: stacks built here with node:fs (aufs whiteouts and
// opaque markers; overlay 0/0 devices and the opaque xattr as root), and the
// project's real roots, whose merged view must be what the Dockerfiles in
// test/fixtures/images/ make and what the vfs daemon's own top snapshot holds.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError } from '../../src/core/errors';
import { typeOfMode } from '../../src/core/layerEntry';
import { mergedTree, type MergedEntry, type MergedTree } from '../../src/core/layerStack';
import type { Image, LayerContent } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { projectRoot, whyMissing, type ProjectRootName } from './support/roots';
import { build, diffContent, hasTool, isRoot, tmp, truthLines } from './support/layers';

/** [path, type, layer, changedIn, size or target] of every merged entry, depth first. */
const rows = (tree: MergedTree): string[][] =>
  [...tree.entries()].map((e) => [e.path, e.type, String(e.layer), e.changedIn.join(','), e.target ?? String(e.size)]);

/**
 * The same three-layer story in either whiteout style:
 * layer 0 makes a small tree; layer 1 deletes /etc/a.conf and /var/log, makes
 * /etc/app opaque with z.conf, turns the file /bin/sh into a folder, rewrites
 * /srv/s and a symlink's target, makes /new/n; layer 2 makes /etc/a.conf and
 * /var/log again, deletes /srv/s and the whole /opt, makes /home/u opaque and
 * empty, and puts a file where the folder /new was.
 */
const stories = new Map<string, LayerContent[]>();
function story(style: 'aufs' | 'overlay'): LayerContent[] {
  const made = stories.get(style);
  if (made) return made;
  const l0 = build(`${style}-s0`, {
    'bin/sh': 'sh', 'etc/a.conf': 'a', 'etc/app/x.conf': 'x', 'etc/app/y.conf': 'y', 'home/u/.profile': 'p',
    'opt/o/deep': 'd', 'srv/s': 's', 'var/log/l': 'l', lnk: { link: '/etc/a.conf' },
  });
  const l1 = build(`${style}-s1`, { 'bin/sh/inner': 'i', 'etc/app/z.conf': 'zz', 'new/n': 'n', 'srv/s': 'S2', lnk: { link: '../srv/s' } });
  const l2 = build(`${style}-s2`, { 'etc/a.conf': 'again', 'etc/app/z.conf': 'zzz', 'home/u/': null, new: 'flat', 'var/log/new': 'n' });
  const del = (dir: string, rel: string): void => {
    if (style === 'aufs') fs.writeFileSync(path.join(dir, path.dirname(rel), `.wh.${path.basename(rel)}`), '');
    else execFileSync('mknod', [path.join(dir, rel), 'c', '0', '0']);
  };
  const opaque = (dir: string, rel: string): void => {
    if (style === 'aufs') fs.writeFileSync(path.join(dir, rel, '.wh..wh..opq'), '');
    else execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, rel)]);
  };
  fs.mkdirSync(path.join(l1, 'var'));
  del(l1, 'etc/a.conf');
  del(l1, 'var/log');
  opaque(l1, 'etc/app');
  fs.mkdirSync(path.join(l2, 'srv'));
  del(l2, 'srv/s');
  del(l2, 'opt');
  opaque(l2, 'home/u');
  const layers = [diffContent(l0, style), diffContent(l1, style, [l0]), diffContent(l2, style, [l1, l0])];
  stories.set(style, layers);
  return layers;
}

const STORY = [
  ['/bin', 'dir', '1', '0,1', '0'],
  ['/bin/sh', 'dir', '1', '0,1', '0'], // a file below, a folder now
  ['/bin/sh/inner', 'file', '1', '1', '1'],
  ['/etc', 'dir', '2', '0,1,2', '0'],
  ['/etc/a.conf', 'file', '2', '0,1,2', '5'], // made, deleted, made again
  ['/etc/app', 'dir', '2', '0,1,2', '0'],
  ['/etc/app/z.conf', 'file', '2', '1,2', '3'], // x.conf and y.conf hidden by the opaque folder
  ['/home', 'dir', '2', '0,2', '0'],
  ['/home/u', 'dir', '2', '0,2', '0'], // opaque and empty: .profile is gone
  ['/lnk', 'symlink', '1', '0,1', '../srv/s'],
  ['/new', 'file', '2', '1,2', '4'], // a folder below, a file now: /new/n is gone
  ['/srv', 'dir', '2', '0,1,2', '0'], // /srv/s deleted
  ['/var', 'dir', '2', '0,1,2', '0'],
  ['/var/log', 'dir', '2', '0,1,2', '0'], // deleted in 1, made again in 2: the old l is not back
  ['/var/log/new', 'file', '2', '2', '1'],
];

test('aufs stack: whiteouts delete subtrees, opaque markers hide lower children, history kept', async () => {
  const tree = await mergedTree(story('aufs'));
  assert.deepEqual(rows(tree), STORY);
  assert.equal(tree.count, STORY.length);
  assert.equal(tree.bytes, 1 + 5 + 3 + 4 + 1); // regular files only
  assert.equal(tree.get('/new/n'), undefined);
  assert.equal(tree.childCount('/new'), 0);
  assert.deepEqual(tree.list('/etc/app').map((e) => e.path), ['/etc/app/z.conf']);
  assert.equal(tree.get('/opt'), undefined);
  assert.equal(tree.get('/opt/o/deep'), undefined);
  assert.equal(tree.get('/etc/app/x.conf'), undefined);
  assert.equal(tree.childCount('/home/u'), 0);
});

test('overlay stack: 0/0 character devices and the trusted.overlay.opaque xattr give the same tree', async (t) => {
  if (!isRoot) return t.skip('needs root: mknod c 0 0 and trusted.* xattrs');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const problems: string[] = [];
  const tree = await mergedTree(story('overlay'), { onProblem: (i, p) => problems.push(`${i} ${p.path}: ${p.message}`) });
  assert.deepEqual(problems, []);
  assert.deepEqual(rows(tree), STORY);
});

test('progress is reported per layer, and a fired signal cancels the merge', async () => {
  const layers = story('aufs');
  const seen: number[] = [];
  await mergedTree(layers, { onProgress: (p) => seen.push(p.layer) });
  assert.deepEqual([...new Set(seen)], [0, 1, 2]);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(mergedTree(layers, { signal: controller.signal }), (e: unknown) => e instanceof LayerError && e.code === 'cancelled');
  await assert.rejects(mergedTree([diffContent(path.join(tmp, 'no-such-layer'), 'aufs')]), (e: unknown) => e instanceof LayerError && e.code === 'not-found');
});

test('100,000 files over a lower layer: merged in one pass, memory stays small', async () => {
  let t0 = Date.now();
  const big = linkFarm('stack-big', 100, 1000);
  console.log(`# made 100,000 files in ${Date.now() - t0} ms`);
  const lower = build('stack-big-lower', { 'd0000/f0': 'old', 'd0001/gone': 'g', 'etc/x': 'x' });
  const layers = [diffContent(lower, 'aufs'), diffContent(big, 'aufs', [lower])];
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().heapUsed;
  t0 = Date.now();
  const tree = await mergedTree(layers);
  const took = Date.now() - t0;
  const grown = (process.memoryUsage().heapUsed - before) / 1e6;
  assert.equal(tree.count, 100 + 100 * 1000 + 2 + 1); // folders, files, /d0001/gone, /etc and /etc/x
  assert.equal(tree.get('/d0000/f0')?.layer, 1);
  assert.deepEqual(tree.get('/d0000/f0')?.changedIn, [0, 1]);
  assert.equal(tree.get('/d0001/gone')?.layer, 0);
  assert.ok(grown < 150, `heap grew ${grown.toFixed(1)} MB for 100k entries`);
  console.log(`# merged 100,003 entries in ${took} ms; heap grew ${grown.toFixed(1)} MB`);
});

/**
 * `tmp/name`: `dirs` folders (d0000…) of `files` empty files (f0…) each, made as
 * hard links of one empty file: one syscall a name, fast even where creating
 * files is slow (a busy ext4 /tmp makes 100,000 files in ~30 s, links in ~2 s).
 */
function linkFarm(name: string, dirs: number, files: number): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(tmp, `${name}.seeds`), { recursive: true });
  for (let d = 0; d < dirs; d++) {
    const sub = path.join(dir, `d${String(d).padStart(4, '0')}`);
    fs.mkdirSync(sub, { recursive: true });
    // One seed a folder: ext4 allows 65,000 links to a file.
    const seed = path.join(tmp, `${name}.seeds`, String(d));
    fs.writeFileSync(seed, '');
    for (let f = 0; f < files; f++) fs.linkSync(seed, path.join(sub, `f${f}`));
  }
  return dir;
}

/** The layers of an image (bottom to top) as the store gives them. */
function contents(store: Store, image: Image): LayerContent[] {
  return image.layerKeys.map((k) => {
    const layer = store.layer(k);
    assert.ok(layer?.content, `layer ${k} has content`);
    return layer.content;
  });
}

/** Index in the image's layer stack of the layer step `step` made. */
const layerOfStep = (image: Image, step: number): number => image.layerKeys.indexOf(image.steps[step].layerKey!);

/** What `ls -lR` sees in a folder: [path, type, size or target, permission bits], depth first, names sorted. */
function listFolder(dir: string, rel = '/'): string[][] {
  const out: string[][] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const disk = path.join(dir, name);
    const p = rel === '/' ? `/${name}` : `${rel}/${name}`;
    const st = fs.lstatSync(disk);
    const type = typeOfMode(st.mode);
    out.push([p, type, type === 'symlink' ? fs.readlinkSync(disk) : String(type === 'file' ? st.size : 0), (st.mode & 0o7777).toString(8)]);
    if (type === 'dir') out.push(...listFolder(disk, p));
  }
  return out;
}

const asListing = (tree: MergedTree): string[][] =>
  [...tree.entries()].map((e: MergedEntry) => [e.path, e.type, e.target ?? String(e.size), (e.mode & 0o7777).toString(8)]);

test('project overlay2 root: dle/app:1 merged is what its Dockerfiles make', async (t) => {
  const r = projectRoot('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const store = await Store.open([r.root]);
  const image = store.findImage('dle/app:1');
  // The stack is the daemon's: its RootFS layers, bottom to top.
  const inspect = JSON.parse(fs.readFileSync(path.join(r.truth, `inspect-${image.id.slice(7)}.json`), 'utf8'))[0];
  assert.deepEqual(image.layerKeys.map((k) => store.layer(k)?.diffId), inspect.RootFS.Layers);
  const problems: string[] = [];
  const tree = await mergedTree(contents(store, image), { onProblem: (i, p) => problems.push(`${i} ${p.path}: ${p.message}`) });
  assert.deepEqual(problems, []);

  // dle/base:1: COPY busybox, RUN --install, COPY rootfs/, RUN mkdir /tmp && chmod 700 /root.
  // dle/app:1: RUN (new.txt, keep.txt overwritten, rm old.txt and /root/example, mkdir /app),
  //            RUN (replace /etc/app with c.conf), RUN (two symlinks).
  const copyRootfs = layerOfStep(image, 2);
  const run1 = layerOfStep(image, 6);
  const [run2, run3] = [layerOfStep(image, 7), layerOfStep(image, 8)];
  assert.deepEqual([copyRootfs, run1, run2, run3], [2, 4, 5, 6]);
  assert.equal(tree.get('/data/old.txt'), undefined);
  assert.equal(tree.get('/root/example'), undefined);
  assert.equal(tree.get('/root/example/x'), undefined);
  assert.deepEqual(tree.list('/root'), []);
  assert.deepEqual(tree.list('/etc/app').map((e) => e.path), ['/etc/app/c.conf']);
  assert.equal(tree.get('/etc/app/c.conf')?.layer, run2);
  assert.equal(tree.get('/etc/app/c.conf')?.size, 'new\n'.length);
  assert.deepEqual(tree.get('/etc/app')?.changedIn, [copyRootfs, run2]);
  const keep = tree.get('/data/keep.txt');
  assert.equal(keep?.layer, run1);
  assert.equal(keep?.size, 'overwritten\n'.length);
  assert.deepEqual(keep?.changedIn, [copyRootfs, run1]);
  assert.equal(tree.get('/data/new.txt')?.size, 'created\n'.length);
  assert.equal(tree.get('/data/shadow-link')?.target, '/etc/shadow');
  assert.equal(tree.get('/data/shadow-link')?.layer, run3);
  assert.equal(tree.get('/data/passwd-link')?.target, '../../etc/passwd');
  assert.equal(tree.get('/app')?.type, 'dir');
  assert.equal((tree.get('/tmp')!.mode & 0o7777).toString(8), '1777');
  assert.equal((tree.get('/root')!.mode & 0o7777).toString(8), '700');
  assert.equal(tree.get('/bin/busybox')?.layer, 0);
  assert.deepEqual(
    tree.list('/').map((e) => e.path).sort(),
    ['/app', '/bin', '/data', '/etc', '/root', '/tmp'],
  );

  // The container: its image's layers and its read-write layer; the top copies are what docker diff lists.
  const ctr = store.findContainer('dle-ctr');
  const ctrImage = store.images.find((i) => i.id === ctr.imageId)!;
  assert.ok(ctr.layer?.content && ctrImage);
  const ctrTree = await mergedTree([...contents(store, ctrImage), ctr.layer.content]);
  const top = ctrImage.layerKeys.length;
  for (const line of truthLines(path.join(r.truth, 'diff-dle-ctr.txt'))) {
    const [kind, p] = [line[0], line.slice(2)];
    if (kind === 'D') assert.equal(ctrTree.get(p), undefined, `${p} is deleted in the container`);
    else assert.equal(ctrTree.get(p)?.layer, top, `${p} comes from the container's layer`);
  }
});

for (const name of ['overlay2', 'vfs', 'containerd', 'legacy'] as ProjectRootName[]) {
  test(`project ${name} root: dle/app:1 merged equals the vfs daemon's own snapshot of its top layer`, async (t) => {
    const r = projectRoot(name);
    if (!r) return t.skip(whyMissing(name));
    const vfs = projectRoot('vfs');
    if (!vfs) return t.skip(whyMissing('vfs'));
    const vfsStore = await Store.open([vfs.root]);
    const vfsImage = vfsStore.findImage('dle/app:1');
    const snapshot = vfsStore.layer(vfsImage.layerKeys[vfsImage.layerKeys.length - 1])?.content;
    assert.equal(snapshot?.form, 'snapshot');
    const store = name === 'vfs' ? vfsStore : await Store.open([r.root]);
    const image = store.findImage('dle/app:1');
    const tree = await mergedTree(contents(store, image));
    assert.deepEqual(asListing(tree), listFolder(snapshot.dir));
  });
}
