/**
 * Overlay opaque directories are marked by the xattr `trusted.overlay.opaque="y"`
 * (`user.overlay.opaque` in a user namespace). Node has no xattr API, so this
 * asks `getfattr` (attr package), spawned without a shell, in batches:
 *
 * - first one call for the folders found, before the walk, to exist both in
 *   the layer and below (prime(); lowerUnion's overlapFolders, bounded);
 * - then one non-recursive call per folder of the walk, for the child folders whose
 *   answer matters (those that also exist in a lower layer) and were not primed;
 *   a call costs ~3 ms, 1-5 ms of it holding the main thread (the spawn);
 * - after RECURSIVE_AFTER such calls on the walked layer, one `getfattr -R` over
 *   the whole layer answers the rest (it costs about 4 µs per file, so it is
 *   not worth paying up front for a walk that rarely needs it).
 *
 * An answer is `true` (opaque), `false` (not opaque) or `undefined` (cannot be
 * known: getfattr missing, or no CAP_SYS_ADMIN to read trusted.* xattrs).
 *
 * Paths are mapped strings (byteNames.ts): names in getfattr's output are
 * decoded with decodeName, so they match the paths the walk asks about. A
 * command line takes strings only, so a folder whose name is not valid UTF-8 is
 * opened (O_DIRECTORY | O_NOFOLLOW) and named to getfattr by its descriptor,
 * `/proc/<pid>/fd/N`, which getfattr follows to that very folder.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeName, diskPath, hasMappedBytes } from './byteNames';
import type { ErrorCode } from './errors';

export type OpaqueAnswer = boolean | undefined;

/** What a getfattr batch found. */
interface Found {
  readonly opaque: Set<string>;
  readonly failed: boolean;
}

const PATTERN = '^(trusted|user)\\.overlay\\.opaque$';
export const RECURSIVE_AFTER = 32;
/** A folder named to getfattr by fd: opened as a folder, never through a symlink. */
const DIR_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);
/** Keeps each command line well under ARG_MAX. */
const MAX_BATCH_CHARS = 64 * 1024;

export type ProbeReport = (message: string, code: ErrorCode) => void;

export class OpaqueProbe {
  private missing = false;
  private warned = false;
  private calls = 0;
  private tree?: Promise<Set<string> | undefined>;
  /** Folders answered up front by prime(), and the opaque ones among them (undefined: getfattr failed). */
  private primed?: { readonly paths: Set<string>; readonly found: Promise<Found> };
  private readonly trusted = canReadTrustedXattrs();

  /**
   * @param layerRoot the walked layer's folder: the one `getfattr -R` may cover.
   * @param signal aborting it kills running getfattr processes.
   */
  constructor(
    private readonly layerRoot: string,
    private readonly signal: AbortSignal,
    private readonly report: ProbeReport,
  ) {}

  /**
   * Asks, in one getfattr run (a few for very long lists), about folders the
   * walk is likely to ask about later (see lowerUnion's overlapFolders): a walk
   * that meets them one folder at a time would otherwise run getfattr per
   * folder, and each spawn holds the main thread ~1-5 ms (fork of a big process).
   */
  prime(dirs: readonly string[]): void {
    if (dirs.length === 0 || this.missing || this.primed) return;
    this.primed = { paths: new Set(dirs), found: this.runAll([...dirs]) };
    this.primed.found.catch(() => undefined);
  }

  /** Answers for each folder (absolute disk paths, never followed if symlinks). */
  async ask(dirs: readonly string[]): Promise<Map<string, OpaqueAnswer>> {
    const answers = new Map<string, OpaqueAnswer>();
    if (dirs.length === 0) return answers;
    this.warnOnce();
    const inLayer: string[] = [];
    const batch: string[] = [];
    const primed: string[] = [];
    for (const d of dirs) {
      if (this.primed?.paths.has(d)) primed.push(d);
      else if (this.tree && isUnder(d, this.layerRoot)) inLayer.push(d);
      else batch.push(d);
    }
    if (primed.length > 0) {
      const found = await this.primed!.found;
      for (const d of primed) answers.set(d, this.answer(found, d));
    }
    if (batch.length > 0 && !this.missing) {
      if (batch.some((d) => isUnder(d, this.layerRoot)) && ++this.calls >= RECURSIVE_AFTER && !this.tree) {
        this.tree = this.run([this.layerRoot], true);
      }
      const found = await this.runAll(batch);
      for (const d of batch) answers.set(d, this.answer(found, d));
    } else {
      for (const d of batch) answers.set(d, undefined);
    }
    if (inLayer.length > 0) {
      const set = await this.tree;
      for (const d of inLayer) answers.set(d, set?.has(d) ? true : set ? this.absent() : undefined);
    }
    return answers;
  }

  /** getfattr over `paths`, in chunks: the opaque ones, and whether a run failed (then only those found are known). */
  private async runAll(paths: string[]): Promise<Found> {
    const opaque = new Set<string>();
    let failed = false;
    const named = paths.filter((p) => !hasMappedBytes(p));
    for (const chunk of chunks(named)) {
      const set = await this.run(chunk);
      if (set) for (const p of set) opaque.add(p);
      else failed = true;
    }
    if (named.length < paths.length) {
      const set = await this.runByFd(paths.filter((p) => hasMappedBytes(p)));
      if (set) for (const p of set) opaque.add(p);
      else failed = true;
    }
    return { opaque, failed };
  }

  /**
   * getfattr over folders whose names are not valid UTF-8, each named by an fd
   * of this process (see the module comment); the set of opaque ones (their
   * mapped paths), or undefined when one could not be opened or getfattr could not run.
   */
  private async runByFd(dirs: string[]): Promise<Set<string> | undefined> {
    const byAlias = new Map<string, string>();
    const fds: number[] = [];
    let failed = false;
    try {
      for (const d of dirs) {
        let fd: number;
        try {
          fd = fs.openSync(diskPath(d), DIR_FLAGS);
        } catch {
          failed = true;
          continue;
        }
        fds.push(fd);
        byAlias.set(`/proc/${process.pid}/fd/${fd}`, d);
      }
      const found = byAlias.size > 0 ? await this.run([...byAlias.keys()], false, true) : new Set<string>();
      if (!found) return undefined;
      const opaque = new Set<string>();
      for (const alias of found) opaque.add(byAlias.get(alias) ?? alias);
      return failed ? undefined : opaque;
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }

  private answer(found: Found, dir: string): OpaqueAnswer {
    return found.opaque.has(dir) ? true : found.failed ? undefined : this.absent();
  }

  /** No opaque xattr was listed: false if we could have seen one, else unknown. */
  private absent(): OpaqueAnswer {
    return this.trusted ? false : undefined;
  }

  private warnOnce(): void {
    if (this.warned || this.trusted) return;
    this.warned = true;
    this.report(
      'cannot read trusted.overlay.opaque xattrs without root rights (CAP_SYS_ADMIN): ' +
        'directories that exist in lower layers are marked opaqueUnknown',
      'permission-denied',
    );
  }

  /**
   * Runs getfattr over `paths`; the set of opaque paths, or undefined when it
   * could not run. `follow`: only for `/proc/<pid>/fd/N` names (runByFd), which
   * must be followed to their folder; every other path is never followed (-P).
   */
  private run(paths: string[], recursive = false, follow = false): Promise<Set<string> | undefined> {
    if (this.missing || this.signal.aborted) return Promise.resolve(undefined);
    const argv = [...(recursive ? ['-R'] : []), ...(follow ? [] : ['-P']), '--absolute-names', '-m', PATTERN, '-d', '--', ...paths];
    return new Promise((resolve) => {
      execFile(
        'getfattr',
        argv,
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, signal: this.signal, env: { ...process.env, LC_ALL: 'C' } },
        (err, stdout) => {
          const code = (err as NodeJS.ErrnoException | null)?.code;
          if (code === 'ENOENT' || code === 'EACCES') {
            if (!this.missing) {
              this.report(
                'getfattr (package attr) is not available: cannot tell opaque overlay directories; ' +
                  'directories that exist in lower layers are marked opaqueUnknown',
                'unsupported',
              );
            }
            this.missing = true;
            resolve(undefined);
          } else if (this.signal.aborted) {
            resolve(undefined);
          } else if (err && typeof code !== 'number') {
            this.report(`getfattr failed: ${err.message}`, 'io');
            resolve(undefined);
          } else {
            // Exit status 1 only means some path could not be read; the others are listed.
            resolve(parseGetfattr(stdout));
          }
        },
      );
    });
  }
}

/**
 * Parses `getfattr -d` output into the set of paths whose overlay.opaque is "y".
 * getfattr escapes `\`, newlines and control bytes in names as `\ooo` octal.
 */
export function parseGetfattr(out: Buffer): Set<string> {
  const found = new Set<string>();
  let file: string | undefined;
  for (const line of out.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      file = unescapeName(line.slice(8));
    } else if (file !== undefined && /^(trusted|user)\.overlay\.opaque="y"$/.test(line)) {
      found.add(file);
    }
  }
  return found;
}

/** Undoes getfattr's `\ooo` escapes; the bytes are decoded as the walk decodes names (byteNames.ts). */
function unescapeName(latin1: string): string {
  const bytes = Buffer.from(
    latin1.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8) & 0xff)),
    'latin1',
  );
  return decodeName(bytes);
}

function isUnder(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function* chunks(paths: string[]): Generator<string[]> {
  let chunk: string[] = [];
  let size = 0;
  for (const p of paths) {
    if (chunk.length > 0 && size + p.length > MAX_BATCH_CHARS) {
      yield chunk;
      chunk = [];
      size = 0;
    }
    chunk.push(p);
    size += p.length + 1;
  }
  if (chunk.length > 0) yield chunk;
}

let trustedCache: boolean | undefined;

/** trusted.* xattrs are listed only to a process with CAP_SYS_ADMIN (root, outside a user namespace). */
export function canReadTrustedXattrs(): boolean {
  if (trustedCache !== undefined) return trustedCache;
  let result = false;
  try {
    const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    result = m ? ((BigInt(`0x${m[1]}`) >> 21n) & 1n) === 1n : process.getuid?.() === 0;
  } catch {
    result = process.getuid?.() === 0;
  }
  trustedCache = result;
  return result;
}
