// walkLayer on real folders: small layers built here with node:fs (and mknod /
// setfattr / mkfifo when possible), and the real roots made by real daemons.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatMode, walkLayer, type LayerEntry } from '../../src/core/layerWalk';
import type { LayerContent } from '../../src/core/model';
import { PRIME_MAX_DIRS } from '../../src/core/lowerUnion';
import { RECURSIVE_AFTER } from '../../src/core/opaque';
import { Stepper, Wait } from '../../src/core/walkContext';
import { projectRoot, sharedRoot, whyMissing } from './support/roots';
import type { Spec, WalkResult } from './support/layers';
import {
  asDockerDiff, assertSameWalk, brief, build, diffContent, generate, hasTool, isRoot, overlay2Lowers, tmp, truthLines, walk, walkOnce,
} from './support/layers';

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

  // stat: false: the same entries (checked by walk()), without the lstat fields.
  const quick = await walkOnce(diffContent(upper, 'aufs', [lower1, lower2]), { stat: false });
  const q = new Map(quick.entries.map((e) => [e.path, e]));
  assert.deepEqual(q.get('/etc/b.conf'), { path: '/etc/b.conf', status: 'modified', type: 'file', size: 0, mode: 0, statted: false });
  assert.deepEqual(q.get('/links/shadow'), {
    path: '/links/shadow', status: 'added', type: 'symlink', size: 0, mode: 0, statted: false, target: '/etc/shadow',
  });
  assert.deepEqual(q.get('/etc/keep'), byPath.get('/etc/keep'));
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

test('overlay: many folders that also exist below: primed, then per folder, then one recursive getfattr; all right', async (t) => {
  if (!isRoot) return t.skip('needs root: trusted.* xattrs');
  if (!hasTool('setfattr') || !hasTool('getfattr')) return t.skip('needs setfattr/getfattr (package attr)');
  const lowerSpec: Spec = {};
  const upperSpec: Spec = {};
  // More than the primed folders (the first PRIME_MAX_DIRS, top down: d0..d255), then enough asks to pass the switch.
  const n = PRIME_MAX_DIRS + RECURSIVE_AFTER + 12;
  for (let i = 0; i < n; i++) {
    lowerSpec[`d${i}/sub/old`] = 'o';
    upperSpec[`d${i}/sub/new`] = 'n';
  }
  const lower = build('many-l', lowerSpec);
  const upper = build('many-up', upperSpec);
  const opaque = [0, 1, n - 1].map((i) => `/d${i}/sub`);
  opaque.push('/d2'); // a primed folder
  for (const p of opaque) execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, p)]);
  const { entries, problems } = await walk(diffContent(upper, 'overlay', [lower]));
  assert.deepEqual(problems, []);
  assert.equal(entries.length, n * 3);
  const opaqueDirs = entries.filter((e) => e.status === 'opaque').map((e) => e.path);
  assert.deepEqual(opaqueDirs.sort(), opaque.sort());
  assert.ok(entries.every((e) => e.opaqueUnknown === undefined));
});

test('overlay: the folders that also exist below are asked in one getfattr run, not one per folder', async (t) => {
  if (!hasTool('getfattr')) return t.skip('needs getfattr (package attr)');
  // A getfattr that logs its runs, first on PATH.
  const bin = path.join(tmp, 'counting-bin');
  const log = path.join(tmp, 'getfattr.log');
  const real = execFileSync('sh', ['-c', 'command -v getfattr'], { encoding: 'utf8' }).trim();
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'getfattr'), `#!/bin/sh\necho run >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  const lowerSpec: Spec = {};
  const upperSpec: Spec = {};
  for (const d of ['etc/app', 'usr/lib/x', 'usr/lib/y', 'usr/share/doc/z', 'var/lib/w']) {
    lowerSpec[`${d}/old`] = 'o';
    upperSpec[`${d}/new`] = 'n';
  }
  const content = diffContent(build('count-up', upperSpec), 'overlay', [build('count-l', lowerSpec)]);
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${savedPath}`;
  try {
    for (const stat of [true, false]) {
      fs.rmSync(log, { force: true });
      const { entries } = await walkOnce(content, { stat });
      assert.equal(entries.filter((e) => e.status === 'modified' && e.type === 'dir').length, 12);
      assert.equal(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 1, `stat: ${stat}`);
    }
  } finally {
    process.env.PATH = savedPath;
  }
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
  const upper = build('user-up', {
    'a.txt': 'a', 'locked/secret': 's', 'noexec/f.txt': 'f', 'noexec/sub/g': 'g', 'opq/y': 'y', 'uopq/y': 'y', 'z.txt': 'z',
  });
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'opq')]);
  execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', path.join(upper, 'uopq')]);
  fs.chmodSync(path.join(upper, 'locked'), 0o000);
  fs.chmodSync(path.join(upper, 'noexec'), 0o744); // others may list it (r) but not reach into it (no x)
  const script = `
    const { walkLayer } = require(${JSON.stringify(require.resolve('../../src/core/layerWalk'))});
    const walk = async (stat) => {
      const entries = [], problems = [];
      const content = { dir: ${JSON.stringify(upper)}, form: 'diff', whiteouts: 'overlay', lowerDirs: [${JSON.stringify(lower)}] };
      for await (const e of walkLayer(content, { stat, onProblem: (p) => problems.push(p) })) entries.push(e);
      return { entries, problems };
    };
    (async () => process.stdout.write(JSON.stringify([await walk(true), await walk(false)])))();`;
  const out = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const [full, quick] = JSON.parse(out.stdout) as WalkResult[];
  assertSameWalk(full, quick);
  const { entries, problems } = full;
  assert.deepEqual(entries.map((e) => [e.path, e.status, e.opaqueUnknown ?? false]), [
    ['/a.txt', 'added', false],
    ['/locked', 'modified', true],
    ['/noexec', 'added', false], // its entries cannot be lstat()ed: reported, with either walk
    ['/opq', 'modified', true], // trusted.overlay.opaque is invisible without CAP_SYS_ADMIN
    ['/opq/y', 'added', false],
    ['/uopq', 'opaque', false], // user.overlay.opaque is readable by anyone
    ['/uopq/y', 'added', false],
    ['/z.txt', 'added', false],
  ]);
  assert.ok(problems.some((p) => p.code === 'permission-denied' && p.path === '/locked'), JSON.stringify(problems));
  assert.ok(problems.some((p) => p.code === 'permission-denied' && /trusted/.test(p.message)));
  assert.deepEqual(problems.filter((p) => p.path.startsWith('/noexec/')).map((p) => [p.path, p.code]), [
    ['/noexec/f.txt', 'permission-denied'],
    ['/noexec/sub', 'permission-denied'],
  ]);
  assert.ok(quick.entries.filter((e) => e.type === 'file').every((e) => e.statted === false));
});

test('a missing layer folder throws not-found; a missing lower is reported and skipped', async () => {
  const missing = path.join(tmp, 'no-such-layer');
  await assert.rejects(walkLayer(diffContent(missing, 'overlay')).next(), { name: 'LayerError', code: 'not-found' });
  const upper = build('ml-up', { 'a.txt': 'a' });
  const { entries, problems } = await walk(diffContent(upper, 'aufs', [missing]));
  assert.deepEqual(entries.map(brief), [['/a.txt', 'added', 'file']]);
  assert.deepEqual(problems.map((p) => [p.code, p.diskPath]), [['not-found', missing]]);
});

for (const stat of [true, false]) {
  test(`20,000-file layer (stat: ${stat}): first entry fast, every entry once, in sorted depth-first order`, async () => {
    const dir = generate('gen20k', 200, 100);
    const start = performance.now();
    let first = -1;
    const paths: string[] = [];
    for await (const e of walkLayer(diffContent(dir, 'overlay'), { stat })) {
      if (first < 0) first = performance.now() - start;
      paths.push(e.path);
      assert.equal(e.statted, stat ? undefined : false);
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

  test(`cancellation (stat: ${stat}): aborting after 10 entries rejects with cancelled, promptly`, async () => {
    const dir = generate('gen20k', 200, 100);
    const controller = new AbortController();
    let seen = 0;
    let abortedAt = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of walkLayer(diffContent(dir, 'overlay'), { signal: controller.signal, stat })) {
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
}

test('a big folder (over 256 KiB of entries) is listed off the main thread, with the same result', async () => {
  const dir = path.join(tmp, 'bigdir');
  const sub = path.join(dir, 'many');
  fs.mkdirSync(sub, { recursive: true });
  const long = 'n'.repeat(200);
  for (let i = 0; i < 1400; i++) fs.writeFileSync(path.join(sub, `${long}${String(i).padStart(4, '0')}`), '');
  fs.writeFileSync(path.join(dir, 'z.txt'), 'z');
  const { entries, problems } = await walk(diffContent(dir, 'overlay'));
  assert.deepEqual(problems, []);
  assert.equal(entries.length, 1 + 1400 + 1);
  assert.equal(entries[1].path, `/many/${long}0000`);
  assert.equal(entries[1401].path, '/z.txt');
});

test('a walk stopped early (break, or a signal aborted before it starts) ends cleanly', async () => {
  const lower = build('stop-l', { 'a/x': 'x', 'b/y': 'y' });
  const upper = build('stop-up', { 'a/x': 'x', 'b/y': 'y', 'c/z': 'z' });
  const content = diffContent(upper, 'overlay', [lower]);
  for (const stat of [true, false]) {
    const seen: string[] = [];
    for await (const e of walkLayer(content, { stat })) {
      seen.push(e.path);
      break;
    }
    assert.deepEqual(seen, ['/a']);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(walkLayer(content, { signal: controller.signal, stat }).next(), { name: 'LayerError', code: 'cancelled' });
  }
});

test('a walk gives the event loop a turn every few ms: a 1 ms timer keeps firing', async (t) => {
  const dir = generate('gen20k', 200, 100);
  for (const stat of [true, false]) {
    let ticks = 0;
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 1);
    const start = performance.now();
    try {
      last = start;
      for await (const _ of walkLayer(diffContent(dir, 'overlay'), { stat })) {
        // consume
      }
    } finally {
      clearInterval(timer);
    }
    const ms = performance.now() - start;
    // The walk yields after ~8 ms of work; on average a tick per 40 ms leaves room for a busy machine's own delays.
    t.diagnostic(`stat: ${stat}: ${ms.toFixed(0)} ms, ${ticks} ticks, longest gap ${maxGap.toFixed(1)} ms`);
    assert.ok(ticks >= Math.floor(ms / 40) - 1, `stat: ${stat}: ${ticks} timer ticks in ${ms.toFixed(0)} ms`);
  }
});

test('Stepper: an async generator over a sync one: queued calls, waits, errors, return', async () => {
  const log: string[] = [];
  function* steps(): Generator<number | Wait, void, unknown> {
    try {
      yield 1;
      const x = (yield new Wait(new Promise((r) => setTimeout(() => r(10), 5)))) as number;
      yield x + 1;
      try {
        yield new Wait(Promise.reject(new Error('boom')));
      } catch (err) {
        log.push(`caught ${(err as Error).message}`);
      }
      yield 12;
      yield 13;
    } finally {
      log.push('finally');
    }
  }
  const it = new Stepper(steps());
  // Calls made without waiting are answered in order, as an async generator's.
  const [a, b, c, d] = await Promise.all([it.next(), it.next(), it.next(), it.next()]);
  assert.deepEqual([a, b, c, d], [
    { value: 1, done: false },
    { value: 11, done: false },
    { value: 12, done: false },
    { value: 13, done: false },
  ]);
  assert.deepEqual(await it.return(), { value: undefined, done: true });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  assert.deepEqual(log, ['caught boom', 'finally']);

  function* failing(): Generator<number | Wait, void, unknown> {
    yield new Wait(Promise.resolve());
    throw new Error('bad step');
  }
  await assert.rejects(new Stepper(failing()).next(), /bad step/);
  const collected: number[] = [];
  for await (const v of new Stepper(steps())) collected.push(v);
  assert.deepEqual(collected, [1, 11, 12, 13]);
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
  // stat: false lstats what it compares, not what is only added.
  const quick = await walkOnce({ dir: child, form: 'snapshot', parentDir: parent, whiteouts: 'aufs', lowerDirs: [] }, { stat: false });
  const statted = (p: string): boolean | undefined => quick.entries.find((e) => e.path === p)?.statted;
  assert.deepEqual(['/new', '/new/n', '/mod/m', '/l/link', '/deep/x/y/w'].map(statted), [false, false, undefined, undefined, false]);
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
