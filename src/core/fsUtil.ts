/**
 * Small read-only file helpers shared by the readers. Nothing here writes.
 * Ids from JSON become paths only through `childPath`, which validates them.
 */
import { closeSync, lstatSync, openSync, promises as fsp, readFileSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { LayerError, fromFsError } from './errors';
import { DIGEST, HEX64 } from './model';

/** Reads a UTF-8 file; maps fs errors to LayerError. */
export async function readText(file: string): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw fromFsError(err, file);
  }
}

/** Reads a small text file, trimmed; undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fromFsError(err, file);
  }
}

/**
 * Synchronous twins of readText / readOptional, for loaders that read thousands
 * of tiny files (layerdb's `size`, `cache-id`…): one promise and one thread-pool
 * round trip per file costs far more than the read itself. Callers read in
 * slices and yield between them (see Pacer in concurrency.ts) so the event loop
 * is never blocked for long.
 */
export function readTextSync(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw fromFsError(err, file);
  }
}

/** Reads a whole file's bytes synchronously; maps fs errors to LayerError. */
export function readBytesSync(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw fromFsError(err, file);
  }
}

/** The buffer readBytesShared reads into: reused, so thousands of small files allocate nothing. */
const sharedBuf = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * A whole file's bytes, synchronously, as a view of a buffer the next call
 * reuses: use it before calling again. One read for a file under 64 KB (a
 * short read is the end of a regular file); a bigger one is read whole into a
 * buffer of its own. Maps fs errors to LayerError.
 */
export function readBytesShared(file: string): Buffer {
  const length = readOnceInto(file, sharedBuf, false)!;
  return length < sharedBuf.length ? sharedBuf.subarray(0, length) : readBytesSync(file);
}

/**
 * open + one read into `buf` + close; the byte count read. A missing file is
 * undefined when `missingOk`, otherwise a LayerError like every other failure.
 */
function readOnceInto(file: string, buf: Buffer, missingOk: boolean): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (missingOk && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw fromFsError(err, file);
  }
  try {
    return readSync(fd, buf, 0, buf.length, null);
  } catch (err) {
    throw fromFsError(err, file);
  } finally {
    closeSync(fd);
  }
}

/** One buffer for every small synchronous read (they cannot overlap: they are synchronous). */
const smallBuf = Buffer.allocUnsafe(4096);

/**
 * Reads a small text file synchronously, trimmed; undefined when it does not exist.
 * open + read + close into a shared buffer: no fstat, no allocation but the string.
 * One read: a read that returns less than asked is the end of a regular file, so
 * none is spent to see 0 bytes; a file that fills the buffer is read again whole.
 */
export function readOptionalSync(file: string): string | undefined {
  const length = readOnceInto(file, smallBuf, true);
  if (length === undefined) return undefined;
  return length < smallBuf.length ? smallBuf.toString('utf8', 0, length).trim() : readTextSync(file).trim();
}

/** Parses JSON text, naming the file in the error when it is corrupt or truncated. */
export function parseJson<T = unknown>(text: string, file: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    const what = text.trim().length === 0 ? 'is empty' : `is not valid JSON (${(err as Error).message})`;
    throw new LayerError('corrupt', `${file} ${what}`, file, err);
  }
}

export async function readJson<T = unknown>(file: string): Promise<{ text: string; value: T }> {
  const text = await readText(file);
  return { text, value: parseJson<T>(text, file) };
}

/** Directory names in `dir`; [] when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw fromFsError(err, dir, 'list');
  }
}

export async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** True when `p` exists (not following a final symlink). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** exists(), synchronously: true when `p` exists (not following a final symlink). */
export function existsNoFollowSync(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Joins one id (from JSON or a file name) under `dir`, refusing anything that
 * could escape it: separators, `..`, NUL, or the empty string.
 */
export function childPath(dir: string, name: string): string {
  if (!isSafeName(name)) {
    throw new LayerError('invalid-id', `refusing to use ${JSON.stringify(name)} as a path name under ${dir}`, dir);
  }
  return path.join(dir, name);
}

export function isSafeName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/** `sha256:<hex>` → `<hex>`; throws invalid-id unless it is a sha256 digest. */
export function digestHex(digest: string, what = 'digest'): string {
  if (!DIGEST.test(digest)) {
    throw new LayerError('invalid-id', `${what} ${JSON.stringify(digest.slice(0, 100))} is not a sha256 digest`);
  }
  return digest.slice(7);
}

export function isHex64(s: string): boolean {
  return HEX64.test(s);
}
