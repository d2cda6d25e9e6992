/**
 * Shared plumbing of one layer walk: cancellation, problem reporting, and the
 * few read-only fs calls a walk makes. Nothing here follows a symlink: entries
 * are read with lstat / readlink, and folders are listed only after lstat or
 * readdir said they are real directories. Paths are mapped strings (byteNames.ts):
 * names that are not valid UTF-8 are listed, and every fs call here takes
 * `diskPath()` of its path, so such a name is read by its own bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { diskPath, displayName } from './byteNames';
import { readdirMapped, readdirMappedSync, readlinkMappedSync } from './byteNamesFs';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import type { WalkOptions, WalkProblem } from './layerEntry';
import { compareNames } from './layerEntry';

/** Give the event loop a turn after this much synchronous work (ms). */
const SLICE_MS = 8;

export class WalkContext {
  /** Aborted when the caller's signal fires or the walk ends (kills helper processes). */
  readonly internal = new AbortController();
  private ops = 0;
  private sliceStart = performance.now();
  private readonly unlink: () => void;
  /** WalkOptions.stat: lstat every entry (default), or only where the walk needs it. */
  readonly statAll: boolean;
  /** WalkOptions.stat `'not-files'`: lstat every entry the listing does not say is a regular file. */
  readonly statNonFiles: boolean;
  /** The caller's signal fired (a field: check() runs once per entry, AbortSignal's getter costs ~20 ns). */
  private aborted: boolean;

  constructor(
    private readonly options: WalkOptions,
    /** The layer's own folder: when it is gone, the walk ends with one error instead of a problem per entry. */
    private readonly layerDir?: string,
  ) {
    this.statAll = options.stat === undefined || options.stat === true;
    this.statNonFiles = options.stat === 'not-files';
    const outer = options.signal;
    this.aborted = outer?.aborted ?? false;
    const onAbort = (): void => {
      this.aborted = true;
      this.internal.abort();
    };
    outer?.addEventListener('abort', onAbort, { once: true });
    this.unlink = () => outer?.removeEventListener('abort', onAbort);
  }

  /** Throws LayerError('cancelled') once the caller's signal has fired. */
  check(): void {
    if (this.aborted) throwIfAborted(this.options.signal);
  }

  report(problem: WalkProblem): void {
    this.options.onProblem?.(problem);
  }

  reportFsError(err: unknown, imagePath: string, disk: string, what: string): void {
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT' && this.layerDir !== undefined && layerDirGone(this.layerDir)) {
      throw new LayerError('not-found', `the layer folder ${displayName(this.layerDir)} does not exist any more: it was removed while it was read`, this.layerDir, err);
    }
    const e = fromFsError(err, displayName(disk), what);
    this.report({ path: imagePath, diskPath: disk, message: e.message, code: e.code });
  }

  /**
   * Returns a promise (to await) when synchronous work has held the event loop
   * for a while, else undefined, so the hot loop pays nothing most of the time.
   */
  breathe(): Promise<void> | undefined {
    if ((++this.ops & 63) !== 0) return undefined;
    if (performance.now() - this.sliceStart < SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.sliceStart = performance.now();
      this.check();
    });
  }

  /**
   * lstat, or undefined (problem reported) when the entry cannot be read.
   * Synchronous on purpose: for a ~3 µs syscall, fs.promises.lstat's promise and
   * thread-pool round trip made the walk 2-3x slower (measured, batched or not);
   * breathe() bounds how long the event loop is held.
   */
  lstat(disk: string, imagePath: string): fs.Stats | undefined {
    try {
      const st = fs.lstatSync(diskPath(disk));
      if (!keptStats) {
        // Node's Stats class too (see keepShapes).
        keptStats = true;
        keepShapes(st);
      }
      return st;
    } catch (err) {
      this.reportFsError(err, imagePath, disk, 'lstat');
      return undefined;
    }
  }

  readlink(disk: string, imagePath: string): string | undefined {
    try {
      return readlinkMappedSync(disk);
    } catch (err) {
      this.reportFsError(err, imagePath, disk, 'read the link');
      return undefined;
    }
  }

  /**
   * A folder's entries sorted by name; undefined (problem reported) when it
   * cannot be listed, or a thrown LayerError when `strict` (the layer's own root).
   */
  async list(disk: string, imagePath: string, strict = false): Promise<fs.Dirent[] | undefined> {
    try {
      const dirents = await readdirMapped(disk);
      return dirents.sort((a, b) => compareNames(a.name, b.name));
    } catch (err) {
      if (strict) throw fromFsError(err, displayName(disk), 'list');
      this.reportFsError(err, imagePath, disk, 'list');
      return undefined;
    }
  }

  /**
   * listSync: the same, read on this thread. The walk's own folders are read so:
   * a readdir handed to the thread pool costs ~50 µs of wake-ups on a busy
   * machine, as much as reading a 100-name folder (measured).
   */
  listSync(disk: string, imagePath: string, strict = false): fs.Dirent[] | undefined {
    try {
      const dirents = readdirMappedSync(disk);
      if (!keptDirent && dirents.length > 0) {
        // Node's Dirent class too (see keepShapes).
        keptDirent = true;
        keepShapes(dirents[0]);
      }
      return dirents.sort((a, b) => compareNames(a.name, b.name));
    } catch (err) {
      if (strict) throw fromFsError(err, displayName(disk), 'list');
      this.reportFsError(err, imagePath, disk, 'list');
      return undefined;
    }
  }

  /**
   * Whether the entries of a listed folder can be lstat()ed (search permission
   * on it). A `stat: false` walk asks once per folder: where the answer is no,
   * it lstats each entry as a `stat: true` walk does, so that both report the
   * same problems (a folder with r but not x lists, but its entries cannot be read).
   */
  searchable(disk: string): boolean {
    if (canSearchAnyDir()) return true;
    try {
      fs.accessSync(diskPath(disk), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }

  dispose(): void {
    this.unlink();
    this.internal.abort();
  }
}

let searchCache: boolean | undefined;

/**
 * CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH (root, usually): every folder can be
 * searched, so a `stat: false` walk need not ask per folder.
 */
export function canSearchAnyDir(): boolean {
  if (searchCache !== undefined) return searchCache;
  let result = false;
  try {
    const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    result = m ? (BigInt(`0x${m[1]}`) & 0b110n) !== 0n : false;
  } catch {
    result = false;
  }
  searchCache = result;
  return result;
}

/**
 * Objects kept for the life of the process, one of each kind a walk makes (see
 * keepShapes). Small: no listing, no caller's object.
 */
const kept: object[] = [];

/**
 * V8 ties a function's optimized code to the hidden classes it saw. A class's
 * hidden classes (past the first field) die with its last instance in a full
 * GC, and with them that code (deopt "weak objects"): every walk after a major
 * GC would run cold, ~2x slower on a 100,000-entry layer (measured, and what a
 * bench that calls gc() between walks sees). Keeping one instance of each kind
 * alive keeps the classes, and the code, alive. Called once per kind.
 */
export function keepShapes(...objects: object[]): void {
  kept.push(...objects);
}

let keptDirent = false;
let keptStats = false;

/** `dir` + one (mapped) name from readdir (never contains a separator, so it cannot escape `dir`); fs calls take its diskPath(). */
export function diskChild(dir: string, name: string): string {
  return dir + path.sep + name;
}

/** lstat of a walk's starting folder: must exist and be a real directory (not a symlink). */
export async function requireDir(dir: string, what: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(diskPath(dir));
  } catch (err) {
    throw fromFsError(err, dir, `read ${what}`);
  }
  if (!st.isDirectory()) {
    const kind = st.isSymbolicLink() ? 'a symlink (not followed; pass the folder it resolves to)' : 'not a directory';
    throw new LayerError('not-found', `${what} ${dir} is ${kind}`, dir);
  }
}

/** Swallows a rejection so a prefetch that is never awaited cannot crash the process. */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** A promise a walk's step generator waits on (`yield new Wait(p)`); Stepper sends back its value, or throws its error in. */
export class Wait {
  constructor(readonly promise: Promise<unknown>) {}
}

/**
 * An AsyncGenerator driven by a synchronous generator that yields entries, and
 * Waits where it must await. An entry costs one resolved promise instead of an
 * async generator's three promise turns (~0.2 µs each: a fifth of a `stat: false`
 * walk). Calls made while a wait is pending are queued, as an async generator's.
 */
export class Stepper<T> implements AsyncGenerator<T, void, undefined> {
  /** A wait is pending: calls queue until the step that waits is done. */
  private busy = false;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly steps: Generator<T | Wait, void, unknown>) {}

  next(): Promise<IteratorResult<T, void>> {
    if (!this.busy && this.queue.length === 0) return this.run(undefined, false);
    return this.call(() => this.run(undefined, false));
  }

  return(): Promise<IteratorResult<T, void>> {
    return this.call(() => {
      try {
        this.steps.return();
      } catch (err) {
        return this.settle(Promise.reject(err));
      }
      return this.settle(Promise.resolve(DONE));
    });
  }

  throw(err: unknown): Promise<IteratorResult<T, void>> {
    return this.call(() => this.run(err, true));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private call(op: () => Promise<IteratorResult<T, void>>): Promise<IteratorResult<T, void>> {
    if (!this.busy && this.queue.length === 0) return op();
    return new Promise((resolve, reject) => this.queue.push(() => void op().then(resolve, reject)));
  }

  private run(input: unknown, isError: boolean): Promise<IteratorResult<T, void>> {
    let r: IteratorResult<T | Wait, void>;
    try {
      r = isError ? this.steps.throw(input) : this.steps.next(input);
    } catch (err) {
      return this.settle(Promise.reject(err));
    }
    if (r.done) return this.settle(Promise.resolve(DONE));
    const v = r.value;
    if (!(v instanceof Wait)) {
      if (this.busy) this.settle(undefined);
      // The generator's own { value, done: false }: no second object per entry.
      return Promise.resolve(r as IteratorYieldResult<T>);
    }
    this.busy = true;
    return v.promise.then(
      (x) => this.run(x, false),
      (e: unknown) => this.run(e, true),
    );
  }

  /** The step is done: queued calls may run. */
  private settle<R>(result: R): R {
    this.busy = false;
    while (!this.busy && this.queue.length > 0) this.queue.shift()!();
    return result;
  }
}

const DONE: IteratorReturnResult<void> = { done: true, value: undefined };

/** Whether a layer's folder no longer exists (any other error: it may, so the walk goes on). */
function layerDirGone(dir: string): boolean {
  try {
    return fs.lstatSync(diskPath(dir), { throwIfNoEntry: false }) === undefined;
  } catch {
    return false;
  }
}
