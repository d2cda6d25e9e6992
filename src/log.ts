import * as vscode from 'vscode';
import { errorMessage } from './core/errors';

let channel: vscode.LogOutputChannel | undefined;

/** The extension's one output channel ("Docker Layer Explorer"). */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Docker Layer Explorer', { log: true });
  return channel;
}

/**
 * Runs a command body; any failure is logged and shown once, with a way to the log.
 * Every command goes through here so no rejection is ever unhandled.
 */
export async function reportErrors<T>(what: string, fn: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const message = errorMessage(err);
    log().error(`${what}: ${message}`);
    void vscode.window.showErrorMessage(`${what}: ${message}`, 'Show Log').then((pick) => {
      if (pick) log().show();
    });
    return undefined;
  }
}
