/**
 * The read-only `docker-layer:` file system (see layerUri.ts), modelled on VS
 * Code's own `git:` scheme: every write is refused, every read goes through the
 * core's safe reads (core/layerFiles.ts), which never follow a symlink.
 *
 * - `json`: a step's document, pretty-printed with sorted keys (stableStringify),
 *   so a diff of two steps shows meaning, not formatting;
 * - `file`: a path in one layer's own content;
 * - `merged`: a path in an image's filesystem as of a step (the layer that
 *   provides it, top down, whiteouts and opaque folders honoured).
 *
 * A symlink reads as one line of text naming its target; opening it never
 * shows the file it points at. Binary detection is left to VS Code. Paths in
 * URIs' queries are mapped strings (core/byteNames.ts): the core reads a name
 * that is not valid UTF-8 by its own bytes.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { LayerError, errorMessage } from './core/errors';
import { stableStringify } from './core/jsonDiff';
import type { EntryType } from './core/layerEntry';
import { listLayerDir, readLayerFile, statLayerPath, type LayerPathStat } from './core/layerFiles';
import { listMergedDir, resolveMerged } from './core/mergedPath';
import { shortId, type LayerContent } from './core/model';
import type { Store } from './core/store';
import { registerCompareCommands } from './compareCommands';
import { Disposable } from './dispose';
import { registerFileCommands } from './fileCommands';
import { checkStep, imageByKey, imageName, mergedLayers } from './layerTargets';
import { SCHEME, parseLayerUri, type LayerUriTarget } from './layerUri';
import type { StoreService } from './storeService';

/** What a symlink reads as: its target, said not to be followed. */
export function symlinkText(target: string): string {
  return `symbolic link → ${displayName(target)} (not followed: it would leave the layer)\n`;
}

/** A step's document as the diff shows it: sorted keys, 2 spaces; corrupt JSON verbatim. */
export function prettyDocument(text: string): string {
  try {
    return stableStringify(JSON.parse(text), 2) + '\n';
  } catch {
    return text;
  }
}

/** Core errors as FileSystemErrors, keeping the core's message. */
export function toFileSystemError(err: unknown, uri: vscode.Uri): vscode.FileSystemError {
  if (err instanceof vscode.FileSystemError) return err;
  const message = errorMessage(err);
  if (err instanceof LayerError) {
    switch (err.code) {
      case 'not-found':
      case 'invalid-id':
      case 'missing-parent':
        return vscode.FileSystemError.FileNotFound(message);
      case 'permission-denied':
        return vscode.FileSystemError.NoPermissions(message);
      default:
        return vscode.FileSystemError.Unavailable(message);
    }
  }
  return vscode.FileSystemError.Unavailable(message || uri.toString(true));
}

function fileType(type: EntryType): vscode.FileType {
  switch (type) {
    case 'dir':
      return vscode.FileType.Directory;
    case 'file':
    case 'symlink': // shown as the text that names its target
      return vscode.FileType.File;
    default:
      return vscode.FileType.Unknown;
  }
}

/** What one URI resolves to on disk. */
type Entry = { content: LayerContent; stat: LayerPathStat };

export class LayerFileSystemProvider extends Disposable implements vscode.FileSystemProvider {
  private readonly changed = this.register(new vscode.EventEmitter<vscode.FileChangeEvent[]>());
  readonly onDidChangeFile = this.changed.event;
  /** Pretty documents by URI, for the store they were made from (stat and readFile ask in turn). */
  private readonly documents = new Map<string, { store: Store; bytes: Uint8Array; mtime: number }>();

  constructor(private readonly service: StoreService) {
    super();
  }

  watch(): vscode.Disposable {
    // Layers do not change under a loaded store: nothing to watch.
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    return this.guard(uri, async (t, store) => {
      if (t.k === 'json') {
        const doc = await this.document(uri, t, store);
        return { type: vscode.FileType.File, size: doc.bytes.byteLength, mtime: doc.mtime, ctime: doc.mtime, permissions: vscode.FilePermission.Readonly };
      }
      const { content, stat } = await this.entry(t, store);
      if (stat.deleted) await readLayerFile(content, stat.path); // throws: "was deleted in this layer"
      const size = stat.type === 'symlink' ? Buffer.byteLength(symlinkText(stat.target ?? '')) : stat.type === 'file' ? stat.size : 0;
      return {
        type: fileType(stat.type),
        size,
        mtime: Math.floor(stat.mtimeMs),
        ctime: Math.floor(stat.birthtimeMs || stat.ctimeMs),
        permissions: vscode.FilePermission.Readonly,
      };
    });
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return this.guard(uri, async (t, store) => {
      if (t.k === 'json') return (await this.document(uri, t, store)).bytes;
      const { content, stat } = await this.entry(t, store);
      if (stat.type === 'dir' && !stat.deleted) throw vscode.FileSystemError.FileIsADirectory(uri);
      const read = await readLayerFile(content, stat.path);
      return read.kind === 'symlink' ? Buffer.from(symlinkText(read.target)) : read.data;
    });
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    return this.guard(uri, async (t, store) => {
      if (t.k === 'json') throw vscode.FileSystemError.FileNotADirectory(uri);
      if (t.k === 'file') {
        const listing = await listLayerDir(this.layerContent(store, t.layer), t.path);
        return listing.filter((e) => !e.deleted).map((e) => [e.name, fileType(e.type)]);
      }
      const { contents } = mergedLayers(store, imageByKey(store, t.image), t.step);
      return (await listMergedDir(contents, t.path)).map((e) => [e.name, fileType(e.type)]);
    });
  }

  createDirectory(uri: vscode.Uri): never {
    throw readOnly(uri);
  }

  writeFile(uri: vscode.Uri): never {
    throw readOnly(uri);
  }

  delete(uri: vscode.Uri): never {
    throw readOnly(uri);
  }

  rename(uri: vscode.Uri): never {
    throw readOnly(uri);
  }

  copy(_source: vscode.Uri, destination: vscode.Uri): never {
    throw readOnly(destination);
  }

  /** Parses the URI, loads the store, and maps every failure to a FileSystemError. */
  private async guard<T>(uri: vscode.Uri, fn: (t: LayerUriTarget, store: Store) => Promise<T>): Promise<T> {
    const t = parseLayerUri(uri);
    if (!t) throw vscode.FileSystemError.FileNotFound(uri);
    try {
      return await fn(t, await this.service.get());
    } catch (err) {
      throw toFileSystemError(err, uri);
    }
  }

  private async document(uri: vscode.Uri, t: Extract<LayerUriTarget, { k: 'json' }>, store: Store) {
    const key = uri.toString();
    const cached = this.documents.get(key);
    if (cached?.store === store) return cached;
    const image = imageByKey(store, t.image);
    checkStep(image, t.step);
    const doc = await store.document({ image, stepIndex: t.step });
    const bytes = Buffer.from(prettyDocument(doc.text));
    const created = Date.parse(image.steps[t.step].created ?? image.created ?? '');
    const mtime = doc.path ? await fs.promises.lstat(doc.path).then((s) => Math.floor(s.mtimeMs), () => 0) : Number.isNaN(created) ? 0 : created;
    const entry = { store, bytes, mtime };
    if (this.documents.size >= 16) this.documents.delete(this.documents.keys().next().value!);
    this.documents.set(key, entry);
    return entry;
  }

  private layerContent(store: Store, layerKey: string): LayerContent {
    const layer = store.layer(layerKey);
    if (!layer) throw new LayerError('not-found', `the layer ${shortId(layerKey.slice(layerKey.lastIndexOf('/') + 1))} is no longer in the configured roots`);
    if (!layer.content) throw new LayerError('unsupported', `layer ${shortId(layer.id)} has no readable files: ${layer.problems[0]?.message ?? 'its folder is missing'}`);
    return layer.content;
  }

  /** The layer and lstat of a `file` or `merged` URI. */
  private async entry(t: Exclude<LayerUriTarget, { k: 'json' }>, store: Store): Promise<Entry> {
    if (t.k === 'file') {
      const content = this.layerContent(store, t.layer);
      return { content, stat: await statLayerPath(content, t.path) };
    }
    const image = imageByKey(store, t.image);
    const { contents } = mergedLayers(store, image, t.step);
    const hit = await resolveMerged(contents, t.path);
    if (!hit) throw new LayerError('not-found', `${displayName(t.path)} does not exist in ${imageName(image)} as of step ${t.step} (never added, deleted, or hidden by a folder above)`);
    return { content: contents[hit.layerIndex], stat: hit.stat };
  }
}

function readOnly(uri: vscode.Uri): vscode.FileSystemError {
  return vscode.FileSystemError.NoPermissions(`${uri.path}: Docker roots are read-only; Docker Layer Explorer never writes to them`);
}

/**
 * Registers the read-only `docker-layer:` file system and the commands that
 * open or compare its documents (compareCommands.ts, fileCommands.ts).
 */
export function registerLayerFileSystem(context: vscode.ExtensionContext, service: StoreService): LayerFileSystemProvider {
  const provider = new LayerFileSystemProvider(service);
  context.subscriptions.push(provider, vscode.workspace.registerFileSystemProvider(SCHEME, provider, { isReadonly: true, isCaseSensitive: true }));
  registerCompareCommands(context, service);
  registerFileCommands(context, service);
  return provider;
}
