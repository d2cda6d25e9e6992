/**
 * Open Image Archive…: a `docker save` tar or an OCI image layout (a folder,
 * or a tar of one) becomes a root of the Images view for this session, read in
 * place by the core (nothing is unpacked). Also offered in the Explorer's
 * context menu on `.tar` files and on an OCI layout's `index.json` /
 * `oci-layout`: a context-menu command rather than a custom editor, because an
 * archive is a root to browse in the Images view, not a document to show in a
 * tab (an editor for it would be an empty page with a button).
 *
 * Session roots, not the `dockerLayers.roots` setting: an archive is usually a
 * one-off file (evidence, a CI artifact); Choose Folder… keeps roots for good.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

/** A file of an OCI layout folder stands for the folder. */
const LAYOUT_FILES = new Set(['index.json', 'oci-layout']);

export function registerArchiveCommands(context: vscode.ExtensionContext, service: StoreService, imagesViewId: string): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('dockerLayers.openArchive', (uri?: vscode.Uri) =>
      reportErrors('open image archive', async () => {
        const target = uri instanceof vscode.Uri ? uri : await pickArchive();
        if (!target) return undefined;
        if (target.scheme !== 'file') throw new Error(`${target.toString()}: an image archive must be a file on this machine`);
        const root = LAYOUT_FILES.has(path.basename(target.fsPath)) ? path.dirname(target.fsPath) : target.fsPath;
        const store = await service.addSessionRoot(root);
        await vscode.commands.executeCommand(`${imagesViewId}.focus`);
        const status = store.roots.find((r) => r.root === path.resolve(root));
        if (status?.error) throw status.error;
        return root;
      }),
    ),
  );
}

async function pickArchive(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Open Read-Only',
    title: 'Open an image archive (docker save .tar, OCI layout folder or .tar), read-only',
    filters: { 'Image archives': ['tar'], 'All files': ['*'] },
  });
  return picked?.[0];
}
