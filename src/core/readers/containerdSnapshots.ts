/**
 * Where a containerd snapshot's files are: a namespaced key (a chain id, or a
 * container's key) → its record in meta.db → the snapshotter's own key in its
 * `metadata.db` → the numeric folder `snapshots/<n>/fs` (overlayfs) or
 * `snapshots/<n>` (native), with the usage recorded when it was committed.
 */
import * as path from 'node:path';
import { BoltDb } from '../bbolt';
import { LayerError, errorMessage } from '../errors';
import { childPath, isDir } from '../fsUtil';
import type { LayerContent, Problem, Source } from '../model';
import { readBackend, snapshotterDir, splitBackendName, type BackendSnapshot, type SnapshotRecord } from './containerdMeta';

export const SUPPORTED_SNAPSHOTTERS = ['overlayfs', 'native'];

export interface SnapshotContent {
  readonly content: LayerContent;
  readonly backend: BackendSnapshot;
}

/** The namespace's keys as the snapshotter's own names give them, for those `known` lacks. */
function recordsOf(backend: Map<string, BackendSnapshot>, namespace: string, known: Map<string, SnapshotRecord>): [string, SnapshotRecord][] {
  const out: [string, SnapshotRecord][] = [];
  for (const [name, b] of backend) {
    const own = splitBackendName(name);
    if (own?.namespace !== namespace || known.has(own.key)) continue;
    const parent = b.parent === undefined ? undefined : splitBackendName(b.parent)?.key;
    out.push([own.key, { key: own.key, name, parent }]);
  }
  return out;
}

export class SnapshotIndex {
  private constructor(
    private readonly source: Source,
    private readonly namespace: string,
    private readonly records: Map<string, SnapshotRecord>,
    private readonly backend: Map<string, BackendSnapshot> | undefined,
    /** Why the snapshotter's metadata.db could not be read (or, with `partial`, read whole). */
    readonly problem: Problem | undefined,
    /** The db was read in part: a key missing from it may be one a damaged page held. */
    private readonly partial = false,
  ) {}

  /**
   * Reads the snapshotter's metadata.db (in salvage mode: a damaged page loses
   * the keys it held); a failure to open it becomes `problem`, not an error.
   * With `recover` (meta.db's snapshot keys were lost), the namespace's keys
   * come from the snapshotter's own: `<ns>/<n>/<key>` names the key, its
   * parent's name the parent.
   */
  static async open(source: Source, namespace: string, records: Map<string, SnapshotRecord>, recover = false): Promise<SnapshotIndex> {
    const file = path.join(snapshotterDir(source.dir, source.driver), 'metadata.db');
    try {
      const db = await BoltDb.open(file, { salvage: true });
      try {
        const backend = readBackend(db);
        const all = recover ? new Map([...records, ...recordsOf(backend, namespace, records)]) : records;
        const damage = db.problems[0];
        const problem: Problem | undefined = damage && { code: 'corrupt', message: damage.message, path: file, subject: source.driver };
        return new SnapshotIndex(source, namespace, all, backend, problem, problem !== undefined);
      } finally {
        db.close();
      }
    } catch (err) {
      const e = err instanceof LayerError ? err : new LayerError('io', errorMessage(err), file, err);
      const problem: Problem = { code: e.code, message: e.message, path: e.path ?? file, subject: source.driver };
      return new SnapshotIndex(source, namespace, records, undefined, problem);
    }
  }

  /** The parent key meta.db records for `key`. */
  parentOf(key: string): string | undefined {
    return this.records.get(key)?.parent;
  }

  /**
   * The content folder of snapshot `key` over the folders `below` (nearest
   * first). Undefined, with a problem pushed, when the snapshot (the layer is
   * not unpacked) or its folder is missing.
   */
  async content(key: string, below: string[], problems: Problem[]): Promise<SnapshotContent | undefined> {
    const { driver } = this.source;
    const record = this.records.get(key);
    if (!record) {
      problems.push({
        code: 'not-found',
        message: `${key} is not unpacked: snapshotter ${driver} has no snapshot of it in namespace ${this.namespace}`,
        subject: key,
      });
      return undefined;
    }
    if (this.problem && !this.partial) {
      problems.push({ ...this.problem, subject: key });
      return undefined;
    }
    const backend = record.name ? this.backend?.get(record.name) : undefined;
    if (!backend && record.name && this.problem) {
      problems.push({ ...this.problem, message: `snapshot ${key} (${record.name}) may be on a damaged page: ${this.problem.message}`, subject: key });
      return undefined;
    }
    if (!backend || !backend.id || !/^\d+$/.test(backend.id)) {
      const why = !record.name
        ? 'has no backend name'
        : !backend
          ? `(${record.name}) is not in the snapshotter's metadata.db`
          : 'has no id';
      problems.push({ code: 'corrupt', message: `snapshot ${key} ${why}`, subject: key });
      return undefined;
    }
    const snapshots = path.join(snapshotterDir(this.source.dir, driver), 'snapshots');
    let content: LayerContent;
    if (driver === 'overlayfs') {
      content = { dir: path.join(childPath(snapshots, backend.id), 'fs'), form: 'diff', whiteouts: 'overlay', lowerDirs: below };
    } else if (driver === 'native') {
      content = { dir: childPath(snapshots, backend.id), form: 'snapshot', parentDir: below[0], whiteouts: 'overlay', lowerDirs: [] };
    } else {
      problems.push({
        code: 'unsupported',
        message: `snapshotter ${driver} is not supported (readable: ${SUPPORTED_SNAPSHOTTERS.join(', ')})`,
        subject: key,
      });
      return undefined;
    }
    if (!(await isDir(content.dir))) {
      const message = `${content.dir}: the folder of snapshot ${key} is missing`;
      problems.push({ code: 'not-found', message, path: content.dir, subject: key });
      return undefined;
    }
    return { content, backend };
  }
}
