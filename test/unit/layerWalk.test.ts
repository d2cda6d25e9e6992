// walkLayer on real folders: small layers built here with node:fs (and mknod /
// setfattr / mkfifo when possible), and the real roots made by real daemons.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatMode, walkLayer, type LayerEntry, type WalkProblem } from '../../src/core/layerWalk';
import type { LayerContent } from '../../src/core/model';
import { RECURSIVE_AFTER } from '../../src/core/opaque';
import { projectRoot, sharedRoot, whyMissing } from './support/roots';
import type { Spec } from './support/layers';
import { asDockerDiff, brief, build, diffContent, generate, hasTool, isRoot, overlay2Lowers, tmp, truthLines, walk } from './support/layers';

test('formatMode renders ls -l style modes', () => {
  assert.equal(formatMode(0o040755), 'drwxr-xr-x');
  assert.equal(formatMode(0o120777), 'lrwxrwxrwx');
  assert.equal(formatMode(0o020600), 'crw-------');
  assert.equal(formatMode(0o104755), '-rwsr-xr-x');
  assert.equal(formatMode(0o041777), 'drwxrwxrwt');
  assert.equal(formatMode(0o102644), '-rw-r-Sr--');
  assert.equal(formatMode(0o010644), 'prw-r--r--');
});

test('aufs layer over aufs lowers: whiteouts, opaque markers, bookkeeping, symlinks never followed', async () => {
  const lower2 = build('aufs-l2', {
    'etc/a.conf': 'a', 'etc/old/x': 'x', 'etc/keep/k': 'k', 'opt/o.txt': 'o', 'srv/s.txt': 's', 'var/gone/g': 'g',
  });
  const lower1 = build('aufs-l1', {
    'etc/b.conf': 'b', 'etc/.wh.a.conf': '', 'etc/old/.wh..wh..opq': '', 'etc/old/y': 'y', 'var/.wh.gone': '',
  });
  const upper = build('aufs-up', {
    '.wh..wh.aufs': '', '.wh..wh.plnk/123.456': 'hard link', '.wh..wh.orph/': null,
    'etc/a.conf': 'A', 'etc/b.conf': 'BB', 'etc/old/x': 'X', 'etc/old/y': 'Y', 'etc/.wh.keep': '', 'etc/.wh.nothere': '',
    'etc/new/n.txt': 'n', 'opt/.wh..wh..opq': '', 'opt/n.txt': 'n', 'var/gone/again.txt': 'g', 'srv/s.txt': 'S',
    'links/shadow': { link: '/etc/shadow' }, 'links/up': { link: '../../..' }, 'links/loop': { link: 'loop' },
    'links/etc': { link: '/etc' }, 'links/rel': { link: '../etc/b.conf' }, 'run/fifo': { fifo: true },
  });
  const { entries, problems } = await walk(diffContent(upper, 'aufs', [lower1, lower2]));
  assert.deepEqual(problems, []);
  assert.deepEqual(entries.map(brief), [
    ['/etc', 'modified', 'dir'],
    ['/etc/a.conf', 'added', 'file'], // lower1's whiteout hides lower2's copy
    ['/etc/b.conf', 'modified', 'file'],
    ['/etc/keep', 'deleted', 'dir'],
    ['/etc/new', 'added', 'dir'],
    ['/etc/new/n.txt', 'added', 'file'],
    ['/etc/nothere', 'deleted', 'unknown'],
    ['/etc/old', 'modified', 'dir'],
    ['/etc/old/x', 'added', 'file'], // lower1's /etc/old is opaque: lower2's x is hidden
    ['/etc/old/y', 'modified', 'file'],
    ['/links', 'added', 'dir'],
    ['/links/etc', 'added', 'symlink', '/etc'],
    ['/links/loop', 'added', 'symlink', 'loop'],
    ['/links/rel', 'added', 'symlink', '../etc/b.conf'],
    ['/links/shadow', 'added', 'symlink', '/etc/shadow'],
    ['/links/up', 'added', 'symlink', '../../..'],
    ['/opt', 'opaque', 'dir'],
    ['/opt/n.txt', 'added', 'file'],
    ['/run', 'added', 'dir'],
    ['/run/fifo', 'added', 'fifo'],
    ['/srv', 'modified', 'dir'],
    ['/srv/s.txt', 'modified', 'file'],
    ['/var', 'modified', 'dir'],
    ['/var/gone', 'added', 'dir'], // lower1 deleted it
    ['/var/gone/again.txt', 'added', 'file'],
  ]);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('/etc/b.conf')?.size, 2);
  assert.equal(byPath.get('/links/shadow')?.size, 0);
  assert.equal(formatMode(byPath.get('/links/shadow')?.mode ?? 0), 'lrwxrwxrwx');
  assert.equal(formatMode(byPath.get('/run/fifo')?.mode ?? 0)[0], 'p');
  assert.deepEqual(byPath.get('/etc/keep'), { path: '/etc/keep', status: 'deleted', type: 'dir', size: 0, mode: 0 });
  assert.ok(entries.every((e) => e.opaqueUnknown === undefined));
});

test('overlay layer over overlay lowers: 0/0 char devices and opaque xattrs', async (t) => {
  if (!isRoot) return t.skip('needs root: mknod c 0 0 and trusted.* xattrs');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const whiteout = (p: string): void => {
    execFileSync('mknod', [p, 'c', '0', '0']);
  };
  const opaque = (p: string, ns = 'trusted'): void => {
    execFileSync('setfattr', ['-n', `${ns}.overlay.opaque`, '-v', 'y', p]);
  };
  const odd = 'sp ace\\back\nline'; // getfattr prints it escaped: sp ace\134back\012line
  const lower2 = build('ovl-l2', {
    'a/x': 'x', 'a/y': 'y', 'b/z': 'z', 'c/deep/file': 'f', 'd/old': 'o', e: 'e', 'f/keep': 'k', 'u/old': 'o', [`${odd}/old`]: 'o',
  });
  const lower1 = build('ovl-l1', { 'b/w': 'w' });
  whiteout(path.join(lower1, 'c'));
  fs.mkdirSync(path.join(lower1, 'a'));
  whiteout(path.join(lower1, 'a', 'x'));
  opaque(path.join(lower1, 'b'));
  const upper = build('ovl-up', {
    '.wh.foo': 'not a whiteout here', 'a/x': 'x', 'a/y': 'y', 'b/z': 'z', 'b/w': 'w', 'c/deep/file': 'f', 'd/g': 'g', 'u/n': 'n',
  });
  opaque(path.join(upper, 'd'));
  opaque(path.join(upper, 'u'), 'user');
  fs.mkdirSync(path.join(upper, odd));
  opaque(path.join(upper, odd));
  whiteout(path.join(upper, 'e'));
  whiteout(path.join(upper, 'f'));
  execFileSync('mknod', [path.join(upper, 'null'), 'c', '1', '3']);
  const { entries, problems } = await walk(diffContent(upper, 'overlay', [lower1, lower2]));
  assert.deepEqual(problems, []);
  assert.deepEqual(entries.map(brief), [
    ['/.wh.foo', 'added', 'file'],
    ['/a', 'modified', 'dir'],
    ['/a/x', 'added', 'file'], // whited out in lower1
    ['/a/y', 'modified', 'file'],
    ['/b', 'modified', 'dir'],
    ['/b/w', 'modified', 'file'],
    ['/b/z', 'added', 'file'], // lower1's /b is opaque
    ['/c', 'added', 'dir'], // lower1 deleted /c
    ['/c/deep', 'added', 'dir'],
    ['/c/deep/file', 'added', 'file'],
    ['/d', 'opaque', 'dir'],
    ['/d/g', 'added', 'file'],
    ['/e', 'deleted', 'file'],
    ['/f', 'deleted', 'dir'],
    ['/null', 'added', 'char'], // a real device, not a whiteout
    [`/${odd}`, 'opaque', 'dir'],
    ['/u', 'opaque', 'dir'], // user.overlay.opaque
    ['/u/n', 'added', 'file'],
  ]);

  // An aufs-style layer (an image archive's) over the same overlay lowers: each lower keeps its own style.
  const aufsUpper = build('ovl-aufs-up', { 'a/x': 'x', 'b/z': 'z', '.wh.e': '', 'd/.wh..wh..opq': '', 'd/g': 'g' });
  const mixed = await walk({ ...diffContent(aufsUpper, 'aufs', [lower1, lower2]), lowerWhiteouts: ['overlay', 'overlay'] });
  assert.deepEqual(mixed.problems, []);
  assert.deepEqual(mixed.entries.map(brief), [
    ['/a', 'modified', 'dir'],
    ['/a/x', 'added', 'file'],
    ['/b', 'modified', 'dir'],
    ['/b/z', 'added', 'file'],
    ['/d', 'opaque', 'dir'],
    ['/d/g', 'added', 'file'],
    ['/e', 'deleted', 'file'],
  ]);
});

test('overlay: many folders that also exist below switch to one recursive getfattr and stay right', async (t) => {
  if (!isRoot) return t.skip('needs root: trusted.* xattrs');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const lowerSpec: Spec = {};
  const upperSpec: Spec = {};
  assert.ok(48 > RECURSIVE_AFTER + 8, 'enough folders to pass the switch');
  for (let i = 0; i < 48; i++) {
    lowerSpec[`d${i}/sub/old`] = 'o';
    upperSpec[`d${i}/sub/new`] = 'n';
  }
  const lower = build('many-l', lowerSpec);
  const upper = build('many-up', upperSpec);
  for (const i of [0, 47]) execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, `d${i}`, 'sub')]);
  const { entries, problems } = await walk(diffContent(upper, 'overlay', [lower]));
  assert.deepEqual(problems, []);
  assert.equal(entries.length, 48 * 3);
  const opaqueDirs = entries.filter((e) => e.status === 'opaque').map((e) => e.path);
  assert.deepEqual(opaqueDirs, ['/d0/sub', '/d47/sub']);
});

test('overlay without getfattr: folders that exist below are opaqueUnknown, not guessed', async () => {
  const lower = build('nogf-l', { 'a/x': 'x', 'keep/k': 'k' });
  const upper = build('nogf-up', { 'a/x': 'x2', 'new/n': 'n' });
  const savedPath = process.env.PATH;
  process.env.PATH = path.join(tmp, 'empty-bin');
  let result;
  try {
    result = await walk(diffContent(upper, 'overlay', [lower]));
  } finally {
    process.env.PATH = savedPath;
  }
  assert.deepEqual(result.entries.map((e) => [e.path, e.status, e.opaqueUnknown]), [
    ['/a', 'modified', true],
    ['/a/x', 'modified', undefined],
    ['/new', 'added', undefined],
    ['/new/n', 'added', undefined],
  ]);
  assert.ok(result.problems.some((p) => p.code === 'unsupported' && /getfattr/.test(p.message)), JSON.stringify(result.problems));
});

test('as an unprivileged user: unreadable folders are reported and skipped, trusted xattrs unknown', async (t) => {
  if (!isRoot) return t.skip('needs root to set it up and to switch to uid 65534');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const lower = build('user-l', { 'locked/x': 'x', 'opq/x': 'x', 'uopq/x': 'x' });
  const upper = build('user-up', { 'a.txt': 'a', 'locked/secret': 's', 'opq/y': 'y', 'uopq/y': 'y', 'z.txt': 'z' });
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'opq')]);
  execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', path.join(upper, 'uopq')]);
  fs.chmodSync(path.join(upper, 'locked'), 0o000);
  const script = `
    const { walkLayer } = require(${JSON.stringify(require.resolve('../../src/core/layerWalk'))});
    (async () => {
      const entries = [], problems = [];
      const content = { dir: ${JSON.stringify(upper)}, form: 'diff', whiteouts: 'overlay', lowerDirs: [${JSON.stringify(lower)}] };
      for await (const e of walkLayer(content, { onProblem: (p) => problems.push(p) })) entries.push(e);
      process.stdout.write(JSON.stringify({ entries, problems }));
    })();`;
  const out = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const { entries, problems } = JSON.parse(out.stdout) as { entries: LayerEntry[]; problems: WalkProblem[] };
  assert.deepEqual(entries.map((e) => [e.path, e.status, e.opaqueUnknown ?? false]), [
    ['/a.txt', 'added', false],
    ['/locked', 'modified', true],
    ['/opq', 'modified', true], // trusted.overlay.opaque is invisible without CAP_SYS_ADMIN
    ['/opq/y', 'added', false],
    ['/uopq', 'opaque', false], // user.overlay.opaque is readable by anyone
    ['/uopq/y', 'added', false],
    ['/z.txt', 'added', false],
  ]);
  assert.ok(problems.some((p) => p.code === 'permission-denied' && p.path === '/locked'), JSON.stringify(problems));
  assert.ok(problems.some((p) => p.code === 'permission-denied' && /trusted/.test(p.message)));
});

test('a missing layer folder throws not-found; a missing lower is reported and skipped', async () => {
  const missing = path.join(tmp, 'no-such-layer');
  await assert.rejects(walkLayer(diffContent(missing, 'overlay')).next(), { name: 'LayerError', code: 'not-found' });
  const upper = build('ml-up', { 'a.txt': 'a' });
  const { entries, problems } = await walk(diffContent(upper, 'aufs', [missing]));
  assert.deepEqual(entries.map(brief), [['/a.txt', 'added', 'file']]);
  assert.deepEqual(problems.map((p) => [p.code, p.diskPath]), [['not-found', missing]]);
});

test('20,000-file layer: first entry fast, every entry once, in sorted depth-first order', async () => {
  const dir = generate('gen20k', 200, 100);
  const start = performance.now();
  let first = -1;
  const paths: string[] = [];
  for await (const e of walkLayer(diffContent(dir, 'overlay'))) {
    if (first < 0) first = performance.now() - start;
    paths.push(e.path);
  }
  assert.equal(paths.length, 200 + 20_000);
  assert.ok(first < 200, `first entry after ${first.toFixed(1)} ms`);
  assert.equal(paths[0], '/d0000');
  assert.equal(paths[1], '/d0000/f0');
  assert.equal(paths[2], '/d0000/f1');
  assert.equal(paths[3], '/d0000/f10'); // code-unit order: f10 < f2
  assert.equal(paths[101], '/d0001');
  assert.equal(new Set(paths).size, paths.length);
});

test('cancellation: aborting after 10 entries rejects with cancelled, promptly', async () => {
  const dir = generate('gen20k', 200, 100);
  const controller = new AbortController();
  let seen = 0;
  let abortedAt = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of walkLayer(diffContent(dir, 'overlay'), { signal: controller.signal })) {
        if (++seen === 10) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    })(),
    { name: 'LayerError', code: 'cancelled' },
  );
  assert.equal(seen, 10);
  assert.ok(performance.now() - abortedAt < 100, 'rejected promptly');
});

test('a walk stopped early (break, or a signal aborted before it starts) ends cleanly', async () => {
  const lower = build('stop-l', { 'a/x': 'x', 'b/y': 'y' });
  const upper = build('stop-up', { 'a/x': 'x', 'b/y': 'y', 'c/z': 'z' });
  const content = diffContent(upper, 'overlay', [lower]);
  const seen: string[] = [];
  for await (const e of walkLayer(content)) {
    seen.push(e.path);
    break;
  }
  assert.deepEqual(seen, ['/a']);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(walkLayer(content, { signal: controller.signal }).next(), { name: 'LayerError', code: 'cancelled' });
});

test('docker20-overlay2: every layer walked; 6 char-device whiteouts, 1 opaque /etc/app, /etc/shadow never read', async (t) => {
  const shared = sharedRoot('docker20-overlay2');
  if (!shared) return t.skip(whyMissing('docker20-overlay2'));
  const overlay2 = path.join(shared.root, 'overlay2');
  const deleted: string[] = [];
  const opaque: string[] = [];
  const all: LayerEntry[] = [];
  for (const id of fs.readdirSync(overlay2).sort()) {
    const diff = path.join(overlay2, id, 'diff');
    if (id === 'l' || !fs.existsSync(diff)) continue;
    const { entries, problems } = await walk(diffContent(diff, 'overlay', overlay2Lowers(overlay2, id)));
    assert.deepEqual(problems, [], id);
    for (const e of entries) {
      all.push(e);
      if (e.status === 'opaque') opaque.push(e.path);
      if (e.status === 'deleted') {
        const st = fs.lstatSync(path.join(diff, e.path));
        assert.ok(st.isCharacterDevice() && st.rdev === 0, `${e.path} in ${id} is a 0/0 char device`);
        deleted.push(e.path);
      }
    }
  }
  assert.equal(deleted.length, 6, deleted.join(', '));
  assert.deepEqual(opaque, ['/etc/app']);
  const shadow = all.filter((e) => e.target === '/etc/shadow');
  assert.deepEqual(shadow.map((e) => [e.path, e.type, e.size]), [['/opt/data/shadow-link', 'symlink', 0]]);
  if (isRoot) {
    const secret = fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0];
    assert.ok(secret && !JSON.stringify(all).includes(secret), 'no content of /etc/shadow in any entry');
  }
  // The container's layer is what `docker diff fixture-ctr` printed.
  const ctr = JSON.parse(fs.readFileSync(path.join(shared.truth, 'container-fixture-ctr.json'), 'utf8'))[0];
  const mountId = path.basename(path.dirname(ctr.GraphDriver.Data.UpperDir as string));
  const { entries } = await walk(diffContent(path.join(overlay2, mountId, 'diff'), 'overlay', overlay2Lowers(overlay2, mountId)));
  assert.deepEqual(asDockerDiff(entries), truthLines(path.join(shared.truth, 'diff-fixture-ctr.txt')));
});

test('project overlay2 root: the container layer equals docker diff', async (t) => {
  const r = projectRoot('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const ctr = JSON.parse(fs.readFileSync(path.join(r.truth, 'container-dle-ctr.json'), 'utf8'))[0];
  const overlay2 = path.join(r.root, 'overlay2');
  const mountId = path.basename(path.dirname(ctr.GraphDriver.Data.UpperDir as string));
  const { entries, problems } = await walk(diffContent(path.join(overlay2, mountId, 'diff'), 'overlay', overlay2Lowers(overlay2, mountId)));
  assert.deepEqual(problems, []);
  assert.deepEqual(asDockerDiff(entries), truthLines(path.join(r.truth, 'diff-dle-ctr.txt')));
});

test('project vfs root (snapshots): the container layer against its init layer equals docker diff', async (t) => {
  const r = projectRoot('vfs');
  if (!r) return t.skip(whyMissing('vfs'));
  const ctr = JSON.parse(fs.readFileSync(path.join(r.truth, 'container-dle-ctr.json'), 'utf8'))[0];
  const mounts = path.join(r.root, 'image', 'vfs', 'layerdb', 'mounts', ctr.Id as string);
  const read = (f: string): string => fs.readFileSync(path.join(mounts, f), 'utf8').trim();
  const vfs = path.join(r.root, 'vfs', 'dir');
  const content: LayerContent = {
    dir: path.join(vfs, read('mount-id')),
    form: 'snapshot',
    parentDir: path.join(vfs, read('init-id')),
    whiteouts: 'aufs',
    lowerDirs: [],
  };
  const { entries, problems } = await walk(content);
  assert.deepEqual(problems, []);
  assert.deepEqual(asDockerDiff(entries), truthLines(path.join(r.truth, 'diff-dle-ctr.txt')));
});

test('snapshot form: added, modified, deleted; unchanged folders only before a change inside', async () => {
  const parent = build('snap-parent', {
    'same/a': 'a', 'quiet/q': 'q', 'gone/g': 'g', 'mod/m': 'm', 'l/link': { link: 'aa' }, 'perm/': null, 'deep/x/y/z': 'z',
  });
  const child = build('snap-child', {
    'same/a': 'a', 'quiet/q': 'q', 'mod/m': 'mm', 'new/n': 'n', 'l/link': { link: 'bb' }, 'perm/': null, 'deep/x/y/z': 'z', 'deep/x/y/w': 'w',
  });
  const when = new Date('2020-01-01T00:00:00Z');
  for (const root of [parent, child]) {
    for (const f of ['same/a', 'quiet/q', 'deep/x/y/z']) fs.utimesSync(path.join(root, f), when, when);
    fs.lutimesSync(path.join(root, 'l/link'), when, when); // same size and mtime: only the target differs
  }
  fs.chmodSync(path.join(child, 'perm'), 0o700);
  const { entries, problems } = await walk({ dir: child, form: 'snapshot', parentDir: parent, whiteouts: 'aufs', lowerDirs: [] });
  assert.deepEqual(problems, []);
  assert.deepEqual(entries.map(brief), [
    ['/deep', 'modified', 'dir'],
    ['/deep/x', 'modified', 'dir'],
    ['/deep/x/y', 'modified', 'dir'],
    ['/deep/x/y/w', 'added', 'file'],
    ['/gone', 'deleted', 'dir'],
    ['/l', 'modified', 'dir'],
    ['/l/link', 'modified', 'symlink', 'bb'],
    ['/mod', 'modified', 'dir'],
    ['/mod/m', 'modified', 'file'],
    ['/new', 'added', 'dir'],
    ['/new/n', 'added', 'file'],
    ['/perm', 'modified', 'dir'],
  ]);
  const base = await walk({ dir: parent, form: 'snapshot', whiteouts: 'aufs', lowerDirs: [] });
  assert.ok(base.entries.every((e) => e.status === 'added'));
  assert.equal(base.entries.length, 15);
});

test('legacy aufs root: whiteouts and the opaque marker of real aufs layers', async (t) => {
  const r = projectRoot('legacy');
  if (!r) return t.skip(whyMissing('legacy'));
  const aufs = path.join(r.root, 'aufs');
  const found: string[][] = [];
  for (const id of fs.readdirSync(path.join(aufs, 'diff')).sort()) {
    const lowers = fs.readFileSync(path.join(aufs, 'layers', id), 'utf8').split('\n').filter(Boolean);
    const { entries, problems } = await walk(diffContent(path.join(aufs, 'diff', id), 'aufs', lowers.map((l) => path.join(aufs, 'diff', l))));
    assert.deepEqual(problems, []);
    for (const e of entries) if (e.status === 'deleted' || e.status === 'opaque') found.push(brief(e));
    assert.ok(entries.every((e) => !path.basename(e.path).startsWith('.wh.')), 'no .wh. name is an entry');
  }
  assert.deepEqual(found.sort(), [
    ['/data/old.txt', 'deleted', 'file'],
    ['/etc/app', 'opaque', 'dir'],
    ['/root/example', 'deleted', 'dir'],
  ]);
});
