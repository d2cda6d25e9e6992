/**
 * The **Comparison** view: the paths that differ between two points, as a
 * tree of folders, with A/D/M badges (the Source Control colours) and size
 * deltas. A view of its own rather than a mode of Layer Files: a comparison
 * is about two points, not the selected step, and it stays while the user
 * browses other steps in the Images tree.
 *
 * Every path is a `docker-layer:` URI of the merged filesystem of its side
 * (read-only), so a changed file opens in the native diff editor and an added
 * or removed one in a read-only editor. The URIs carry the fragment `compare`
 * so that these badges never mix with the Layer Files view's.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { describeChange, type ComparePoint, type CompareResult, type FileChange } from './core/compare';
import { nameOf, parentOf } from './core/layerStack';
import { Disposable } from './dispose';
import type { FileMark } from './layerFileDecorations';
import { mergedFileUri, parseLayerUri } from './layerUri';

export const COMPARISON_VIEW = 'dockerLayers.comparison';
export const OPEN_COMPARED_FILE = 'dockerLayers.openComparedFile';
const FRAGMENT = 'compare';
/** Up to this many changes, every folder starts expanded. */
const EXPAND_UP_TO = 200;

export interface Comparison {
  readonly a: ComparePoint;
  readonly b: ComparePoint;
  /** Its `xattrs` says whether extended attributes were compared, when `dockerLayers.compare.xattrs` asked for them. */
  readonly result: CompareResult;
}

/** A folder that only holds changes, or a changed path (which may hold more, e.g. a removed folder). */
export type CompareNode = { readonly kind: 'folder'; readonly path: string } | { readonly kind: 'change'; readonly path: string; readonly change: FileChange };

const STATUS: Record<FileChange['change'], FileMark['status']> = { added: 'added', removed: 'deleted', changed: 'modified' };
/** The merged-file URI of `path` on the side that has it (B for added and changed paths, A for removed ones). */
export function sideUri(point: ComparePoint, path: string): vscode.Uri {
  return mergedFileUri(point.image, Math.max(point.stepIndex, 0), path);
}

export class ComparisonTreeProvider extends Disposable implements vscode.TreeDataProvider<CompareNode> {
  private readonly changed = this.register(new vscode.EventEmitter<CompareNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private current?: Comparison;
  private children = new Map<string, CompareNode[]>();
  private byPath = new Map<string, FileChange>();
  /** Paths that have a node (a change or a folder that only holds changes). */
  private listed = new Set<string>();

  get comparison(): Comparison | undefined {
    return this.current;
  }

  /** Shows a comparison (undefined: none, the welcome text shows). */
  show(comparison: Comparison | undefined): void {
    this.current = comparison;
    this.children = new Map();
    this.byPath = new Map();
    this.listed = new Set();
    for (const c of comparison?.result.changes ?? []) {
      this.byPath.set(c.path, c);
      this.addNode({ kind: 'change', path: c.path, change: c });
    }
    for (const list of this.children.values()) list.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    this.changed.fire(undefined);
  }

  /** Puts `node` under its folder, making the folders above it that hold no change of their own. */
  private addNode(node: CompareNode): void {
    const dir = parentOf(node.path);
    let list = this.children.get(dir);
    if (!list) {
      this.children.set(dir, (list = []));
      if (dir !== '/' && !this.byPath.has(dir)) this.addNode({ kind: 'folder', path: dir });
    }
    if (this.listed.has(node.path)) return;
    this.listed.add(node.path);
    list.push(node);
  }

  /** The change a `compare` URI stands for (decorations ask by URI). */
  markOf(uri: vscode.Uri): FileMark | undefined {
    if (uri.fragment !== FRAGMENT || !this.current) return undefined;
    const t = parseLayerUri(uri);
    const c = t?.k === 'merged' ? this.byPath.get(t.path) : undefined;
    if (!c) return undefined;
    return { status: STATUS[c.change], where: `${this.current.b.label} (compared with ${this.current.a.label})` };
  }

  getChildren(node?: CompareNode): CompareNode[] {
    if (!this.current) return [];
    return this.children.get(node ? node.path : '/') ?? [];
  }

  getParent(node: CompareNode): CompareNode | undefined {
    const dir = parentOf(node.path);
    if (dir === '/') return undefined;
    const c = this.byPath.get(dir);
    return c ? { kind: 'change', path: dir, change: c } : { kind: 'folder', path: dir };
  }

  getTreeItem(node: CompareNode): vscode.TreeItem {
    const { a, b, result } = this.current!;
    const hasChildren = this.children.has(node.path);
    const state = !hasChildren
      ? vscode.TreeItemCollapsibleState.None
      : result.changes.length <= EXPAND_UP_TO
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(displayName(nameOf(node.path)), state);
    item.id = node.path;
    if (node.kind === 'folder') {
      item.resourceUri = sideUri(b, node.path);
      item.iconPath = vscode.ThemeIcon.Folder;
      item.contextValue = 'compareFolder';
      return item;
    }
    const c = node.change;
    const side = c.change === 'removed' ? a : b;
    const type = (c.after ?? c.before)!.type;
    item.resourceUri = sideUri(side, c.path).with({ fragment: FRAGMENT });
    item.iconPath = type === 'dir' ? vscode.ThemeIcon.Folder : vscode.ThemeIcon.File;
    item.description = c.change === 'changed' ? describeChange(c) : `${c.change}: ${describeChange(c)}`;
    const xattrs = c.aspects.includes('xattrs') ? '\nxattrs: the extended attributes differ (getfattr; overlayfs’ own left out)' : '';
    item.tooltip = `${displayName(c.path)}\n${item.description}${xattrs}\n${a.label} → ${b.label}`;
    item.contextValue = `compare.${c.change}.${type}`;
    if (type !== 'dir') item.command = { command: OPEN_COMPARED_FILE, title: 'Open', arguments: [node] };
    return item;
  }
}
