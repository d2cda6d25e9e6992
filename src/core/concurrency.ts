import { throwIfAborted } from './errors';

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) return;
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Paces a synchronous loop so it never blocks the event loop for long: call
 * `due()` per item (cheap) and, when it says so, `await pause()`, which yields
 * to the event loop (setImmediate) and then honours the AbortSignal. One
 * promise per slice, not one per item.
 */
export class Pacer {
  private deadline: number;

  constructor(
    private readonly signal?: AbortSignal,
    private readonly sliceMs = 5,
  ) {
    this.deadline = performance.now() + sliceMs;
  }

  /** True when the current slice is used up. */
  due(): boolean {
    return performance.now() >= this.deadline;
  }

  /** Yields to the event loop, throws `cancelled` if the signal fired, and starts a new slice. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(this.signal);
    this.deadline = performance.now() + this.sliceMs;
  }
}
