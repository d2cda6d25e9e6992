/**
 * The sample root that ships in the extension (`media/sample-root.tar.gz`,
 * made by `test/fixtures/makeSample.sh`: a real dockerd's vfs data root with a
 * few tiny images and a container). "Open Sample Root" extracts it once, as
 * the user running VS Code, into the extension's own storage folder and opens
 * the data root inside it. Pure Node (no `vscode`), so unit tests run it.
 *
 * The archive is treated as untrusted input all the same: nothing is written
 * outside the target folder. An entry whose normalized path is absolute or
 * climbs out (`..`), that would be written under a symlink (or a file) the
 * archive made earlier, that names a path a second time, or a hard link to
 * anything but a regular file extracted before it, fails the extraction (the
 * half-made folder is removed). Symlinks are made as symlinks and never
 * followed. Devices and FIFOs are skipped with a note: a normal user cannot
 * make them, and reading images does not need them. Owners are not applied;
 * permissions are kept without setuid/setgid/sticky bits and group/other write
 * (files: `mode & 0o755`, always owner-readable; folders: `mode & 0o755`,
 * always owner rwx so the folder can be filled and removed). Modification
 * times are kept, sub-second ones included (vfs layers are compared by mtime).
 */
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';

/** The data root's folder inside the archive (and inside the extracted folder). */
export const SAMPLE_DATA_ROOT = 'root';
/** Written last into the extracted folder, before it gets its final name. */
export const SAMPLE_MARKER = '.sample-root-complete';

/** The most the sample may expand to: it is about 100 KB; anything near this is not our archive. */
const MAX_BYTES = 256 * 1024 * 1024;
const MAX_ENTRIES = 200_000;

export interface SampleRootOptions {
  /** Entries skipped (devices, FIFOs, unknown types); default: ignored. */
  onNote?: (message: string) => void;
}

/** Extractions under way in this process, by target folder (two clicks share one). */
const pending = new Map<string, Promise<string>>();

/**
 * Extracts `archive` (a .tar.gz) once into
 * `<storageDir>/sample-root-<first 12 hex of its sha256>/` and returns the
 * data root inside it (`.../root`). When that folder is already complete it
 * is returned as is. The archive is extracted into a temporary sibling that
 * is renamed into place only when complete, so a half-extracted folder is
 * never used (not even after a crash or by a second window at the same time).
 */
export async function ensureSampleRoot(archive: string, storageDir: string, options: SampleRootOptions = {}): Promise<string> {
  const hash = (await sha256File(archive)).slice(0, 12);
  const finalDir = path.join(path.resolve(storageDir), `sample-root-${hash}`);
  let job = pending.get(finalDir);
  if (!job) {
    job = extractOnce(archive, finalDir, hash, options).finally(() => pending.delete(finalDir));
    pending.set(finalDir, job);
  }
  return job;
}

async function extractOnce(archive: string, finalDir: string, hash: string, options: SampleRootOptions): Promise<string> {
  const dataRoot = path.join(finalDir, SAMPLE_DATA_ROOT);
  if (await isComplete(finalDir)) return dataRoot;
  const storageDir = path.dirname(finalDir);
  await fs.mkdir(storageDir, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(storageDir, `.sample-root-${hash}.tmp-`));
  try {
    await extractTarGz(archive, tmp, options);
    const st = await lstatOrUndefined(path.join(tmp, SAMPLE_DATA_ROOT));
    if (!st?.isDirectory()) throw new Error(`${archive} holds no ${SAMPLE_DATA_ROOT}/ folder: not a sample root archive`);
    await fs.writeFile(path.join(tmp, SAMPLE_MARKER), `sample root extracted from ${path.basename(archive)} (sha256 ${hash}…)\n`, {
      flag: 'wx',
      mode: 0o644,
    });
    try {
      await fs.rename(tmp, finalDir);
    } catch (err) {
      // Another window finished first: use its folder. A folder without the
      // marker under our name is not ours to trust: replace it.
      if (await isComplete(finalDir)) {
        await removeTree(tmp);
        return dataRoot;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM' && code !== 'EISDIR') throw err;
      await removeTree(finalDir);
      await fs.rename(tmp, finalDir);
    }
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
  return dataRoot;
}

async function isComplete(dir: string): Promise<boolean> {
  const [marker, root] = await Promise.all([
    lstatOrUndefined(path.join(dir, SAMPLE_MARKER)),
    lstatOrUndefined(path.join(dir, SAMPLE_DATA_ROOT)),
  ]);
  return !!marker?.isFile() && !!root?.isDirectory();
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch {
    return undefined;
  }
}

async function removeTree(dir: string): Promise<void> {
  // fs.rm never follows symlinks; every folder we made is owner-writable.
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
}

/**
 * Extracts a .tar.gz into `dest` (an existing, empty folder) with the rules in
 * the file comment. Throws on the first unsafe entry; `dest` then holds a
 * partial tree for the caller to remove.
 */
export async function extractTarGz(archive: string, dest: string, options: SampleRootOptions = {}): Promise<void> {
  const x = new Extractor(path.resolve(dest), options.onNote ?? (() => undefined));
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) await x.add(entry);
  })();
  const [piped, consumed] = await Promise.allSettled([pipeline(createReadStream(archive), createGunzip(), extract), consume]);
  // The entry loop's own error says more than the "premature close" it causes.
  if (consumed.status === 'rejected') throw consumed.reason;
  if (piped.status === 'rejected') throw piped.reason;
  await x.finish();
}

type Kind = 'dir' | 'file' | 'symlink' | 'other';
/** One archive entry as tar-stream's extractor yields it (a readable with its header). */
type Entry = tar.Extract extends AsyncIterable<infer S> ? S : never;

interface DirMeta {
  abs: string;
  mode: number;
  mtime?: number;
}

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const WRITE_NEW = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW;

class Extractor {
  /** What this extraction made at each relative path (implicit parent folders included). */
  private readonly made = new Map<string, Kind>();
  /** Folders, to get their modes and mtimes once everything inside them is written. */
  private readonly dirs = new Map<string, DirMeta>();
  private bytes = 0;
  private entries = 0;

  constructor(
    private readonly dest: string,
    private readonly note: (message: string) => void,
  ) {}

  async add(entry: Entry): Promise<void> {
    const h = entry.header;
    if (++this.entries > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} entries: not a sample root archive`);
    const rel = safeRelative(h.name, 'entry');
    if (rel === '') {
      // "./" itself: the target folder, which exists.
      await drain(entry);
      return;
    }
    const type = h.type ?? 'file';
    if (type === 'character-device' || type === 'block-device' || type === 'fifo') {
      this.note(`skipped ${type} ${rel}: not needed to read images, and only root can make it`);
      await drain(entry);
      return;
    }
    if (type !== 'directory' && type !== 'file' && type !== 'contiguous-file' && type !== 'symlink' && type !== 'link') {
      this.note(`skipped ${rel}: entry type ${type} is not extracted`);
      await drain(entry);
      return;
    }
    const abs = await this.prepare(rel, type === 'directory');
    const mtime = mtimeOf(h);
    const mode = (h.mode ?? 0o644) & 0o7777;

    if (type === 'directory') {
      await drain(entry);
      if (this.made.get(rel) !== 'dir') {
        await fs.mkdir(abs, { mode: 0o700 });
        this.made.set(rel, 'dir');
      }
      this.dirs.set(rel, { abs, mode: (mode & 0o755) | 0o700, mtime });
      return;
    }
    if (type === 'symlink') {
      await drain(entry);
      const target = h.linkname ?? '';
      if (!target || target.includes('\0')) throw new Error(`symlink ${rel} has no usable target`);
      await fs.symlink(target, abs);
      this.made.set(rel, 'symlink');
      if (mtime !== undefined) await fs.lutimes(abs, mtime, mtime).catch(() => undefined);
      return;
    }
    if (type === 'link') {
      await drain(entry);
      const target = safeRelative(h.linkname ?? '', `hard link ${rel} target`);
      if (this.made.get(target) !== 'file') {
        throw new Error(`hard link ${rel} -> ${h.linkname}: the target is not a file extracted before it`);
      }
      await fs.link(path.join(this.dest, ...target.split('/')), abs);
      this.made.set(rel, 'file');
      return;
    }
    // A regular file: created new (never through an existing path or symlink).
    const size = h.size ?? 0;
    this.bytes += size;
    if (this.bytes > MAX_BYTES) throw new Error(`the archive expands to more than ${MAX_BYTES} bytes: not a sample root archive`);
    this.made.set(rel, 'file');
    const fh = await fs.open(abs, WRITE_NEW, 0o600);
    try {
      let written = 0;
      for await (const chunk of entry) {
        const buf = chunk as Buffer;
        written += buf.length;
        if (written > size) throw new Error(`file ${rel} holds more bytes than its header says`);
        await fh.write(buf);
      }
      await fh.chmod((mode & 0o755) | 0o400);
      if (mtime !== undefined) await fh.utimes(mtime, mtime);
    } finally {
      await fh.close();
    }
  }

  /**
   * Checks `rel` (new, not under anything but folders this extraction made)
   * and makes its missing parent folders; returns its absolute path.
   */
  private async prepare(rel: string, isDir: boolean): Promise<string> {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      const kind = this.made.get(cur);
      if (kind === 'dir') continue;
      if (kind !== undefined) throw new Error(`entry ${rel} would be written under ${cur}, which the archive made as a ${kind}`);
      const abs = path.join(this.dest, ...cur.split('/'));
      const st = await lstatOrUndefined(abs);
      if (st) throw new Error(`entry ${rel} would be written under ${cur}, which is not a folder this archive made`);
      await fs.mkdir(abs, { mode: 0o700 });
      this.made.set(cur, 'dir');
    }
    const known = this.made.get(rel);
    if (known !== undefined && !(isDir && known === 'dir')) throw new Error(`entry ${rel} appears twice in the archive`);
    const abs = path.join(this.dest, ...parts);
    const back = path.relative(this.dest, abs);
    if (!back || back.startsWith('..') || path.isAbsolute(back)) throw new Error(`entry ${rel} resolves outside the target folder`);
    return abs;
  }

  /** Folder modes and mtimes, deepest first (writing inside a folder changes its mtime). */
  async finish(): Promise<void> {
    const list = [...this.dirs.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [, d] of list) {
      await fs.chmod(d.abs, d.mode);
      if (d.mtime !== undefined) await fs.utimes(d.abs, d.mtime, d.mtime);
    }
  }
}

/**
 * The normalized relative path of an archive name ('' for the archive's own
 * top, `./`); throws when it is absolute or climbs out with `..`.
 */
export function safeRelative(name: string, what: string): string {
  if (!name || name.includes('\0')) throw new Error(`${what} has an empty or NUL-holding name`);
  if (name.includes('\\')) throw new Error(`${what} ${JSON.stringify(name)} holds a backslash`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new Error(`${what} ${JSON.stringify(name)} is an absolute path`);
  let norm = path.posix.normalize(name);
  while (norm.endsWith('/')) norm = norm.slice(0, -1);
  if (norm === '.' || norm === '') return '';
  if (norm.startsWith('/')) throw new Error(`${what} ${JSON.stringify(name)} is an absolute path`);
  if (norm.split('/').some((p) => p === '..')) throw new Error(`${what} ${JSON.stringify(name)} climbs out of the target folder`);
  return norm;
}

/** Seconds (fractional when a pax header holds sub-second mtime), or undefined. */
function mtimeOf(h: tar.Header): number | undefined {
  const pax = h.pax as Record<string, string> | null | undefined;
  const fromPax = typeof pax?.mtime === 'string' ? Number(pax.mtime) : NaN;
  if (Number.isFinite(fromPax)) return fromPax;
  const t = h.mtime?.getTime();
  return t !== undefined && Number.isFinite(t) ? t / 1000 : undefined;
}

async function drain(entry: Entry): Promise<void> {
  for await (const chunk of entry) void chunk;
}
