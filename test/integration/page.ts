/**
 * The tests' way to the workbench page the runner drives with Playwright
 * (scripts/pageBridge.mjs): run a function in the page or in the inner frames
 * of our visible webviews, click, type. Only under code-server
 * (scripts/testIntegration.mjs); desktop runs have no page to reach, and the
 * tests that need one are skipped there.
 */
const [URL, TOKEN] = (process.env.DLE_PAGE_BRIDGE ?? '').split(' ');

/** Whether the page can be reached (code-server runs). */
export const hasPage = Boolean(URL && TOKEN);

export type PageFrame = 'workbench' | 'webview';

async function call<T>(request: Record<string, unknown>): Promise<T> {
  if (!hasPage) throw new Error('no page bridge: run the suite with scripts/testIntegration.mjs (code-server)');
  const res = await fetch(URL, { method: 'POST', body: JSON.stringify({ token: TOKEN, ...request }) });
  const answer = (await res.json()) as { value?: T; error?: string };
  if (answer.error !== undefined) throw new Error(`page ${String(request.op)}: ${answer.error}`);
  return answer.value as T;
}

/**
 * Runs `fn(arg)` in the workbench page. `fn` travels as source text: it must
 * use nothing from its closure, only its argument.
 */
export function inWorkbench<A, T>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
  return call<T>({ op: 'evaluate', frame: 'workbench', fn: fn.toString(), arg });
}

/** Runs `fn(arg)` in the inner frame of each of our visible webviews; one result per frame. */
export function inWebviews<A, T>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T[]> {
  return call<T[]>({ op: 'evaluate', frame: 'webview', fn: fn.toString(), arg });
}

/** A real click on the first element of the workbench that matches `selector` (and holds `hasText`). */
export function click(selector: string, hasText?: string, frame: PageFrame = 'workbench'): Promise<void> {
  return call({ op: 'click', frame, selector, hasText });
}

/** Moves the mouse over the first element that matches (a tooltip or hover shows). */
export function hover(selector: string, hasText?: string, frame: PageFrame = 'workbench'): Promise<void> {
  return call({ op: 'hover', frame, selector, hasText });
}

/** Replaces the value of the first input that matches, as typing would. */
export function fill(selector: string, text: string): Promise<void> {
  return call({ op: 'fill', frame: 'workbench', selector, text });
}

export function typeText(text: string): Promise<void> {
  return call({ op: 'type', text });
}

export function press(key: string): Promise<void> {
  return call({ op: 'press', key });
}
