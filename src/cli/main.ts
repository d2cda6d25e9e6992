/**
 * `docker-layers`: the CLI entry. Opens the roots, runs one command, maps
 * errors to exit status: 0 success, 1 not found / ambiguous, 2 unreadable
 * root or bad arguments. Never writes anywhere but stdout and stderr.
 */
import { userInfo } from 'node:os';
import { LayerError, errorMessage } from '../core/errors';
import { printable } from '../core/format';
import { Store } from '../core/store';
import { USAGE, UsageError, parseArgs } from './args';
import { COMMANDS, checkArgs, type Output } from './commands';

declare const PACKAGE_VERSION: string | undefined;

export async function run(argv: readonly string[], out: Output, signal?: AbortSignal): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    out.warn(`${errorMessage(err)}\n${USAGE.split('\n')[0]}`);
    return 2;
  }
  if (args.help || (!args.command && !args.version)) {
    out.write(USAGE + '\n');
    return args.help ? 0 : 2;
  }
  if (args.version) {
    out.write(`${typeof PACKAGE_VERSION === 'string' ? PACKAGE_VERSION : 'dev'}\n`);
    return 0;
  }
  const command = COMMANDS[args.command!];
  if (!command) {
    out.warn(`unknown command "${args.command}"\n${USAGE.split('\n')[0]}`);
    return 2;
  }
  try {
    checkArgs(args);
    const store = await Store.open(args.roots, { signal });
    const readable = store.roots.filter((r) => !r.error);
    if (readable.length === 0 || (args.rootsGiven && readable.length < store.roots.length)) {
      for (const r of store.roots) if (r.error) out.warn(rootHelp(r.error));
      return 2;
    }
    // Messages quote names from disk: printable() keeps their control characters off the terminal.
    for (const p of store.problems.slice(0, 20)) out.warn(printable(p.message));
    const status = await command(store, args, out, signal);
    return typeof status === 'number' ? status : 0;
  } catch (err) {
    return exitStatus(err, out);
  }
}

/**
 * One command over a store already open (its roots' problems not repeated):
 * what `run` does once the store is open, so that many commands can share one
 * load (the read-only checks run every command over every step of a root).
 */
export async function runCommand(store: Store, argv: readonly string[], out: Output, signal?: AbortSignal): Promise<number> {
  try {
    const args = parseArgs(argv);
    const command = args.command ? COMMANDS[args.command] : undefined;
    if (!command) throw new UsageError(`unknown command "${args.command ?? ''}"`);
    checkArgs(args);
    const status = await command(store, args, out, signal);
    return typeof status === 'number' ? status : 0;
  } catch (err) {
    return exitStatus(err, out);
  }
}

/** Says what went wrong in one line and gives the exit status: 1 not found / ambiguous, 2 anything else. */
function exitStatus(err: unknown, out: Output): number {
  if (err instanceof UsageError) {
    out.warn(`${err.message}\n${USAGE.split('\n')[0]}`);
    return 2;
  }
  if (err instanceof LayerError) {
    out.warn(printable(err.message));
    return err.code === 'not-found' || err.code === 'ambiguous' ? 1 : 2;
  }
  out.warn(`unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  return 2;
}

/** One line per unreadable root that says what to do. */
export function rootHelp(err: LayerError): string {
  switch (err.code) {
    case 'permission-denied':
      return (
        `${err.path ?? 'the root'}: permission denied (running as ${currentUser()}). Docker's root is readable by root only: ` +
        'run with the needed rights (sudo docker-layers …), or copy the root somewhere you can read and pass --root DIR.'
      );
    case 'not-found':
      return `${err.path ?? 'the root'} does not exist: pass the Docker data root with --root DIR.`;
    default:
      return err.message;
  }
}

/** Who this runs as, for the permission message: `alice (uid 1000)`. */
function currentUser(): string {
  const uid = process.getuid?.();
  try {
    return `${userInfo().username}${uid === undefined ? '' : ` (uid ${uid})`}`;
  } catch {
    return uid === undefined ? 'another user' : `uid ${uid}`; // a uid with no passwd entry
  }
}

if (require.main === module) {
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const out: Output = {
    write: (t) => void process.stdout.write(t),
    warn: (t) => void process.stderr.write(`docker-layers: ${t}\n`),
  };
  run(process.argv.slice(2), out, controller.signal).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`docker-layers: ${errorMessage(err)}\n`);
      process.exitCode = 2;
    },
  );
}
