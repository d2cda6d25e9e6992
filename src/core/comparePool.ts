/**
 * Byte comparisons in batches, on worker threads when there are enough of them
 * to pay for the workers (tens of ms to start each).
 *
 * compare.ts queues every pair of regular files it must compare (`add`), most
 * while it still walks the two top layers (a path is final once both walks are
 * past it: compareWalk.ts), so they are compared on the workers while this
 * thread walks. Each worker
 * runs quickCompare.ts's very code and answers same / differs / unknown per
 * pair, with both sides' stats (the walks did not lstat regular files);
 * `finish` waits for every answer. Without workers (a few pairs, one core, no
 * /proc) this thread answers the batches itself, yielding to the event loop
 * between slices. "Unknown" (and a worker that fails) leaves the pair to the
 * caller's safe path. Read-only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Pacer } from './concurrency';
import { throwIfAborted, untilAborted } from './errors';
import { QUICK_MAX, STAT_FIELDS, UNKNOWN, makeQuickComparer, quickPathAvailable, type Quick } from './quickCompare';

/** Pairs per batch: a few ms of work, few enough messages. */
const BATCH = 1024;
/** Below this many queued pairs the workers cost more than they save. */
const POOL_MIN = 4 * BATCH;

/** Numbers per pair in a stats array: A's side, then B's. */
const PAIR_STATS = 2 * STAT_FIELDS;

/** One batch as a worker gets it: layer folders by index, and per pair its two folders and its path. */
interface BatchMessage {
  readonly id: number;
  readonly dirs: string[];
  readonly ia: number[];
  readonly ib: number[];
  readonly paths: string[];
}

/** A worker's answer to a batch: per pair its Quick, and both sides' stats (PAIR_STATS numbers each). */
interface Answers {
  readonly out: Int8Array;
  readonly stats: Float64Array;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const make = ${makeQuickComparer.toString()};
const quick = make(require('node:fs'), workerData.quickMax);
parentPort.on('message', (b) => {
  const out = new Int8Array(b.paths.length);
  const stats = new Float64Array(b.paths.length * ${PAIR_STATS});
  try {
    for (let i = 0; i < b.paths.length; i++) out[i] = quick.compare(b.dirs[b.ia[i]], b.dirs[b.ib[i]], b.paths[i], stats, i * ${PAIR_STATS});
  } finally {
    quick.close();
  }
  parentPort.postMessage({ id: b.id, out, stats }, [out.buffer, stats.buffer]);
});
`;

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** "Unknown" for `n` pairs, with no stats. */
function unknown(n: number): Answers {
  return { out: new Int8Array(n).fill(UNKNOWN), stats: new Float64Array(n * PAIR_STATS).fill(NaN) };
}

/** Workers running WORKER_SOURCE; a batch goes to the one with the fewest in flight. */
class WorkerPool {
  private readonly waiting = new Map<number, { resolve: (answers: Answers) => void; size: number; worker: number }>();
  private readonly inFlight: number[];
  /** Workers that failed or ended: never sent another batch (a message to an ended worker is silently lost). */
  private readonly dead: boolean[];
  private seq = 0;

  private constructor(private readonly workers: Worker[]) {
    this.inFlight = workers.map(() => 0);
    this.dead = workers.map(() => false);
    workers.forEach((w, i) => {
      w.on('message', (m: Answers & { id: number }) => this.settle(m.id, m));
      // A worker that fails answers "unknown" for what it held: the safe path takes those pairs.
      const fail = () => {
        this.dead[i] = true;
        for (const [id, job] of this.waiting) if (job.worker === i) this.settle(id, unknown(job.size));
      };
      w.on('error', fail);
      w.on('exit', fail);
    });
  }

  static start(n: number): WorkerPool | undefined {
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < n; i++) workers.push(new Worker(WORKER_SOURCE, { eval: true, workerData: { quickMax: QUICK_MAX } }));
    } catch {
      for (const w of workers) void w.terminate();
      return undefined;
    }
    return new WorkerPool(workers);
  }

  /** Runs `batch` on the live worker with the fewest batches in flight. */
  run(batch: Omit<BatchMessage, 'id'>): Promise<Answers> {
    let to = -1;
    for (let i = 0; i < this.workers.length; i++) if (!this.dead[i] && (to < 0 || this.inFlight[i] < this.inFlight[to])) to = i;
    // No worker left: "unknown" for every pair, and the safe path answers them.
    if (to < 0) return Promise.resolve(unknown(batch.paths.length));
    const id = ++this.seq;
    this.inFlight[to]++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, size: batch.paths.length, worker: to });
      this.workers[to].postMessage({ id, ...batch });
    });
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }

  private settle(id: number, answers: Answers): void {
    const job = this.waiting.get(id);
    if (!job) return;
    this.waiting.delete(id);
    this.inFlight[job.worker]--;
    job.resolve(answers);
  }
}

/** Pairs queued for one batch, as parallel arrays; `pairs`: each pair's index (ContentBatches.add). */
class Queue {
  dirs: string[] = [];
  private dirIndex = new Map<string, number>();
  ia: number[] = [];
  ib: number[] = [];
  paths: string[] = [];
  pairs: number[] = [];

  get length(): number {
    return this.paths.length;
  }

  push(dirA: string, dirB: string, path: string, pair: number): void {
    this.ia.push(this.dirOf(dirA));
    this.ib.push(this.dirOf(dirB));
    this.paths.push(path);
    this.pairs.push(pair);
  }

  /** The batch queued and its pairs' indices, and an empty queue. */
  take(): { batch: Omit<BatchMessage, 'id'>; pairs: number[] } {
    const out = { batch: { dirs: this.dirs, ia: this.ia, ib: this.ib, paths: this.paths }, pairs: this.pairs };
    this.dirs = [];
    this.dirIndex = new Map();
    this.ia = [];
    this.ib = [];
    this.paths = [];
    this.pairs = [];
    return out;
  }

  private dirOf(dir: string): number {
    let i = this.dirIndex.get(dir);
    if (i === undefined) {
      i = this.dirs.length;
      this.dirs.push(dir);
      this.dirIndex.set(dir, i);
    }
    return i;
  }
}

/** The quick answers for one comparison: `add` pairs (each gets an index), `finish`, then `answer(index)` and `side(index, …)`. */
export class ContentBatches {
  /** Per pair: its answer (UNKNOWN until answered), and both sides' stats (NaN until known). */
  private answers = new Int8Array(BATCH).fill(UNKNOWN);
  private stats = new Float64Array(BATCH * PAIR_STATS).fill(NaN);
  private pairCount = 0;
  private readonly running: Promise<void>[] = [];
  private readonly queue = new Queue();
  private pool: WorkerPool | undefined;
  /** Whether the quick path works here (Linux, /proc): else every pair takes the safe path. */
  readonly enabled = quickPathAvailable(fs);
  private readonly workers: number;
  private readonly poolMin: number;

  /**
   * `workers`: at most this many threads (default: the cores, up to 4; 0: every
   * batch on this thread); `poolMin`: queued pairs that make the workers worth
   * starting (tests lower it).
   */
  constructor(
    private readonly signal?: AbortSignal,
    options: { workers?: number; poolMin?: number } = {},
  ) {
    this.workers = options.workers ?? Math.min(4, cores());
    this.poolMin = options.poolMin ?? POOL_MIN;
  }

  /** Queues the regular files `path` of layer folders `dirA` and `dirB` (as the walks saw them); returns the pair's index for `answer` and `side`. */
  add(dirA: string, dirB: string, path: string): number {
    const pair = this.pairCount++;
    if (pair >= this.answers.length) {
      const answers = new Int8Array(this.answers.length * 2).fill(UNKNOWN);
      answers.set(this.answers);
      this.answers = answers;
      const stats = new Float64Array(this.stats.length * 2).fill(NaN);
      stats.set(this.stats);
      this.stats = stats;
    }
    this.queue.push(dirA, dirB, path, pair);
    if (this.queue.length >= BATCH && this.readyToStart()) this.flush();
    return pair;
  }

  /** Answers every queued pair (on the workers, or here); throws `cancelled` when the signal fires. */
  async finish(): Promise<void> {
    if (this.queue.length) {
      if (this.readyToStart()) this.flush();
      else await this.answerHere();
    }
    try {
      await untilAborted(Promise.all(this.running), this.signal);
    } finally {
      this.close();
    }
  }

  /** The quick answer for pair `index`: SAME, DIFFERS (the bytes or the sizes) or UNKNOWN (take the safe path). */
  answer(index: number): Quick {
    return this.answers[index] as Quick;
  }

  /** Side `a` or `b` of pair `index` as its fstat() saw it, or undefined when not known (take an lstat). */
  side(index: number, which: 'a' | 'b'): { size: number; mode: number; uid: number; gid: number; mtimeMs: number } | undefined {
    const at = index * PAIR_STATS + (which === 'a' ? 0 : STAT_FIELDS);
    const st = this.stats;
    if (Number.isNaN(st[at])) return undefined;
    return { size: st[at], mode: st[at + 1], uid: st[at + 2], gid: st[at + 3], mtimeMs: st[at + 4] };
  }

  /** Stops the workers (a cancelled or failed comparison). */
  close(): void {
    this.pool?.close();
    this.pool = undefined;
  }

  /** Whether the workers run, started now when the pairs queued make them worth it. */
  private readyToStart(): boolean {
    if (!this.pool && this.pairCount >= this.poolMin) this.startPool();
    return this.pool !== undefined;
  }

  private startPool(): void {
    if (this.workers >= 1) this.pool = WorkerPool.start(this.workers);
  }

  /** Sends the queued pairs to the pool as one batch. */
  private flush(): void {
    const { batch, pairs } = this.queue.take();
    this.running.push(
      this.pool!.run(batch).then(({ out, stats }) => {
        for (let i = 0; i < pairs.length; i++) {
          this.answers[pairs[i]] = out[i];
          this.stats.set(stats.subarray(i * PAIR_STATS, (i + 1) * PAIR_STATS), pairs[i] * PAIR_STATS);
        }
      }),
    );
  }

  /** Answers the queued pairs on this thread, a slice at a time. */
  private async answerHere(): Promise<void> {
    const { batch: b, pairs } = this.queue.take();
    const quick = makeQuickComparer(fs, QUICK_MAX);
    const pacer = new Pacer(this.signal, 8);
    try {
      for (let i = 0; i < b.paths.length; i++) {
        if (pacer.due()) await pacer.pause();
        this.answers[pairs[i]] = quick.compare(b.dirs[b.ia[i]], b.dirs[b.ib[i]], b.paths[i], this.stats, pairs[i] * PAIR_STATS);
      }
    } finally {
      quick.close();
    }
    throwIfAborted(this.signal);
  }
}
