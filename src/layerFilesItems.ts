/**
 * The rows of the Layer Files view: what one listed entry looks like (label,
 * badge URI, description, tooltip, icon, context value, click), and the state
 * of one listing they are drawn from. Names and targets are shown with
 * displayName: the bytes of a name that is not valid UTF-8 read `\xff`.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import type { FileListing } from './core/fileListing';
import { humanSize, shortStep, truncate } from './core/format';
import { formatMode, type EntryType, type LayerEntry } from './core/layerEntry';
import { nameOf, type MergedEntry } from './core/layerStack';
import { shortId, type Container, type Image, type Layer } from './core/model';
import type { Store } from './core/store';
import type { TreeNode } from './imagesTreeProvider';
import type { LayerFileRef } from './fileCommands';
import { OPAQUE_NOTE, OPAQUE_UNKNOWN_NOTE, type FileMark } from './layerFileDecorations';
import { imageName } from './layerTargets';
import { layerFileUri, mergedFileUri, parseLayerUri } from './layerUri';

/** What the view lists: a step (its layer, or none for an empty step) or a container. */
export type Subject =
  | { readonly kind: 'step'; readonly image: Image; readonly stepIndex: number; readonly layer?: Layer }
  | { readonly kind: 'container'; readonly container: Container; readonly layer?: Layer; readonly image?: Image };

/** One listing of the view, from its start to its end (or cancellation). */
export interface Load {
  /** Which listing this is (rows of an older one are ignored). */
  readonly gen: number;
  /** Bumped when rows must be made anew (filter changed, small listing opened): part of the row ids. */
  epoch: number;
  subject: Subject;
  readonly merged: boolean;
  readonly title: string;
  readonly controller: AbortController;
  /** performance.now() at the start. */
  readonly started: number;
  /** The layers listed, bottom to top (one, unless merged). */
  layers: Layer[];
  /** Merged: the step each layer made (-1: a container's read-write layer). */
  steps: number[];
  listing?: FileListing<LayerEntry> | FileListing<MergedEntry>;
  /** Entries walked so far. */
  entries: number;
  /** Merged: which layer is being walked. */
  progress?: string;
  problems: string[];
  /** Milliseconds from the start to the walk's first entry, to the first rows given to VS Code, to the end. */
  firstEntryMs?: number;
  firstRowsMs?: number;
  /** When VS Code first asked for the top rows (whether there were any yet), when the first rows were announced. */
  firstAskMs?: number;
  firstRefreshMs?: number;
  /** How often the rows were refreshed. */
  refreshes: number;
  /** Called when VS Code took the first rows. */
  rowsTaken?: () => void;
  doneMs?: number;
  done: boolean;
  cancelled: boolean;
  error?: string;
  readonly finished: Promise<void>;
}

/** A listed entry; it is also the LayerFileRef the file commands take. */
export interface FileNode extends LayerFileRef {
  readonly kind: 'file';
  readonly gen: number;
  readonly entry: LayerEntry | MergedEntry;
}

/** The row after the first children of a very big folder. */
export interface MoreNode {
  readonly kind: 'more';
  readonly dir: string;
  readonly hidden: number;
  readonly gen: number;
}

export type LayerFilesNode = FileNode | MoreNode;

/** `dle/app:1 step 6 · d81a7f572e43`, `dle/app:1 as of step 8 (merged)`, `container dle-ctr`. */
export function subjectTitle(s: Subject, merged: boolean): string {
  if (s.kind === 'container') return `container ${s.container.name || shortId(s.container.id)}${merged ? ' (merged)' : ''}`;
  const name = imageName(s.image);
  if (merged) return `${name} as of step ${s.stepIndex} (merged)`;
  return `${name} step ${s.stepIndex}${s.layer ? ` · ${shortId(s.layer.id)}` : ' (empty)'}`;
}

const TYPE_WORD: Record<EntryType, string> = {
  file: 'file',
  dir: 'folder',
  symlink: 'symbolic link',
  char: 'character device',
  block: 'block device',
  fifo: 'FIFO',
  socket: 'socket',
  unknown: 'unknown type',
};

const isMerged = (e: LayerEntry | MergedEntry): e is MergedEntry => 'changedIn' in e;

/** The step (or the container) a merged entry comes from. */
function fromText(load: Load, layer: number): string {
  const step = load.steps[layer];
  return step === undefined || step < 0 ? 'the container' : `step ${step}`;
}

function uriOf(load: Load, e: LayerEntry | MergedEntry): vscode.Uri | undefined {
  const s = load.subject;
  if (!isMerged(e)) return s.layer && layerFileUri(s.layer, e.path);
  if (s.kind === 'step') return mergedFileUri(s.image, s.stepIndex, e.path);
  const layer = load.layers[e.layer];
  return layer && layerFileUri(layer, e.path);
}

export function fileItem(
  load: Load,
  node: FileNode,
  listing: FileListing<LayerEntry> | FileListing<MergedEntry>,
  expand: 'all' | 'matches' | 'none',
): vscode.TreeItem {
  const e = node.entry;
  const merged = isMerged(e);
  const status = merged ? undefined : e.status;
  const deleted = status === 'deleted';
  const isDir = e.type === 'dir';
  const hasChildren = isDir && !deleted && (listing.filter ? listing.leadsToMatch(e.path) : listing.tree.childCount(e.path) > 0);
  const state = !hasChildren
    ? vscode.TreeItemCollapsibleState.None
    : expand === 'all' || (expand === 'matches' && listing.leadsToMatch(e.path))
      ? vscode.TreeItemCollapsibleState.Expanded
      : vscode.TreeItemCollapsibleState.Collapsed;
  const item = new vscode.TreeItem(displayName(nameOf(e.path)), state);
  item.id = `${load.gen}.${load.epoch}:${e.path}`;
  item.resourceUri = uriOf(load, e);

  const parts: string[] = [];
  if (deleted) parts.push(e.type === 'unknown' ? 'deleted' : `deleted ${TYPE_WORD[e.type]}`);
  else if (e.type === 'symlink') parts.push(`→ ${displayName(e.target ?? '?')}`);
  else if (isDir) {
    if (!merged && e.status === 'opaque') parts.push('opaque');
    const held = listing.folderSize(e.path);
    if (held > 0) parts.push(humanSize(held));
  } else if (e.type === 'file') parts.push(humanSize(e.size));
  else parts.push(TYPE_WORD[e.type]);
  if (merged) parts.push(`from ${fromText(load, e.layer)}`);
  item.description = parts.join(' · ');
  item.tooltip = tooltipOf(load, e);

  if (isDir) item.iconPath = vscode.ThemeIcon.Folder;
  else if (e.type === 'symlink' && !deleted) item.iconPath = new vscode.ThemeIcon('file-symlink-file');
  else item.iconPath = vscode.ThemeIcon.File;

  const tag = status ?? 'merged';
  if (isDir) item.contextValue = `dir.${tag}`;
  else if (e.type === 'symlink' && !deleted) item.contextValue = 'symlink';
  else item.contextValue = `file.${tag}${e.type === 'file' || deleted ? '' : '.special'}`;
  if (!deleted && (e.type === 'file' || e.type === 'symlink')) {
    item.command = { command: 'dockerLayers.openLayerFile', title: 'Open File (Read-Only)', arguments: [node] };
  }
  return item;
}

function tooltipOf(load: Load, e: LayerEntry | MergedEntry): string {
  const lines = [displayName(e.path)];
  const facts: string[] = [TYPE_WORD[e.type]];
  if (e.type === 'file') facts.push(`${humanSize(e.size)} (${e.size.toLocaleString('en-US')} bytes)`);
  if (e.mode) facts.push(formatMode(e.mode));
  if (!isMerged(e) && e.uid !== undefined) facts.push(`uid ${e.uid} gid ${e.gid ?? '?'}`);
  lines.push(facts.join(' · '));
  if (e.target !== undefined) lines.push(`points to ${displayName(e.target)} (never followed)`);
  if (isMerged(e)) {
    const step = load.steps[e.layer];
    const command = step >= 0 ? load.subject.image?.steps[step]?.createdBy : undefined;
    lines.push(`from ${fromText(load, e.layer)}${command ? `: ${truncate(shortStep(command), 100)}` : ''}`);
    if (e.changedIn.length > 1) lines.push(`changed in ${e.changedIn.map((i) => fromText(load, i)).join(', ')}`);
  } else {
    const said = { added: 'added in this layer', modified: 'modified in this layer (it exists below)', deleted: 'deleted in this layer (a whiteout)', opaque: 'opaque folder' };
    const diffSaid = { added: 'A: added in the container', modified: 'C: changed in the container (it exists in the image)', deleted: 'D: deleted in the container', opaque: 'C: changed in the container (an opaque folder)' };
    lines.push((load.subject.kind === 'container' ? diffSaid : said)[e.status]);
  }
  if (e.status === 'opaque') lines.push(`Opaque: ${OPAQUE_NOTE}.`);
  if (e.opaqueUnknown) lines.push(`Opaque: unknown, ${OPAQUE_UNKNOWN_NOTE}.`);
  return lines.join('\n');
}

export function moreItem(node: MoreNode): vscode.TreeItem {
  const item = new vscode.TreeItem(`${node.hidden.toLocaleString('en-US')} more…`, vscode.TreeItemCollapsibleState.None);
  item.id = `${node.gen}:more:${node.dir}`;
  item.description = 'click for more, or filter to narrow';
  item.iconPath = new vscode.ThemeIcon('ellipsis');
  item.contextValue = 'more';
  item.command = { command: 'dockerLayers.layerFilesShowMore', title: 'Show More Files', arguments: [node.dir] };
  return item;
}

/** The step or container a node of the Images view names, in the current store. */
export function resolveSubject(store: Store, node: TreeNode): Subject | undefined {
  if (node.kind === 'step') {
    const image = store.images.find((i) => i.key === node.image.key);
    const step = image?.steps[node.stepIndex];
    if (!image || !step) return undefined;
    return { kind: 'step', image, stepIndex: node.stepIndex, layer: store.layer(step.layerKey) };
  }
  if (node.kind === 'container') {
    const container = store.containers.find((c) => c.key === node.container.key);
    if (!container) return undefined;
    const same = store.images.filter((i) => i.id === container.imageId);
    const image = same.find((i) => i.source.key === container.source.key) ?? same[0];
    return { kind: 'container', container, layer: container.layer, image };
  }
  return undefined;
}

export function nodeOf(load: Load, entry: LayerEntry | MergedEntry): FileNode {
  const s = load.subject;
  const merged = 'changedIn' in entry;
  const base = { kind: 'file' as const, gen: load.gen, entry, path: entry.path, type: entry.type, target: entry.target };
  if (!merged) return { ...base, layerKey: load.layers[0]?.key, imageKey: s.kind === 'step' ? s.image.key : undefined, status: entry.status };
  if (s.kind === 'step') return { ...base, merged: true, imageKey: s.image.key, step: s.stepIndex };
  // A container's merged view: the copy of the layer that provides it.
  return { ...base, layerKey: load.layers[entry.layer]?.key, imageKey: s.image?.key };
}

export function messageOf(load: Load): string | undefined {
  const l = load.listing;
  if (load.error) return `Could not list ${load.title}: ${load.error}`;
  if (load.cancelled) return `Cancelled after ${load.entries.toLocaleString('en-US')} entries: the list is incomplete.`;
  if (!load.done) {
    const what = load.merged ? `Merging ${load.progress ?? 'layers'}` : 'Listing';
    return `${what}… ${load.entries.toLocaleString('en-US')} entries`;
  }
  const s = load.subject;
  if (s.kind === 'step' && !s.layer && !load.merged) {
    return `Step ${s.stepIndex} is an empty step: it changes no file. Show the merged filesystem to see the image as of this step.`;
  }
  if (l && l.count === 0) return load.merged ? 'The image has no files as of this step.' : 'This layer changes no file.';
  if (l?.filter && l.matches === 0) return `No entry matches "${l.filter.text}".`;
  if (load.problems.length) return `${load.problems.length} item${load.problems.length === 1 ? '' : 's'} could not be read and are left out: see the log.`;
  return undefined;
}

/** The view's description: what is listed, how many files, how big, the filter's matches, the order. */
export function descriptionOf(load: Load, sort: 'name' | 'size'): string {
  const l = load.listing;
  const parts = [load.title];
  if (l) parts.push(`${l.files.toLocaleString('en-US')} file${l.files === 1 ? '' : 's'}`, humanSize(l.bytes));
  if (l?.filter) parts.push(`${l.matches.toLocaleString('en-US')} match${l.matches === 1 ? '' : 'es'}`);
  if (sort === 'size') parts.push('by size');
  return parts.join(' · ');
}

/** The badge of a `docker-layer:` URI in a listing: a layer's own status, or (merged) what the top layer did to it. */
export function markOfUri(load: Load, uri: vscode.Uri): FileMark | undefined {
  const t = parseLayerUri(uri);
  const tree = load.listing?.tree;
  if (!t || !tree || t.k === 'json') return undefined;
  if (!load.merged) {
    if (t.k !== 'file' || t.layer !== load.layers[0]?.key) return undefined;
    const e = tree.get(t.path) as LayerEntry | undefined;
    if (load.subject.kind === 'container') return e && { status: e.status, opaqueUnknown: e.opaqueUnknown, where: 'the container', dockerDiff: true };
    return e && { status: e.status, opaqueUnknown: e.opaqueUnknown, where: 'this layer' };
  }
  const e = tree.get(t.path) as MergedEntry | undefined;
  if (!e || e.layer !== load.layers.length - 1) return undefined;
  const s = load.subject;
  const same = t.k === 'merged' ? s.kind === 'step' && t.image === s.image.key && t.step === s.stepIndex : t.layer === load.layers[e.layer]?.key;
  if (!same) return undefined;
  if (s.kind === 'container') return { status: e.status, opaqueUnknown: e.opaqueUnknown, where: 'the container', dockerDiff: true };
  return { status: e.status, opaqueUnknown: e.opaqueUnknown, where: `this step (${s.stepIndex})` };
}
