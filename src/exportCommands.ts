/**
 * Export…: saves a file or folder of the Layer Files view (a layer's own, a
 * container's, or the merged view's) to a place the user chooses, through the
 * core's exportPath (core/export.ts): never into a Docker root, never through
 * a symlink, a symlink saved as a symlink. A folder export shows a
 * cancellable notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { LayerError } from './core/errors';
import { exportPath, type ExportResult, type ExportSource } from './core/export';
import { humanSize } from './core/format';
import type { Store } from './core/store';
import { refOfArg, type LayerFileRef } from './fileCommands';
import { imageByKey, mergedLayers } from './layerTargets';
import { normalizeEntryPath } from './layerUri';
import { log, reportErrors } from './log';
import { configuredRoots } from './settings';
import type { StoreService } from './storeService';

/** For callers that choose without a dialog (tests, other commands). */
export interface ExportChoice {
  /** Where the item goes: its own new path, or an existing folder to put it in. */
  readonly dest: string;
}

/** Where a ref's bytes come from: the merged view as of its step, or its own layer. */
function sourceOf(store: Store, ref: LayerFileRef): ExportSource {
  if (ref.merged) {
    if (ref.imageKey === undefined || ref.step === undefined) throw new LayerError('not-found', `${ref.path}: a merged entry needs its image and step`);
    return { kind: 'merged', layers: mergedLayers(store, imageByKey(store, ref.imageKey), ref.step).contents };
  }
  const layer = store.layer(ref.layerKey);
  if (!layer?.content) throw new LayerError('not-found', `${ref.path}: its layer is no longer in the configured roots, or has no folder on disk`);
  return { kind: 'layer', content: layer.content };
}

/** Every root the extension reads: the loaded ones and the configured ones (even unreadable). */
function forbiddenRoots(store: Store): string[] {
  return [...new Set([...store.roots.map((r) => r.root), ...configuredRoots()])];
}

/** Asks where to save: a file's new name, or the folder a folder goes into. */
async function askDestination(ref: LayerFileRef): Promise<{ dest: string; replace: boolean } | undefined> {
  // A name that is not UTF-8 is offered as it shows (`\xff`): the dialog's name is the user's to keep or change.
  const name = displayName(path.posix.basename(normalizeEntryPath(ref.path))) || 'root';
  if (ref.type === 'dir') {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Export Here',
      title: `Export the folder ${displayName(normalizeEntryPath(ref.path))} into… (it is made as ${name}/ inside)`,
    });
    return picked?.[0] && { dest: picked[0].fsPath, replace: false };
  }
  const saved = await vscode.window.showSaveDialog({ title: `Export ${displayName(normalizeEntryPath(ref.path))}`, saveLabel: 'Export', defaultUri: vscode.Uri.file(path.join(process.env.HOME ?? '/tmp', name)) });
  // The save dialog has asked before replacing a file.
  return saved && { dest: saved.fsPath, replace: true };
}

function summary(result: ExportResult): string {
  const parts = [`${result.files} file${result.files === 1 ? '' : 's'} (${humanSize(result.bytes)})`];
  if (result.dirs) parts.push(`${result.dirs} folder${result.dirs === 1 ? '' : 's'}`);
  if (result.symlinks) parts.push(`${result.symlinks} symbolic link${result.symlinks === 1 ? '' : 's'}, saved as links`);
  return parts.join(', ');
}

export function registerExportCommands(context: vscode.ExtensionContext, service: StoreService): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.exportFile', (arg?: unknown, choice?: ExportChoice) =>
      reportErrors('Export', async (): Promise<ExportResult | undefined> => {
        const ref = refOfArg(arg);
        if (!ref) return void vscode.window.showInformationMessage('Choose a file or folder in the Layer Files view first.');
        if (ref.status === 'deleted') return void vscode.window.showInformationMessage(`${normalizeEntryPath(ref.path)} was deleted in this layer: there is nothing to export.`);
        const store = await service.get();
        const source = sourceOf(store, ref);
        const where = choice ? { dest: choice.dest, replace: false } : await askDestination(ref);
        if (!where) return undefined;
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Exporting ${normalizeEntryPath(ref.path)}`, cancellable: true },
          (progress, token) => {
            const controller = new AbortController();
            token.onCancellationRequested(() => controller.abort());
            let last = 0;
            return exportPath(source, ref.path, where.dest, {
              forbidden: forbiddenRoots(store),
              replace: where.replace,
              signal: controller.signal,
              onProgress: (p) => {
                const now = Date.now();
                if (now - last < 200) return;
                last = now;
                progress.report({ message: `${p.files} files, ${humanSize(p.bytes)}: ${p.path}` });
              },
            });
          },
        );
        for (const s of result.skipped) log().warn(`export: skipped ${s.path}: ${s.reason}`);
        const skipped = result.skipped.length ? ` ${result.skipped.length} item(s) skipped (devices, FIFOs, sockets or unreadable): see the log.` : '';
        void vscode.window.showInformationMessage(`Exported ${normalizeEntryPath(ref.path)} to ${result.dest}: ${summary(result)}.${skipped}`);
        return result;
      }),
    ),
  );
}
