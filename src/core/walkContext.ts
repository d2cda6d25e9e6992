/**
 * Shared plumbing of one layer walk: cancellation, problem reporting, and the
 * few read-only fs calls a walk makes. Nothing here follows a symlink: entries
 * are read with lstat / readlink, and folders are listed only after lstat or
 * readdir said they are real directories.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
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

  constructor(private readonly options: WalkOptions) {
    const outer = options.signal;
    const onAbort = (): void => this.internal.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    this.unlink = () => outer?.removeEventListener('abort', onAbort);
  }

  /** Throws LayerError('cancelled') once the caller's signal has fired. */
  check(): void {
    throwIfAborted(this.options.signal);
  }

  report(problem: WalkProblem): void {
    this.options.onProblem?.(problem);
  }

  reportFsError(err: unknown, imagePath: string, diskPath: string, what: string): void {
    const e = fromFsError(err, diskPath, what);
    this.report({ path: imagePath, diskPath, message: e.message, code: e.code });
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
  lstat(diskPath: string, imagePath: string): fs.Stats | undefined {
    try {
      return fs.lstatSync(diskPath);
    } catch (err) {
      this.reportFsError(err, imagePath, diskPath, 'lstat');
      return undefined;
    }
  }

  readlink(diskPath: string, imagePath: string): string | undefined {
    try {
      return fs.readlinkSync(diskPath);
    } catch (err) {
      this.reportFsError(err, imagePath, diskPath, 'read the link');
      return undefined;
    }
  }

  /**
   * A folder's entries sorted by name; undefined (problem reported) when it
   * cannot be listed, or a thrown LayerError when `strict` (the layer's own root).
   */
  async list(diskPath: string, imagePath: string, strict = false): Promise<fs.Dirent[] | undefined> {
    try {
      const dirents = await fs.promises.readdir(diskPath, { withFileTypes: true });
      return dirents.sort((a, b) => compareNames(a.name, b.name));
    } catch (err) {
      if (strict) throw fromFsError(err, diskPath, 'list');
      this.reportFsError(err, imagePath, diskPath, 'list');
      return undefined;
    }
  }

  dispose(): void {
    this.unlink();
    this.internal.abort();
  }
}

/** `dir` + one name from readdir (never contains a separator, so it cannot escape `dir`). */
export function diskChild(dir: string, name: string): string {
  return dir + path.sep + name;
}

/** lstat of a walk's starting folder: must exist and be a real directory (not a symlink). */
export async function requireDir(dir: string, what: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(dir);
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
