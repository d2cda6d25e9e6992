// The quick byte comparison (quickCompare.ts) and its batches on worker threads
// (comparePool.ts), on real folders: the same answers and stats on this thread
// and on the workers, "unknown" (never a wrong answer, never a read through a
// symlink) whenever a side is not a regular file it can read whole.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContentBatches } from '../../src/core/comparePool';
import { DIFFERS, QUICK_MAX, SAME, STAT_FIELDS, UNKNOWN, makeQuickComparer, quickPathAvailable } from '../../src/core/quickCompare';
import { build, tmp } from './support/layers';

const available = quickPathAvailable(fs);
const big = 'y'.repeat(QUICK_MAX);
const bigger = 'y'.repeat(QUICK_MAX + 1);

const a = build('quick-a', {
  'etc/same': 'abc',
  'etc/other': 'abc',
  'etc/empty': '',
  'etc/grew': 'abc',
  'etc/dir/': null,
  'etc/fifo': { fifo: true },
  'max/file': big,
  'max/over': bigger,
  'max/over-other': bigger,
});
const b = build('quick-b', {
  'etc/same': 'abc',
  'etc/other': 'abd',
  'etc/empty': '',
  'etc/grew': 'abcd',
  'etc/dir/': null,
  'etc/fifo': { fifo: true },
  'max/file': big,
  'max/over': bigger,
  'max/over-other': 'z'.repeat(QUICK_MAX + 1),
});
build('quick-outside', { 'etc/same': 'abc' });
/** A layer whose /etc is a symlink to a folder outside it holding the same bytes. */
const evil = build('quick-evil', { etc: { link: path.join(tmp, 'quick-outside', 'etc') } });

/** [path, answer, whether both sides' stats are known] for a against b. */
const CASES: [string, number, boolean][] = [
  ['/etc/same', SAME, true],
  ['/etc/other', DIFFERS, true],
  ['/etc/empty', SAME, true],
  ['/max/file', SAME, true],
  // Sizes differ: never read, DIFFERS.
  ['/etc/grew', DIFFERS, true],
  // Too big to read here (one size): the safe path decides, with both stats known.
  ['/max/over', UNKNOWN, true],
  ['/max/over-other', UNKNOWN, true],
  // Not a regular file it can open: the safe path decides.
  ['/etc/dir', UNKNOWN, false],
  ['/etc/fifo', UNKNOWN, false],
  ['/etc/missing', UNKNOWN, false],
];

/** The lstat numbers of a side as the comparer writes them. */
const lstatOf = (file: string) => {
  const st = fs.lstatSync(file);
  return [st.size, st.mode, st.uid, st.gid, st.mtimeMs];
};

test('quick comparer: bytes decide, with the stats of both sides; anything but a readable regular file is "unknown"', (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  const quick = makeQuickComparer(fs, QUICK_MAX);
  const stats = new Float64Array(2 * STAT_FIELDS);
  try {
    for (const [p, want, statsKnown] of CASES) {
      assert.equal(quick.compare(a, b, p, stats, 0), want, p);
      if (statsKnown) assert.deepEqual([...stats], [...lstatOf(a + p), ...lstatOf(b + p)], `${p}: the stats are the files' own`);
      else assert.ok(stats.every((x, i) => i < STAT_FIELDS || Number.isNaN(x)), `${p}: B's side has no stats`);
    }
    const started = performance.now();
    quick.compare(a, b, '/etc/fifo', stats, 0);
    assert.ok(performance.now() - started < 1000, 'a FIFO never blocks');
    assert.equal(quick.compare(a, evil, '/etc/same', stats, 0), UNKNOWN, 'a symlinked folder on the way is never read through');
    assert.ok(Number.isNaN(stats[STAT_FIELDS]), "nor stat()ed");
    assert.equal(quick.compare(evil, a, '/etc/same', stats, 0), UNKNOWN);
  } finally {
    quick.close();
  }
});

test('ContentBatches: the workers give the answers and stats this thread gives, for every pair', async (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  const all: [string, string, string][] = [...CASES.map(([p]): [string, string, string] => [a, b, p]), [a, evil, '/etc/same']];
  // Enough pairs for several batches on the workers, as a real comparison sends them.
  const many = build('quick-many', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 7}/f${i}`, `bytes ${i}`])));
  const other = build('quick-many-b', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 7}/f${i}`, i % 100 === 0 ? `BYTES ${i}` : `bytes ${i}`])));
  for (let i = 0; i < 3000; i++) all.push([many, other, `/d${i % 7}/f${i}`]);

  const answers = async (workers: number) => {
    const batches = new ContentBatches(undefined, { workers, poolMin: 1 });
    const pairs = all.map(([x, y, p]) => batches.add(x, y, p));
    await batches.finish();
    return pairs.map((i) => ({ answer: batches.answer(i), a: batches.side(i, 'a'), b: batches.side(i, 'b') }));
  };
  const here = await answers(0);
  const onWorkers = await answers(2);
  assert.deepEqual(onWorkers, here);
  assert.equal(here.filter((x) => x.answer === DIFFERS).length, 30 + 2, 'the 30 changed files, /etc/other and /etc/grew');
  assert.deepEqual(here[CASES.length], { answer: UNKNOWN, a: here[0].a, b: undefined }, 'the symlinked folder: never read through');
  const { a: sideA, b: sideB } = here[CASES.length + 1 + 1];
  const st = fs.lstatSync(`${other}/d1/f1`);
  assert.deepEqual(sideB, { size: st.size, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs });
  assert.equal(sideA?.size, 'bytes 1'.length);
});

test('ContentBatches: a cancelled comparison stops the workers and says "cancelled"', async (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  const controller = new AbortController();
  const batches = new ContentBatches(controller.signal, { workers: 1, poolMin: 1 });
  for (let i = 0; i < 5000; i++) batches.add(a, b, `/etc/same${i}`);
  controller.abort();
  await assert.rejects(batches.finish(), (e: Error & { code?: string }) => e.code === 'cancelled');
});

test('ContentBatches: a worker that dies at start costs no answer and never hangs the comparison', async (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  // The first worker made runs a source that throws at once; the other is real.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require('node:worker_threads') as { Worker: typeof import('node:worker_threads').Worker };
  const Real = wt.Worker;
  let made = 0;
  wt.Worker = class extends Real {
    constructor(source: string, options?: import('node:worker_threads').WorkerOptions) {
      super(made++ === 0 ? 'throw new Error("boom")' : source, options);
    }
  };
  try {
    const batches = new ContentBatches(undefined, { workers: 2, poolMin: 1 });
    const add = (i: number) => batches.add(a, b, i % 2 ? '/etc/same' : '/etc/other');
    // The first batch starts the pool and goes to the broken worker as it dies; the rest come once it is dead.
    const keys = Array.from({ length: 1024 }, (_, i) => add(i));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 1024; i < 3000; i++) keys.push(add(i));
    const done = await Promise.race([batches.finish().then(() => 'finished'), new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    assert.equal(done, 'finished');
    assert.equal(made, 2);
    // Every pair is answered (the live worker's) or left to the safe path, never wrongly.
    for (let i = 0; i < keys.length; i++) assert.ok([i % 2 ? SAME : DIFFERS, UNKNOWN].includes(batches.answer(keys[i])), `pair ${i}`);
    // Once it is dead, it gets nothing: the live worker answers every later pair.
    for (let i = 1024; i < keys.length; i++) assert.equal(batches.answer(keys[i]), i % 2 ? SAME : DIFFERS, `pair ${i}`);
  } finally {
    wt.Worker = Real;
  }
});
