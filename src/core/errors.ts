import type { Problem } from './model';

/**
 * The one error class of the core. Every failure the core reports carries a
 * code (what kind of failure), the path it concerns, and the underlying cause.
 * Views map codes to their own vocabulary (FileSystemError, CLI exit status…).
 */
export type ErrorCode =
  | 'not-found' // a path, id or tag that does not exist
  | 'ambiguous' // an id prefix that matches more than one item
  | 'permission-denied' // EACCES / EPERM: the root is usually root-only
  | 'corrupt' // bytes that do not parse: truncated JSON, a bad bbolt page…
  | 'invalid-id' // an id that is not a hex digest or would escape its folder
  | 'missing-parent' // a parent link that points at nothing
  | 'cycle' // parent links that loop
  | 'unsupported' // a layout or driver we do not read (yet)
  | 'not-a-root' // a folder that holds no Docker layout
  | 'cancelled' // the caller's AbortSignal fired
  | 'io'; // any other I/O failure

export class LayerError extends Error {
  override readonly name = 'LayerError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly path?: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** Maps a Node fs error to a LayerError that names the path and says what to do. */
export function fromFsError(err: unknown, path: string, what = 'read'): LayerError {
  if (err instanceof LayerError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new LayerError('not-found', `${path} does not exist`, path, err);
    case 'EACCES':
    case 'EPERM':
      return new LayerError(
        'permission-denied',
        `cannot ${what} ${path}: permission denied. Docker roots are readable by root only; ` +
          'run with the needed rights (e.g. sudo), or point at a copy of the root you can read.',
        path,
        err,
      );
    case 'ELOOP':
      return new LayerError('corrupt', `${path} is a symlink loop`, path, err);
    case 'ABORT_ERR':
      return new LayerError('cancelled', 'cancelled', path, err);
    default:
      return new LayerError('io', `cannot ${what} ${path}: ${(err as Error)?.message ?? String(err)}`, path, err);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LayerError('cancelled', 'cancelled');
}

/**
 * `p`, or a `cancelled` rejection as soon as `signal` fires (or at once when it
 * has). `p` itself goes on: others may be waiting for it.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new LayerError('cancelled', 'cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new LayerError('cancelled', 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A Problem (one item's failure, shown beside the other items) from any error. */
export function toProblem(err: unknown, subject?: string): Problem {
  if (err instanceof LayerError) return { code: err.code, message: err.message, path: err.path, subject };
  return { code: 'io', message: errorMessage(err), subject };
}
