/**
 * A synthetic but format-exact content-addressed Docker root (LAYOUTS.md §2)
 * for the bench: `image/overlay2/{imagedb,layerdb,repositories.json}` and
 * `overlay2/<cache-id>/{diff/,link,lower}` + `overlay2/l/<short>`. Left out to
 * save file creations (no reader needs them): `work/`, `committed`,
 * `tar-split.json.gz`, `metadata/…/lastUpdated`.
 *
 * - `chains` base chains of 3–5 layers, each shared by `imagesPerChain` images
 *   that add 2–9 layers of their own (images of 5–14 layers); history with
 *   empty_layer steps; real chain ids and image ids (sha256 of the config bytes).
 * - One big layer (the top layer of `bench/biglayer:latest`): `bigFiles` files
 *   in ~1,000 folders, a few symlinks and, as root, overlay whiteouts (0/0
 *   character devices) and one opaque folder; its parent layer holds the names
 *   it modifies and deletes.
 * - One ~1 MB config (`bench/bigconfig:latest`) whose parent image (local
 *   build: `imagedb/metadata/sha256/<id>/parent`) differs by a few Env/Labels.
 * Every other diff folder is empty. The generator computes ids itself (it does
 * not borrow the readers' code), so the bench checks the readers against it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface SyntheticRootOptions {
  /** Base chains (default 200). */
  chains?: number;
  /** Images per base chain (default 10). */
  imagesPerChain?: number;
  /** Files in the big layer (default 100,000). */
  bigFiles?: number;
  /** Target size of the big config in bytes (default ~1 MB). */
  bigConfigBytes?: number;
  /** Concurrent fs calls (default 128). */
  concurrency?: number;
  /** Told when each phase ends, with the milliseconds since the start. */
  onProgress?: (phase: string, elapsedMs: number) => void;
}

export interface SyntheticRoot {
  /** The data root (what `Store.open` takes). */
  root: string;
  images: number;
  layers: number;
  bigLayer: {
    ref: string;
    dir: string;
    files: number;
    dirs: number;
    symlinks: number;
    whiteouts: number;
    opaqueDirs: number;
    /** Entries below `dir` (what `find dir -mindepth 1` lists). */
    entries: number;
  };
  bigConfig: { ref: string; id: string; bytes: number; parentId: string; parentBytes: number };
  /** The big layer's twin (for the compare bench): the same files in another image's top layer, but `changed` (same size, other bytes), `removed` and `added` files. */
  bigTwin: { ref: string; dir: string; changed: number; removed: number; added: number };
  generateMs: number;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** overlay2's 26-character link name (base32 of random bytes; here of a hash). */
const shortLink = (seed: string) => [...createHash('sha256').update(seed).digest()].slice(0, 26).map((b) => B32[b & 31]).join('');
const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** Docker-style timestamp: nanoseconds, deterministic. */
const stamp = (minutes: number) => new Date(Date.UTC(2024, 0, 1) + minutes * 60_000).toISOString().replace('.000Z', `.${pad((minutes * 7919) % 1e9, 9)}Z`);

interface GenLayer {
  chainId: string;
  diffId: string;
  parentChain?: string;
  cacheId: string;
  link: string;
  /** `l/<short>` of the layers below, uppermost first. */
  lower: string[];
  size: number;
}

interface GenImage {
  id: string;
  text: string;
  tags: string[];
  digests: string[];
  parentId?: string;
}

type AddImage = (text: string, tags: string[], digests?: string[], parentId?: string) => GenImage;

interface HistoryEntry {
  created: string;
  created_by: string;
  empty_layer?: true;
}

type Task = () => Promise<unknown>;

/** Runs tasks with at most `limit` in flight, pulling lazily from the iterable. */
async function runAll(tasks: Iterable<Task>, limit: number): Promise<void> {
  const it = tasks[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let n = it.next(); !n.done; n = it.next()) await n.value();
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function containerConfig(env: string[], cmd: string[], labels: Record<string, string>, image: string, hostname: string, workdir = '/app') {
  return {
    Hostname: hostname,
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: env,
    Cmd: cmd,
    Image: image,
    Volumes: null,
    WorkingDir: workdir,
    Entrypoint: null,
    OnBuild: null,
    Labels: labels,
  };
}

/** The exact config bytes, keys in the order Docker writes them. */
function configText(o: {
  env: string[];
  cmd: string[];
  labels: Record<string, string>;
  parent: string;
  created: string;
  history: HistoryEntry[];
  diffIds: string[];
  seed: string;
}): string {
  const container = sha256('container ' + o.seed);
  const last = o.history[o.history.length - 1]?.created_by.replace(/^\/bin\/sh -c #\(nop\) +/, '') ?? '';
  return JSON.stringify({
    architecture: 'amd64',
    config: containerConfig(o.env, o.cmd, o.labels, o.parent, ''),
    container,
    container_config: containerConfig(o.env, ['/bin/sh', '-c', '#(nop) ', last], o.labels, o.parent, container.slice(0, 12)),
    created: o.created,
    docker_version: '20.10.24+dfsg1',
    history: o.history,
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: o.diffIds },
  });
}

export async function makeSyntheticRoot(root: string, options: SyntheticRootOptions = {}): Promise<SyntheticRoot> {
  const t0 = performance.now();
  const nChains = options.chains ?? 200;
  const perChain = options.imagesPerChain ?? 10;
  const bigFiles = options.bigFiles ?? 100_000;
  const limit = options.concurrency ?? 128;
  const progress = (phase: string) => options.onProgress?.(phase, performance.now() - t0);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  const ds = path.join(root, 'image', 'overlay2');
  const contentDir = path.join(ds, 'imagedb', 'content', 'sha256');
  const metaDir = path.join(ds, 'imagedb', 'metadata', 'sha256');
  const layerdb = path.join(ds, 'layerdb', 'sha256');
  const ov = path.join(root, 'overlay2');

  // ---- 1. The model: layers, images, configs (in memory).
  const layers = new Map<string, GenLayer>();
  /** Adds (once) the layer `diffId` on top of `below`; returns its chain id. */
  const addLayer = (diffId: string, below: GenLayer | undefined): GenLayer => {
    const chainId = below ? 'sha256:' + sha256(`${below.chainId} ${diffId}`) : diffId;
    let l = layers.get(chainId);
    if (!l) {
      const cacheId = sha256('cache-id ' + chainId);
      const lower = below ? [`l/${below.link}`, ...below.lower] : [];
      l = { chainId, diffId, parentChain: below?.chainId, cacheId, link: shortLink(cacheId), lower, size: 0 };
      layers.set(chainId, l);
    }
    return l;
  };
  const diffIdOf = (what: string) => 'sha256:' + sha256('synthetic layer ' + what);

  const images: GenImage[] = [];
  const addImage: AddImage = (text, tags, digests = [], parentId) => {
    const img: GenImage = { id: 'sha256:' + sha256(text), text, tags, digests, parentId };
    images.push(img);
    return img;
  };
  const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

  let bigLayer: GenLayer | undefined;
  let bigTwin: GenLayer | undefined;
  let bigLower: GenLayer | undefined;
  let bigConfigChild: GenImage | undefined;
  let bigConfigParent: GenImage | undefined;
  let clock = 0;
  for (let c = 0; c < nChains; c++) {
    const nBase = 3 + (c % 3);
    const baseLayers: GenLayer[] = [];
    const baseHistory: HistoryEntry[] = [];
    for (let k = 0; k < nBase; k++) {
      baseLayers.push(addLayer(diffIdOf(`base ${c}/${k}`), baseLayers[k - 1]));
      baseHistory.push({
        created: stamp(clock++),
        created_by: k === 0 ? `/bin/sh -c #(nop) ADD file:${sha256('rootfs ' + c)} in / ` : `/bin/sh -c apt-get update && apt-get install -y pkg-${c}-${k}`,
      });
      if (k === 0) baseHistory.push({ created: stamp(clock++), created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true });
    }
    for (let j = 0; j < perChain; j++) {
      const i = c * perChain + j;
      const isBigConfig = c === nChains - 1 && j === perChain - 1;
      const isBigConfigParent = c === nChains - 1 && j === perChain - 2;
      if (isBigConfig) continue; // made with its parent below
      const nOwn = 2 + ((i * 7) % 8);
      const own: GenLayer[] = [];
      const history = [...baseHistory, { created: stamp(clock++), created_by: '/bin/sh -c #(nop) WORKDIR /app', empty_layer: true } as HistoryEntry];
      let below = baseLayers[nBase - 1];
      for (let k = 0; k < nOwn; k++) {
        below = addLayer(diffIdOf(`image ${i}/${k}`), below);
        own.push(below);
        history.push({
          created: stamp(clock++),
          created_by: k % 2 ? `/bin/sh -c npm ci --omit=dev # step ${i}.${k}` : `/bin/sh -c #(nop) COPY dir:${sha256(`copy ${i}/${k}`)} in /app/${k} `,
        });
        if (k === 0 && i % 3 === 0) history.push({ created: stamp(clock++), created_by: `/bin/sh -c #(nop)  ENV APP_VERSION=${i}`, empty_layer: true });
      }
      history.push({ created: stamp(clock++), created_by: '/bin/sh -c #(nop)  CMD ["node","server.js"]', empty_layer: true });
      const diffIds = [...baseLayers, ...own].map((l) => l.diffId);
      const env = [PATH, `APP_VERSION=${i}`];
      const labels: Record<string, string> = { 'org.opencontainers.image.title': `synthetic-${i}`, 'org.opencontainers.image.version': `${j}` };
      const base = { env, cmd: ['node', 'server.js'], labels, parent: '', created: history[history.length - 1].created, history, diffIds, seed: `image ${i}` };
      const repo = `synth/chain-${pad(c, 3)}`;
      if (isBigConfigParent) {
        [bigConfigParent, bigConfigChild] = makeBigConfigPair(base, options.bigConfigBytes ?? 1_000_000, addImage, stamp(clock++));
        continue;
      }
      if (i === 0) {
        // The big layer: on top of a lower layer holding what it modifies and deletes.
        bigLower = own[own.length - 2];
        bigLayer = own[own.length - 1];
        addImage(configText(base), ['bench/biglayer:latest', `${repo}:v${j}`]);
        continue;
      }
      if (i === 1) {
        bigTwin = own[own.length - 1];
        addImage(configText(base), ['bench/biglayer-twin:latest', `${repo}:v${j}`]);
        continue;
      }
      const digests = j === 0 ? [`${repo}@sha256:${sha256('manifest ' + i)}`] : [];
      addImage(configText(base), j % 4 === 0 ? [`${repo}:v${j}`, `${repo}:latest`] : [`${repo}:v${j}`], digests);
    }
  }
  if (!bigLayer || !bigLower || !bigTwin || !bigConfigChild || !bigConfigParent) throw new Error('makeSyntheticRoot: needs at least 1 chain of 2+ images');

  // ---- 2. The big layer's tree (10 × 10 × 10 leaf folders).
  const bigDir = path.join(ov, bigLayer.cacheId, 'diff');
  const lowerDir = path.join(ov, bigLower.cacheId, 'diff');
  const leafDirs: string[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) for (let c = 0; c < 10; c++) leafDirs.push(`usr/lib/a${a}/b${b}/c${c}`);
  const dirCount = 2 + 10 + 100 + 1000; // usr, usr/lib, a*, a*/b*, a*/b*/c*
  const perDir = Math.ceil(bigFiles / leafDirs.length);
  const fileBody = (n: number) => Buffer.alloc(n % 257, 0x61 + (n % 26));
  // The twin: every 1,000th file gone, every 100th (not empty) rewritten in capitals, one new file in each of 100 folders.
  const twinDir = path.join(ov, bigTwin.cacheId, 'diff');
  const twinGone = (n: number) => n % 1000 === 999;
  const twinChanged = (n: number) => n % 100 === 0 && n % 257 !== 0 && !twinGone(n);
  const twinAdded = leafDirs.slice(0, 100).map((d) => `${d}/g-new`);
  let twinChangedCount = 0;
  for (let n = 0; n < bigFiles; n++) if (twinChanged(n)) twinChangedCount++;
  const symlinks = Array.from({ length: 50 }, (_, k) => ({ at: `${leafDirs[k * 19]}/link-${k}`, to: `f${pad(k, 4)}` }));
  const whiteouts = isRoot ? Array.from({ length: 20 }, (_, k) => `${leafDirs[k]}/gone-${k}`) : [];
  const opaque = isRoot ? [leafDirs[999]] : [];
  const modified = leafDirs.slice(0, 10).map((d) => `${d}/f0000`);
  bigLayer.size = Array.from({ length: bigFiles }, (_, n) => n % 257).reduce((s, n) => s + n, 0);
  bigLower.size = (modified.length + whiteouts.length + opaque.length) * 4;

  // ---- 3. Write it out: folders first, then files.
  const layerList = [...layers.values()];
  const dirTasks = function* (): Generator<Task> {
    for (const d of [contentDir, metaDir, layerdb, path.join(ov, 'l')]) yield () => fsp.mkdir(d, { recursive: true });
  };
  await runAll(dirTasks(), 4);
  const mkdirs = function* (): Generator<Task> {
    for (const l of layerList) {
      yield () => fsp.mkdir(path.join(layerdb, l.chainId.slice(7)));
      yield () => fsp.mkdir(path.join(ov, l.cacheId, 'diff'), { recursive: true });
    }
    for (const img of images) if (img.parentId) yield () => fsp.mkdir(path.join(metaDir, img.id.slice(7)));
  };
  progress('model');
  await runAll(mkdirs(), limit);
  progress('layer folders');
  await runAll(
    (function* (): Generator<Task> {
      for (const d of leafDirs) yield () => fsp.mkdir(path.join(bigDir, d), { recursive: true });
      for (const d of leafDirs) yield () => fsp.mkdir(path.join(twinDir, d), { recursive: true });
      for (const d of [...modified, ...whiteouts, ...opaque.map((o) => `${o}/hidden`)].map((p) => path.dirname(p))) {
        yield () => fsp.mkdir(path.join(lowerDir, d), { recursive: true });
      }
    })(),
    limit,
  );
  progress('big layer folders');
  const files = function* (): Generator<Task> {
    const w = (file: string, data: string | Buffer) => () => fsp.writeFile(file, data);
    for (const l of layerList) {
      const ldb = path.join(layerdb, l.chainId.slice(7));
      yield w(path.join(ldb, 'diff'), l.diffId);
      yield w(path.join(ldb, 'size'), String(l.size));
      yield w(path.join(ldb, 'cache-id'), l.cacheId);
      if (l.parentChain) yield w(path.join(ldb, 'parent'), l.parentChain);
      yield w(path.join(ov, l.cacheId, 'link'), l.link);
      if (l.lower.length) yield w(path.join(ov, l.cacheId, 'lower'), l.lower.join(':'));
      yield () => fsp.symlink(`../${l.cacheId}/diff`, path.join(ov, 'l', l.link));
    }
    for (const img of images) {
      yield w(path.join(contentDir, img.id.slice(7)), img.text);
      if (img.parentId) {
        yield w(path.join(metaDir, img.id.slice(7), 'parent'), img.parentId);
      }
    }
    for (let n = 0; n < bigFiles; n++) {
      yield w(path.join(bigDir, leafDirs[Math.floor(n / perDir)], `f${pad(n % perDir, 4)}`), fileBody(n));
    }
    for (const s of symlinks) yield () => fsp.symlink(s.to, path.join(bigDir, s.at));
    for (let n = 0; n < bigFiles; n++) {
      if (twinGone(n)) continue;
      const body = twinChanged(n) ? Buffer.alloc(n % 257, 0x41 + (n % 26)) : fileBody(n);
      yield w(path.join(twinDir, leafDirs[Math.floor(n / perDir)], `f${pad(n % perDir, 4)}`), body);
    }
    for (const s of symlinks) yield () => fsp.symlink(s.to, path.join(twinDir, s.at));
    for (const f of twinAdded) yield w(path.join(twinDir, f), 'new\n');
    for (const f of [...modified, ...whiteouts, ...opaque.map((o) => `${o}/hidden`)]) yield w(path.join(lowerDir, f), 'old\n');
  };
  await runAll(files(), limit);
  progress('files');
  await fsp.writeFile(path.join(ds, 'repositories.json'), repositoriesJson(images));
  if (whiteouts.length) {
    // One shell for all the devices: Node has no mknod.
    execFileSync('sh', ['-c', 'for f; do mknod "$f" c 0 0; done', 'sh', ...whiteouts.map((p) => path.join(bigDir, p))]);
  }
  let opaqueDirs = 0;
  for (const o of opaque) {
    try {
      execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(bigDir, o)], { stdio: 'ignore' });
      opaqueDirs++;
    } catch {
      // No setfattr, or a file system without trusted.* xattrs: no opaque folder then.
    }
  }

  return {
    root,
    images: images.length,
    layers: layers.size,
    bigLayer: {
      ref: 'bench/biglayer:latest',
      dir: bigDir,
      files: bigFiles,
      dirs: dirCount,
      symlinks: symlinks.length,
      whiteouts: whiteouts.length,
      opaqueDirs,
      entries: bigFiles + dirCount + symlinks.length + whiteouts.length,
    },
    bigConfig: {
      ref: 'bench/bigconfig:latest',
      id: bigConfigChild.id,
      bytes: Buffer.byteLength(bigConfigChild.text),
      parentId: bigConfigParent.id,
      parentBytes: Buffer.byteLength(bigConfigParent.text),
    },
    bigTwin: {
      ref: 'bench/biglayer-twin:latest',
      dir: twinDir,
      changed: twinChangedCount,
      removed: Array.from({ length: bigFiles }, (_, n) => n).filter(twinGone).length,
      added: twinAdded.length,
    },
    generateMs: performance.now() - t0,
  };
}

/**
 * The ~1 MB pair: a parent with a long Env list, many Labels and a long
 * (mostly empty_layer) history, and its child made by one more empty step that
 * changes 3 Env values, adds 2, changes 2 Labels and adds 3.
 */
function makeBigConfigPair(base: Parameters<typeof configText>[0], targetBytes: number, addImage: AddImage, childCreated: string): [GenImage, GenImage] {
  // Each unit adds one Env (twice: config + container_config), one Label (twice) and one history entry: ~420 bytes.
  const units = Math.max(10, Math.round(targetBytes / 420));
  const env = [...base.env];
  const labels: Record<string, string> = { ...base.labels };
  const history = base.history.slice(0, -1);
  const t = base.history[base.history.length - 1].created;
  for (let k = 0; k < units; k++) {
    env.push(`SYNTH_VAR_${pad(k, 5)}=/opt/synthetic/value/${sha256('env ' + k).slice(0, 24)}`);
    labels[`org.example.synthetic.label-${pad(k, 5)}`] = `value ${sha256('label ' + k).slice(0, 24)}`;
    history.push({ created: t, created_by: `/bin/sh -c #(nop)  LABEL org.example.synthetic.label-${pad(k, 5)}=value-${k}`, empty_layer: true });
  }
  history.push(base.history[base.history.length - 1]);
  const parentText = configText({ ...base, env, labels, history, seed: base.seed + ' big parent' });
  const parent = addImage(parentText, []);

  const childEnv = [...env];
  for (const k of [7, Math.floor(units / 2), units - 3]) childEnv[k + 2] = childEnv[k + 2].replace(/=.*/, '=/changed/by/child');
  childEnv.push('CHILD_ADDED_1=yes', 'CHILD_ADDED_2=also');
  const childLabels = { ...labels };
  childLabels[`org.example.synthetic.label-${pad(3, 5)}`] = 'changed by child';
  childLabels[`org.example.synthetic.label-${pad(units - 5, 5)}`] = 'changed by child';
  for (const k of [1, 2, 3]) childLabels[`org.example.child.added-${k}`] = `new ${k}`;
  const childHistory = [
    ...history,
    { created: childCreated, created_by: '/bin/sh -c #(nop)  ENV SYNTH_VAR_00007=/changed/by/child CHILD_ADDED_1=yes CHILD_ADDED_2=also', empty_layer: true as const },
  ];
  const childText = configText({
    ...base,
    env: childEnv,
    labels: childLabels,
    history: childHistory,
    parent: parent.id,
    created: childHistory[childHistory.length - 1].created,
    seed: base.seed + ' big child',
  });
  const child = addImage(childText, ['bench/bigconfig:latest'], [], parent.id);
  return [parent, child];
}

function repositoriesJson(images: GenImage[]): string {
  const repos: Record<string, Record<string, string>> = {};
  for (const img of images) {
    for (const ref of [...img.tags, ...img.digests]) {
      const repo = ref.replace(/[@:][^/]*$/, '');
      (repos[repo] ??= {})[ref] = img.id;
    }
  }
  return JSON.stringify({ Repositories: repos });
}
