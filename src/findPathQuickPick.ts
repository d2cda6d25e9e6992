/**
 * "Find Path in Images…": a Quick Pick where the user types a pattern and
 * the hits of the core's path search (core/findPath.ts) stream in, busy while
 * it runs; typing again or closing the pick cancels the running search.
 * `sha256:<64 hex>` (or 64 bare hex digits) searches by content instead: the
 * regular files holding exactly those bytes (core/findPathContent.ts), with
 * one digest cache per store so that a second such search reads little.
 * Choosing a hit opens the file in place, read-only (the `docker-layer:` file
 * system); a folder, a deletion or the Reveal button shows its layer in the
 * Images tree and in Layer Files, filtered to the path.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { errorMessage } from './core/errors';
import { findPath, namedUses, parsePathPattern, type FindHit, type FindProgress, type PathPattern } from './core/findPath';
import { ContentHashes, parseSha256 } from './core/findPathContent';
import { humanSize, shortStep, truncate } from './core/format';
import { shortId } from './core/model';
import type { Store } from './core/store';
import { Disposable } from './dispose';
import type { TreeNode } from './imagesTreeProvider';
import { log, reportErrors } from './log';
import type { StoreService } from './storeService';

/** Wait this long after a keystroke before searching. */
const DEBOUNCE_MS = 250;
/** Add streamed hits to the list at most this often. */
const REFRESH_MS = 100;
/** Stop listing (the search goes on counting) past this many hits. */
const MAX_ITEMS = 1000;

const STATUS_WORD = { added: 'added', modified: 'modified', deleted: 'deleted', opaque: 'opaque' } as const;
const STATUS_ICON = { added: 'diff-added', modified: 'diff-modified', deleted: 'diff-removed', opaque: 'circle-slash' } as const;

export interface HitItem extends vscode.QuickPickItem {
  readonly hit: FindHit;
}

/** What the typed text asks for: a path pattern, or the files with these bytes. */
export type FindQuery = { readonly pattern: PathPattern; readonly text: string } | { readonly sha256: string; readonly text: string };

/**
 * The query typed: `sha256:…` or 64 bare hex digits is a content search (a
 * string that starts with `sha256:` but is no digest says why); anything else
 * is a path pattern. Undefined for nothing typed; a string is why the text
 * cannot be searched.
 */
export function parseFindQuery(typed: string): FindQuery | string | undefined {
  const t = typed.trim();
  if (!t) return undefined;
  if (/^sha256:/i.test(t) || /^[0-9a-f]{64}$/i.test(t)) {
    const sha256 = parseSha256(t);
    return typeof sha256 === 'string' ? { sha256, text: `sha256:${sha256.slice(0, 12)}…` } : sha256.error;
  }
  const pattern = parsePathPattern(t);
  return typeof pattern === 'string' ? pattern : { pattern, text: pattern.text };
}

/** One digest cache per store: a content search after another reads only files changed since (the store is new after a reload). */
const hashCaches = new WeakMap<Store, ContentHashes>();
function hashesOf(store: Store): ContentHashes {
  let hashes = hashCaches.get(store);
  if (!hashes) hashCaches.set(store, (hashes = new ContentHashes()));
  return hashes;
}

/** `; hashed 12 files (3.4MB), 40 from the cache`: what a content search read. */
function hashedText(p: FindProgress): string {
  const h = p.hashed;
  return h ? `; hashed ${h.files} file${h.files === 1 ? '' : 's'} (${humanSize(h.bytes)}), ${h.cached} from the cache` : '';
}

const TITLE = 'Find Path in Images';

const REVEAL: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('list-tree'), tooltip: 'Reveal Layer in Images and Layer Files' };

/** The item for one hit: path; status, size, images and step positions; the step and layer. */
export function hitItem(h: FindHit): HitItem {
  const uses = namedUses(h.uses, false);
  const where = h.container
    ? `container ${h.container.name || shortId(h.container.id)}`
    : uses.length === 0
      ? 'no image uses this layer'
      : uses.slice(0, 3).map((u) => `${u.image.tags[0] ?? shortId(u.image.id)} @${u.stepIndex}`).join(', ') + (uses.length > 3 ? ` +${uses.length - 3}` : '');
  const size = h.type === 'file' && h.status !== 'deleted' ? ` · ${humanSize(h.size)}` : '';
  const link = h.target !== undefined ? ` → ${displayName(h.target)}` : '';
  const step = uses[0] && !h.container ? ` · ${truncate(shortStep(uses[0].createdBy), 80)}` : '';
  return {
    hit: h,
    label: `$(${STATUS_ICON[h.status]}) ${displayName(h.path)}${link}`,
    description: `${STATUS_WORD[h.status]} ${h.type}${size} · ${where}`,
    detail: `layer ${shortId(h.layer.id)} (${h.layer.source.label})${step}`,
    // The typed pattern is not a fuzzy filter of the rows: every hit stays listed.
    alwaysShow: true,
    buttons: [REVEAL],
  };
}

/** The pick and its running search; one at a time. */
export class FindPathPick extends Disposable {
  readonly pick = this.register(vscode.window.createQuickPick<HitItem>());
  /** The search in progress (or last done), for tests: resolves when it ends. */
  searching: Promise<void> = Promise.resolve();
  progress: FindProgress | undefined;
  /** How the last search ended (for tests): all layers searched, or stopped by a newer search or the pick's closing. */
  outcome: 'done' | 'cancelled' | 'failed' | undefined;
  /** Whether the pick was closed while a search still ran (for tests). */
  closedWhileSearching = false;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The text of the running (or last) search: a value event for the same text starts nothing. */
  private text: string | undefined;
  /** What the titles start with: what the search is for (a command that opens the pick may name it). */
  private heading = TITLE;

  constructor(
    private readonly service: StoreService,
    private readonly onChoose: (hit: FindHit, reveal: boolean) => Promise<void>,
  ) {
    super();
    const pick = this.pick;
    pick.title = TITLE;
    pick.placeholder = 'A part of a path (keep.txt), a glob on the name (*.conf) or on the path (/usr/lib/**/libssl*), or sha256:<64 hex> for the files with those bytes';
    pick.matchOnDescription = false;
    pick.matchOnDetail = false;
    this.register({ dispose: () => this.stop() });
    this.register(pick.onDidChangeValue(() => this.schedule()));
    this.register(
      pick.onDidHide(() => {
        this.closedWhileSearching = this.controller !== undefined && this.outcome === undefined;
        this.dispose();
      }),
    );
    // Either way the pick closes first: the editor or the views it shows then take the focus.
    const choose = (hit: FindHit, reveal: boolean) => {
      pick.hide();
      void reportErrors('Find Path', () => this.onChoose(hit, reveal));
    };
    this.register(
      pick.onDidAccept(() => {
        const item = pick.selectedItems[0] ?? pick.activeItems[0];
        if (item) choose(item.hit, false);
      }),
    );
    this.register(pick.onDidTriggerItemButton((e) => choose(e.item.hit, true)));
  }

  /** Shows the pick, searching for `value` at once; `heading` names the search in the titles until the user types. */
  show(value = '', heading = TITLE): void {
    this.heading = heading;
    if (value) this.start(value);
    this.pick.value = value;
    this.pick.show();
  }

  /** Resolves when no search is running or waiting to start. */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.searching;
      await running;
      if (!this.timer && running === this.searching) return;
      await new Promise((r) => setTimeout(r, DEBOUNCE_MS));
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pick.value === this.text) return;
    this.heading = TITLE;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start(this.pick.value);
    }, DEBOUNCE_MS);
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    this.controller = undefined;
  }

  /** Cancels the running search and starts one for `text`. */
  private start(text: string): void {
    this.stop();
    this.text = text;
    const pick = this.pick;
    pick.items = [];
    this.progress = undefined;
    this.outcome = undefined;
    const query = parseFindQuery(text);
    if (!query || typeof query === 'string') {
      pick.busy = false;
      pick.title = `${this.heading}${typeof query === 'string' ? ` — ${query}` : ''}`;
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    pick.busy = true;
    pick.title = `${this.heading} — searching ${query.text}…`;
    this.searching = this.run(query, controller.signal).finally(() => {
      if (this.controller === controller) pick.busy = false;
    });
  }

  private async run(query: FindQuery, signal: AbortSignal): Promise<void> {
    const pick = this.pick;
    const items: HitItem[] = [];
    let shown = 0;
    let last = 0;
    const flush = (force = false) => {
      if (signal.aborted || shown === items.length || (!force && performance.now() - last < REFRESH_MS)) return;
      last = performance.now();
      shown = items.length;
      const active = pick.activeItems;
      pick.items = items.slice();
      // Keep the user's place while rows are added.
      if (active.length > 0) pick.activeItems = pick.items.filter((i) => active.some((a) => a.hit === i.hit));
    };
    const title = (p: FindProgress | undefined, done: boolean) => {
      const hits = p ? `${p.hits} hit${p.hits === 1 ? '' : 's'}${p.hits > MAX_ITEMS ? ` (first ${MAX_ITEMS} listed)` : ''}` : '';
      const layers = p ? `${p.layersDone} of ${p.layersTotal} layers` : '';
      pick.title = `${this.heading} — ${query.text}: ${hits}${done ? `, ${layers} searched` : `, ${layers}…`}${p ? hashedText(p) : ''}`;
    };
    try {
      const store: Store = await this.service.get();
      const content = 'sha256' in query ? { sha256: query.sha256, hashes: hashesOf(store) } : {};
      const hits = findPath(store, 'pattern' in query ? query.pattern : undefined, {
        ...content,
        signal,
        onProgress: (p) => {
          this.progress = p;
          if (!signal.aborted) title(p, false);
        },
        onProblem: (p) => log().warn(`find ${query.text}: layer ${shortId(p.layer.id)}${p.path ? ` ${p.path}` : ''}: ${p.message}`),
      });
      for await (const h of hits) {
        if (items.length < MAX_ITEMS) items.push(hitItem(h));
        flush();
      }
      if (signal.aborted) {
        this.outcome = 'cancelled';
        return;
      }
      this.outcome = 'done';
      flush(true);
      title(this.progress, true);
      if (items.length === 0) pick.items = [];
    } catch (err) {
      if (signal.aborted) {
        this.outcome = 'cancelled';
        return;
      }
      this.outcome = 'failed';
      pick.title = `${this.heading} — ${query.text}: ${errorMessage(err)}`;
      log().error(`find ${query.text}: ${errorMessage(err)}`);
    }
  }
}

/** A step node (or a container node) of the Images tree for a hit's layer. */
export function nodeOfHit(h: FindHit): TreeNode | undefined {
  if (h.container) return { kind: 'container', container: h.container };
  const use = namedUses(h.uses, false)[0];
  return use && { kind: 'step', image: use.image, stepIndex: use.stepIndex };
}
