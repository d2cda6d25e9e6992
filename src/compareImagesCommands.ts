/**
 * Compare Image with… (on an image) and Compare Layers… (on a step): a Quick
 * Pick for the other side, the comparison run by the core with progress and
 * cancel, its files in the Comparison view, and the two config/history
 * documents side by side in the native diff editor (sorted keys, as Compare
 * with Selected shows them). With `dockerLayers.compare.xattrs` on, extended
 * attributes are compared too, and the view says once whether they could be
 * (getfattr missing, or only image archives, where there is nothing to read).
 */
import * as vscode from 'vscode';
import { compareFiles, comparePoint, type ComparePoint } from './core/compare';
import { XATTRS_NOTE } from './core/compareXattrs';
import { LayerError } from './core/errors';
import { shortStep, truncate } from './core/format';
import { shortId, type Image } from './core/model';
import type { Store } from './core/store';
import { diffSteps } from './compareCommands';
import { COMPARISON_VIEW, ComparisonTreeProvider, OPEN_COMPARED_FILE, sideUri, type CompareNode, type Comparison } from './compareTreeProvider';
import { registerLayerFileDecorations } from './layerFileDecorations';
import { imageByKey, imageName, stepOfArg } from './layerTargets';
import { jsonDocUri } from './layerUri';
import { log, reportErrors } from './log';
import { compareXattrs, userSetting } from './settings';
import type { StoreService } from './storeService';

/**
 * `dockerLayers.compare.ignore`, from user settings only (machine scope): a
 * workspace must not be able to hide files from a comparison of evidence.
 */
export function compareIgnore(): string[] {
  const value = userSetting('compare.ignore') ?? [];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [];
}

function topOf(store: Store, image: Image): ComparePoint {
  return comparePoint(store, image, image.steps.length - 1);
}

/** The other image, from a Quick Pick of every image but `image` (or given, by a test or a script: an image node or key). */
async function pickImage(store: Store, image: Image, given: unknown): Promise<Image | undefined> {
  if (typeof given === 'string') return imageByKey(store, given);
  const node = given as { kind?: string; image?: Image } | undefined;
  if (node?.kind === 'image' && node.image) return imageByKey(store, node.image.key);
  const roots = new Set(store.images.map((i) => i.source.root));
  const items = store.images
    .filter((i) => i.key !== image.key)
    .map((i) => ({
      label: imageName(i),
      description: `${shortId(i.id)} · ${i.source.label}${i.intermediate ? ' · intermediate' : ''}`,
      detail: roots.size > 1 ? i.source.root : undefined,
      image: i,
    }));
  const pick = await vscode.window.showQuickPick(items, { title: `Compare ${imageName(image)} with…`, placeHolder: 'the image to compare with', matchOnDescription: true });
  return pick?.image;
}

/** The other step of the same image (or given as a number), from a Quick Pick that says what each choice compares. */
async function pickStep(image: Image, stepIndex: number, given: unknown): Promise<number | undefined> {
  if (typeof given === 'number') return given;
  const range = (from: number, to: number) => (from === to ? `what step ${from} does` : `what steps ${from}–${to} do together`);
  const items = [
    { label: 'Nothing (before step 0)', description: '', detail: range(0, stepIndex), step: -1 },
    ...image.steps
      .filter((s) => s.index !== stepIndex)
      .map((s) => ({
        label: `Step ${s.index}`,
        description: truncate(shortStep(s.createdBy), 80) + (s.empty ? ' · empty' : ''),
        detail: s.index < stepIndex ? range(s.index + 1, stepIndex) : range(stepIndex + 1, s.index),
        step: s.index,
      })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: `Compare ${imageName(image)} step ${stepIndex} with…`, placeHolder: 'the other step of this image', matchOnDescription: true });
  return pick?.step;
}

/** Opens the config and history of both sides in the native diff editor (before step 0 there is none: B's alone). */
async function openConfigDiff(c: Comparison): Promise<void> {
  const { a, b } = c;
  if (a.stepIndex < 0) {
    await vscode.window.showTextDocument(jsonDocUri(b.image, b.stepIndex), { preview: true });
    return;
  }
  await diffSteps({ image: a.image, stepIndex: a.stepIndex }, { image: b.image, stepIndex: b.stepIndex });
}

/** Opens a compared file: a changed one in the diff editor, an added or removed one read-only on its side. */
async function openComparedFile(c: Comparison, node: CompareNode): Promise<void> {
  if (node.kind !== 'change') return;
  const { change, path } = node.change;
  const before = node.change.before;
  const after = node.change.after;
  if (change === 'changed' && before?.type !== 'dir' && after?.type !== 'dir') {
    const title = `${path.slice(path.lastIndexOf('/') + 1)} (${c.a.label} ↔ ${c.b.label})`;
    await vscode.commands.executeCommand('vscode.diff', sideUri(c.a, path), sideUri(c.b, path), title, { preview: true });
    return;
  }
  await vscode.commands.executeCommand('vscode.open', sideUri(change === 'removed' ? c.a : c.b, path), { preview: true });
}

function summary(c: Comparison): string {
  const { result } = c;
  const n = (k: string) => result.changes.filter((x) => x.change === k).length;
  const parts = [
    result.changes.length ? `${n('added')} added, ${n('removed')} removed, ${n('changed')} changed` : 'No file differs',
    `${c.a.label} → ${c.b.label}`,
  ];
  if (result.sharedLayers) parts.push(`${result.sharedLayers} shared layer(s) skipped`);
  if (result.problems.length) parts.push(`${result.problems.length} problem(s): see the log`);
  return parts.join(' · ');
}

const HAS_COMPARISON = 'dockerLayers.hasComparison';

export interface ComparisonApi {
  readonly provider: ComparisonTreeProvider;
  readonly view: vscode.TreeView<CompareNode>;
}

export function registerComparison(context: vscode.ExtensionContext, service: StoreService): ComparisonApi {
  const provider = new ComparisonTreeProvider();
  const view = vscode.window.createTreeView(COMPARISON_VIEW, { treeDataProvider: provider, showCollapseAll: true });
  context.subscriptions.push(provider, view);
  registerLayerFileDecorations(context, (uri) => provider.markOf(uri));
  const add = (id: string, title: string, fn: (...args: unknown[]) => Promise<unknown>) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => reportErrors(title, () => fn(...args))));

  const clear = async (): Promise<void> => {
    provider.show(undefined);
    await vscode.commands.executeCommand('setContext', HAS_COMPARISON, false);
    view.message = undefined;
    view.title = 'Comparison';
  };
  // A comparison's keys belong to the store it was made from: after a reload
  // they may point at nothing (or at something else), so it is dropped.
  let storeGeneration = 0;
  context.subscriptions.push(
    service.onDidChange(() => {
      storeGeneration++;
      if (provider.comparison) void clear();
    }),
  );

  /** Runs the comparison with progress and cancel, shows it, opens the config diff. Undefined when cancelled. */
  const run = async (a: ComparePoint, b: ComparePoint): Promise<Comparison | undefined> => {
    const generation = storeGeneration;
    const ignore = compareIgnore();
    const xattrs = compareXattrs();
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Comparing ${a.label} ↔ ${b.label}`, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        let last = 0;
        return compareFiles(a, b, {
          signal: controller.signal,
          ignore,
          xattrs,
          onProgress: (p) => {
            if (Date.now() - last < 200) return;
            last = Date.now();
            progress.report({ message: p.phase === 'walk' ? `layer ${p.done} of ${p.total}` : `${p.done} of ${p.total} paths` });
          },
        }).catch((err) => {
          if (err instanceof LayerError && err.code === 'cancelled') return undefined;
          throw err;
        });
      },
    );
    if (!result || generation !== storeGeneration) return undefined; // cancelled, or the store was reloaded meanwhile
    const comparison: Comparison = { a, b, result };
    for (const p of result.problems) log().warn(`compare ${p.side === 'a' ? a.label : b.label}: ${p.path}: ${p.message}`);
    provider.show(comparison);
    await vscode.commands.executeCommand('setContext', HAS_COMPARISON, true);
    view.message = summary(comparison) + (ignore.length ? ` · ignoring ${ignore.join(', ')}` : '') + (result.xattrs ? ` · ${XATTRS_NOTE[result.xattrs]}` : '');
    view.title = `Comparison: ${a.label} ↔ ${b.label}`;
    await vscode.commands.executeCommand(`${COMPARISON_VIEW}.focus`);
    await openConfigDiff(comparison);
    return comparison;
  };

  add('dockerLayers.compareImageWith', 'Compare Image with…', async (arg, other) => {
    const store = await service.get();
    const step = stepOfArg(store, arg);
    if (!step) return void vscode.window.showInformationMessage('Choose an image in the Images view first.');
    const picked = await pickImage(store, step.image, other);
    return picked ? run(topOf(store, step.image), topOf(store, picked)) : undefined;
  });

  add('dockerLayers.compareLayers', 'Compare Layers…', async (arg, other) => {
    const store = await service.get();
    const step = stepOfArg(store, arg);
    if (!step) return void vscode.window.showInformationMessage('Choose a step of an image in the Images view first.');
    const picked = await pickStep(step.image, step.stepIndex, other);
    if (picked === undefined) return undefined;
    const [lo, hi] = picked < step.stepIndex ? [picked, step.stepIndex] : [step.stepIndex, picked];
    return run(comparePoint(store, step.image, lo), comparePoint(store, step.image, hi));
  });

  add(OPEN_COMPARED_FILE, 'Open Compared File', async (node) => {
    if (provider.comparison) await openComparedFile(provider.comparison, node as CompareNode);
  });
  add('dockerLayers.compareConfig', 'Compare Config and History', async () => {
    if (provider.comparison) await openConfigDiff(provider.comparison);
  });
  add('dockerLayers.clearComparison', 'Clear Comparison', clear);
  return { provider, view };
}
