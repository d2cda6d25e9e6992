import * as vscode from 'vscode';

/** A base for classes that own listeners, watchers and timers: dispose() releases them all. */
export abstract class Disposable implements vscode.Disposable {
  private disposables: vscode.Disposable[] = [];
  private disposed = false;

  protected register<T extends vscode.Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.disposables.push(d);
    return d;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) {
      try {
        d.dispose();
      } catch {
        // one failing disposal must not keep the others alive
      }
    }
  }
}
