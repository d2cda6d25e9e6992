// A tiny test runner for the extension host (mocha and node:test do not run there
// reliably). Test files register with suite/test/before/after when imported;
// index.ts then calls run(). Everything prints through console.log, which the
// host forwards (code-server: codeAutomationLog; desktop: stdout).
//
// Output: "✔ name (ms)" or "✖ name" and the error's stack, then one final line
// "N passed, N failed" (", N skipped" when some were skipped).
// DLE_TEST_GREP (a regular expression) runs only the tests whose "suite › test" name matches.

export type TestFn = () => void | Promise<void>;
export interface TestOptions {
  /** Milliseconds; default 20 s. */
  timeout?: number;
  skip?: boolean;
}

interface TestCase {
  name: string;
  fn: TestFn;
  options: TestOptions;
}

interface Suite {
  name: string;
  tests: TestCase[];
  before: TestFn[];
  after: TestFn[];
}

const DEFAULT_TIMEOUT = 20_000;
const HOOK_TIMEOUT = 60_000;
const topLevel: Suite = { name: '', tests: [], before: [], after: [] };
const suites: Suite[] = [topLevel];
let current: Suite = topLevel;

/** Groups tests; fn runs at once (when the file is imported) to register them. */
export function suite(name: string, fn: () => void): void {
  if (current !== topLevel) throw new Error(`suite "${name}": suites do not nest`);
  const s: Suite = { name, tests: [], before: [], after: [] };
  suites.push(s);
  current = s;
  try {
    fn();
  } finally {
    current = topLevel;
  }
}

export function test(name: string, fn: TestFn, options: TestOptions = {}): void {
  current.tests.push({ name, fn, options });
}

/** Registers a test that is reported as skipped. */
test.skip = (name: string, fn: TestFn, options: TestOptions = {}): void => test(name, fn, { ...options, skip: true });

/** Runs before the first test of the enclosing suite (or of the whole run at top level). */
export function before(fn: TestFn): void {
  current.before.push(fn);
}

/** Runs after the last test of the enclosing suite (or of the whole run at top level). */
export function after(fn: TestFn): void {
  current.after.push(fn);
}

class TimeoutError extends Error {}

async function withTimeout(fn: TestFn, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(err: unknown): string {
  if (err instanceof TimeoutError) return err.message;
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `thrown: ${String(err)}`;
}

function indent(text: string, by: string): string {
  return text.split('\n').map((l) => by + l).join('\n');
}

/** Runs every registered test in order; rejects when any failed. */
export async function run(): Promise<void> {
  const grep = process.env.DLE_TEST_GREP ? new RegExp(process.env.DLE_TEST_GREP) : undefined;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures: string[] = [];

  const runHooks = async (hooks: TestFn[], label: string, pad: string): Promise<boolean> => {
    for (const hook of hooks) {
      try {
        await withTimeout(hook, HOOK_TIMEOUT, label);
      } catch (err) {
        failed++;
        failures.push(label);
        console.log(`${pad}✖ ${label}\n${indent(describe(err), `${pad}    `)}`);
        return false;
      }
    }
    return true;
  };

  const globalReady = await runHooks(topLevel.before, '"before all" hook', '');
  for (const s of suites) {
    const full = (t: TestCase) => (s.name ? `${s.name} › ${t.name}` : t.name);
    const tests = s.tests.filter((t) => !grep || grep.test(full(t)));
    if (!tests.length) continue;
    const pad = s.name ? '  ' : '';
    if (s.name) console.log(s.name);
    const ready = globalReady && (s === topLevel || (await runHooks(s.before, `${s.name}: "before" hook`, pad)));
    for (const t of tests) {
      if (t.options.skip) {
        skipped++;
        console.log(`${pad}- ${t.name} (skipped)`);
        continue;
      }
      if (!ready) {
        failed++;
        failures.push(full(t));
        console.log(`${pad}✖ ${t.name} (not run: a "before" hook failed)`);
        continue;
      }
      const start = Date.now();
      try {
        await withTimeout(t.fn, t.options.timeout ?? DEFAULT_TIMEOUT, `test "${t.name}"`);
        passed++;
        console.log(`${pad}✔ ${t.name} (${Date.now() - start} ms)`);
      } catch (err) {
        failed++;
        failures.push(full(t));
        console.log(`${pad}✖ ${t.name} (${Date.now() - start} ms)\n${indent(describe(err), `${pad}    `)}`);
      }
    }
    if (s !== topLevel) await runHooks(s.after, `${s.name}: "after" hook`, pad);
  }
  await runHooks(topLevel.after, '"after all" hook', '');

  if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `  ✖ ${f}`).join('\n')}\n`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  if (failed) throw new Error(`${failed} integration test${failed === 1 ? '' : 's'} failed`);
}
