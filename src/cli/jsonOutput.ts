/**
 * The one shape of every `--json` output: an object with `schemaVersion`
 * (bumped on any incompatible change), the command's name, and the command's
 * payload keys. Each command's schema is `schemas/<command>.schema.json`.
 */

export const SCHEMA_VERSION = 1;

/** The whole document for a command whose output is built in memory. */
export function jsonDocument(command: string, payload: Record<string, unknown>): string {
  return JSON.stringify({ schemaVersion: SCHEMA_VERSION, command, ...payload }, null, 2) + '\n';
}

/**
 * A document whose one list is streamed: `open()` writes the head and the
 * list's opening bracket, `item()` one element, `close()` the rest. The
 * result is the same JSON as jsonDocument would give (one item per line).
 */
export class JsonListWriter {
  private first = true;

  constructor(
    private readonly write: (text: string) => void,
    private readonly command: string,
    private readonly listKey: string,
    private readonly head: Record<string, unknown> = {},
  ) {}

  open(): void {
    const head = JSON.stringify({ schemaVersion: SCHEMA_VERSION, command: this.command, ...this.head });
    this.write(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}\n  ${JSON.stringify(this.listKey)}: [`);
  }

  item(value: unknown): void {
    this.write((this.first ? '\n    ' : ',\n    ') + JSON.stringify(value));
    this.first = false;
  }

  /** Closes the list; `tail` keys (totals, problems) follow it. */
  close(tail: Record<string, unknown> = {}): void {
    let text = this.first ? ']' : '\n  ]';
    for (const [k, v] of Object.entries(tail)) text += `,\n  ${JSON.stringify(k)}: ${JSON.stringify(v)}`;
    this.write(text + '\n}\n');
  }
}
