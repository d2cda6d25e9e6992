/** A hash of everything a reader could change in a tree: every path's type, mode, size, mtime, owner, link target and file bytes. */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';

export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const st = lstatSync(p);
    h.update(`${path.relative(dir, p)}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${st.uid}:${st.gid}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
    else if (st.isFile()) h.update(readFileSync(p));
  };
  walk(dir);
  return h.digest('hex');
}
