/**
 * Commands on one file of a layer or of an image's merged view, called by the
 * Layer Files view with a LayerFileRef (or with a `docker-layer:` URI):
 * open it in place, read-only; reveal (or copy) where it lies in the Docker
 * root; copy its path in the image; open the step whose layer provides it.
 * Nothing here opens a real path of the root for editing.
 */
import * as vscode from 'vscode';
import { hasMappedBytes } from './core/byteNames';
import { LayerError } from './core/errors';
import type { EntryStatus, EntryType } from './core/layerEntry';
import { statLayerPath } from './core/layerFiles';
import { resolveMerged } from './core/mergedPath';
import type { StepRef, Store } from './core/store';
import { activeEditorUri, imageByKey, imageName, mergedLayers, stepOfLayer } from './layerTargets';
import { layerFileUri, mergedFileUri, normalizeEntryPath, parseLayerUri } from './layerUri';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

/**
 * One file as the Layer Files view names it; its nodes may be (or carry, as
 * `ref`) this shape. A layer's own entry has `layerKey` (`imageKey` says which
 * image the view shows it for); a merged entry has `merged`, `imageKey` and
 * `step` (the view's image and step).
 */
export interface LayerFileRef {
  /** Layer.key of the layer whose own content holds the path (a container's read-write layer too). */
  readonly layerKey?: string;
  /** Image.key: the merged view's image, or the image the layer is shown for. */
  readonly imageKey?: string;
  /** Step index of the merged view (that layer and all below). */
  readonly step?: number;
  /** True: `path` in the merged filesystem of `imageKey` as of `step`. */
  readonly merged?: boolean;
  /** Path inside the image: `/etc/app/c.conf`. */
  readonly path: string;
  readonly type: EntryType;
  /** Symlink target, as listed. */
  readonly target?: string;
  /** As the walk listed it: a `deleted` entry has nothing to open. */
  readonly status?: EntryStatus;
}

function isRef(x: unknown): x is LayerFileRef {
  return typeof x === 'object' && x !== null && typeof (x as LayerFileRef).path === 'string';
}

/** The ref a command was given (a ref, a node carrying one, a URI), or the active editor's file. */
export function refOfArg(arg: unknown): LayerFileRef | undefined {
  if (isRef(arg)) return arg;
  const inner = (arg as { ref?: unknown } | undefined)?.ref;
  if (isRef(inner)) return inner;
  const uri = arg instanceof vscode.Uri ? arg : arg === undefined ? activeEditorUri() : undefined;
  const t = uri && parseLayerUri(uri);
  if (t?.k === 'file') return { layerKey: t.layer, path: t.path, type: 'unknown' };
  if (t?.k === 'merged') return { imageKey: t.image, step: t.step, merged: true, path: t.path, type: 'unknown' };
  return undefined;
}

function mergedOf(store: Store, ref: LayerFileRef) {
  if (ref.imageKey === undefined || ref.step === undefined) throw new LayerError('not-found', `${ref.path}: a merged entry needs its image and step`);
  const image = imageByKey(store, ref.imageKey);
  return { image, step: ref.step, ...mergedLayers(store, image, ref.step) };
}

function layerOf(store: Store, ref: LayerFileRef) {
  const layer = store.layer(ref.layerKey);
  if (!layer) throw new LayerError('not-found', `${ref.path}: its layer is no longer in the configured roots`);
  return layer;
}

/** The `docker-layer:` URI that opens the ref read-only. */
export function uriOfRef(store: Store, ref: LayerFileRef): vscode.Uri {
  if (ref.merged) {
    const { image, step } = mergedOf(store, ref);
    return mergedFileUri(image, step, ref.path);
  }
  return layerFileUri(layerOf(store, ref), ref.path);
}

/** Where the entry lies on disk (for a whiteout: its marker), checked not to go through a symlink. */
export async function diskPathOf(store: Store, ref: LayerFileRef): Promise<string> {
  if (ref.merged) {
    const { image, step, contents } = mergedOf(store, ref);
    const hit = await resolveMerged(contents, ref.path);
    if (!hit) throw new LayerError('not-found', `${ref.path} does not exist in ${imageName(image)} as of step ${step}`);
    return hit.stat.diskPath;
  }
  const content = layerOf(store, ref).content;
  if (!content) throw new LayerError('not-found', `${ref.path}: its layer has no folder on disk`);
  return (await statLayerPath(content, ref.path)).diskPath;
}

/** The step whose layer provides the entry: for a merged entry the top layer holding it, else the layer's own step. */
export async function containingStep(store: Store, ref: LayerFileRef): Promise<StepRef | undefined> {
  if (ref.merged) {
    const { image, contents, steps } = mergedOf(store, ref);
    const hit = await resolveMerged(contents, ref.path);
    return hit ? { image, stepIndex: steps[hit.layerIndex] } : undefined;
  }
  if (ref.layerKey === undefined) return undefined;
  const image = ref.imageKey !== undefined ? imageByKey(store, ref.imageKey) : undefined;
  return stepOfLayer(store, ref.layerKey, image);
}

const UNOPENABLE: Partial<Record<EntryType, string>> = {
  dir: 'a folder',
  fifo: 'a FIFO (named pipe)',
  char: 'a character device',
  block: 'a block device',
  socket: 'a socket',
};

export function registerFileCommands(context: vscode.ExtensionContext, service: StoreService): void {
  const add = (id: string, title: string, fn: (ref: LayerFileRef, store: Store) => Promise<unknown>) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, (arg?: unknown) =>
        reportErrors(title, async () => {
          const ref = refOfArg(arg);
          if (!ref) return void vscode.window.showInformationMessage('Choose a file in the Layer Files view first.');
          return fn(ref, await service.get());
        }),
      ),
    );

  add('dockerLayers.openLayerFile', 'Open File', async (ref, store) => {
    const path = normalizeEntryPath(ref.path);
    if (ref.status === 'deleted') return void vscode.window.showInformationMessage(`${path} was deleted in this layer: there is nothing to open.`);
    const what = UNOPENABLE[ref.type];
    if (what) return void vscode.window.showInformationMessage(`${path} is ${what}: only files and symbolic links open.`);
    const uri = uriOfRef(store, ref);
    // VS Code shows any read error but "not found" as "an unexpected error": read first, so that the cause is told.
    if (ref.type === 'file') await vscode.workspace.fs.readFile(uri);
    await vscode.commands.executeCommand('vscode.open', uri, { preview: true });
  });

  add('dockerLayers.revealInDockerRoot', 'Reveal in Docker Root', async (ref, store) => {
    let disk = await diskPathOf(store, ref);
    // A name that is not UTF-8 (byteNames.ts) has no string path on disk: reveal the nearest folder that has one.
    while (hasMappedBytes(disk)) disk = disk.slice(0, disk.lastIndexOf('/')) || '/';
    const remote = vscode.env.remoteName;
    if (vscode.env.uiKind === vscode.UIKind.Desktop && !remote) {
      try {
        await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(disk));
        return;
      } catch {
        // not available in this window: copy instead
      }
    }
    await vscode.env.clipboard.writeText(disk);
    const where = remote ? `a remote window (${remote})` : vscode.env.uiKind === vscode.UIKind.Web ? 'VS Code in a browser' : 'this window';
    void vscode.window.showInformationMessage(
      `Copied the path on disk: ${disk} (the file manager cannot be opened from ${where}). It is inside a Docker root: read it, do not change it.`,
    );
  });

  add('dockerLayers.copyLayerPath', 'Copy Path', async (ref) => {
    const path = normalizeEntryPath(ref.path);
    await vscode.env.clipboard.writeText(path);
    vscode.window.setStatusBarMessage(`Copied ${path}`, 3000);
  });

  add('dockerLayers.openContainingLayer', 'Open Containing Layer', async (ref, store) => {
    const step = await containingStep(store, ref);
    if (!step) {
      const why = ref.merged ? 'no layer of this image provides it as of this step' : 'its layer is a container’s read-write layer, not an image step';
      return void vscode.window.showInformationMessage(`${normalizeEntryPath(ref.path)}: ${why}.`);
    }
    await vscode.commands.executeCommand('dockerLayers.openLayerJson', { kind: 'step', image: step.image, stepIndex: step.stepIndex });
  });
}
