/**
 * What the Layer Files view lists: a path tree (a layer's own entries as its
 * walk streams them, or a merged tree) seen through a filter and a sort order,
 * one folder at a time. Pure: no I/O, no vscode.
 */
import type { FileFilter } from './fileFilter';
import type { LayerEntry } from './layerEntry';
import { PathTree, parentOf, type PathEntry } from './layerStack';

export type SortOrder = 'name' | 'size';

/** A layer's own entries by folder, filled as the walk yields them. */
export class LayerEntryTree extends PathTree<LayerEntry> {
  protected implicitDir(path: string): LayerEntry {
    // A folder the walk could not read but listed below: it exists in the layer, so it is at least modified.
    return { path, status: 'modified', type: 'dir', size: 0, mode: 0 };
  }
}

export class FileListing<E extends PathEntry> {
  private filterValue: FileFilter | undefined;
  /** Folders with a match below them (they are shown to lead to it). */
  private leading = new Set<string>();
  private matchCount = 0;
  private fileCount = 0;
  private order: SortOrder = 'name';
  private sizes: { version: number; map: Map<string, number> } | undefined;
  private readonly sorted = new Map<string, E[]>();
  private sortedVersion = -1;

  constructor(readonly tree: PathTree<E>) {
    for (const e of tree.each()) if (e.type !== 'dir') this.fileCount++;
  }

  /** Entries that are not folders (files, links, devices, deletions). */
  get files(): number {
    return this.fileCount;
  }

  get count(): number {
    return this.tree.count;
  }

  get bytes(): number {
    return this.tree.bytes;
  }

  get filter(): FileFilter | undefined {
    return this.filterValue;
  }

  /** Entries the filter matches itself (folders shown only to lead to a match not counted). */
  get matches(): number {
    return this.filterValue ? this.matchCount : this.count;
  }

  get sort(): SortOrder {
    return this.order;
  }

  set sort(order: SortOrder) {
    if (order === this.order) return;
    this.order = order;
    this.sorted.clear();
  }

  /** Adds one streamed entry (a layer's walk: each path once). */
  add(e: E): void {
    const old = this.tree.set(e);
    if (old && old.type !== 'dir') this.fileCount--;
    if (e.type !== 'dir') this.fileCount++;
    if (this.filterValue?.test(e)) this.matched(e.path);
  }

  setFilter(filter: FileFilter | undefined): void {
    this.filterValue = filter;
    this.leading = new Set();
    this.matchCount = 0;
    this.sorted.clear();
    if (!filter) return;
    for (const e of this.tree.each()) if (filter.test(e)) this.matched(e.path);
  }

  /** Whether the entry is listed: it matches, or a match lies below it. */
  shows(e: E): boolean {
    if (!this.filterValue) return true;
    return this.leading.has(e.path) || this.filterValue.test(e);
  }

  /** Whether a folder leads to a match (with a filter, such folders are worth opening). */
  leadsToMatch(dir: string): boolean {
    return this.leading.has(dir);
  }

  /** The listed children of `dir`: folders first then names, or by size (folders by what they hold), biggest first. */
  children(dir: string): E[] {
    if (this.sortedVersion !== this.tree.version) {
      this.sorted.clear();
      this.sortedVersion = this.tree.version;
    }
    const cached = this.sorted.get(dir);
    if (cached) return cached;
    let list = this.tree.list(dir);
    if (this.filterValue) list = list.filter((e) => this.shows(e));
    if (this.order === 'size') {
      const sizes = this.folderSizes();
      const size = (e: E) => (e.type === 'dir' ? sizes.get(e.path) ?? 0 : e.size);
      list.sort((a, b) => size(b) - size(a) || byName(a, b));
    } else {
      list.sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || byName(a, b));
    }
    this.sorted.set(dir, list);
    return list;
  }

  /** Bytes held below a folder, all of it (not only what the filter shows). */
  folderSize(dir: string): number {
    return this.folderSizes().get(dir) ?? 0;
  }

  private folderSizes(): Map<string, number> {
    if (this.sizes?.version !== this.tree.version) this.sizes = { version: this.tree.version, map: this.tree.folderSizes() };
    return this.sizes.map;
  }

  private matched(path: string): void {
    this.matchCount++;
    for (let dir = parentOf(path); dir !== '/' && !this.leading.has(dir); dir = parentOf(dir)) this.leading.add(dir);
  }
}

function byName(a: PathEntry, b: PathEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
