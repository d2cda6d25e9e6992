/**
 * dive's efficiency on the Images tree's image rows: the score and wasted
 * bytes in the description and the tooltip once the background has computed
 * them (efficiencyCache.ts). Asking never blocks the tree: an image not yet
 * computed is queued and its row shows what it showed before.
 */
import * as vscode from 'vscode';
import { scoreText } from './core/efficiency';
import { countOf, humanSize } from './core/format';
import type { Image } from './core/model';
import { Disposable } from './dispose';
import type { EfficiencyCache } from './efficiencyCache';
import { escapeMd, type ImageItemDecorator } from './imagesTreeProvider';
import type { StoreService } from './storeService';

/** Results come one image at a time: the tree is refreshed at most this often. */
const REFRESH_MS = 400;

export class EfficiencyImageDecorator extends Disposable implements ImageItemDecorator {
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly service: StoreService,
    private readonly cache: EfficiencyCache,
  ) {
    super();
    this.register(
      cache.onDidChange(() => {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.changed.fire();
        }, REFRESH_MS);
      }),
    );
    this.register({ dispose: () => this.timer && clearTimeout(this.timer) });
  }

  decorate(item: vscode.TreeItem, image: Image): void {
    const store = this.service.current();
    if (!store) return;
    const state = this.cache.peek(store, image);
    if (!state) return this.cache.request(store, image);
    if (state.kind === 'pending') return;
    const md = item.tooltip instanceof vscode.MarkdownString ? item.tooltip : undefined;
    if (state.kind === 'failed') {
      md?.appendMarkdown(`\n\nefficiency: not computed (${escapeMd(state.message)})`);
      return;
    }
    const r = state.result;
    item.description = `${item.description ?? ''} · ${scoreText(r.score)} efficient · ${humanSize(r.wastedBytes)} wasted`;
    md?.appendMarkdown(
      `\n\nefficiency ${scoreText(r.score)} · wasted ${humanSize(r.wastedBytes)} (${r.wastedBytes} bytes) in ${countOf(r.offenders.length, 'file')}, as dive counts them`,
    );
  }
}
