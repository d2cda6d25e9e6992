/**
 * The extension's settings. Roots are read from user (and default) settings
 * only: the `machine` scope keeps workspaces from setting them, and workspace
 * values are ignored here too, so a cloned repository can never point the
 * extension at another folder.
 */
import * as vscode from 'vscode';

export const SECTION = 'dockerLayers';
export const DEFAULT_ROOTS = ['/var/lib/docker', '/var/lib/containerd'];

export function configuredRoots(): string[] {
  const inspected = vscode.workspace.getConfiguration(SECTION).inspect<unknown>('roots');
  const value = inspected?.globalValue ?? inspected?.defaultValue ?? DEFAULT_ROOTS;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : DEFAULT_ROOTS;
}

export async function setConfiguredRoots(roots: string[]): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('roots', roots, vscode.ConfigurationTarget.Global);
}

export function showIntermediate(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('showIntermediateImages', false);
}

export async function setShowIntermediate(value: boolean): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('showIntermediateImages', value, vscode.ConfigurationTarget.Global);
}
