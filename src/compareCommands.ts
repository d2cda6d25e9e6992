/**
 * Compare any two steps in the native diff editor, over the read-only
 * `docker-layer:` documents (sorted keys, so the diff shows meaning), as
 * hexeditor's compareSelected does with its own scheme:
 *
 * - Select for Compare remembers a step (or an image: its top step);
 * - Compare with Selected diffs it with another step, in any image, root or layout;
 * - Compare with Parent diffs a step with the step below it, from a tree node,
 *   the editor title (its URI), or the active layer JSON editor.
 */
import * as vscode from 'vscode';
import { shortId } from './core/model';
import type { StepRef, Store } from './core/store';
import { activeEditorUri, imageByKey, imageName, stepOfArg, stepOfUri } from './layerTargets';
import { jsonDocUri } from './layerUri';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

export const COMPARE_SELECTED_CONTEXT = 'dockerLayers.compareSelected';

interface Selected {
  readonly imageKey: string;
  readonly stepIndex: number;
}

/** A step as people read it (`dle/app:1 step 5`), told apart from `other` when both would read the same. */
function stepLabel(step: StepRef, other?: StepRef): string {
  const label = `${imageName(step.image)} step ${step.stepIndex}`;
  if (!other || imageName(other.image) !== imageName(step.image) || other.image.key === step.image.key) return label;
  const [mine, theirs] = [step.image.source, other.image.source];
  if (mine.label !== theirs.label) return `${label} (${mine.label})`;
  if (mine.root !== theirs.root) return `${label} (${mine.root})`;
  return `${label} (${shortId(step.image.id)})`;
}

/** Opens the native diff of two steps' documents; `left` is shown as the original. */
export async function diffSteps(left: StepRef, right: StepRef): Promise<void> {
  const title =
    left.image.key === right.image.key
      ? `${imageName(left.image)}: step ${left.stepIndex} ↔ step ${right.stepIndex}`
      : `${stepLabel(left, right)} ↔ ${stepLabel(right, left)}`;
  await vscode.commands.executeCommand('vscode.diff', jsonDocUri(left.image, left.stepIndex), jsonDocUri(right.image, right.stepIndex), title, {
    preview: true,
  });
}

/** The step a command was given, or else the one in the active editor. */
function stepOf(store: Store, arg: unknown): StepRef | undefined {
  const given = stepOfArg(store, arg);
  if (given) return given;
  const uri = activeEditorUri();
  return uri ? stepOfUri(store, uri) : undefined;
}

export function registerCompareCommands(context: vscode.ExtensionContext, service: StoreService): void {
  let selected: Selected | undefined;
  const add = (id: string, title: string, fn: (arg?: unknown) => Promise<unknown>) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (arg?: unknown) => reportErrors(title, () => fn(arg))));
  const noStep = () => vscode.window.showInformationMessage('Choose a step of an image in the Images view, or open a layer JSON editor, first.');

  add('dockerLayers.selectForCompare', 'Select for Compare', async (arg) => {
    const step = stepOf(await service.get(), arg);
    if (!step) return void noStep();
    selected = { imageKey: step.image.key, stepIndex: step.stepIndex };
    await vscode.commands.executeCommand('setContext', COMPARE_SELECTED_CONTEXT, true);
    vscode.window.setStatusBarMessage(`Selected ${stepLabel(step)} for compare`, 5000);
  });

  add('dockerLayers.compareWithSelected', 'Compare with Selected', async (arg) => {
    const store = await service.get();
    if (!selected) {
      return void vscode.window.showInformationMessage('Use Select for Compare on a step or an image first.');
    }
    const image = imageByKey(store, selected.imageKey);
    const left: StepRef = { image, stepIndex: Math.min(selected.stepIndex, image.steps.length - 1) };
    const right = stepOf(store, arg);
    if (!right) return void noStep();
    await diffSteps(left, right);
  });

  add('dockerLayers.compareWithParent', 'Compare with Parent', async (arg) => {
    const step = stepOf(await service.get(), arg);
    if (!step) return void noStep();
    if (step.stepIndex === 0) {
      return void vscode.window.showInformationMessage(`${imageName(step.image)}: step 0 has no parent (it is the first step of the image).`);
    }
    await diffSteps({ image: step.image, stepIndex: step.stepIndex - 1 }, step);
  });
}
