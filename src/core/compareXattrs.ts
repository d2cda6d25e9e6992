/**
 * Extended attributes of layer files, for compare: Node has no xattr API, so
 * `getfattr` (package attr) is asked, without a shell, in batches of paths,
 * never following the entry itself when it is a symlink (-h). Every namespace this process may read is
 * listed (`user.*`, `security.*` such as file capabilities, `trusted.*` with
 * CAP_SYS_ADMIN); overlayfs' own bookkeeping (`*.overlay.*`: opaque markers,
 * redirects, origins) is left out, since it says how a layer is stored, not
 * what the image holds. Where getfattr is missing, attributes are unknown and
 * not compared.
 */
import { execFile } from 'node:child_process';

/** Whether a comparison's extended attributes were compared, or why not. */
export type XattrsState = 'compared' | 'no-getfattr' | 'no-files';

/** What the CLI and the Comparison view say of it, once (never per path). */
export const XATTRS_NOTE: Record<XattrsState, string> = {
  compared: 'extended attributes compared',
  'no-getfattr': 'extended attributes not compared: getfattr is not installed (package attr)',
  'no-files': 'extended attributes not compared: image archive layers have none to read',
};

/** Keeps each command line well under ARG_MAX. */
const MAX_BATCH_CHARS = 64 * 1024;
const OVERLAY_OWN = /^(trusted|user)\.overlay\./;

/**
 * The attributes of each disk path, as one comparable string
 * (`name=0xhex` lines, sorted; '' for none), or undefined when getfattr cannot run.
 */
export async function readXattrs(paths: readonly string[], signal?: AbortSignal): Promise<Map<string, string> | undefined> {
  const found = new Map<string, string>();
  for (let i = 0; i < paths.length; ) {
    const chunk: string[] = [];
    let size = 0;
    while (i < paths.length && (chunk.length === 0 || size + paths[i].length < MAX_BATCH_CHARS)) {
      size += paths[i].length + 1;
      chunk.push(paths[i++]);
    }
    const out = await getfattr(chunk, signal);
    if (out === undefined) return undefined;
    parse(out, found);
  }
  for (const p of paths) if (!found.has(p)) found.set(p, '');
  return found;
}

function getfattr(paths: string[], signal?: AbortSignal): Promise<Buffer | undefined> {
  const argv = ['-h', '--absolute-names', '-d', '-m', '-', '-e', 'hex', '--', ...paths];
  return new Promise((resolve) => {
    execFile('getfattr', argv, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, signal, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      // Exit status 1 only means some path had nothing readable; the others are listed.
      resolve(err && typeof code !== 'number' ? undefined : stdout);
    });
  });
}

/** `# file: PATH` then `name=0x…` lines, a blank line between files; names escaped as `\ooo`. */
function parse(out: Buffer, into: Map<string, string>): void {
  let file: string | undefined;
  let attrs: string[] = [];
  const flush = () => {
    if (file !== undefined) into.set(file, attrs.sort().join('\n'));
    file = undefined;
    attrs = [];
  };
  for (const line of out.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      flush();
      const bytes = Buffer.from(line.slice(8).replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8) & 0xff)), 'latin1');
      file = bytes.toString('utf8');
    } else if (file !== undefined && line.includes('=') && !OVERLAY_OWN.test(line)) {
      attrs.push(line);
    }
  }
  flush();
}
