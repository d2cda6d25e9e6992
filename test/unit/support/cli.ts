/** Runs the docker-layers CLI in-process and captures what it prints. */
import { SCHEMA_VERSION } from '../../../src/cli/jsonOutput';
import { run } from '../../../src/cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    write: (t) => void (stdout += t),
    warn: (t) => void (stderr += t + '\n'),
  });
  return { code, stdout, stderr };
}

/** What every `--json` output is: the envelope (src/cli/jsonOutput.ts) with the command's payload keys. */
export type JsonDoc<P> = { schemaVersion: number; command: string } & P;

/**
 * Runs a command with `--json` and returns its whole document, after checking
 * that it exited 0 and carries the current schemaVersion.
 */
export async function cliJson<P = Record<string, unknown>>(args: string[]): Promise<JsonDoc<P>> {
  const r = await runCli([...args, '--json']);
  if (r.code !== 0) throw new Error(`docker-layers ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as JsonDoc<P>;
  if (doc.schemaVersion !== SCHEMA_VERSION) throw new Error(`docker-layers ${args.join(' ')}: schemaVersion ${doc.schemaVersion}, not ${SCHEMA_VERSION}`);
  return doc;
}
