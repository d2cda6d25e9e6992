/**
 * Byte comparisons in batches, on worker threads when there are enough of them
 * to pay for the workers (tens of ms to start each).
 *
 * compare.ts queues every pair of same-size small regular files it must read
 * (`add`), some while it is still walking the last layer: its sides are final
 * by then, so those pairs are compared on the workers while this thread walks.
 * Each worker runs quickCompare.ts's very code over a batch and answers
 * same / differs / unknown per pair; `finish` waits for every answer. Without
 * workers (a few pairs, one core, no /proc) this thread answers the batches
 * itself, yielding to the event loop between slices. "Unknown" (and a worker
 * that fails) leaves the pair to the caller's safe path. Read-only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Pacer } from './concurrency';
import { throwIfAborted, untilAborted } from './errors';
import { QUICK_MAX, UNKNOWN, makeQuickComparer, quickPathAvailable, type Quick } from './quickCompare';

/** Pairs per batch: a few ms of work, few enough messages. */
const BATCH = 1024;
/** Below this many queued pairs the workers cost more than they save. */
const POOL_MIN = 4 * BATCH;

/** One batch as a worker gets it: layer folders by index, and per pair its two folders, path and size. */
interface BatchMessage {
  readonly id: number;
  readonly dirs: string[];
  readonly ia: number[];
  readonly ib: number[];
  readonly paths: string[];
  readonly sizes: number[];
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const make = ${makeQuickComparer.toString()};
const quick = make(require('node:fs'), workerData.quickMax);
parentPort.on('message', (b) => {
  const out = new Int8Array(b.paths.length);
  try {
    for (let i = 0; i < b.paths.length; i++) out[i] = quick.same(b.dirs[b.ia[i]], b.dirs[b.ib[i]], b.paths[i], b.sizes[i]);
  } finally {
    quick.close();
  }
  parentPort.postMessage({ id: b.id, out }, [out.buffer]);
});
`;

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Workers running WORKER_SOURCE; a batch goes to the one with the fewest in flight. */
class WorkerPool {
  private readonly waiting = new Map<number, { resolve: (out: Int8Array) => void; size: number; worker: number }>();
  private readonly inFlight: number[];
  /** Workers that failed or ended: never sent another batch (a message to an ended worker is silently lost). */
  private readonly dead: boolean[];
  private seq = 0;

  private constructor(private readonly workers: Worker[]) {
    this.inFlight = workers.map(() => 0);
    this.dead = workers.map(() => false);
    workers.forEach((w, i) => {
      w.on('message', (m: { id: number; out: Int8Array }) => this.settle(m.id, m.out));
      // A worker that fails answers "unknown" for what it held: the safe path takes those pairs.
      const fail = () => {
        this.dead[i] = true;
        for (const [id, job] of this.waiting) if (job.worker === i) this.settle(id, new Int8Array(job.size).fill(UNKNOWN));
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

  run(batch: Omit<BatchMessage, 'id'>): Promise<Int8Array> {
    let worker = -1;
    for (let i = 0; i < this.workers.length; i++) if (!this.dead[i] && (worker < 0 || this.inFlight[i] < this.inFlight[worker])) worker = i;
    // No worker left: "unknown" for every pair, and the safe path answers them.
    if (worker < 0) return Promise.resolve(new Int8Array(batch.paths.length).fill(UNKNOWN));
    const id = ++this.seq;
    this.inFlight[worker]++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, size: batch.paths.length, worker });
      this.workers[worker].postMessage({ id, ...batch });
    });
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }

  private settle(id: number, out: Int8Array): void {
    const job = this.waiting.get(id);
    if (!job) return;
    this.waiting.delete(id);
    this.inFlight[job.worker]--;
    job.resolve(out);
  }
}

/**
 * The quick answers for one comparison: `add` pairs, `finish`, then
 * `answer(key)`. A pair's key is any object of the caller's (compare.ts uses
 * its tree entry: an identity lookup, where a path would be hashed).
 */
export class ContentBatches<K extends object> {
  private readonly answers = new Map<K, Quick>();
  private readonly running: Promise<void>[] = [];
  private dirs: string[] = [];
  private dirIndex = new Map<string, number>();
  private ia: number[] = [];
  private ib: number[] = [];
  private paths: string[] = [];
  private sizes: number[] = [];
  private keys: K[] = [];
  private queued = 0;
  private pool: WorkerPool | undefined;
  private readonly enabled = quickPathAvailable(fs);
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

  /** Whether pairs of this size go through here (else straight to the safe path). */
  takes(size: number): boolean {
    return this.enabled && size <= QUICK_MAX;
  }

  /** Queues `path` of layer folders `dirA` and `dirB` (walked as regular files of `size` bytes, size ≤ QUICK_MAX) as `key`. */
  add(key: K, dirA: string, dirB: string, path: string, size: number): void {
    this.keys.push(key);
    this.ia.push(this.dirOf(dirA));
    this.ib.push(this.dirOf(dirB));
    this.paths.push(path);
    this.sizes.push(size);
    this.queued++;
    if (this.paths.length >= BATCH && (this.pool || (this.queued >= this.poolMin && this.startPool()))) this.flush();
  }

  /**
   * Starts the workers ahead of the pairs when about `expected` are coming
   * (they take tens of ms to boot: better while this thread still walks).
   */
  expect(expected: number): void {
    if (!this.pool && this.enabled && expected >= this.poolMin) this.startPool();
  }

  /** Answers every queued pair (on the workers, or here); throws `cancelled` when the signal fires. */
  async finish(): Promise<void> {
    if (this.paths.length) {
      if (this.pool || (this.queued >= this.poolMin && this.startPool())) this.flush();
      else await this.answerHere();
    }
    try {
      await untilAborted(Promise.all(this.running), this.signal);
    } finally {
      this.pool?.close();
      this.pool = undefined;
    }
  }

  /** The quick answer for `key` (UNKNOWN, or undefined when never queued: take the safe path). */
  answer(key: K): Quick | undefined {
    return this.answers.get(key);
  }

  /** Stops the workers (a cancelled or failed comparison). */
  close(): void {
    this.pool?.close();
    this.pool = undefined;
  }

  private startPool(): boolean {
    if (this.workers < 1) return false;
    this.pool = WorkerPool.start(this.workers);
    return this.pool !== undefined;
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

  /** Sends the queued pairs to the pool as one batch. */
  private flush(): void {
    const keys = this.keys;
    const batch = this.take();
    this.running.push(
      this.pool!.run(batch).then((out) => {
        keys.forEach((k, i) => this.answers.set(k, out[i] as Quick));
      }),
    );
  }

  /** Answers the queued pairs on this thread, a slice at a time. */
  private async answerHere(): Promise<void> {
    const keys = this.keys;
    const b = this.take();
    const quick = makeQuickComparer(fs, QUICK_MAX);
    const pacer = new Pacer(this.signal, 8);
    try {
      for (let i = 0; i < b.paths.length; i++) {
        if (pacer.due()) await pacer.pause();
        this.answers.set(keys[i], quick.same(b.dirs[b.ia[i]], b.dirs[b.ib[i]], b.paths[i], b.sizes[i]));
      }
    } finally {
      quick.close();
    }
    throwIfAborted(this.signal);
  }

  private take(): Omit<BatchMessage, 'id'> {
    const batch = { dirs: this.dirs, ia: this.ia, ib: this.ib, paths: this.paths, sizes: this.sizes };
    this.dirs = [];
    this.dirIndex = new Map();
    this.ia = [];
    this.ib = [];
    this.paths = [];
    this.sizes = [];
    this.keys = [];
    return batch;
  }
}
