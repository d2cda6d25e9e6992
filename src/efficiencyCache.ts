/**
 * dive's efficiency of each image (core/efficiency.ts), computed once per
 * image and loaded store, in the background, one image at a time so the
 * extension host stays responsive and the disk is not thrashed. The Images
 * tree asks for the images it shows (`request`) and reads what is ready
 * (`peek`); Show Wasted Space waits for one image (`get`). A reload of the
 * store drops every result and cancels the walks still running.
 */
import * as vscode from 'vscode';
import { imageEfficiency, type ImageEfficiency } from './core/efficiency';
import { errorMessage } from './core/errors';
import type { Image } from './core/model';
import type { Store } from './core/store';
import { Disposable } from './dispose';
import { log } from './log';
import type { StoreService } from './storeService';

/** What is known of one image: being computed, its figures, or why they could not be. */
export type EfficiencyState =
  | { readonly kind: 'pending'; readonly done: Promise<ImageEfficiency> }
  | { readonly kind: 'ready'; readonly result: ImageEfficiency; readonly problems: readonly string[] }
  | { readonly kind: 'failed'; readonly message: string };

/** How long the background waits between two images, to leave the host to the user. */
const PAUSE_MS = 20;

export class EfficiencyCache extends Disposable {
  private store: Store | undefined;
  private states = new Map<string, EfficiencyState>();
  /** Images asked for in the background, oldest first. */
  private queue: Image[] = [];
  private running = false;
  private controller = new AbortController();
  private readonly changed = this.register(new vscode.EventEmitter<Image>());
  /** Fires when an image's figures are ready (or failed). */
  readonly onDidChange = this.changed.event;

  constructor(service: StoreService) {
    super();
    this.register(service.onDidChange((store) => this.reset(store)));
    this.register({ dispose: () => this.controller.abort() });
  }

  /** The state of `image` in `store`, without starting anything. */
  peek(store: Store, image: Image): EfficiencyState | undefined {
    return store === this.store ? this.states.get(image.key) : undefined;
  }

  /** Queues `image` for the background when nothing is known of it yet. */
  request(store: Store, image: Image): void {
    if (store !== this.store) this.reset(store);
    if (this.states.has(image.key) || this.queue.includes(image)) return;
    this.queue.push(image);
    void this.drain();
  }

  /** The figures of `image`, computed now (ahead of the background queue) unless known. */
  get(store: Store, image: Image, onProgress?: (message: string) => void, token?: vscode.CancellationToken): Promise<ImageEfficiency> {
    if (store !== this.store) this.reset(store);
    const known = this.states.get(image.key);
    if (known?.kind === 'ready') return Promise.resolve(known.result);
    if (known?.kind === 'pending') return known.done;
    this.queue = this.queue.filter((i) => i !== image);
    return this.compute(image, onProgress, token);
  }

  private reset(store: Store): void {
    if (store === this.store) return;
    this.controller.abort();
    this.controller = new AbortController();
    this.store = store;
    this.states = new Map();
    this.queue = [];
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let image = this.queue.shift(); image; image = this.queue.shift()) {
        if (this.states.has(image.key)) continue;
        await this.compute(image).catch(() => undefined);
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
    } finally {
      this.running = false;
    }
  }

  private compute(image: Image, onProgress?: (message: string) => void, token?: vscode.CancellationToken): Promise<ImageEfficiency> {
    const store = this.store!;
    const states = this.states;
    const signal = this.controller.signal;
    // A caller's cancel stops the walk only for it: the state is dropped so a later ask starts again.
    const own = new AbortController();
    const abort = () => own.abort();
    signal.addEventListener('abort', abort);
    const cancel = token?.onCancellationRequested(abort);
    const problems: string[] = [];
    const done = imageEfficiency(store, image, {
      signal: own.signal,
      onProblem: (step, p) => problems.push(`step ${step}: ${p.path}: ${p.message}`),
      onProgress: onProgress && ((p) => onProgress(`layer ${p.layer + 1} of ${p.layers}, ${p.entries} entries`)),
    });
    states.set(image.key, { kind: 'pending', done });
    done.then(
      (result) => {
        states.set(image.key, { kind: 'ready', result, problems });
        for (const p of problems) log().warn(`efficiency of ${image.tags[0] ?? image.id}: ${p}`);
        this.changed.fire(image);
      },
      (err) => {
        if (own.signal.aborted) {
          if (states.get(image.key)?.kind === 'pending') states.delete(image.key);
          return;
        }
        states.set(image.key, { kind: 'failed', message: errorMessage(err) });
        this.changed.fire(image);
      },
    ).finally(() => {
      signal.removeEventListener('abort', abort);
      cancel?.dispose();
    });
    return done;
  }
}
