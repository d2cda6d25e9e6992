/**
 * "Find Path in Images…": a Quick Pick where the user types a pattern and
 * the hits of the core's path search (core/findPath.ts) stream in, busy while
 * it runs; typing again or closing the pick cancels the running search.
 * Choosing a hit opens the file in place, read-only (the `docker-layer:` file
 * system); a folder, a deletion or the Reveal button shows its layer in the
 * Images tree and in Layer Files, filtered to the path.
 */
import * as vscode from 'vscode';
import { errorMessage } from './core/errors';
import { findPath, namedUses, parsePathPattern, type FindHit, type FindProgress } from './core/findPath';
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
  const link = h.target !== undefined ? ` → ${h.target}` : '';
  const step = uses[0] && !h.container ? ` · ${truncate(shortStep(uses[0].createdBy), 80)}` : '';
  return {
    hit: h,
    label: `$(${STATUS_ICON[h.status]}) ${h.path}${link}`,
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
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The text of the running (or last) search: a value event for the same text starts nothing. */
  private text: string | undefined;

  constructor(
    private readonly service: StoreService,
    private readonly onChoose: (hit: FindHit, reveal: boolean) => Promise<void>,
  ) {
    super();
    const pick = this.pick;
    pick.title = 'Find Path in Images';
    pick.placeholder = 'A part of a path (keep.txt), a glob on the name (*.conf) or on the path (/usr/lib/**/libssl*)';
    pick.matchOnDescription = false;
    pick.matchOnDetail = false;
    this.register({ dispose: () => this.stop() });
    this.register(pick.onDidChangeValue(() => this.schedule()));
    this.register(pick.onDidHide(() => this.dispose()));
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

  show(value = ''): void {
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
    const pattern = text.trim() ? parsePathPattern(text) : undefined;
    if (!pattern || typeof pattern === 'string') {
      pick.busy = false;
      pick.title = `Find Path in Images${typeof pattern === 'string' ? ` — ${pattern}` : ''}`;
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    pick.busy = true;
    pick.title = `Find Path in Images — searching ${pattern.text}…`;
    this.searching = this.run(pattern, controller.signal).finally(() => {
      if (this.controller === controller) pick.busy = false;
    });
  }

  private async run(pattern: Exclude<ReturnType<typeof parsePathPattern>, string>, signal: AbortSignal): Promise<void> {
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
      pick.title = `Find Path in Images — ${pattern.text}: ${hits}${done ? `, ${layers} searched` : `, ${layers}…`}`;
    };
    try {
      const store: Store = await this.service.get();
      const hits = findPath(store, pattern, {
        signal,
        onProgress: (p) => {
          this.progress = p;
          if (!signal.aborted) title(p, false);
        },
        onProblem: (p) => log().warn(`find ${pattern.text}: layer ${shortId(p.layer.id)}${p.path ? ` ${p.path}` : ''}: ${p.message}`),
      });
      for await (const h of hits) {
        if (items.length < MAX_ITEMS) items.push(hitItem(h));
        flush();
      }
      flush(true);
      title(this.progress, true);
      if (items.length === 0) pick.items = [];
    } catch (err) {
      if (signal.aborted) return;
      pick.title = `Find Path in Images — ${pattern.text}: ${errorMessage(err)}`;
      log().error(`find ${pattern.text}: ${errorMessage(err)}`);
    }
  }
}

/** A step node (or a container node) of the Images tree for a hit's layer. */
export function nodeOfHit(h: FindHit): TreeNode | undefined {
  if (h.container) return { kind: 'container', container: h.container };
  const use = namedUses(h.uses, false)[0];
  return use && { kind: 'step', image: use.image, stepIndex: use.stepIndex };
}
