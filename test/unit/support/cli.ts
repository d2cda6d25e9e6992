/** Runs the docker-layers CLI in-process and captures what it prints. */
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

export async function cliJson<T = unknown>(args: string[]): Promise<T> {
  const r = await runCli([...args, '--json']);
  if (r.code !== 0) throw new Error(`docker-layers ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
