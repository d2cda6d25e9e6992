// The quick byte comparison (quickCompare.ts) and its batches on worker threads
// (comparePool.ts), on real folders: the same answers on this thread and on the
// workers, "unknown" (never a wrong answer, never a read through a symlink)
// whenever a file is not the regular file of the walked size.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContentBatches } from '../../src/core/comparePool';
import { DIFFERS, QUICK_MAX, SAME, UNKNOWN, makeQuickComparer, quickPathAvailable } from '../../src/core/quickCompare';
import { build, tmp } from './support/layers';

const available = quickPathAvailable(fs);
const big = 'y'.repeat(QUICK_MAX);

const a = build('quick-a', { 'etc/same': 'abc', 'etc/other': 'abc', 'etc/empty': '', 'etc/grew': 'abc', 'etc/dir/': null, 'etc/fifo': { fifo: true }, 'max/file': big });
const b = build('quick-b', { 'etc/same': 'abc', 'etc/other': 'abd', 'etc/empty': '', 'etc/grew': 'abcd', 'etc/dir/': null, 'etc/fifo': { fifo: true }, 'max/file': big });
build('quick-outside', { 'etc/same': 'abc' });
/** A layer whose /etc is a symlink to a folder outside it holding the same bytes. */
const evil = build('quick-evil', { etc: { link: path.join(tmp, 'quick-outside', 'etc') } });

/** [path, walked size, answer] for a against b. */
const CASES: [string, number, number][] = [
  ['/etc/same', 3, SAME],
  ['/etc/other', 3, DIFFERS],
  ['/etc/empty', 0, SAME],
  ['/max/file', QUICK_MAX, SAME],
  // Not the regular file of the walked size on one side: the safe path decides.
  ['/etc/grew', 3, UNKNOWN],
  ['/etc/dir', 0, UNKNOWN],
  ['/etc/fifo', 0, UNKNOWN],
  ['/etc/missing', 1, UNKNOWN],
  ['/max/file', QUICK_MAX + 1, UNKNOWN],
];

test('quick comparer: bytes decide; anything but the walked regular file is "unknown"', (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  const quick = makeQuickComparer(fs, QUICK_MAX);
  try {
    for (const [p, size, want] of CASES) assert.equal(quick.same(a, b, p, size), want, p);
    const started = performance.now();
    quick.same(a, b, '/etc/fifo', 0);
    assert.ok(performance.now() - started < 1000, 'a FIFO never blocks');
    assert.equal(quick.same(a, evil, '/etc/same', 3), UNKNOWN, 'a symlinked folder on the way is never read through');
    assert.equal(quick.same(evil, a, '/etc/same', 3), UNKNOWN);
  } finally {
    quick.close();
  }
});

test('ContentBatches: the workers give the answers this thread gives, for every pair', async (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  // The cases within the quick limit (the caller sends only those), and a symlinked folder on the way.
  const all: [string, string, string, number][] = [
    ...CASES.filter(([, size]) => size <= QUICK_MAX).map(([p, size]): [string, string, string, number] => [a, b, p, size]),
    [a, evil, '/etc/same', 3],
  ];
  // Enough pairs for several batches on the workers, as a real comparison sends them.
  const many = build('quick-many', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 7}/f${i}`, `bytes ${i}`])));
  const other = build('quick-many-b', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 7}/f${i}`, i % 100 === 0 ? `BYTES ${i}` : `bytes ${i}`])));
  for (let i = 0; i < 3000; i++) all.push([many, other, `/d${i % 7}/f${i}`, `bytes ${i}`.length]);

  const answers = async (workers: number) => {
    const batches = new ContentBatches(undefined, { workers, poolMin: 1 });
    const keys = all.map(() => ({}));
    all.forEach(([x, y, p, size], i) => batches.add(keys[i], x, y, p, size));
    await batches.finish();
    return keys.map((k) => batches.answer(k));
  };
  const here = await answers(0);
  const onWorkers = await answers(2);
  assert.deepEqual(onWorkers, here);
  assert.equal(here.filter((x) => x === DIFFERS).length, 30 + 1, 'the 30 changed files and /etc/other');
  assert.equal(here[all.length - 3001], UNKNOWN, 'the symlinked folder: never read through');
});

test('ContentBatches: a cancelled comparison stops the workers and says "cancelled"', async (t) => {
  if (!available) return t.skip('needs /proc/self/fd (Linux)');
  const controller = new AbortController();
  const batches = new ContentBatches(controller.signal, { workers: 1, poolMin: 1 });
  for (let i = 0; i < 5000; i++) batches.add({}, a, b, `/etc/same${i}`, 3);
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
    batches.expect(3000);
    await new Promise((r) => setTimeout(r, 300)); // the broken worker has died by now
    const keys = Array.from({ length: 3000 }, () => ({}));
    keys.forEach((k, i) => batches.add(k, a, b, i % 2 ? '/etc/same' : '/etc/other', 3));
    const done = await Promise.race([batches.finish().then(() => 'finished'), new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    assert.equal(done, 'finished');
    assert.equal(made, 2);
    // Every pair is answered (the live worker's) or left to the safe path, never wrongly.
    for (let i = 0; i < keys.length; i++) assert.ok([i % 2 ? SAME : DIFFERS, UNKNOWN].includes(batches.answer(keys[i])!), `pair ${i}`);
  } finally {
    wt.Worker = Real;
  }
});
