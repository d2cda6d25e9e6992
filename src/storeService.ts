/**
 * Holds the loaded Store for the configured roots (plus roots opened for this
 * session, such as the sample), reloads it on refresh, on a settings change and
 * when a watched root changes on disk, and tells the views. Reading only:
 * the watchers are inotify watches, they write nothing.
 */
import { watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage, type ErrorCode } from './core/errors';
import type { Source } from './core/model';
import { Store, rootsState, type RootStatus, type RootsState } from './core/store';
import { Disposable } from './dispose';
import { log } from './log';
import { SECTION, configuredRoots } from './settings';

export type RootState = 'loading' | RootsState;

export class StoreService extends Disposable {
  private store: Store | undefined;
  private loading: Promise<Store> | undefined;
  private controller: AbortController | undefined;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private readonly sessionRoots: string[] = [];
  private readonly changed = this.register(new vscode.EventEmitter<Store>());
  /** Fires after every (re)load with the new store. */
  readonly onDidChange = this.changed.event;
  state: RootState = 'loading';

  constructor(private readonly viewId: string) {
    super();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.roots`)) void this.reload();
      }),
    );
    this.register({ dispose: () => this.stopWatching() });
    this.register({ dispose: () => this.controller?.abort() });
    this.register({ dispose: () => this.debounce && clearTimeout(this.debounce) });
  }

  /** Roots in the order they are shown: settings first, then this session's. */
  get roots(): string[] {
    return [...new Set([...configuredRoots(), ...this.sessionRoots].map((r) => path.resolve(r)))];
  }

  /** Adds a root for this session only (not written to settings). */
  addSessionRoot(root: string): Promise<Store> {
    if (!this.sessionRoots.includes(root)) this.sessionRoots.push(root);
    return this.reload();
  }

  removeSessionRoot(root: string): boolean {
    const i = this.sessionRoots.indexOf(root);
    if (i < 0) return false;
    this.sessionRoots.splice(i, 1);
    void this.reload();
    return true;
  }

  isSessionRoot(root: string): boolean {
    return this.sessionRoots.includes(root);
  }

  /** The current store, loading it on first use. */
  get(): Promise<Store> {
    if (this.store) return Promise.resolve(this.store);
    return this.loading ?? this.reload();
  }

  current(): Store | undefined {
    return this.store;
  }

  /** Reads every root again; a load still running is cancelled. */
  reload(): Promise<Store> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const roots = this.roots;
    const started = Date.now();
    const load = vscode.window.withProgress({ location: { viewId: this.viewId } }, async () => {
      const store = await Store.open(roots, { signal: controller.signal });
      return store;
    });
    // A newer load supersedes this one: its callers get the newer result.
    const superseded = () => this.controller !== controller;
    const loading: Promise<Store> = Promise.resolve(load).then(
      (store) => {
        if (superseded()) return this.get();
        this.store = store;
        this.loading = undefined;
        this.state = rootsState(store.roots);
        void vscode.commands.executeCommand('setContext', 'dockerLayers.rootState', this.state);
        log().info(
          `read ${roots.length} root(s) in ${Date.now() - started} ms: ${store.images.length} images, ${store.layers.length} layers, ` +
            `${store.containers.length} containers, ${store.problems.length} problems`,
        );
        for (const r of store.roots) if (r.error) log().warn(`${r.root}: ${r.error.message}`);
        for (const p of store.problems.slice(0, 50)) log().warn(p.message);
        this.watch(store.roots);
        this.changed.fire(store);
        return store;
      },
      (err) => {
        if (superseded()) return this.get();
        this.loading = undefined;
        log().error(`reading the roots failed: ${errorMessage(err)}`);
        throw err;
      },
    );
    this.loading = loading;
    return loading;
  }

  /** Watches the few folders that change when images, tags or containers come and go. */
  private watch(roots: RootStatus[]): void {
    this.stopWatching();
    const dirs = new Set<string>();
    for (const r of roots) {
      if (r.error) continue;
      for (const s of r.sources) for (const d of watchedDirs(s)) dirs.add(d);
    }
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.scheduleReload());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // a folder that cannot be watched (missing, no rights) is simply not watched
      }
    }
  }

  private scheduleReload(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      log().info('a root changed on disk: reading it again');
      void this.reload();
    }, 750);
  }

  private stopWatching(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }
}

const CAUSES: Partial<Record<ErrorCode, string>> = {
  'permission-denied': 'permission denied',
  'not-found': 'does not exist',
  'not-a-root': 'not a Docker root',
};

/**
 * When no root can be read: each root and why, in a few words for the usual
 * causes (`/var/lib/docker: permission denied · /var/lib/containerd: does not
 * exist`), else the error itself, which names the file (a corrupt meta.db);
 * undefined when some root was read (the tree then shows the failed ones).
 */
export function unreadableRoots(store: Store): string | undefined {
  if (store.roots.length === 0 || store.roots.some((r) => !r.error)) return undefined;
  return store.roots
    .map((r) => {
      const cause = CAUSES[r.error!.code];
      return cause ? `${r.root}: ${cause}` : r.error!.message.includes(r.root) ? r.error!.message : `${r.root}: ${r.error!.message}`;
    })
    .join(' · ');
}

function watchedDirs(s: Source): string[] {
  switch (s.kind) {
    case 'image-db':
      return [s.dir, path.join(s.dir, 'imagedb', 'content', 'sha256'), path.join(s.dir, 'layerdb', 'mounts')];
    case 'legacy-graph':
      return [s.dir, s.root];
    case 'containerd':
      return [path.join(s.dir, 'io.containerd.metadata.v1.bolt')];
    case 'archive':
      return []; // an archive is read as it was opened; it is not watched
  }
}
