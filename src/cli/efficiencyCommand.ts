/**
 * `docker-layers efficiency IMAGE`: dive's efficiency score, wasted bytes and
 * inefficient files (core/efficiency.ts), and dive's CI rules for pipelines:
 * `--lowest-efficiency F`, `--highest-wasted-bytes N`,
 * `--highest-user-wasted-percent F` (the `.dive-ci` keys `lowestEfficiency`,
 * `highestWastedBytes`, `highestUserWastedPercent`, with dive's parsing and
 * comparisons from `cmd/dive/cli/internal/command/ci/rules.go`). Exit 1 when a
 * rule fails, after the report is written.
 */
import { imageEfficiency, scoreText, type ImageEfficiency } from '../core/efficiency';
import { humanSize, printable, table } from '../core/format';
import { shortId } from '../core/model';
import { optionValue, UsageError, type CliArgs } from './args';
import type { Command } from './commands';
import { jsonDocument } from './jsonOutput';

/** Offenders listed without `--no-trunc`. */
const TOP = 10;

type RuleName = 'lowestEfficiency' | 'highestWastedBytes' | 'highestUserWastedPercent';

/** One CI rule as given on the command line. */
interface Rule {
  readonly name: RuleName;
  readonly option: string;
  /** As given (`20MB`, `0.9`). */
  readonly given: string;
  readonly threshold: number;
  /** dive's comparison: true when the image fails the rule. */
  readonly fails: (r: ImageEfficiency) => boolean;
}

interface RuleResult {
  readonly rule: Rule;
  readonly failed: boolean;
}

/** dive's "disabled" spellings for a rule's value. */
const isDisabled = (v: string) => ['', 'disabled', 'off', 'false'].includes(v.trim().toLowerCase());

/** A fraction 0–1, as dive's ParseFloat + range check. */
function fraction(option: string, v: string): number {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${option} takes a number between 0 and 1, not "${v}"`);
  if (n < 0 || n > 1) throw new UsageError(`--${option} is outside the allowed range 0–1: ${v}`);
  return n;
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, ki: 1024, kib: 1024,
  m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3,
  t: 1e12, tb: 1e12, ti: 1024 ** 4, tib: 1024 ** 4,
  p: 1e15, pb: 1e15, pi: 1024 ** 5, pib: 1024 ** 5,
};

/** Bytes as go-humanize's ParseBytes reads them (dive's highestWastedBytes): `20MB` = 20,000,000, `20MiB`, `1,000 kB`; units in any case. */
export function parseBytes(option: string, v: string): number {
  const m = /^\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--${option} takes a size such as 20MB, 512kB or 1048576, not "${v}"`);
  return Math.floor(Number(m[1].replace(/,/g, '')) * unit);
}

/** The rules given on the command line (a disabled value drops its rule). */
export function rulesOf(args: CliArgs): Rule[] {
  const rules: Rule[] = [];
  const add = (option: string, name: RuleName, parse: (o: string, v: string) => number, fails: (r: ImageEfficiency, t: number) => boolean) => {
    const given = optionValue(args, option);
    if (given === undefined || isDisabled(given)) return;
    const threshold = parse(option, given);
    rules.push({ name, option, given, threshold, fails: (r) => fails(r, threshold) });
  };
  add('lowest-efficiency', 'lowestEfficiency', fraction, (r, t) => t > r.score);
  add('highest-wasted-bytes', 'highestWastedBytes', parseBytes, (r, t) => r.wastedBytes > t);
  add('highest-user-wasted-percent', 'highestUserWastedPercent', fraction, (r, t) => r.userWastedPercent > t);
  return rules;
}

const percent = (f: number) => (Number.isFinite(f) ? `${(f * 100).toFixed(2)} %` : 'all (no user bytes)');

/** The value a rule compared, as dive prints it. */
function ruleValue(r: ImageEfficiency, name: RuleName): string {
  if (name === 'lowestEfficiency') return scoreText(r.score);
  if (name === 'highestWastedBytes') return `${r.wastedBytes} bytes`;
  return Number.isFinite(r.userWastedPercent) ? r.userWastedPercent.toFixed(4) : 'Infinity';
}

export const efficiencyCommand: Command = async (store, args, out, signal) => {
  const rules = rulesOf(args); // bad thresholds fail before any walk
  const image = store.findImage(args.positional[0]);
  const problems: string[] = [];
  const r = await imageEfficiency(store, image, { signal, onProblem: (step, p) => problems.push(`step ${step}: ${p.path}: ${p.message}`) });
  const results: RuleResult[] = rules.map((rule) => ({ rule, failed: rule.fails(r) }));
  const name = image.tags[0] ?? shortId(image.id);
  if (args.json) {
    out.write(
      jsonDocument('efficiency', {
        image: image.id,
        name,
        score: r.score,
        wastedBytes: r.wastedBytes,
        sizeBytes: r.sizeBytes,
        userSizeBytes: r.userSizeBytes,
        userWastedPercent: Number.isFinite(r.userWastedPercent) ? r.userWastedPercent : null,
        offenders: r.offenders.map((o) => ({ path: o.path, count: o.count, bytes: o.bytes, steps: o.layers.map((l) => r.steps[l]), sizes: o.sizes })),
        rules: results.map(({ rule, failed }) => ({ rule: rule.name, threshold: rule.threshold, given: rule.given, status: failed ? 'fail' : 'pass' })),
        pass: results.every((x) => !x.failed),
        problems,
      }),
    );
  } else {
    out.write(report(r, name, image.id, args.noTrunc, results));
  }
  for (const p of problems.slice(0, 20)) out.warn(printable(p));
  const failed = results.filter((x) => x.failed);
  if (failed.length === 0) return 0;
  const what = failed.map(({ rule }) => `${rule.name} (${ruleValue(r, rule.name)} against ${rule.given})`).join(', ');
  out.warn(`${printable(name)} fails ${failed.length} of ${results.length} efficiency rule${results.length === 1 ? '' : 's'}: ${what}`);
  // Exit status 1: the documented "negative" answer (as `dive --ci` fails).
  return 1;
};

/** The text report: figures, inefficient files (top ten unless --no-trunc), rules. */
function report(r: ImageEfficiency, name: string, id: string, noTrunc: boolean, results: RuleResult[]): string {
  const lines = [
    `${printable(name)} (${shortId(id)}): ${r.steps.length} layers, ${r.leaves} leaves`,
    `  efficiency:         ${scoreText(r.score)}`,
    `  wasted bytes:       ${r.wastedBytes} bytes (${humanSize(r.wastedBytes)})`,
    `  user wasted:        ${r.wastedBytes ? percent(r.userWastedPercent) : '0 %'} of ${r.userSizeBytes} bytes added above the base layer`,
    '',
  ];
  if (r.offenders.length === 0) {
    lines.push('Inefficient files: none');
  } else {
    const shown = noTrunc ? r.offenders : r.offenders.slice(0, TOP);
    lines.push(`Inefficient files (${r.offenders.length}, biggest first):`);
    const rows = shown.map((o) => [String(o.count), humanSize(o.bytes), o.layers.map((l) => r.steps[l]).join(','), printable(o.path)]);
    lines.push(table(['COUNT', 'WASTED', 'STEPS', 'PATH'], rows));
    if (shown.length < r.offenders.length) lines.push(`… ${r.offenders.length - shown.length} more (--no-trunc lists them all)`);
  }
  if (results.length) {
    lines.push('', 'Rules:');
    for (const { rule, failed } of results) {
      lines.push(`  ${failed ? 'FAIL' : 'PASS'}  ${rule.name}: ${ruleValue(r, rule.name)} against --${rule.option} ${printable(rule.given)}`);
    }
  }
  return lines.join('\n') + '\n';
}
