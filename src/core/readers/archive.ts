/**
 * Image archives as read-only roots, read in place (nothing is unpacked):
 * `docker save` of every generation (≤ 1.9 `<id>/json` + `repositories`;
 * 1.10–24 `manifest.json`; 25+ OCI `index.json` beside `manifest.json`) and
 * OCI image layouts, as a folder or a tar. Layers stay in their blobs
 * (LayerContent.tar); src/core/tar/ walks and reads them.
 *
 * Ids are the other readers' ids: image id = config digest, layer id = chain id
 * (a layer shared by two images is one layer), so an image saved from a root
 * and the same image in that root agree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { parseJson } from '../fsUtil';
import type { Image, Layer, LayerDocument, LayoutReader, Problem, Source, SourceContents, TarBlob } from '../model';
import { DIGEST } from '../model';
import { tarLayerSize } from '../tar/layerIndex';
import { BLOCK, TarHeaderDecoder } from '../tar/tarHeader';
import { openReadOnly, readAt } from '../tar/tarIndex';
import { FolderArchiveFiles, TarArchiveFiles, type ArchiveFiles } from './archiveFiles';
import { loadLegacyArchive } from './archiveLegacy';
import { manifestJsonEntries, ociIndexEntries, type ImageEntry } from './archiveManifests';
import { alignSteps, chainIds, sha256Hex, stringField, unreadableImage, v1CompatDocument, type ImageConfig } from './imageConfig';

/**
 * The archive source of `root` (a file, or a folder that holds an OCI layout),
 * or undefined when it is neither. A gzip-compressed archive is refused with
 * what to do: reading one in place would mean decompressing it for every read.
 */
export function detectArchive(root: string, isFile: boolean): Source | undefined {
  const make = (driver: string, label: string): Source => ({ key: `${root}#archive:${driver}`, root, kind: 'archive', dir: root, driver, label });
  if (!isFile) {
    const oci = path.join(root, 'oci-layout');
    const ok = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false })?.isFile() === true;
    return ok(oci) && ok(path.join(root, 'index.json')) ? make('oci-layout', `OCI layout ${path.basename(root)}`) : undefined;
  }
  const fd = openReadOnly(root);
  let head: Buffer;
  try {
    head = readAt(fd, BLOCK, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    throw new LayerError('unsupported', `${root} is a gzip-compressed archive: decompress it first (gunzip -k ${path.basename(root)}) and open the .tar`, root);
  }
  if (head.length === BLOCK) {
    try {
      if (new TarHeaderDecoder().decode(head, 0).type === 'member') return make('tar', `archive ${path.basename(root)}`);
    } catch {
      // not a tar: said below
    }
  }
  return undefined;
}

export class ArchiveReader implements LayoutReader {
  private files?: ArchiveFiles;
  /** Image key → its config's member name (legacy archives: none, documents are `<id>/json`). */
  private readonly configs = new Map<string, string>();

  constructor(readonly source: Source) {}

  private async open(signal?: AbortSignal): Promise<ArchiveFiles> {
    this.files ??= this.source.driver === 'oci-layout' ? new FolderArchiveFiles(this.source.dir) : await TarArchiveFiles.open(this.source.dir, signal);
    return this.files;
  }

  async load(signal?: AbortSignal): Promise<SourceContents> {
    const { source } = this;
    throwIfAborted(signal);
    const files = await this.open(signal);
    const problems: Problem[] = [...files.problems];
    const layers = new Map<string, Layer>();
    const oci = files.has('index.json') && files.has('oci-layout');
    const save = files.has('manifest.json');
    let images: Image[];
    if (!oci && !save) {
      if (!files.has('repositories') && !files.topNames().some((n) => files.has(`${n}/json`))) {
        throw new LayerError(
          'not-a-root',
          `${source.dir} is a tar but not an image archive: it holds no manifest.json, OCI index.json or repositories`,
          source.dir,
        );
      }
      images = await loadLegacyArchive(source, files, layers, problems, signal);
    } else {
      // Docker 25+ writes both: manifest.json adds its tags (and the images index.json leaves out).
      // One image per config: the same image named twice gets both names.
      const entries: ImageEntry[] = [];
      for (const e of [...(oci ? ociIndexEntries(files, problems) : []), ...(save ? manifestJsonEntries(files, problems) : [])]) {
        const same = entries.find((o) => o.configHex === e.configHex);
        if (!same) entries.push(e);
        else for (const n of [...e.tags, ...e.digests]) if (!same.tags.includes(n) && !same.digests.includes(n)) (n.includes('@') ? same.digests : same.tags).push(n);
      }
      images = [];
      for (const e of entries) {
        throwIfAborted(signal);
        images.push(await this.imageOf(files, e, layers, signal));
      }
    }
    images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));
    return { source, images, layers: [...layers.values()], containers: [], problems };
  }

  private async imageOf(files: ArchiveFiles, e: ImageEntry, layers: Map<string, Layer>, signal?: AbortSignal): Promise<Image> {
    const { source } = this;
    const id = `sha256:${e.configHex}`;
    const names = { tags: [...e.tags].sort(), digests: [...e.digests].sort() };
    let config: ImageConfig;
    const problems: Problem[] = [];
    try {
      const text = files.text(e.config);
      if (sha256Hex(text) !== e.configHex) {
        problems.push({ code: 'corrupt', message: `${e.from}: the config ${e.config} does not hash to its name (sha256:${sha256Hex(text)})`, subject: id });
      }
      config = parseJson<ImageConfig>(text, `${files.path}:${e.config}`);
      if (typeof config !== 'object' || config === null) throw new LayerError('corrupt', `${e.config} is not a JSON object`);
    } catch (err) {
      return unreadableImage(source, id, names, [{ ...toProblem(err, id), message: `image ${id.slice(7, 19)}: ${(err as Error).message}` }]);
    }
    const diffIds = (Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : []).filter((d): d is string => typeof d === 'string' && DIGEST.test(d));
    if (diffIds.length !== e.layers.length) {
      problems.push({ code: 'corrupt', message: `${e.from}: the config has ${diffIds.length} valid diff ids for ${e.layers.length} layers`, subject: id });
    }
    const count = Math.min(diffIds.length, e.layers.length);
    const chain = chainIds(diffIds.slice(0, count));
    const list: Layer[] = [];
    const lowerBlobs: TarBlob[] = [];
    for (let i = 0; i < count; i++) {
      const key = `${source.key}/${chain[i]}`;
      let layer = layers.get(key);
      if (!layer) {
        layer = await this.layerOf(files, key, chain[i], diffIds[i], e.layers[i], list[i - 1], lowerBlobs, signal);
        layers.set(key, layer);
      }
      if (layer.content?.tar) lowerBlobs.unshift(layer.content.tar.blob);
      for (const p of layer.problems) if (!problems.includes(p)) problems.push(p);
      list.push(layer);
    }
    const steps = alignSteps(config, list);
    if (steps.length > 0) steps[steps.length - 1] = { ...steps[steps.length - 1], imageId: id };
    const image: Image = {
      key: `${source.key}/${id}`,
      id,
      source,
      ...names,
      created: stringField(config.created),
      parentId: e.parentId,
      size: list.reduce((s, l) => s + l.size, 0),
      platform: {
        os: stringField(config.os) ?? e.platform?.os,
        architecture: stringField(config.architecture) ?? e.platform?.architecture,
        variant: stringField(config.variant) ?? e.platform?.variant,
      },
      steps,
      layerKeys: list.map((l) => l.key),
      problems,
    };
    this.configs.set(image.key, e.config);
    return image;
  }

  private async layerOf(
    files: ArchiveFiles,
    key: string,
    id: string,
    diffId: string,
    name: string,
    parent: Layer | undefined,
    lowerBlobs: readonly TarBlob[],
    signal?: AbortSignal,
  ): Promise<Layer> {
    const base = { key, id, source: this.source, diffId, parentKey: parent?.key, parentId: parent?.id, empty: false };
    try {
      const blob = files.blob(name);
      const content = { dir: blob.file, form: 'diff' as const, whiteouts: 'aufs' as const, lowerDirs: [], tar: { blob, lowerBlobs: [...lowerBlobs] } };
      const { size, problems } = await tarLayerSize(blob, id, signal);
      return { ...base, size, content, problems };
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      return { ...base, size: 0, problems: [{ ...toProblem(err, id), message: `layer ${id.replace(/^sha256:/, '').slice(0, 12)}: ${(err as Error).message}` }] };
    }
  }

  async document(image: Image, stepIndex: number): Promise<LayerDocument> {
    const files = await this.open();
    const step = image.steps[stepIndex];
    if (!step) throw new LayerError('not-found', `image ${image.id} has no step ${stepIndex}`);
    const configName = this.configs.get(image.key);
    if (configName === undefined) {
      // Legacy archive: each step's `<id>/json`, verbatim.
      const name = `${step.imageId ?? image.id}/json`;
      return { kind: 'legacy-json', text: files.text(name), path: `${files.path}:${name}`, imageId: image.id, stepIndex };
    }
    const text = files.text(configName);
    if (stepIndex === image.steps.length - 1) return { kind: 'image-config', text, path: `${files.path}:${configName}`, imageId: image.id, stepIndex };
    return v1CompatDocument(image, parseJson<ImageConfig>(text, `${files.path}:${configName}`), stepIndex);
  }
}
