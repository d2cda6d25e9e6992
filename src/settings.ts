/**
 * The extension's settings. Roots are read from user (and default) settings
 * only: the `machine` scope keeps workspaces from setting them, and workspace
 * values are ignored here too, so a cloned repository can never point the
 * extension at another folder. The same goes for every setting that decides
 * what a comparison of evidence reports or makes the extension run a program
 * (`compare.ignore`, `compare.xattrs`).
 */
import * as vscode from 'vscode';

export const SECTION = 'dockerLayers';
export const DEFAULT_ROOTS = ['/var/lib/docker', '/var/lib/containerd'];

/** A setting's value from user (or default) settings only: a workspace's value is never read. */
export function userSetting(key: string): unknown {
  const inspected = vscode.workspace.getConfiguration(SECTION).inspect<unknown>(key);
  return inspected?.globalValue ?? inspected?.defaultValue;
}

export function configuredRoots(): string[] {
  const value = userSetting('roots') ?? DEFAULT_ROOTS;
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

/**
 * `dockerLayers.compare.xattrs`, user settings only: it makes the extension
 * run getfattr over every compared path, and turned off it hides attribute
 * differences; neither is a workspace's to decide.
 */
export function compareXattrs(): boolean {
  return userSetting('compare.xattrs') === true;
}
