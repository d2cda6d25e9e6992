/** A hash of everything a reader could change in a tree: every path's type, mode, size, mtime, owner, link target and file bytes. */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const slash = Buffer.from('/');
  // Names as bytes: a name that is not valid UTF-8 (a hostile layer's) is only found again spelled as on disk.
  const walk = (p: Buffer, rel: Buffer) => {
    const st = lstatSync(p);
    h.update(rel);
    h.update(`\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${st.uid}:${st.gid}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p, { encoding: 'buffer' }));
    else if (st.isDirectory()) {
      for (const n of readdirSync(p, { encoding: 'buffer' }).sort(Buffer.compare)) {
        walk(Buffer.concat([p, slash, n]), rel.length ? Buffer.concat([rel, slash, n]) : n);
      }
    } else if (st.isFile()) h.update(readFileSync(p));
  };
  walk(Buffer.from(dir), Buffer.alloc(0));
  return h.digest('hex');
}
