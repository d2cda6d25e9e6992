/**
 * containerd's bbolt databases, decoded into plain records:
 *  - `io.containerd.metadata.v1.bolt/meta.db`: per namespace, images
 *    (`v1/<ns>/images/<name>`), snapshot keys (`v1/<ns>/snapshots/<snapshotter>/<key>`),
 *    containers (`v1/<ns>/containers/<id>`) and content records (`v1/<ns>/content/blob/<digest>`);
 *  - `io.containerd.snapshotter.v1.<name>/metadata.db`: the snapshotter's own
 *    keys (`v1/snapshots/<name>`) with their numeric directory id and usage.
 * Integers are Go varints (`binary.PutVarint` / `PutUvarint`), times are Go's
 * `time.MarshalBinary`.
 */
import * as path from 'node:path';
import { BoltBucket, BoltDb, type BoltProblem } from '../bbolt';
import { LayerError, errorMessage } from '../errors';
import { exists } from '../fsUtil';
import type { Problem } from '../model';

export const META_DB = path.join('io.containerd.metadata.v1.bolt', 'meta.db');
export const BLOBS_DIR = path.join('io.containerd.content.v1.content', 'blobs', 'sha256');

export function snapshotterDir(dir: string, snapshotter: string): string {
  return path.join(dir, `io.containerd.snapshotter.v1.${snapshotter}`);
}

export interface Descriptor {
  readonly digest: string;
  readonly mediaType: string;
  readonly size?: number;
}

export interface ImageRecord {
  readonly name: string;
  readonly target: Descriptor;
  readonly createdAt?: string;
  readonly updatedAt?: string;
}

/** `v1/<ns>/snapshots/<snapshotter>/<key>`: a namespaced key and the backend name it maps to. */
export interface SnapshotRecord {
  readonly key: string;
  /** The snapshotter's own key (`<ns>/<n>/<key>`). */
  readonly name?: string;
  readonly parent?: string;
}

export interface ContainerRecord {
  readonly id: string;
  readonly image?: string;
  readonly snapshotKey?: string;
  readonly snapshotter?: string;
  readonly createdAt?: string;
  readonly labels: Record<string, string>;
}

/** `v1/snapshots/<name>` in a snapshotter's metadata.db. */
export interface BackendSnapshot {
  readonly name: string;
  /** Directory name under `snapshots/`. */
  readonly id?: string;
  readonly kind: 'view' | 'active' | 'committed' | 'unknown';
  readonly parent?: string;
  /** Recorded usage (committed snapshots only): bytes on disk and inode count. */
  readonly size?: number;
  readonly inodes?: number;
}

/** The parts of a namespace in meta.db that the reader uses. */
export type MetaSection = 'images' | 'snapshots' | 'containers' | 'content sizes';

export interface NamespaceMeta {
  readonly images: ImageRecord[];
  readonly snapshots: Map<string, SnapshotRecord>;
  readonly containers: ContainerRecord[];
  /** Content sizes by digest, as `ctr content ls` shows them (its keys: the blobs the namespace owns). */
  readonly contentSizes: Map<string, number>;
  /**
   * Sections meta.db could not give whole (a page of theirs, or above them,
   * failed its checks), each with the first such reason; empty when intact.
   */
  readonly lost: ReadonlyMap<MetaSection, string>;
  readonly problems: Problem[];
}

/** A namespace of which meta.db gives nothing: every section lost for `reason`. */
export function lostNamespace(reason: string): NamespaceMeta {
  const lost = new Map<MetaSection, string>(SECTIONS.map((s) => [s, reason]));
  return { images: [], snapshots: new Map(), containers: [], contentSizes: new Map(), lost, problems: [] };
}

const SECTIONS: readonly MetaSection[] = ['images', 'snapshots', 'containers', 'content sizes'];

/** Where each section lives under `v1/<ns>`. */
function sectionPath(namespace: string, section: MetaSection, snapshotter: string): string[] {
  const under = { images: ['images'], snapshots: ['snapshots', snapshotter], containers: ['containers'], 'content sizes': ['content', 'blob'] }[section];
  return ['v1', namespace, ...under];
}

/** Go `binary.Uvarint`; undefined when truncated or beyond 2^53. */
export function decodeUvarint(buf: Buffer | undefined): number | undefined {
  if (!buf || buf.length === 0) return undefined;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < buf.length && i < 10; i++) {
    const b = buf[i];
    value += (b & 0x7f) * scale;
    if (!Number.isSafeInteger(value)) return undefined;
    if ((b & 0x80) === 0) return value;
    scale *= 128;
  }
  return undefined;
}

/** Go `binary.Varint` (zig-zag). */
export function decodeVarint(buf: Buffer | undefined): number | undefined {
  const u = decodeUvarint(buf);
  if (u === undefined) return undefined;
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Seconds from 0001-01-01 to 1970-01-01. */
const UNIX_FROM_YEAR_ONE = 62135596800;

/** Go `time.MarshalBinary` (versions 1 and 2) → RFC 3339 UTC with nanoseconds. */
export function decodeTime(buf: Buffer | undefined): string | undefined {
  if (!buf || buf.length < 15 || (buf[0] !== 1 && buf[0] !== 2)) return undefined;
  const sec = Number(buf.readBigInt64BE(1)) - UNIX_FROM_YEAR_ONE;
  const nsec = buf.readInt32BE(9);
  if (!Number.isSafeInteger(sec * 1000) || nsec < 0 || nsec > 999_999_999) return undefined;
  const date = new Date(sec * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  const frac = nsec ? '.' + String(nsec).padStart(9, '0').replace(/0+$/, '') : '';
  return date.toISOString().slice(0, 19) + frac + 'Z';
}

function str(b: BoltBucket, key: string): string | undefined {
  const v = b.get(key);
  return v === undefined ? undefined : v.toString('utf8');
}

function stringMap(b: BoltBucket | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!b) return out;
  for (const e of b.entries()) if (e.value) out[e.key.toString('utf8')] = e.value.toString('utf8');
  return out;
}

/**
 * Namespaces holding at least one image, `moby` first, then by name. In
 * salvage mode, a namespace whose images bucket is damaged counts too: its
 * images may be there still, in the content store.
 */
export function imageNamespaces(db: BoltDb): string[] {
  const v1 = db.bucket(['v1']);
  if (!v1) return [];
  const names: string[] = [];
  for (const e of v1.entries()) {
    const name = e.key.toString('utf8');
    const images = e.bucket?.bucket('images');
    // Damage inside this namespace may have taken its images; damage above it (the `v1` list) says nothing of it.
    const damaged = db.problems.some((p) => p.path[0] === 'v1' && p.path[1] === name);
    if ((images && !isEmpty(images)) || (e.bucket && damaged)) names.push(name);
  }
  return mobyFirst(names);
}

/** `moby` (Docker's namespace) first, then by name. */
export function mobyFirst(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a === 'moby' ? -1 : b === 'moby' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

function isEmpty(b: BoltBucket): boolean {
  return b.entries()[Symbol.iterator]().next().done === true;
}

/**
 * Reads one namespace. A record that cannot be decoded becomes a problem. In
 * strict mode a broken bucket tree above the records throws; in salvage mode
 * (what the reader uses) it ends in `lost`, with what could be read.
 */
export function readNamespace(db: BoltDb, namespace: string, snapshotter: string): NamespaceMeta {
  const ns = db.bucket(['v1', namespace]);
  if (!ns) {
    const damage = db.problemsAffecting(['v1', namespace]);
    if (damage.length) return { ...lostNamespace(damage[0].reason), problems: pageProblems(db, damage) };
    throw new LayerError('not-found', `${db.file}: namespace ${namespace} does not exist`, db.file);
  }
  const problems: Problem[] = [];
  const problem = (err: unknown, subject: string) => {
    if (!(err instanceof LayerError)) throw err;
    problems.push({ code: err.code, message: errorMessage(err), path: db.file, subject });
  };
  // One bad record is one problem; a broken page under a section ends that section only.
  const each = (section: () => BoltBucket | undefined, what: string, fn: (name: string, b: BoltBucket) => void) => {
    try {
      for (const e of section()?.entries() ?? []) {
        const name = e.key.toString('utf8');
        try {
          if (!e.bucket) throw new LayerError('corrupt', `${db.file}: ${what} ${name} is not a bucket`, db.file);
          fn(name, e.bucket);
        } catch (err) {
          problem(err, name);
        }
      }
    } catch (err) {
      problem(err, `${namespace} ${what}s`);
    }
  };

  const images: ImageRecord[] = [];
  each(() => ns.bucket('images'), 'image', (name, b) => {
    const t = b.bucket('target');
    const digest = t && str(t, 'digest');
    if (!t || !digest) throw new LayerError('corrupt', `${db.file}: image ${name} has no target digest`, db.file);
    images.push({
      name,
      target: { digest, mediaType: str(t, 'mediatype') ?? '', size: decodeVarint(t.get('size')) },
      createdAt: decodeTime(b.get('createdat')),
      updatedAt: decodeTime(b.get('updatedat')),
    });
  });

  const snapshots = new Map<string, SnapshotRecord>();
  each(() => ns.bucket('snapshots')?.bucket(snapshotter), 'snapshot', (key, b) => {
    snapshots.set(key, { key, name: str(b, 'name'), parent: str(b, 'parent') });
  });

  const containers: ContainerRecord[] = [];
  each(() => ns.bucket('containers'), 'container', (id, b) => {
    containers.push({
      id,
      image: str(b, 'image'),
      snapshotKey: str(b, 'snapshotKey'),
      snapshotter: str(b, 'snapshotter'),
      createdAt: decodeTime(b.get('createdat')),
      labels: stringMap(b.bucket('labels')),
    });
  });

  const contentSizes = new Map<string, number>();
  each(() => ns.bucket('content')?.bucket('blob'), 'content blob', (digest, b) => {
    const size = decodeVarint(b.get('size'));
    if (size !== undefined) contentSizes.set(digest, size);
  });

  const lost = new Map<MetaSection, string>();
  for (const section of SECTIONS) {
    const damage = db.problemsAffecting(sectionPath(namespace, section, snapshotter));
    if (damage.length) lost.set(section, damage[0].reason);
  }
  problems.unshift(...pageProblems(db, db.problemsAffecting(['v1', namespace])));
  return { images, snapshots, containers, contentSizes, lost, problems };
}

/** One problem per damaged page (salvage mode), subject `meta.db`. */
function pageProblems(db: BoltDb, damage: readonly BoltProblem[]): Problem[] {
  return damage.map((p) => ({ code: 'corrupt', message: p.message, path: db.file, subject: path.basename(db.file) }));
}

const KINDS = ['unknown', 'view', 'active', 'committed'] as const;

/** The snapshotter's keys by backend name. */
export function readBackend(db: BoltDb): Map<string, BackendSnapshot> {
  const out = new Map<string, BackendSnapshot>();
  const snaps = db.bucket(['v1', 'snapshots']);
  if (!snaps) return out;
  for (const e of snaps.entries()) {
    if (!e.bucket) continue;
    const name = e.key.toString('utf8');
    const b = e.bucket;
    const id = decodeUvarint(b.get('id'));
    const kind = b.get('kind');
    out.set(name, {
      name,
      id: id === undefined ? undefined : String(id),
      kind: (kind?.length === 1 && KINDS[kind[0]]) || 'unknown',
      parent: str(b, 'parent'),
      size: decodeVarint(b.get('size')),
      inodes: decodeVarint(b.get('inodes')),
    });
  }
  return out;
}

/** A snapshotter's own key `<ns>/<n>/<key>` split into its namespace and the namespaced key; undefined for any other shape. */
export function splitBackendName(name: string): { namespace: string; key: string } | undefined {
  const m = /^([^/]+)\/\d+\/(.+)$/s.exec(name);
  return m ? { namespace: m[1], key: m[2] } : undefined;
}

/**
 * Recognises a containerd root: `root` itself, or a Docker data root holding
 * one at `containerd/daemon`. Undefined when there is no meta.db, or an intact
 * one with no namespace holding images (Docker 20 leaves an empty
 * `containerd/daemon`).
 *
 * A damaged meta.db does not hide the store: it is read in salvage mode, and
 * when it cannot name the namespaces (its root page, or the whole file, is
 * corrupt) they come from the snapshotters' own keys (see `keyNamespaces`).
 * A meta.db that cannot be opened for another reason (permission denied)
 * throws when `root` is the containerd root itself; under a Docker root it
 * yields a namespace anyway, so that the reader's load reports the error as a
 * problem of that source without hiding the Docker layouts next to it.
 */
export async function detectContainerd(root: string): Promise<{ dir: string; namespaces: string[] } | undefined> {
  for (const dir of [root, path.join(root, 'containerd', 'daemon')]) {
    const file = path.join(dir, META_DB);
    if (!(await exists(file))) continue;
    let namespaces: string[] = [];
    try {
      const db = await BoltDb.open(file, { salvage: true });
      try {
        namespaces = imageNamespaces(db);
        if (!namespaces.length && !db.problems.length) continue;
        // The namespace list itself is damaged: a namespace may be missing from it, Docker's among them.
        if (namespaces.length && db.problems.some((p) => p.path.length <= 1)) namespaces = mobyFirst([...namespaces, ...(await keyNamespaces(dir))]);
      } finally {
        db.close();
      }
    } catch (err) {
      if (dir === root && !(err instanceof LayerError && err.code === 'corrupt')) throw err;
    }
    return { dir, namespaces: namespaces.length ? namespaces : await keyNamespaces(dir) };
  }
  return undefined;
}

/**
 * The namespaces the snapshotters' metadata.db keys name (`moby/12/sha256:…`),
 * `moby` first; `moby` alone (Docker's) when they name none or cannot be read.
 */
async function keyNamespaces(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const snapshotter of ['overlayfs', 'native']) {
    const file = path.join(snapshotterDir(dir, snapshotter), 'metadata.db');
    if (!(await exists(file))) continue;
    try {
      const db = await BoltDb.open(file, { salvage: true });
      try {
        for (const name of readBackend(db).keys()) {
          const ns = splitBackendName(name)?.namespace;
          if (ns) names.push(ns);
        }
      } finally {
        db.close();
      }
    } catch {
      // Unreadable too: the reader reports it when it opens the snapshotter's db.
    }
  }
  return names.length ? mobyFirst(names) : ['moby'];
}
