// The tests run in the extension host; the workbench's DOM (tree rows, welcome
// views, the webviews' iframes) lives in the browser page that Playwright
// drives from the runner. This is the way between them: a loopback HTTP
// endpoint, with a random token, that runs a few page operations for the tests
// (test/integration/page.ts is the other end). DLE_PAGE_BRIDGE = "URL TOKEN".
//
// Requests: POST JSON { token, op, frame, ... }; the answer is JSON { value } or { error }.
//   frame: 'workbench' (the page) or 'webview' (the inner frames of our visible webviews)
//   op 'evaluate': { fn: a function's source, arg } → fn(arg) in each frame (webview: an array, one per frame)
//   op 'click' / 'hover': { selector, hasText? } → a real mouse click on (or move over) the first match
//   op 'fill':     { selector, text } → replaces the value of the first matching input
//   op 'type':     { text } / op 'press': { key } → the keyboard, wherever the focus is
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { EXTENSION_ID } from './vscodeHost.mjs';

const PUBLISHER = EXTENSION_ID.split('.')[0];

/** Starts the endpoint; attach(page) once the page exists. Returns { env, attach, close }. */
export async function startPageBridge() {
  const token = randomBytes(18).toString('hex');
  let page;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      let answer;
      try {
        const request = JSON.parse(body);
        if (request.token !== token) throw new Error('bad token');
        if (!page) throw new Error('the workbench page is not open yet');
        answer = { value: await perform(page, request) };
      } catch (err) {
        answer = { error: String(err?.message ?? err) };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer ?? { value: null }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    env: { DLE_PAGE_BRIDGE: `${url} ${token}` },
    attach: (p) => { page = p; },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function perform(page, request) {
  const frames = request.frame === 'webview' ? webviewFrames(page) : [page.mainFrame()];
  switch (request.op) {
    case 'evaluate': {
      // An expression, not eval() inside the frame: the webviews' CSP forbids eval; CDP's evaluation is not bound by it.
      const expression = `(${request.fn})(${JSON.stringify(request.arg ?? null)})`;
      const values = [];
      for (const f of frames) values.push(await f.evaluate(expression));
      return request.frame === 'webview' ? values : values[0];
    }
    case 'click':
    case 'hover': {
      const frame = frames[0];
      if (!frame) throw new Error('no such frame');
      let locator = frame.locator(request.selector);
      if (request.hasText !== undefined) locator = locator.filter({ hasText: request.hasText });
      await locator.first()[request.op]({ timeout: request.timeout ?? 10_000 });
      return true;
    }
    case 'fill':
      await frames[0].locator(request.selector).first().fill(request.text, { timeout: request.timeout ?? 10_000 });
      return true;
    case 'type':
      await page.keyboard.type(request.text);
      return true;
    case 'press':
      await page.keyboard.press(request.key);
      return true;
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

/** The inner frames (pre/fake.html) of this extension's webviews that have one: the visible ones. */
function webviewFrames(page) {
  return page.frames().filter((f) => /pre\/fake\.html/.test(f.url())
    && /pre\/index\.html/.test(f.parentFrame()?.url() ?? '')
    && f.parentFrame().url().includes(`extensionId=${PUBLISHER}`));
}
