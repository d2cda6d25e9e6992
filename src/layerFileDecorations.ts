/**
 * Badges and colours for `docker-layer:` files, as the Source Control view
 * marks changes: A added, M modified, D deleted, O opaque folder. The Layer
 * Files view answers what each URI's status is; anything else gets none.
 */
import * as vscode from 'vscode';
import type { EntryStatus } from './core/layerEntry';
import { Disposable } from './dispose';
import { SCHEME } from './layerUri';

export interface FileMark {
  readonly status: EntryStatus;
  /** The folder exists below and whether it hides what is below could not be read. */
  readonly opaqueUnknown?: boolean;
  /** What the status is relative to, e.g. `this layer`, `step 7`. */
  readonly where: string;
  /** A container's read-write layer: letters as `docker diff` prints them (C for modified and opaque). */
  readonly dockerDiff?: boolean;
}

/** Looks up the mark of a URI; undefined when it has none. */
export type MarkLookup = (uri: vscode.Uri) => FileMark | undefined;

const STYLE: Record<EntryStatus, { badge: string; color: string; says: string }> = {
  added: { badge: 'A', color: 'gitDecoration.addedResourceForeground', says: 'Added in' },
  modified: { badge: 'M', color: 'gitDecoration.modifiedResourceForeground', says: 'Modified in' },
  deleted: { badge: 'D', color: 'gitDecoration.deletedResourceForeground', says: 'Deleted in' },
  opaque: { badge: 'O', color: 'gitDecoration.modifiedResourceForeground', says: 'Opaque folder made in' },
};

export const OPAQUE_NOTE = 'hides everything below it in lower layers';
export const OPAQUE_UNKNOWN_NOTE =
  'whether it hides what lower layers hold could not be read (needs getfattr and the right to read trusted.* xattrs)';

/** The decoration for a mark: badge, theme colour, and a tooltip that says it in words. */
export function decorationOf(mark: FileMark): vscode.FileDecoration {
  const style = STYLE[mark.status];
  const badge = mark.dockerDiff && (mark.status === 'modified' || mark.status === 'opaque') ? 'C' : style.badge;
  let tooltip = `${badge === 'C' ? 'Changed in' : style.says} ${mark.where}`;
  if (mark.status === 'opaque') tooltip += `: ${OPAQUE_NOTE}`;
  if (mark.opaqueUnknown) tooltip += `; ${OPAQUE_UNKNOWN_NOTE}`;
  const decoration = new vscode.FileDecoration(badge, tooltip, new vscode.ThemeColor(style.color));
  decoration.propagate = false;
  return decoration;
}

export class LayerFileDecorations extends Disposable implements vscode.FileDecorationProvider {
  private readonly changed = this.register(new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>());
  readonly onDidChangeFileDecorations = this.changed.event;

  constructor(private readonly lookup: MarkLookup) {
    super();
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== SCHEME) return undefined;
    const mark = this.lookup(uri);
    return mark ? decorationOf(mark) : undefined;
  }

  /** Asks VS Code to ask again: for the given URIs, or all of ours. */
  refresh(uris?: vscode.Uri[]): void {
    this.changed.fire(uris);
  }
}

export function registerLayerFileDecorations(context: vscode.ExtensionContext, lookup: MarkLookup): LayerFileDecorations {
  const decorations = new LayerFileDecorations(lookup);
  context.subscriptions.push(decorations, vscode.window.registerFileDecorationProvider(decorations));
  return decorations;
}
