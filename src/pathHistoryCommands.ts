/**
 * Show Path History: every step of an image that added, changed or deleted a
 * path (core/pathHistory.ts), in a Quick Pick; the version chosen is compared
 * with its previous version, or with a second one chosen, in VS Code's own
 * diff editor over the read-only `docker-layer:` file system (each side is the
 * image's merged view as of that step, so it is exactly that version).
 *
 * From a file of the Layer Files view (its image), or from the command
 * palette, which asks for the image and the path.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { humanSize, shortStep, truncate } from './core/format';
import { formatMode } from './core/layerEntry';
import { CHANGE_LETTER, imageOfContainer, imagePathHistory, type StepVersion } from './core/pathHistory';
import type { Container, Image } from './core/model';
import type { Store } from './core/store';
import { refOfArg, type LayerFileRef } from './fileCommands';
import { imageByKey, imageName } from './layerTargets';
import { layerFileUri, mergedFileUri, normalizeEntryPath } from './layerUri';
import { log, reportErrors } from './log';
import type { StoreService } from './storeService';

/** For callers that choose without the Quick Pick (tests, other commands): the steps of the versions to compare. */
export interface PathHistoryChoice {
  /** One step: compared with its previous version; two: with each other (older on the left). */
  readonly steps: readonly number[];
}

/** What the command did: the versions it found and the two steps it compared (or the one it opened). */
export interface PathHistoryResult {
  readonly image: Image;
  readonly path: string;
  readonly versions: readonly StepVersion[];
  readonly shown?: readonly number[];
}

/** `step 6`, or `the container` for a container's own layer. */
const where = (v: StepVersion): string => (v.container ? `the container ${v.container.name}` : `step ${v.step}`);

const WORD = { added: 'added', modified: 'modified', deleted: 'deleted', opaque: 'made opaque' } as const;

/** `step 6 · M · 12B · -rw-r--r--`, and the step's command. */
function versionItem(v: StepVersion): vscode.QuickPickItem & { version: StepVersion } {
  const facts = [where(v), `${CHANGE_LETTER[v.change]} ${WORD[v.change]}`];
  if (v.change !== 'deleted') facts.push(v.type === 'symlink' ? `→ ${v.target ?? '?'}` : v.type === 'file' ? humanSize(v.size) : v.type);
  if (v.mode) facts.push(formatMode(v.mode));
  if (v.via) facts.push(`with its folder ${v.via}`);
  return { label: facts.join(' · '), detail: truncate(shortStep(v.createdBy), 200), version: v };
}

/** The versions of `path` in `image`, with a cancellable notification while the layers are read. */
async function readHistory(store: Store, { image, path, container }: Target): Promise<StepVersion[] | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `History of ${displayName(path)} in ${imageName(image)}`, cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      const versions: StepVersion[] = [];
      const problems: string[] = [];
      try {
        for await (const v of imagePathHistory(store, image, path, { signal: controller.signal, container, onProblem: (step, p) => problems.push(`step ${step}: ${p.message}`) })) {
          versions.push(v);
          progress.report({ message: `${versions.length} version${versions.length === 1 ? '' : 's'} so far (${where(v)})` });
        }
      } catch (err) {
        if (controller.signal.aborted) return undefined;
        throw err;
      }
      for (const p of problems) log().warn(`history of ${displayName(path)}: ${p}`);
      if (problems.length) void vscode.window.showWarningMessage(`${problems.length} item(s) could not be read for the history of ${displayName(path)}: see the log.`);
      return versions;
    },
  );
}

/** The version before `v` that has content (not a deletion), if any. */
function previousContent(versions: readonly StepVersion[], v: StepVersion): StepVersion | undefined {
  const i = versions.indexOf(v);
  for (let k = i - 1; k >= 0; k--) if (versions[k].change !== 'deleted') return versions[k];
  return undefined;
}

const hasContent = (v: StepVersion): boolean => v.change !== 'deleted' && v.type !== 'dir';

/**
 * Opens the diff between two versions, older on the left; one version alone
 * when there is nothing to compare it with (the first version, or a deletion:
 * then the version it deleted). Returns the steps shown.
 */
async function show(image: Image, path: string, versions: readonly StepVersion[], chosen: readonly StepVersion[]): Promise<number[]> {
  const uri = (v: StepVersion) => (v.container ? layerFileUri(v.layerRef, path) : mergedFileUri(image, v.step, path));
  const sorted = [...chosen].sort((x, y) => x.step - y.step);
  let right = sorted[sorted.length - 1];
  let left = sorted.length > 1 ? sorted[0] : previousContent(versions, right);
  if (left?.change === 'deleted') left = previousContent(versions, left);
  if (right.change === 'deleted') {
    const deleted = right;
    const before = previousContent(versions, deleted);
    if (!before) {
      void vscode.window.showInformationMessage(`${displayName(path)} was deleted in ${where(deleted)}, and no earlier version has content.`);
      return [];
    }
    void vscode.window.showInformationMessage(
      `${displayName(path)} was deleted in ${where(deleted)}${deleted.via ? ` (with ${deleted.via})` : ''}: showing the version it deleted, from ${where(before)}.`,
    );
    right = before;
    left = undefined;
  }
  const folder = [left, right].find((v) => v && !hasContent(v));
  if (folder) {
    void vscode.window.showInformationMessage(`${displayName(path)} is a folder in ${where(folder)}: only files and symbolic links compare.`);
    return [];
  }
  if (!left) {
    await vscode.commands.executeCommand('vscode.open', uri(right), { preview: true });
    return [right.step];
  }
  const title = `${displayName(path.slice(path.lastIndexOf('/') + 1))} (${imageName(image)}): ${where(left)} ↔ ${where(right)}`;
  await vscode.commands.executeCommand('vscode.diff', uri(left), uri(right), title, { preview: true });
  return [left.step, right.step];
}

/** Asks which version (the newest is preselected), then what to compare it with. */
async function choose(path: string, versions: readonly StepVersion[]): Promise<StepVersion[] | undefined> {
  const items = versions.map(versionItem);
  const first = await pick(items, `History of ${displayName(path)}: ${versions.length} version${versions.length === 1 ? '' : 's'}`, 'Choose a version to compare', items[items.length - 1]);
  if (!first) return undefined;
  const previous = previousContent(versions, first.version);
  const others = items.filter((i) => i !== first);
  const againstPrevious = { label: previous ? `its previous version (${where(previous)})` : 'nothing: open this version alone', version: first.version };
  const second = await pick([againstPrevious, ...others], `Compare ${where(first.version)} with…`, 'Its previous version, or another one');
  if (!second) return undefined;
  return second === againstPrevious ? [first.version] : [first.version, second.version];
}

/** One Quick Pick; `active` starts selected (default: the first item). */
function pick<T extends vscode.QuickPickItem>(items: readonly T[], title: string, placeholder: string, active?: T): Promise<T | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<T>();
    qp.title = title;
    qp.placeholder = placeholder;
    qp.items = items;
    qp.matchOnDetail = true;
    if (active) qp.activeItems = [active];
    let chosen: T | undefined;
    qp.onDidAccept(() => {
      chosen = qp.selectedItems[0] ?? qp.activeItems[0];
      qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(chosen);
    });
    qp.show();
  });
}

/** What a history is of: a path in an image, and (a container's file) the container on top of it. */
interface Target {
  readonly image: Image;
  readonly path: string;
  readonly container?: Container;
}

/** A file of the Layer Files view: its image's history, with the container's own layer on top for a container's file. */
function targetOfRef(store: Store, ref: LayerFileRef): Target | undefined {
  const path = normalizeEntryPath(ref.path);
  const container = ref.layerKey === undefined ? undefined : store.containers.find((c) => c.layer?.key === ref.layerKey);
  const image = container ? imageOfContainer(store, container) : ref.imageKey !== undefined ? imageByKey(store, ref.imageKey) : undefined;
  if (!image) {
    void vscode.window.showInformationMessage(`${displayName(path)}: the image it belongs to is not in the configured roots, so it has no history to show.`);
    return undefined;
  }
  return { image, path, container };
}

/** The palette's way in: an image from the store, then a path typed. */
async function askImageAndPath(store: Store): Promise<Target | undefined> {
  const images = store.images.filter((i) => !i.intermediate);
  const chosen = await vscode.window.showQuickPick(
    images.map((image) => ({ label: imageName(image), description: `${image.steps.length} steps · ${image.source.label}`, image })),
    { title: 'Path History: which image?', matchOnDescription: true },
  );
  if (!chosen) return undefined;
  const typed = await vscode.window.showInputBox({
    title: `Path History in ${chosen.label}`,
    prompt: 'A path inside the image, e.g. /etc/passwd',
    validateInput: (v) => (v.trim().startsWith('/') && !v.split('/').includes('..') ? undefined : 'An absolute path inside the image, without ".."'),
  });
  return typed ? { image: chosen.image, path: normalizeEntryPath(typed.trim()) } : undefined;
}

export function registerPathHistoryCommands(context: vscode.ExtensionContext, service: StoreService): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.showPathHistory', (arg?: unknown, choice?: PathHistoryChoice) =>
      reportErrors('Show Path History', async (): Promise<PathHistoryResult | undefined> => {
        const store = await service.get();
        const ref = arg === undefined ? undefined : refOfArg(arg);
        const target = ref ? targetOfRef(store, ref) : await askImageAndPath(store);
        if (!target) return undefined;
        const { image, path } = target;
        const versions = await readHistory(store, target);
        if (!versions) return undefined;
        if (versions.length === 0) {
          void vscode.window.showInformationMessage(`No step of ${imageName(image)} adds, changes or deletes ${displayName(path)}.`);
          return { image, path, versions };
        }
        const chosen = choice ? choice.steps.map((s) => versions.find((v) => v.step === s)).filter((v): v is StepVersion => v !== undefined) : await choose(path, versions);
        if (!chosen?.length) return { image, path, versions };
        return { image, path, versions, shown: await show(image, path, versions, chosen) };
      }),
    ),
  );
}
