/**
 * The Layer Files view: what the layer selected in the Images view adds,
 * changes and deletes (a container: its read-write layer, as `docker diff`),
 * or, toggled, the merged filesystem of the image as of that step. A layer is
 * listed while its walk streams; children are made per folder from our own
 * index (core/fileListing.ts), never all at once. The view reads nothing
 * itself: walks and merges come from the core.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { errorMessage } from './core/errors';
import { parseFileFilter } from './core/fileFilter';
import type { FileListing } from './core/fileListing';
import type { LayerEntry, WalkProblem } from './core/layerEntry';
import type { MergedEntry } from './core/layerStack';
import type { Store } from './core/store';
import { Disposable } from './dispose';
import type { TreeNode } from './imagesTreeProvider';
import { registerLayerFileDecorations, type FileMark, type LayerFileDecorations } from './layerFileDecorations';
import { descriptionOf, fileItem, markOfUri, messageOf, moreItem, nodeOf, resolveSubject, subjectTitle, type LayerFilesNode, type Load, type Subject } from './layerFilesItems';
import { log, reportErrors } from './log';
import { registerLayerFilesCommands } from './layerFilesCommands';
import { mergeLoad, streamLoad, type LoadHooks } from './layerFilesLoad';
import type { StoreService } from './storeService';

export type { FileNode, LayerFilesNode } from './layerFilesItems';

export const LAYER_FILES_VIEW = 'dockerLayers.layerFiles';
/** Children listed per folder before a "more" row. */
const PAGE = 1000;
/** Layers with at most this many entries open every folder when listed. */
const AUTO_EXPAND = 150;
/** Walks longer than this also show a cancellable notification. */
const NOTIFY_AFTER_MS = 1000;
/** How often the view is refreshed while a walk streams: more than VS Code's 200 ms debounce of tree refreshes. */
const TICK_MS = 250;
/** A walk that has no entry yet clears the previous rows after this long. */
const STALE_MS = 100;

export class LayerFilesTreeProvider extends Disposable implements vscode.TreeDataProvider<LayerFilesNode> {
  private readonly changed = this.register(new vscode.EventEmitter<LayerFilesNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  /** Set by registerLayerFiles. */
  view: vscode.TreeView<LayerFilesNode> | undefined;
  decorations: LayerFileDecorations | undefined;
  /** The current (or last) listing; tests read its timings. */
  load: Load | undefined;
  private merged = false;
  private filterText = '';
  private sort: 'name' | 'size' = 'name';
  private gen = 0;
  private timer: NodeJS.Timeout | undefined;
  private due = 0;
  /** Folders whose "more" row was clicked: how many children they show. */
  private readonly limits = new Map<string, number>();
  /** A selection made while the view was hidden: listed when it shows. */
  private pending: TreeNode | undefined;
  /** What a listing's walk or merge calls back into the view. */
  private readonly hooks: LoadHooks = {
    prepare: (load, listing) => this.prepare(load, listing),
    problem: (load, p) => this.problem(load, p),
    tick: (load) => this.tick(load),
  };

  constructor(private readonly service: StoreService) {
    super();
    this.register({ dispose: () => this.stop() });
    this.register(service.onDidChange((store) => this.storeChanged(store)));
  }

  get isMerged(): boolean {
    return this.merged;
  }

  /** Follows the Images view: lists at once when visible, else when the view shows. */
  select(node: TreeNode | undefined): void {
    if (node?.kind !== 'step' && node?.kind !== 'container') return;
    if (this.view && !this.view.visible) {
      this.pending = node;
      return;
    }
    void reportErrors('list layer files', () => this.show(node));
  }

  visibilityChanged(visible: boolean): void {
    if (!visible || !this.pending) return;
    const node = this.pending;
    this.pending = undefined;
    void reportErrors('list layer files', () => this.show(node));
  }

  /** Lists a step's layer or a container's read-write layer; resolves when the listing is complete (or cancelled). */
  async show(node: TreeNode): Promise<void> {
    const store = await this.service.get();
    const subject = resolveSubject(store, node);
    if (!subject) return;
    this.pending = undefined;
    await this.start(store, subject);
  }

  async setMerged(on: boolean): Promise<void> {
    this.merged = on;
    void vscode.commands.executeCommand('setContext', 'dockerLayers.filesMerged', on);
    const load = this.load;
    if (load && load.merged !== on) await this.start(await this.service.get(), load.subject);
  }

  setFilter(text: string | undefined): void {
    const parsed = text?.trim() ? parseFileFilter(text) : undefined;
    if (typeof parsed === 'string') throw new Error(parsed);
    this.filterText = parsed?.text ?? '';
    void vscode.commands.executeCommand('setContext', 'dockerLayers.filesFiltered', parsed !== undefined);
    this.load?.listing?.setFilter(parsed);
    if (this.load) this.load.epoch++;
    this.update();
  }

  get filter(): string {
    return this.filterText;
  }

  setSort(sort: 'name' | 'size'): void {
    this.sort = sort;
    void vscode.commands.executeCommand('setContext', 'dockerLayers.filesSortedBySize', sort === 'size');
    if (this.load?.listing) this.load.listing.sort = sort;
    this.update();
  }

  get sortOrder(): 'name' | 'size' {
    return this.sort;
  }

  /** Shows `more` children of a folder. */
  showMore(dir: string): void {
    this.limits.set(dir, (this.limits.get(dir) ?? PAGE) + PAGE * 5);
    this.changed.fire(undefined);
  }

  /** Resolves when the current listing is complete. */
  async idle(): Promise<void> {
    await this.load?.finished;
  }

  getChildren(node?: LayerFilesNode): LayerFilesNode[] {
    const load = this.load;
    const listing = load?.listing;
    if (!load || !listing || node?.kind === 'more' || (node && node.entry.type !== 'dir')) return [];
    const dir = node ? node.path : '/';
    const all = listing.children(dir);
    const limit = this.limits.get(dir) ?? PAGE;
    const nodes: LayerFilesNode[] = all.slice(0, limit).map((entry) => nodeOf(load, entry));
    if (all.length > limit) nodes.push({ kind: 'more', dir, hidden: all.length - limit, gen: load.gen });
    if (!node) load.firstAskMs ??= performance.now() - load.started;
    if (!node && nodes.length > 0 && load.firstRowsMs === undefined) {
      load.firstRowsMs = performance.now() - load.started;
      load.rowsTaken?.();
      log().info(`${load.title}: first ${nodes.length} rows after ${load.firstRowsMs.toFixed(0)} ms`);
    }
    return nodes;
  }

  getTreeItem(node: LayerFilesNode): vscode.TreeItem {
    const load = this.load;
    if (node.kind === 'more') return moreItem(node);
    if (!load) return new vscode.TreeItem(displayName(node.path));
    const listing = load.listing!;
    const expand = listing.count <= AUTO_EXPAND && load.done ? 'all' : listing.filter && listing.matches <= AUTO_EXPAND ? 'matches' : 'none';
    return fileItem(load, node, listing, expand);
  }

  getParent(): undefined {
    return undefined;
  }

  /** The badge of a `docker-layer:` URI, from the current listing. */
  markOf(uri: vscode.Uri): FileMark | undefined {
    return this.load && markOfUri(this.load, uri);
  }

  private async start(store: Store, subject: Subject): Promise<void> {
    this.stop();
    this.limits.clear();
    const gen = ++this.gen;
    let finish: () => void = () => undefined;
    const load: Load = {
      gen,
      epoch: 0,
      subject,
      merged: this.merged,
      title: subjectTitle(subject, this.merged),
      controller: new AbortController(),
      started: performance.now(),
      layers: [],
      steps: [],
      entries: 0,
      refreshes: 0,
      problems: [],
      done: false,
      cancelled: false,
      finished: new Promise<void>((r) => (finish = r)),
    };
    this.load = load;
    void vscode.commands.executeCommand('setContext', 'dockerLayers.filesLayerSelected', true);
    // VS Code takes a refresh at once only after 200 ms without one (a trailing debounce): a walk's
    // first refresh is kept for its first entries; the old rows go after STALE_MS if none come.
    this.update(load.merged);
    if (!load.merged) this.schedule(load, STALE_MS);
    void vscode.window.withProgress({ location: { viewId: LAYER_FILES_VIEW } }, () => load.finished);
    const slow = setTimeout(() => this.notify(load), NOTIFY_AFTER_MS);
    try {
      if (load.merged) await mergeLoad(store, load, this.hooks);
      else await streamLoad(load, this.hooks);
    } catch (err) {
      if (load.controller.signal.aborted) load.cancelled = true;
      else load.error = errorMessage(err);
    } finally {
      clearTimeout(slow);
      load.done = true;
      load.doneMs = performance.now() - load.started;
      finish();
      if (this.load === load) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        // Small listings open every folder: their ids change so VS Code takes the new state.
        if (load.listing && load.listing.count <= AUTO_EXPAND) load.epoch++;
        this.update();
        this.decorations?.refresh();
        const how = load.cancelled ? 'cancelled' : load.error ? `failed: ${load.error}` : 'done';
        log().info(`${load.title}: ${load.entries} entries in ${load.doneMs.toFixed(0)} ms (${how})`);
      }
    }
  }

  private prepare(load: Load, listing: FileListing<LayerEntry> | FileListing<MergedEntry>): void {
    listing.sort = this.sort;
    const filter = this.filterText ? parseFileFilter(this.filterText) : undefined;
    listing.setFilter(typeof filter === 'string' ? undefined : filter);
    load.listing = listing;
  }

  private problem(load: Load, p: WalkProblem): void {
    load.problems.push(p.message);
    if (load.problems.length <= 50) log().warn(`${load.title}: ${displayName(p.path)}: ${p.message}`);
  }

  /** Refreshes the view soon: at once for the first entries, then every TICK_MS while the walk streams. */
  private tick(load: Load): void {
    this.schedule(load, load.firstRefreshMs === undefined && !load.merged ? 0 : TICK_MS);
  }

  /** One refresh `delay` ms from now, unless one is due sooner; a merge refreshes only its message until it ends. */
  private schedule(load: Load, delay: number): void {
    if (this.load !== load) return;
    const due = performance.now() + delay;
    if (this.timer) {
      if (this.due <= due) return;
      clearTimeout(this.timer);
    }
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.load === load && !load.done) this.update(!load.merged);
    }, delay);
  }

  /** For walks that take a while: a notification that can cancel them. */
  private notify(load: Load): void {
    if (load.done || this.load !== load) return;
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Listing ${load.title}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => load.controller.abort());
        const timer = setInterval(() => progress.report({ message: `${load.entries.toLocaleString('en-US')} entries${load.progress ? `, ${load.progress}` : ''}` }), 300);
        try {
          await load.finished;
        } finally {
          clearInterval(timer);
        }
      },
    );
  }

  /** Refreshes title and message, and the rows unless `rows` is false. */
  private update(rows = true): void {
    const load = this.load;
    if (rows) {
      this.changed.fire(undefined);
      if (load) load.refreshes++;
      // The first refresh that has rows to show.
      if (load?.listing?.count && load.firstRefreshMs === undefined) load.firstRefreshMs = performance.now() - load.started;
    }
    const view = this.view;
    if (!view) return;
    if (!load) {
      view.description = undefined;
      view.message = undefined;
      return;
    }
    const description = descriptionOf(load, this.sort);
    if (view.description !== description) view.description = description;
    // Setting the message counts as a tree refresh in VS Code's 200 ms debounce: only when it changes, and
    // not before a walk's first rows (they would wait behind it).
    const message = messageOf(load);
    if (view.message !== message && (rows || load.merged || load.done)) view.message = message;
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.load?.controller.abort();
  }

  private storeChanged(store: Store): void {
    const load = this.load;
    if (!load) return;
    const s = load.subject;
    const node: TreeNode = s.kind === 'step' ? { kind: 'step', image: s.image, stepIndex: s.stepIndex } : { kind: 'container', container: s.container };
    const again = resolveSubject(store, node);
    if (!again) {
      this.stop();
      this.load = undefined;
      void vscode.commands.executeCommand('setContext', 'dockerLayers.filesLayerSelected', false);
      this.update();
      return;
    }
    // Image layers never change; a container's layer does: list it again.
    if (again.kind === 'container' || again.layer?.key !== s.layer?.key) {
      void reportErrors('list layer files', () => this.start(store, again));
    } else {
      load.subject = again;
    }
  }
}

export function registerLayerFiles(
  context: vscode.ExtensionContext,
  service: StoreService,
  imagesView: vscode.TreeView<TreeNode>,
): LayerFilesTreeProvider {
  const provider = new LayerFilesTreeProvider(service);
  const view = vscode.window.createTreeView(LAYER_FILES_VIEW, { treeDataProvider: provider, showCollapseAll: true });
  provider.view = view;
  provider.decorations = registerLayerFileDecorations(context, (uri) => provider.markOf(uri));
  context.subscriptions.push(
    provider,
    view,
    imagesView.onDidChangeSelection((e) => provider.select(e.selection[0])),
    view.onDidChangeVisibility((e) => provider.visibilityChanged(e.visible)),
  );
  registerLayerFilesCommands(context, provider);
  return provider;
}
