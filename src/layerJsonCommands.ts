/**
 * The commands of the Layer JSON editor:
 * - `dockerLayers.openLayerJson` (a step row's click in the Images tree; an
 *   image: its top step; a URI; nothing: pick an image, then a step)
 * - `dockerLayers.openLayerJsonAsText` (editor title, the view's toolbar):
 *   a `file:` document opens as that file; a step opens as its read-only
 *   `docker-layer:` document when that file system is registered, otherwise
 *   as an untitled JSON document holding exactly the text the editor shows.
 */
import * as vscode from 'vscode';
import { humanSize, shortStep, truncate } from './core/format';
import { shortId, type Image } from './core/model';
import type { TreeNode } from './imagesTreeProvider';
import type { LayerJsonEditorProvider } from './layerJsonEditorProvider';
import { SCHEME, jsonDocUri } from './layerUri';
import { reportErrors } from './log';
import { showIntermediate } from './settings';
import type { StoreService } from './storeService';

export function registerLayerJsonCommands(context: vscode.ExtensionContext, service: StoreService, provider: LayerJsonEditorProvider): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.openLayerJson', (arg?: unknown) =>
      reportErrors('open layer JSON', async () => {
        const fromTree = isNode(arg);
        const uri = targetUri(arg) ?? (await pickStep(service, provider));
        if (!uri) return;
        await vscode.commands.executeCommand('vscode.openWith', uri, provider.viewType, { preview: true, preserveFocus: fromTree });
      }),
    ),
    vscode.commands.registerCommand('dockerLayers.openLayerJsonAsText', (arg?: unknown) =>
      reportErrors('open layer JSON as text', async () => {
        const uri = targetUri(arg) ?? provider.activeUri();
        if (!uri) throw new Error('open a layer JSON editor first');
        await openAsText(provider, uri);
      }),
    ),
  );
}

function isNode(arg: unknown): arg is TreeNode {
  return typeof arg === 'object' && arg !== null && 'kind' in arg && !(arg instanceof vscode.Uri);
}

/** The document a command argument names: a step or image row of the Images tree, or a URI. */
function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (!isNode(arg)) return undefined;
  if (arg.kind === 'step') return jsonDocUri(arg.image, arg.stepIndex);
  if (arg.kind === 'image') return jsonDocUri(arg.image, arg.image.steps.length - 1);
  return undefined;
}

async function openAsText(provider: LayerJsonEditorProvider, uri: vscode.Uri): Promise<void> {
  if (uri.scheme === 'file') {
    await vscode.window.showTextDocument(uri, { preview: false });
    return;
  }
  if (uri.scheme === SCHEME && vscode.workspace.fs.isWritableFileSystem(SCHEME) !== undefined) {
    try {
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: false });
      return;
    } catch {
      // the file system cannot give it (a corrupt document): show the text as it was read
    }
  }
  const loaded = await provider.documentFor(uri).load();
  const content = loaded.view?.text ?? loaded.raw;
  if (content === undefined) throw new Error(loaded.error?.message ?? 'the document could not be read');
  const document = await vscode.workspace.openTextDocument({ language: 'json', content });
  await vscode.window.showTextDocument(document, { preview: false });
}

interface ImageItem extends vscode.QuickPickItem {
  image: Image;
}
interface StepItem extends vscode.QuickPickItem {
  stepIndex: number;
}

/** Asks for an image, then one of its steps (the active editor's image and step come first). */
async function pickStep(service: StoreService, provider: LayerJsonEditorProvider): Promise<vscode.Uri | undefined> {
  const store = await service.get();
  const active = provider.activeUri();
  const current = active ? (await provider.documentFor(active).load()).target : undefined;
  const all = showIntermediate();
  const images = store.images.filter((i) => all || !i.intermediate || i.key === current?.image.key);
  if (images.length === 0) throw new Error('no images in the roots that are read');
  const items: ImageItem[] = images.map((image) => ({
    label: image.tags[0] ?? image.digests[0] ?? '<none>',
    description: `${shortId(image.id)} · ${image.steps.length} steps · ${humanSize(image.size)}`,
    detail: image.source.root + ' · ' + image.source.label,
    image,
  }));
  items.sort((a, b) => Number(b.image.key === current?.image.key) - Number(a.image.key === current?.image.key));
  const picked = await vscode.window.showQuickPick(items, { title: 'Open Layer JSON (1/2): image', placeHolder: 'Choose an image', matchOnDescription: true });
  if (!picked) return undefined;
  const { image } = picked;
  const steps: StepItem[] = image.steps.map((s, stepIndex) => ({
    label: `${stepIndex}  ${truncate(shortStep(s.createdBy) || '(no command recorded)', 100)}`,
    description: s.empty ? 'empty' : humanSize(s.size),
    stepIndex,
  }));
  const quick = vscode.window.createQuickPick<StepItem>();
  quick.title = `Open Layer JSON (2/2): step of ${picked.label}`;
  quick.placeholder = 'Choose a step (0 is the bottom)';
  quick.items = steps;
  const preselect = current?.image.key === image.key ? current.stepIndex : image.steps.length - 1;
  quick.activeItems = [steps[preselect]];
  const step = await new Promise<StepItem | undefined>((resolve) => {
    quick.onDidAccept(() => resolve(quick.selectedItems[0] ?? quick.activeItems[0]));
    quick.onDidHide(() => resolve(undefined));
    quick.show();
  });
  quick.dispose();
  return step ? jsonDocUri(image, step.stepIndex) : undefined;
}
