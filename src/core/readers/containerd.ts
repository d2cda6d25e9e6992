/**
 * containerd's image store (Docker 29's default; plain containerd / nerdctl),
 * read from disk for one namespace and one snapshotter:
 *   meta.db images → target (index → manifest for this platform) → config;
 *   config diff ids → chain ids → meta.db snapshot key → snapshotter key →
 *   `snapshots/<n>/fs` (overlayfs) or `snapshots/<n>` (native).
 * Layer sizes are the snapshotter's recorded usage, as `docker history` shows
 * them with the containerd store (it asks the snapshotter for Usage(chainID)).
 * A damaged meta.db hides nothing else: what its pages lost is recovered from
 * the content store (images, unnamed) and the snapshotter's own keys
 * (snapshots); see containerdRecovery.ts.
 */
import * as path from 'node:path';
import { BoltDb } from '../bbolt';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { digestHex, listDir } from '../fsUtil';
import type {
  Container,
  Image,
  Layer,
  LayerDocument,
  LayoutReader,
  Platform,
  Problem,
  Source,
  SourceContents,
} from '../model';
import { hostPlatform, readJsonBlob, resolveManifest } from './containerdContent';
import { META_DB, lostNamespace, readNamespace, type ContainerRecord, type Descriptor, type ImageRecord, type NamespaceMeta } from './containerdMeta';
import { lostProblem, recoverTargets } from './containerdRecovery';
import { SnapshotIndex } from './containerdSnapshots';
import { alignSteps, chainIds, unreadableImage, v1CompatDocument, type ImageConfig } from './imageConfig';

export { detectContainerd } from './containerdMeta';

/** diff id of an empty tar (1024 zero bytes): a layer that changes nothing. */
const EMPTY_TAR = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
/** Layer media types that are not compressed: their blob size is their tar size. */
const UNCOMPRESSED = /\.tar$/;

export interface ContainerdOptions {
  /** The platform to pick from an index; defaults to this machine's (linux/amd64 on x64). */
  readonly platform?: Platform;
}

/** State of one `load`, shared by the images it reads. */
interface LoadContext {
  readonly meta: NamespaceMeta;
  readonly snapshots: SnapshotIndex;
  readonly layers: Map<string, Layer>;
  /** Existing content folders of a layer and those below it, nearest first. */
  readonly stacks: Map<string, string[]>;
}

export class ContainerdReader implements LayoutReader {
  /** Config blobs by image id, kept for documents. */
  private readonly configs = new Map<string, { text: string; value: ImageConfig; file: string }>();
  private readonly platforms = new Map<string, string[]>();

  constructor(
    readonly source: Source,
    private readonly options: ContainerdOptions = {},
  ) {}

  private get namespace(): string {
    return this.source.namespace ?? 'default';
  }

  /** Platforms of the image's index other than the one read (empty for a single-platform image). */
  otherPlatforms(imageId: string): string[] {
    return this.platforms.get(imageId) ?? [];
  }

  async load(signal?: AbortSignal): Promise<SourceContents> {
    const { source } = this;
    throwIfAborted(signal);
    const meta = await this.readMeta();
    const snapshots = await SnapshotIndex.open(source, this.namespace, meta.snapshots, meta.lost.has('snapshots'));
    const problems: Problem[] = [...meta.problems, ...(snapshots.problem ? [snapshots.problem] : [])];
    const ctx: LoadContext = { meta, snapshots, layers: new Map(), stacks: new Map() };

    const byTarget = new Map<string, ImageRecord[]>();
    for (const rec of meta.images) {
      const list = byTarget.get(rec.target.digest) ?? [];
      list.push(rec);
      byTarget.set(rec.target.digest, list);
    }
    const images: Image[] = [];
    const byId = new Map<string, Image>();
    const idByName = new Map<string, string>();
    for (const records of byTarget.values()) {
      throwIfAborted(signal);
      const image = await this.loadImage(records[0].target, records, ctx);
      for (const r of records) idByName.set(r.name, image.id);
      const same = byId.get(image.id);
      if (same) {
        // Two targets (an index and one of its manifests) naming the same config: one image.
        same.tags.push(...image.tags.filter((t) => !same.tags.includes(t)));
        same.digests.push(...image.digests.filter((d) => !same.digests.includes(d)));
        same.problems.push(...image.problems.filter((p) => !same.problems.includes(p)));
        continue;
      }
      byId.set(image.id, image);
      images.push(image);
    }

    const imagesLost = meta.lost.get('images');
    let recovered = 0;
    if (imagesLost !== undefined) {
      // The names are gone with meta.db's images bucket; the targets are still in the content store.
      const owned = meta.lost.has('content sizes') ? undefined : new Set(meta.contentSizes.keys());
      const found = await recoverTargets(source.dir, owned, signal);
      problems.push(...found.problems);
      const lost: Problem = {
        code: 'corrupt',
        message: `meta.db is corrupt (${imagesLost}); listed from the content store, its names are unknown`,
        path: path.join(source.dir, META_DB),
      };
      for (const target of found.targets) {
        throwIfAborted(signal);
        if (byTarget.has(target.digest)) continue;
        const image = await this.loadImage(target, [], ctx, lost);
        if (byId.has(image.id)) continue;
        byId.set(image.id, image);
        images.push(image);
        recovered++;
      }
    }
    if (meta.lost.size) problems.push(lostProblem(path.join(source.dir, META_DB), this.namespace, source.driver, meta.lost, recovered));

    const containers: Container[] = [];
    for (const rec of meta.containers) {
      throwIfAborted(signal);
      containers.push(await this.loadContainer(rec, ctx, idByName));
    }
    return { source, images, layers: [...ctx.layers.values()], containers, problems };
  }

  /**
   * The namespace's records from meta.db, read in salvage mode: a damaged
   * page loses what it held (`lost` says which sections), a file with no valid
   * meta page loses everything; either way the rest of the store is read.
   */
  private async readMeta(): Promise<NamespaceMeta> {
    let db: BoltDb;
    try {
      db = await BoltDb.open(path.join(this.source.dir, META_DB), { salvage: true });
    } catch (err) {
      if (!(err instanceof LayerError) || err.code !== 'corrupt') throw err;
      return { ...lostNamespace(err.message), problems: [toProblem(err, 'meta.db')] };
    }
    try {
      return readNamespace(db, this.namespace, this.source.driver);
    } finally {
      db.close();
    }
  }

  /**
   * The image `target` resolves to, named by `records` (none when it was
   * recovered from the content store: `lost` then says why it has no name).
   */
  private async loadImage(target: Descriptor, records: ImageRecord[], ctx: LoadContext, lost?: Problem): Promise<Image> {
    const { source } = this;
    const names = records.map((r) => r.name);
    const named = names.filter((n) => !n.startsWith('moby-dangling@'));
    const tags = named.filter((n) => !n.includes('@'));
    const digests = named.filter((n) => n.includes('@'));
    const subject = names[0] ?? target.digest;
    const createdAt = records[0]?.createdAt;
    const problems: Problem[] = [];
    try {
      const r = await resolveManifest(source.dir, target, this.options.platform ?? hostPlatform(), subject);
      const id = r.config.digest;
      if (lost) problems.push({ ...lost, subject: id });
      problems.push(...r.problems);
      const config = r.config.value as ImageConfig;
      this.configs.set(id, { text: r.config.text, value: config, file: r.config.file });
      if (r.otherPlatforms.length) this.platforms.set(id, r.otherPlatforms);

      const diffIds = (Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : []).map(String);
      diffIds.forEach((d) => digestHex(d, 'diff id'));
      const blobs: { digest?: string; mediaType?: string; size?: number }[] = Array.isArray(r.manifest.value.layers)
        ? r.manifest.value.layers
        : [];
      if (blobs.length !== diffIds.length) {
        problems.push({
          code: 'corrupt',
          message: `${r.manifest.file}: the manifest lists ${blobs.length} layers, the config ${diffIds.length} diff ids`,
          path: r.manifest.file,
          subject: id,
        });
      }
      const layerList: Layer[] = [];
      const chains = chainIds(diffIds);
      for (let i = 0; i < chains.length; i++) {
        layerList.push(await this.loadLayer(chains[i], diffIds[i], blobs[i], layerList[i - 1], ctx));
      }
      for (const l of layerList) for (const p of l.problems) if (!problems.includes(p)) problems.push(p);
      const steps = alignSteps(config, layerList);
      const history = Array.isArray(config.history) ? config.history : [];
      const described = history.filter((h) => h?.empty_layer !== true).length;
      if (history.length && described !== diffIds.length) {
        problems.push({
          code: 'corrupt',
          message: `${r.config.file}: the history describes ${described} layers, rootfs has ${diffIds.length}`,
          path: r.config.file,
          subject: id,
        });
      }
      return {
        key: `${source.key}/${id}`,
        id,
        source,
        tags,
        digests,
        created: typeof config.created === 'string' ? config.created : createdAt,
        size: layerList.reduce((sum, l) => sum + l.size, 0),
        platform: {
          os: config.os ?? r.platform?.os,
          architecture: config.architecture ?? r.platform?.architecture,
          variant: config.variant ?? r.platform?.variant,
        },
        steps,
        layerKeys: layerList.map((l) => l.key),
        problems,
      };
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      if (lost) problems.push({ ...lost, subject: target.digest });
      problems.push(toProblem(err, subject));
      return unreadableImage(source, target.digest, { tags, digests }, problems, createdAt);
    }
  }

  /** The layer of `chainId`, built once and shared by every image that has it. */
  private async loadLayer(
    chainId: string,
    diffId: string,
    blob: { digest?: string; mediaType?: string; size?: number } | undefined,
    parent: Layer | undefined,
    ctx: LoadContext,
  ): Promise<Layer> {
    const key = `${this.source.key}/${chainId}`;
    const known = ctx.layers.get(key);
    if (known) return known;
    const problems: Problem[] = [];
    const below = parent ? (ctx.stacks.get(parent.key) ?? []) : [];
    const found = await ctx.snapshots.content(chainId, below, problems);
    const usage = found?.backend.kind === 'committed' ? found.backend.size : undefined;
    // Without a recorded usage: the uncompressed blob's size when the store has it, else the blob's own.
    const size =
      usage ??
      ctx.meta.contentSizes.get(diffId) ??
      (blob?.mediaType && UNCOMPRESSED.test(blob.mediaType) ? blob.size : undefined) ??
      (typeof blob?.size === 'number' ? blob.size : 0);
    const content = found?.content;
    const empty = diffId === EMPTY_TAR || (content !== undefined && (await listDir(content.dir)).length === 0);
    const layer: Layer = {
      key,
      id: chainId,
      source: this.source,
      diffId,
      parentKey: parent?.key,
      parentId: parent?.id,
      size,
      empty,
      content,
      problems,
    };
    ctx.stacks.set(key, content ? [content.dir, ...below] : below);
    ctx.layers.set(key, layer);
    return layer;
  }

  private async loadContainer(rec: ContainerRecord, ctx: LoadContext, idByName: Map<string, string>): Promise<Container> {
    const { source } = this;
    const problems: Problem[] = [];
    let layer: Layer | undefined;
    try {
      if (rec.snapshotter && rec.snapshotter !== source.driver) {
        const message = `container ${rec.id} uses snapshotter ${rec.snapshotter}, not ${source.driver}`;
        problems.push({ code: 'unsupported', message, subject: rec.id });
      } else if (rec.snapshotKey) {
        const parentKey = ctx.snapshots.parentOf(rec.snapshotKey);
        const parent = parentKey ? ctx.layers.get(`${source.key}/${parentKey}`) : undefined;
        if (parentKey && !parent) {
          const message = `the image layer ${parentKey} of container ${rec.id} is not in any image`;
          problems.push({ code: 'missing-parent', message, subject: rec.id });
        }
        const below = parent ? (ctx.stacks.get(parent.key) ?? []) : [];
        const found = await ctx.snapshots.content(rec.snapshotKey, below, problems);
        layer = {
          key: `${source.key}/container/${rec.snapshotKey}`,
          id: rec.snapshotKey,
          source,
          parentKey: parent?.key,
          parentId: parent?.id ?? parentKey,
          size: found?.backend.size ?? 0,
          empty: false,
          content: found?.content,
          problems,
        };
      }
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      problems.push(toProblem(err, rec.id));
    }
    return {
      key: `${source.key}/container/${rec.id}`,
      id: rec.id,
      name: rec.labels['nerdctl/name'] ?? rec.labels['io.kubernetes.container.name'] ?? rec.id,
      imageId: rec.image ? idByName.get(rec.image) : undefined,
      imageRef: rec.image,
      created: rec.createdAt,
      source,
      layer,
      problems,
    };
  }

  async document(image: Image, stepIndex: number, signal?: AbortSignal): Promise<LayerDocument> {
    throwIfAborted(signal);
    if (!image.steps[stepIndex]) throw new LayerError('not-found', `image ${image.id} has no step ${stepIndex}`);
    let own = this.configs.get(image.id);
    if (!own) {
      const blob = await readJsonBlob(this.source.dir, image.id, 'config');
      own = { text: blob.text, value: blob.value as ImageConfig, file: blob.file };
      this.configs.set(image.id, own);
    }
    if (stepIndex === image.steps.length - 1) {
      return { kind: 'image-config', text: own.text, path: own.file, imageId: image.id, stepIndex };
    }
    // The id of a step is the chain id of the nearest layer at or below it.
    return v1CompatDocument(image, own.value, stepIndex);
  }
}
