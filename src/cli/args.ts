/** Argument parsing for `docker-layers`: options may stand anywhere. */

/** Bad arguments: exit status 2 with the usage hint. */
export class UsageError extends Error {}

export const DEFAULT_ROOTS = ['/var/lib/docker', '/var/lib/containerd'];

export interface CliArgs {
  command?: string;
  positional: string[];
  roots: string[];
  rootsGiven: boolean;
  json: boolean;
  all: boolean;
  noTrunc: boolean;
  help: boolean;
  version: boolean;
  /** Values of the options in VALUE_OPTIONS, by name without dashes (`--ignore A --ignore B` → ignore: [A, B]). */
  values: Record<string, string[]>;
  /** The options in FLAG_OPTIONS that were given, by name without dashes. */
  flags: Set<string>;
}

/**
 * Options that take a value (`--name VALUE` or `--name=VALUE`), repeatable.
 * Each command says in USAGE which ones it reads.
 */
export const VALUE_OPTIONS = new Set<string>(['ignore', 'lowest-efficiency', 'highest-wasted-bytes', 'highest-user-wasted-percent', 'image', 'sha256']);

/** Boolean options beyond the common ones. */
export const FLAG_OPTIONS = new Set<string>(['merged', 'ignore-mtime', 'dry-run', 'xattrs']);

/** The last value given for `--name`, or undefined. */
export function optionValue(args: CliArgs, name: string): string | undefined {
  const list = args.values[name];
  return list?.[list.length - 1];
}

export const USAGE = `Usage: docker-layers [--root DIR]... [--json] COMMAND [ARGS]

Reads Docker storage roots straight from disk (no daemon, read-only).

Commands:
  images                 list images with shared / unique size (-a/--all: intermediate images too)
  layers IMAGE           history steps of an image, bottom to top
  json LAYER             the JSON document of a layer (step)
  diff LAYER [OTHER]     JSON changes from LAYER's parent to LAYER, or from LAYER to OTHER
  files LAYER            the files a layer (or a container's read-write layer) adds, changes, deletes
  containers             containers with their changes (as docker diff)
  history IMAGE PATH     every step that added (A), modified (M), deleted (D) or made opaque (O) PATH
                         (a container: its image's steps, then its own read-write layer)
  export LAYER PATH DEST copy a file or folder of LAYER (--merged: of the image as of LAYER) to DEST,
                         never into a root, symlinks as symlinks (--dry-run: count, write nothing)
  efficiency IMAGE       dive's efficiency score, wasted bytes and inefficient files (--no-trunc: all);
                         exit 1 when --lowest-efficiency F, --highest-wasted-bytes N or
                         --highest-user-wasted-percent F is crossed (as dive --ci)
  compare A [B]          files and config that differ between two images or steps (IMAGE@N), or what
                         the steps of a range IMAGE@I..J add together; --ignore GLOB (repeatable),
                         --ignore-mtime, --xattrs (compare extended attributes too);
                         exit 1 when they differ
  find PATTERN           every layer of every image (and container) holding a path: a substring, a
                         glob on the name (*.conf) or on the path (/usr/lib/**/libssl*); --image IMAGE,
                         --sha256 HEX (files with these bytes); exit 1 when nothing is found

IMAGE is an id prefix, repo:tag or repo@digest. LAYER is an IMAGE (its top step),
IMAGE@N (step N from the bottom, 0-based, as "layers" numbers them), or a layer
id / diff id prefix. "files" also takes a container name or id.

Options:
  --root DIR     a storage root (repeatable; default: ${DEFAULT_ROOTS.join(', ')})
  --json         machine-readable output: {schemaVersion, command, ...}, see schemas/<command>.schema.json
  -a, --all      include intermediate images
  --no-trunc     do not shorten ids and steps
  -h, --help     this help
  --version      the version

Exit status: 0 success, 1 not found or ambiguous, 2 unreadable root or bad arguments.`;

export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = {
    positional: [], roots: [], rootsGiven: false, json: false, all: false, noTrunc: false, help: false, version: false,
    values: {}, flags: new Set(),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root' || a.startsWith('--root=')) {
      const value = a === '--root' ? argv[++i] : a.slice('--root='.length);
      if (!value) throw new UsageError('--root needs a folder');
      out.roots.push(value);
      out.rootsGiven = true;
    } else if (a === '--json') out.json = true;
    else if (a === '-a' || a === '--all') out.all = true;
    else if (a === '--no-trunc') out.noTrunc = true;
    else if (a === '-h' || a === '--help') out.help = true;
    else if (a === '--version') out.version = true;
    else if (a.startsWith('--') && VALUE_OPTIONS.has(a.slice(2).split('=')[0])) {
      const name = a.slice(2).split('=')[0];
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      (out.values[name] ??= []).push(value);
    } else if (a.startsWith('--') && FLAG_OPTIONS.has(a.slice(2))) out.flags.add(a.slice(2));
    else if (a === '--') out.positional.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    else if (!out.command) out.command = a;
    else out.positional.push(a);
  }
  if (!out.rootsGiven) out.roots = [...DEFAULT_ROOTS];
  return out;
}
