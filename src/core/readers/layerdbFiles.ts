/**
 * layerdb's two small files per layer, `size` and `cache-id`, read for every
 * listed layer up front. They are most of a big root's load: thousands of
 * open/read/close calls. Read synchronously (a promise per file costs more than
 * the read), in chunks claimed from a shared counter by this thread and, for a
 * big layerdb on a machine with a second core, by one worker thread as well: the
 * worker reads while this thread parses the image configs, then both read what
 * is left. Without a worker (small roots, one core, or none could start) this
 * thread reads every chunk itself. The results are the same either way. Read-only.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pacer } from '../concurrency';
import { LayerError, fromFsError, untilAborted } from '../errors';
import { readOptionalSync } from '../fsUtil';

/** A file's trimmed text, undefined when it does not exist, or why it could not be read. */
export type SmallFile = string | undefined | LayerError;

/** Tunables; checks lower `workerMinLayers` to take the worker path on small roots. */
export const layerdbFilesOptions = {
  /** Below this many layers a worker costs more (about 25 ms to start) than it saves. */
  workerMinLayers: 2000,
  /** Layers per claimed chunk: a millisecond or two of reads. */
  chunk: 128,
};

/** What the worker is asked to read. */
interface WorkerJob {
  dir: string;
  sep: string;
  names: readonly string[];
  chunk: number;
  /** SharedArrayBuffer of one Int32: the next chunk to claim. */
  counter: SharedArrayBuffer;
}

/** What the worker sends back: the chunks it read and, per layer of those, in order, its size and cache-id. */
interface WorkerResult {
  chunks: number[];
  /** A file's trimmed text, null (no such file) or [code, message]. */
  files: (string | null | [string | undefined, string])[];
}

/**
 * The worker's code (plain JS for `new Worker(…, { eval: true })`): waits for
 * one WorkerJob, reads as readOptionalSync does (errors as [code, message]),
 * posts a WorkerResult and ends.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const buf = Buffer.allocUnsafe(4096);
function read(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : [err.code, err.message];
  }
  let length;
  try {
    length = fs.readSync(fd, buf, 0, buf.length, null);
  } catch (err) {
    return [err.code, err.message];
  } finally {
    fs.closeSync(fd);
  }
  if (length < buf.length) return buf.toString('utf8', 0, length).trim();
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    return [err.code, err.message];
  }
}
parentPort.once('message', ({ dir, sep, names, chunk, counter }) => {
  const claims = new Int32Array(counter);
  const total = Math.ceil(names.length / chunk);
  const chunks = [];
  const files = [];
  for (let c = Atomics.add(claims, 0, 1); c < total; c = Atomics.add(claims, 0, 1)) {
    chunks.push(c);
    for (let i = c * chunk; i < Math.min(names.length, (c + 1) * chunk); i++) {
      const layer = dir + sep + names[i] + sep;
      files.push(read(layer + 'size'), read(layer + 'cache-id'));
    }
  }
  parentPort.postMessage({ chunks, files });
});
`;

/** A worker started ahead of the job (it takes tens of milliseconds to boot), and its one answer. */
export class FilesWorker {
  private constructor(
    private readonly worker: Worker,
    /** The worker's result; undefined when it failed or ended without one. */
    readonly result: Promise<WorkerResult | undefined>,
  ) {}

  /** A worker when one can help here (a second core, shared memory) and can start; undefined otherwise. */
  static start(): FilesWorker | undefined {
    if (cores() < 2 || typeof SharedArrayBuffer !== 'function') return undefined;
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      const result = new Promise<WorkerResult | undefined>((resolve) => {
        worker.once('message', (m: WorkerResult) => resolve(m));
        worker.once('error', () => resolve(undefined));
        worker.once('exit', () => resolve(undefined));
      });
      return new FilesWorker(worker, result);
    } catch {
      return undefined;
    }
  }

  post(job: WorkerJob): void {
    this.worker.postMessage(job);
  }

  stop(): void {
    void this.worker.terminate();
  }
}

export class LayerdbFiles {
  private readonly index = new Map<string, number>();
  private readonly files: SmallFile[];
  /** The next chunk to claim; shared with the worker when there is one. */
  private readonly claims: Int32Array;
  private readonly total: number;
  /** Chunks this thread read. */
  private readonly mine = new Set<number>();
  /** Layers asked for with indexOf. */
  private readonly used: Uint8Array;
  private worker?: FilesWorker;

  /**
   * Reads `<layerdb>/<hex>/{size,cache-id}` for each of `hexes` (64-hex names
   * from layerdb's listing); `finish` completes it. For many layers a worker
   * (`early`, if one was started ahead, or a new one) starts reading at once;
   * otherwise `early` is stopped.
   */
  constructor(
    private readonly layerdb: string,
    private readonly hexes: readonly string[],
    early?: FilesWorker,
  ) {
    this.files = new Array<SmallFile>(hexes.length * 2);
    this.used = new Uint8Array(hexes.length);
    const { chunk, workerMinLayers } = layerdbFilesOptions;
    this.total = Math.ceil(hexes.length / chunk);
    const worker = hexes.length >= workerMinLayers ? (early ?? FilesWorker.start()) : undefined;
    if (early && early !== worker) early.stop();
    if (worker) {
      const counter = new SharedArrayBuffer(4);
      this.claims = new Int32Array(counter);
      this.worker = worker;
      worker.post({ dir: layerdb, sep: path.sep, names: hexes, chunk, counter });
    } else {
      this.claims = new Int32Array(1);
    }
  }

  /**
   * Reads the chunks nobody has claimed yet (pausing as `pace` says), takes
   * the worker's, and indexes the layers. Throws `cancelled` (and stops the
   * worker) when `signal` (the one behind `pace`) fires.
   */
  async finish(pace: Pacer, signal?: AbortSignal): Promise<void> {
    try {
      await this.readAll(pace, signal);
    } finally {
      this.dispose();
    }
    // Keyed by chain id, the very strings the reader looks layers up by (their hashes are computed once).
    for (let i = 0; i < this.hexes.length; i++) {
      this.index.set('sha256:' + this.hexes[i], i);
      if ((i & 1023) === 1023 && pace.due()) await pace.pause();
    }
  }

  private async readAll(pace: Pacer, signal: AbortSignal | undefined): Promise<void> {
    const { chunk } = layerdbFilesOptions;
    for (let c = Atomics.add(this.claims, 0, 1); c < this.total; c = Atomics.add(this.claims, 0, 1)) {
      this.mine.add(c);
      this.readChunk(c, chunk);
      if (pace.due()) await pace.pause();
    }
    // With no worker, or one that claimed nothing (it started late), all is read.
    if (!this.worker || this.mine.size === this.total) return;
    const result = await untilAborted(this.worker.result, signal);
    const got = new Set<number>();
    if (result) {
      let k = 0;
      for (const c of result.chunks) {
        got.add(c);
        for (let i = c * chunk; i < Math.min(this.hexes.length, (c + 1) * chunk); i++) {
          this.files[2 * i] = this.fromWorker(result.files[k++], i, 'size');
          this.files[2 * i + 1] = this.fromWorker(result.files[k++], i, 'cache-id');
        }
      }
    }
    // A worker that failed: read what it had claimed here.
    for (let c = 0; c < this.total; c++) {
      if (this.mine.has(c) || got.has(c)) continue;
      this.readChunk(c, chunk);
      if (pace.due()) await pace.pause();
    }
  }

  /** Stops the worker if it still runs (done, or a load that failed or was cancelled before `finish`). */
  dispose(): void {
    this.worker?.stop();
    this.worker = undefined;
  }

  /** After `finish`: the position of layer `chainId` (`sha256:<hex>`) for `size` / `cacheId` (marking it used), or -1 when it was not listed. */
  indexOf(chainId: string): number {
    const i = this.index.get(chainId);
    if (i === undefined) return -1;
    this.used[i] = 1;
    return i;
  }

  /** The listed layers never asked for with indexOf, in list order. */
  unused(): string[] {
    return this.hexes.filter((_, i) => this.used[i] === 0);
  }

  /** The `size` file of the layer at `i` (from indexOf), as read. */
  size(i: number): SmallFile {
    return this.files[2 * i];
  }

  /** The `cache-id` file of the layer at `i` (from indexOf), as read. */
  cacheId(i: number): SmallFile {
    return this.files[2 * i + 1];
  }

  private readChunk(c: number, chunk: number): void {
    for (let i = c * chunk; i < Math.min(this.hexes.length, (c + 1) * chunk); i++) {
      const layer = this.layerdb + path.sep + this.hexes[i] + path.sep;
      this.files[2 * i] = readOrError(layer + 'size');
      this.files[2 * i + 1] = readOrError(layer + 'cache-id');
    }
  }

  private fromWorker(f: WorkerResult['files'][number], i: number, name: string): SmallFile {
    if (f === null) return undefined;
    if (typeof f === 'string') return f;
    const err = Object.assign(new Error(f[1]), { code: f[0] });
    return fromFsError(err, this.layerdb + path.sep + this.hexes[i] + path.sep + name);
  }
}

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function readOrError(file: string): SmallFile {
  try {
    return readOptionalSync(file);
  } catch (err) {
    return err instanceof LayerError ? err : fromFsError(err, file);
  }
}

/** The text of a SmallFile, throwing the error it holds. */
export function smallFileText(f: SmallFile): string | undefined {
  if (f instanceof LayerError) throw f;
  return f;
}
