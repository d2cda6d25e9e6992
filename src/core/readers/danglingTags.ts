/**
 * Tags whose image is not there: a `repositories.json` / `repositories-<driver>`
 * entry that names a missing image (a daemon killed mid-pull, a partial copy)
 * or something that is not an image id at all (a hostile root). Each becomes a
 * problem that names the tag and what it points at, instead of vanishing.
 */
import { DIGEST, HEX64, type Problem } from '../model';

/** Problems for the refs of `tags` (image id → refs) whose id is not in `known`. */
export function danglingTags(tags: ReadonlyMap<string, readonly string[]>, known: ReadonlySet<string>, where: string): Problem[] {
  const problems: Problem[] = [];
  for (const [id, refs] of tags) {
    if (known.has(id)) continue;
    const valid = DIGEST.test(id) || HEX64.test(id);
    const shown = JSON.stringify(id.slice(0, 100));
    for (const ref of refs) {
      problems.push({
        code: valid ? 'not-found' : 'invalid-id',
        message: valid ? `tag ${ref} points at image ${id}, which is not in ${where}` : `tag ${ref} names ${shown}, which is not an image id`,
        subject: ref,
      });
    }
  }
  return problems;
}
