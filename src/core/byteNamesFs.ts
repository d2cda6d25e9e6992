/**
 * readdir and readlink with names mapped as byteNames.ts says: the fs side of
 * that mapping (byteNames.ts itself stays free of Node imports).
 */
import * as fs from 'node:fs';
import { decodeName, diskPath, needsBytes } from './byteNames';

/**
 * A folder's entries with every name mapped. The string readdir is the fast
 * path; only when one of its names may be wrong (needsBytes) is the folder read
 * again as bytes, and then every name is decoded (a real U+FFFD stays one).
 */
export function readdirMappedSync(dir: string): fs.Dirent[] {
  const disk = diskPath(dir);
  const dirents = fs.readdirSync(disk, { withFileTypes: true });
  for (const d of dirents) if (needsBytes(d.name)) return mapNames(fs.readdirSync(disk, { encoding: 'buffer', withFileTypes: true }));
  return dirents;
}

/** readdirMappedSync, read in the thread pool. */
export async function readdirMapped(dir: string): Promise<fs.Dirent[]> {
  const disk = diskPath(dir);
  const dirents = await fs.promises.readdir(disk, { withFileTypes: true });
  for (const d of dirents) if (needsBytes(d.name)) return mapNames(await fs.promises.readdir(disk, { encoding: 'buffer', withFileTypes: true }));
  return dirents;
}

/** Byte-named Dirents renamed in place with their mapped strings (Node's Dirent keeps `name` as given). */
function mapNames(dirents: readonly object[]): fs.Dirent[] {
  for (const d of dirents as { name: Buffer | string }[]) d.name = decodeName(d.name as Buffer);
  return dirents as unknown as fs.Dirent[];
}

/** A symlink's target, mapped as names are (a target is bytes too); the link is never followed. */
export function readlinkMappedSync(link: string): string {
  return decodeName(fs.readlinkSync(diskPath(link), { encoding: 'buffer' }));
}

/** readlinkMappedSync, read in the thread pool. */
export async function readlinkMapped(link: string): Promise<string> {
  return decodeName(await fs.promises.readlink(diskPath(link), { encoding: 'buffer' }));
}
