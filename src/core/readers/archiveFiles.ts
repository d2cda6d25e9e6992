/**
 * The files of an image archive by name, read in place: the members of a tar
 * (`docker save`, an OCI layout packed in a tar), indexed once header to
 * header, or the files of an OCI-layout folder. Names from JSON pass
 * `archiveName` before they are looked up; a member symlink (`docker save`
 * links a layer shared by two images) is resolved inside the archive only; a
 * symlink in a folder is never followed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError, fromFsError } from '../errors';
import type { Problem, TarBlob } from '../model';
import type { TarMember } from '../tar/tarHeader';
import { indexTarRegion, openReadOnly, readAt } from '../tar/tarIndex';

/** Small JSON members (manifests, configs) are refused past this: a crafted archive cannot make us read gigabytes as text. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

export interface ArchiveFiles {
  /** The archive file or OCI-layout folder. */
  readonly path: string;
  /** What could not be indexed (a truncated tar…). */
  readonly problems: Problem[];
  has(name: string): boolean;
  /** Where a file's bytes are; throws not-found / invalid-id. */
  blob(name: string): TarBlob;
  /** A small file's text. */
  text(name: string): string;
  /** The names at the top of the archive (`<id>` folders, `manifest.json`…). */
  topNames(): string[];
}

/** `./a//b/` → `a/b`; undefined for an absolute name, `..`, NUL or empty. */
export function archiveName(name: string): string | undefined {
  if (typeof name !== 'string' || name.startsWith('/')) return undefined;
  const segs = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.length === 0 || segs.some((s) => s === '..' || s.includes('\0') || s.includes('\\'))) return undefined;
  return segs.join('/');
}

function checkedName(name: string, where: string): string {
  const n = archiveName(name);
  if (n === undefined) throw new LayerError('invalid-id', `refusing the name ${JSON.stringify(String(name).slice(0, 200))} in ${where}: it must stay inside the archive`, where);
  return n;
}

function readSmall(blob: TarBlob, where: string): string {
  if (blob.size > MAX_JSON_BYTES) throw new LayerError('unsupported', `${where} is ${blob.size} bytes: too big for a manifest or config`, where);
  const fd = openReadOnly(blob.file, blob.noFollow);
  try {
    const buf = readAt(fd, blob.size, blob.start);
    if (buf.length < blob.size) throw new LayerError('corrupt', `${where} is cut short: the archive ends inside it`, where);
    return buf.toString('utf8');
  } catch (err) {
    throw fromFsError(err, where);
  } finally {
    fs.closeSync(fd);
  }
}

/** The members of a tar archive. */
export class TarArchiveFiles implements ArchiveFiles {
  readonly problems: Problem[] = [];
  private readonly members = new Map<string, TarMember>();

  private constructor(readonly path: string) {}

  static async open(file: string, signal?: AbortSignal): Promise<TarArchiveFiles> {
    let size: number;
    try {
      size = (await fs.promises.stat(file)).size;
    } catch (err) {
      throw fromFsError(err, file);
    }
    const files = new TarArchiveFiles(file);
    const scan = await indexTarRegion({ file, start: 0, size }, signal);
    for (const m of scan.members) {
      const n = archiveName(m.name);
      if (n !== undefined) files.members.set(n, m);
    }
    if (scan.stopped) files.problems.push({ code: 'corrupt', message: `${file}: ${scan.stopped}`, path: file });
    return files;
  }

  has(name: string): boolean {
    const n = archiveName(name);
    return n !== undefined && this.members.has(n);
  }

  blob(name: string): TarBlob {
    let n = checkedName(name, this.path);
    for (let hops = 0; hops < 8; hops++) {
      const m = this.members.get(n);
      if (!m) throw new LayerError('not-found', `${this.path} holds no ${n}${hops ? ` (a link to it was followed from ${name})` : ''}`, this.path);
      if (m.kind === 'file') return { file: this.path, start: m.dataOffset, size: m.size, name: n };
      if (m.kind === 'symlink') n = checkedName(path.posix.join(path.posix.dirname(n), m.linkname), `${this.path} (${n})`);
      else if (m.kind === 'hardlink') n = checkedName(m.linkname, `${this.path} (${n})`);
      else throw new LayerError('not-found', `${n} in ${this.path} is not a file`, this.path);
    }
    throw new LayerError('corrupt', `${name} in ${this.path}: too many links`, this.path);
  }

  text(name: string): string {
    const blob = this.blob(name);
    return readSmall(blob, `${this.path}:${blob.name}`);
  }

  topNames(): string[] {
    return [...new Set([...this.members.keys()].map((n) => n.split('/')[0]))];
  }
}

/** The files of an OCI-layout folder; each name is checked segment by segment, a symlink is refused. */
export class FolderArchiveFiles implements ArchiveFiles {
  readonly problems: Problem[] = [];

  constructor(readonly path: string) {}

  has(name: string): boolean {
    try {
      return this.lstatFile(name) !== undefined;
    } catch {
      return false;
    }
  }

  blob(name: string): TarBlob {
    const n = checkedName(name, this.path);
    const st = this.lstatFile(n);
    if (!st) throw new LayerError('not-found', `${this.path} holds no ${n}`, this.path);
    return { file: path.join(this.path, ...n.split('/')), start: 0, size: st.size, name: n, noFollow: true };
  }

  text(name: string): string {
    const blob = this.blob(name);
    return readSmall(blob, blob.file);
  }

  topNames(): string[] {
    try {
      return fs.readdirSync(this.path);
    } catch (err) {
      throw fromFsError(err, this.path, 'list');
    }
  }

  /** lstat of each segment: undefined when absent; throws when one is a symlink (never followed). */
  private lstatFile(name: string): fs.Stats | undefined {
    const n = checkedName(name, this.path);
    let p = this.path;
    let st: fs.Stats | undefined;
    for (const seg of n.split('/')) {
      p = path.join(p, seg);
      try {
        st = fs.lstatSync(p);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw fromFsError(err, p);
      }
      if (st.isSymbolicLink()) throw new LayerError('not-found', `${p} is a symbolic link: not followed out of the OCI layout`, p);
    }
    return st?.isFile() ? st : undefined;
  }
}
