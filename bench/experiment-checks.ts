// The claims of the presets (electron/trainer/training/presets.ts), checked against what a run
// recorded (bench/experiment-run.ts). Each check gives the measured figures as text and
// whether the claim holds; the thresholds are written here once, next to the claim, and are
// not tuned to the results. A claim that does not reproduce says so.
import type { LayerStats } from '#protocol/messages';
import type { LayerStatsRow, RunRecord } from './experiment-run';

export interface Check {
  /** The preset (or presets, for a comparison) the claim belongs to. */
  readonly preset: string;
  readonly claim: string;
  /** The measured numbers, as text. */
  readonly figure: string;
  readonly holds: boolean;
}

export type Records = ReadonlyMap<string, RunRecord>;

interface CheckSpec {
  /** Every run the check reads; it is skipped unless all of them ran. */
  readonly needs: readonly string[];
  readonly evaluate: (records: Records) => Check[];
}

// ------------------------------------------------------------------ thresholds

/** "Clearly below chance": the mean training loss of the last 10 steps at most this fraction of ln C. */
export const LEARNED_LOSS_FRACTION = 0.75;
/** "Well above chance": held-out accuracy at least this many times 1/C. */
export const LEARNED_ACCURACY_FACTOR = 5;
/** Steps averaged for "the loss at the end" and for "the loss reached a target". */
const LOSS_WINDOW = 10;
/** Convergence speed: steps until the 10-step mean training loss is below this fraction of ln C (as AlexNet compares steps to one training error). */
export const SPEED_TARGET_FRACTION = 0.5;
/** "Several times fewer steps" (AlexNet's Figure 1: six times). */
export const SPEED_FACTOR = 3;
/** Layer statistics rows averaged for per-layer means at the start and at the end of a run. */
const STATS_ROWS = 10;

// ------------------------------------------------------------------ helpers

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const num = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(3) : x.toExponential(1)) : String(x));
const chance = (r: RunRecord): number => Math.log(r.classes);

function need(records: Records, name: string): RunRecord {
  const r = records.get(name);
  if (!r) throw new Error(`no record of ${name}`);
  return r;
}

/** The mean training loss of the last 10 steps. */
export function finalLoss(r: RunRecord): number {
  return mean(r.steps.slice(-LOSS_WINDOW).map((s) => s.loss));
}

/** The held-out accuracy at the end: the last epoch's, or the stop's validation when it came later. */
export function finalAccuracy(r: RunRecord): { accuracy: number; step: number } | null {
  const epoch = r.epochs.at(-1);
  const stop = r.outcome.validation;
  if (stop && (!epoch || r.outcome.step > epoch.step)) return { accuracy: stop.accuracy, step: r.outcome.step };
  return epoch ? { accuracy: epoch.valAccuracy, step: epoch.step } : null;
}

/** The first step at which the mean loss of the last 10 steps is at or below `target` (null: never). */
export function stepsToLoss(r: RunRecord, target: number): number | null {
  for (let i = LOSS_WINDOW - 1; i < r.steps.length; i++) {
    if (mean(r.steps.slice(i - LOSS_WINDOW + 1, i + 1).map((s) => s.loss)) <= target) return r.steps[i]!.step;
  }
  return null;
}

/** Per layer (in the model's order, input first), the mean of `value` over `rows`; NaN where a row lacks it. */
function layerMeans(rows: readonly LayerStatsRow[], value: (l: LayerStats) => number | null | undefined): { layer: string; value: number }[] {
  const first = rows[0];
  if (!first) return [];
  return first.layers.map((l, i) => ({
    layer: l.layer,
    value: mean(rows.map((row) => row.layers[i]).filter((x): x is LayerStats => x !== undefined).map((x) => value(x) ?? NaN)),
  }));
}

const firstRows = (r: RunRecord) => r.layerStats.slice(0, STATS_ROWS);
const lastRows = (r: RunRecord) => r.layerStats.slice(-STATS_ROWS);
const lastStats = (r: RunRecord): LayerStatsRow | undefined => r.layerStats.at(-1);
/** The row of the first step with a full dead-count window (or the last row, in a shorter run). */
const firstFullWindow = (r: RunRecord): LayerStatsRow | undefined => r.layerStats.find((row) => row.step >= row.window) ?? r.layerStats.at(-1);

/** Dead filters (or pieces) of the layers that can die, and of those the conv layers (every layer but the fc's `embedding`). */
function deadCount(row: LayerStatsRow | undefined): { dead: number; filters: number; convDead: number; convFilters: number; text: string } {
  const out = { dead: 0, filters: 0, convDead: 0, convFilters: 0, text: '' };
  if (!row) return out;
  const parts: string[] = [];
  for (const l of row.layers) {
    if (l.deadFilters === null) continue;
    out.dead += l.deadFilters;
    out.filters += l.filters;
    if (l.layer !== 'embedding') {
      out.convDead += l.deadFilters;
      out.convFilters += l.filters;
    }
    parts.push(`${l.layer.replace(/\.act$/, '')} ${l.deadFilters}/${l.filters}`);
  }
  out.text = parts.join(', ');
  return out;
}

/** Unit-weighted saturated fraction over every layer that reports one. */
function saturatedFraction(rows: readonly LayerStatsRow[]): number {
  return mean(
    rows.map((row) => {
      let units = 0;
      let saturated = 0;
      for (const l of row.layers) {
        if (l.saturatedFraction === null) continue;
        units += l.units;
        saturated += l.saturatedFraction * l.units;
      }
      return units > 0 ? saturated / units : NaN;
    }),
  );
}

function lengthText(r: RunRecord): string {
  const how = r.stoppedByBudget ? `stopped by the budget at step ${r.outcome.step} of ${r.totalSteps}` : `${r.outcome.step} steps`;
  return `${how}, ${r.seconds.toFixed(0)} s${r.sameRunAs ? ` (the run of ${r.sameRunAs})` : ''}`;
}

// ------------------------------------------------------------------ every run

/** Whether a run learned: the training loss clearly below chance and held-out accuracy well above it. */
export function learnsCheck(r: RunRecord): Check {
  const claim = `learns: training loss < ${LEARNED_LOSS_FRACTION} x ln C, held-out accuracy >= ${LEARNED_ACCURACY_FACTOR} x chance`;
  if (r.error) return { preset: r.name, claim, figure: `did not run: ${r.error}`, holds: false };
  if (r.outcome.failure === 'diverged') return { preset: r.name, claim, figure: `diverged at step ${r.outcome.step}: ${r.outcome.message ?? ''}`.slice(0, 200), holds: false };
  const loss = finalLoss(r);
  const acc = finalAccuracy(r);
  const c = chance(r);
  const accText = acc ? `held-out ${pct(acc.accuracy)} at step ${acc.step} (chance ${pct(1 / r.classes)})` : 'no held-out accuracy (no epoch ended)';
  const holds = loss < LEARNED_LOSS_FRACTION * c && acc !== null && acc.accuracy >= LEARNED_ACCURACY_FACTOR / r.classes;
  return { preset: r.name, claim, figure: `loss ${loss.toFixed(2)} (ln ${r.classes} = ${c.toFixed(2)}); ${accText}; ${lengthText(r)}`, holds };
}

/** The trainer built the model with the initialiser the config names (`init`). */
function initCheck(r: RunRecord): Check | null {
  if (r.error || r.initializerUsed === r.config.init) return null;
  return { preset: r.name, claim: `the model starts from the config's init (${r.config.init})`, figure: `built with ${r.initializerUsed}`, holds: false };
}

export function everyRunChecks(r: RunRecord): Check[] {
  return [learnsCheck(r), initCheck(r)].filter((c): c is Check => c !== null);
}

// ------------------------------------------------------------------ the presets' claims

function reluDies(records: Records): Check[] {
  const r = need(records, 'relu-high-lr');
  const start = firstFullWindow(r);
  const end = deadCount(lastStats(r));
  const early = deadCount(start);
  return [
    {
      preset: r.name,
      claim: 'filters die at a high lr, in the conv layers too',
      figure: `dead over the last ${lastStats(r)?.window ?? '?'} steps at step ${lastStats(r)?.step ?? '?'}: ${end.text} (${pct(end.dead / end.filters)} of all; conv ${end.convDead}/${end.convFilters})`,
      holds: end.convDead > 0,
    },
    {
      preset: r.name,
      claim: 'the dead count climbs during the run',
      figure: `step ${start?.step ?? '?'}: ${early.dead}/${early.filters} (conv ${early.convDead}); step ${lastStats(r)?.step ?? '?'}: ${end.dead}/${end.filters} (conv ${end.convDead})`,
      holds: end.convDead > early.convDead,
    },
  ];
}

function reluDiesMoreThanGentle(records: Records): Check[] {
  const high = deadCount(lastStats(need(records, 'relu-high-lr')));
  const gentle = deadCount(lastStats(need(records, 'speed-relu')));
  return [
    {
      preset: 'relu-high-lr vs speed-relu',
      claim: 'more conv filters die at the high lr than at a gentle one',
      figure: `conv dead at the end: high lr ${high.convDead}/${high.convFilters}, gentle ${gentle.convDead}/${gentle.convFilters}`,
      holds: high.convDead / high.convFilters > gentle.convDead / gentle.convFilters,
    },
  ];
}

/** Leaky ReLU and PReLU: no layer can die; every layer still gets a weight gradient at the end. */
function cannotDie(name: string) {
  return (records: Records): Check[] => {
    const r = need(records, name);
    const end = lastStats(r);
    const layers = end?.layers ?? [];
    const grads = layerMeans(lastRows(r), (l) => l.gradWeightMeanAbs);
    const negative = layers.map((l) => `${l.layer.replace(/\.act$/, '')} ${l.negativeRegimeFilters ?? '?'}/${l.filters}`).join(', ');
    const allGet = grads.length > 0 && grads.every((g) => g.value > 0);
    return [
      {
        preset: name,
        claim: 'no filter dies: every layer keeps a weight gradient',
        figure: `dead: none (rule ${[...new Set(layers.map((l) => l.rule))].join('/')}); negative-regime filters ${negative}; min mean |dW| ${num(Math.min(...grads.map((g) => g.value)))}`,
        holds: layers.length > 0 && layers.every((l) => l.rule === 'cannot-die' && l.deadFilters === null) && allGet,
      },
    ];
  };
}

function mfmPieces(records: Records): Check[] {
  const r = need(records, 'mfm-high-lr');
  const rates = layerMeans(lastRows(r), (l) => (l.pieceWinRates ? Math.min(...l.pieceWinRates) : NaN));
  return [
    {
      preset: r.name,
      claim: 'both halves of every MFM layer keep winning a fair share (each >= 25% of positions)',
      figure: `smaller half's win rate: ${rates.map((x) => `${x.layer.replace(/\.act$/, '')} ${pct(x.value)}`).join(', ')}`,
      holds: rates.length > 0 && rates.every((x) => x.value >= 0.25),
    },
  ];
}

function mfmAgainstRelu(records: Records): Check[] {
  const mfm = deadCount(lastStats(need(records, 'mfm-high-lr')));
  const relu = deadCount(lastStats(need(records, 'relu-high-lr')));
  return [
    {
      preset: 'mfm-high-lr vs relu-high-lr',
      claim: "a smaller share of MFM's pieces dies than of ReLU's filters",
      figure: `dead at the end: MFM ${mfm.dead}/${mfm.filters} pieces (${pct(mfm.dead / mfm.filters)}), ReLU ${relu.dead}/${relu.filters} filters (${pct(relu.dead / relu.filters)})`,
      holds: mfm.dead / mfm.filters < relu.dead / relu.filters,
    },
  ];
}

function sigmoidSaturates(records: Records): Check[] {
  const r = need(records, 'sigmoid-saturation');
  const start = saturatedFraction(firstRows(r));
  const end = saturatedFraction(lastRows(r));
  const perLayer = layerMeans(lastRows(r), (l) => l.saturatedFraction);
  return [
    {
      preset: r.name,
      claim: 'the saturated fraction rises (to >= 2x and >= 1%)',
      figure: `first 10 steps ${pct(start)}, last 10 ${pct(end)}; at the end ${perLayer.map((x) => `${x.layer.replace(/\.act$/, '')} ${pct(x.value)}`).join(', ')}`,
      holds: end >= 0.01 && end >= 2 * start,
    },
    gradientFalls(r),
  ];
}

/** Mean |d loss / d activation| over the last rows, strictly falling from the last layer to the first. */
function gradientFalls(r: RunRecord): Check {
  const g = layerMeans(lastRows(r), (l) => l.gradOutputMeanAbs);
  const falls = g.length > 1 && g.every((x, i) => i === 0 || g[i - 1]!.value < x.value);
  const ratio = g.length > 1 ? g[0]!.value / g.at(-1)!.value : NaN;
  return {
    preset: r.name,
    claim: 'mean |gradient| falls from the last layer to the first',
    figure: `${[...g].reverse().map((x) => `${x.layer.replace(/\.act$/, '')} ${num(x.value)}`).join(' > ')} (first/last ${num(ratio)})`,
    holds: falls,
  };
}

function gradientRatio(r: RunRecord): number {
  const g = layerMeans(lastRows(r), (l) => l.gradOutputMeanAbs);
  return g.length > 1 ? g[0]!.value / g.at(-1)!.value : NaN;
}

function sigmoidGradientAgainstRelu(records: Records): Check[] {
  const sigmoid = need(records, 'speed-sigmoid');
  const relu = need(records, 'speed-relu');
  const s = gradientRatio(sigmoid);
  const q = gradientRatio(relu);
  return [
    {
      preset: 'speed-sigmoid vs speed-relu',
      claim: "the gradient shrinks more towards the input with sigmoid than with ReLU (first/last layer's mean |gradient|)",
      figure: `sigmoid ${num(s)}, ReLU ${num(q)} (same model and settings)`,
      holds: s < q,
    },
  ];
}

function centring(name: string, activation: 'sigmoid' | 'tanh') {
  return (records: Records): Check[] => {
    const r = need(records, name);
    const means = layerMeans(lastRows(r), (l) => l.mean);
    const text = means.map((x) => `${x.layer.replace(/\.act$/, '')} ${x.value.toFixed(2)}`).join(', ');
    // "Near 0.5" and "near 0": closer to the one than to the other.
    const holds = means.length > 0 && means.every((x) => (activation === 'sigmoid' ? x.value > 0.25 : Math.abs(x.value) < 0.25));
    return [{ preset: name, claim: activation === 'sigmoid' ? 'layer means near 0.5 (every one > 0.25)' : 'layer means near 0 (every |mean| < 0.25)', figure: `means ${text}`, holds }];
  };
}

function maxoutParams(records: Records): Check[] {
  const r = need(records, 'maxout-cost');
  const p = r.params;
  if (!p) return [{ preset: r.name, claim: 'k-fold parameters before each maxout', figure: 'no parameter comparison recorded', holds: false }];
  const k = Number(/maxout:(\d)/.exec(p.activation)?.[1] ?? 2);
  const feeding = p.layers.filter((l) => l.name !== 'classifier');
  const ratios = feeding.map((l) => ({ name: l.name, ratio: l.params / l.againstParams }));
  return [
    {
      preset: r.name,
      claim: `the layer before each maxout:${k} has ${k}x the parameters of the ReLU one`,
      figure: `${ratios.map((x) => `${x.name} ${x.ratio.toFixed(2)}x`).join(', ')}; whole model ${p.total.toLocaleString('en')} vs ${p.againstTotal.toLocaleString('en')} (${(p.total / p.againstTotal).toFixed(2)}x)`,
      holds: ratios.length > 0 && ratios.every((x) => Math.abs(x.ratio - k) < 1e-9),
    },
  ];
}

function speed(other: 'speed-tanh' | 'speed-sigmoid') {
  return (records: Records): Check[] => {
    const relu = need(records, 'speed-relu');
    const o = need(records, other);
    const target = SPEED_TARGET_FRACTION * chance(relu);
    const a = stepsToLoss(relu, target);
    const b = stepsToLoss(o, target);
    const text = (r: RunRecord, s: number | null) => (s === null ? `not in ${r.outcome.step}` : String(s));
    // Not reached: the run's length is a lower bound on its steps, so the ratio is at least that.
    const ratio = a === null ? NaN : (b ?? o.outcome.step) / a;
    const activation = other.replace('speed-', '');
    return [
      {
        preset: `speed-relu vs ${other}`,
        claim: `ReLU reaches a training loss of ${SPEED_TARGET_FRACTION} x ln C in several (>= ${SPEED_FACTOR}x) fewer steps than ${activation}`,
        figure: `steps: ReLU ${text(relu, a)}, ${activation} ${text(o, b)} (${Number.isFinite(ratio) ? `${b === null ? '>= ' : ''}${ratio.toFixed(1)}x` : 'ReLU did not reach it'})`,
        holds: a !== null && ratio >= SPEED_FACTOR,
      },
    ];
  };
}

function preluDepth(name: string) {
  return (records: Records): Check[] => preluDepthOf(need(records, name));
}

function preluDepthOf(r: RunRecord): Check[] {
  const slopes = layerMeans(lastRows(r), (l) => (l.preluSlopes ? mean(l.preluSlopes) : NaN)).filter((x) => Number.isFinite(x.value));
  const conv = slopes.filter((x) => x.layer !== 'embedding');
  const first = conv[0];
  const deepest = conv.at(-1);
  const text = slopes.map((x) => `${x.layer.replace(/\.act$/, '')} ${x.value.toFixed(3)}`).join(', ');
  // Spearman's rank correlation of depth and slope over the conv layers.
  const rho = spearman(conv.map((_, i) => i), conv.map((x) => x.value));
  return [
    {
      preset: r.name,
      claim: 'the first conv layer learns larger slopes than the deepest conv layer',
      figure: `mean slope per layer (from 0.25): ${text}`,
      holds: first !== undefined && deepest !== undefined && first !== deepest && first.value > deepest.value,
    },
    {
      preset: r.name,
      claim: 'the slopes fall with depth over the conv layers (rank correlation < 0)',
      figure: `Spearman rho (depth, slope) = ${rho.toFixed(2)} over ${conv.length} conv layers`,
      holds: rho < 0,
    },
  ];
}

function spearman(xs: readonly number[], ys: readonly number[]): number {
  const rank = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const ranks = new Array<number>(v.length);
    order.forEach(([, i], r) => (ranks[i] = r));
    return ranks;
  };
  const a = rank(xs);
  const b = rank(ys);
  const ma = mean(a);
  const mb = mean(b);
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : NaN;
}

function rreluSlopes(records: Records): Check[] {
  const r = need(records, 'rrelu-slopes');
  const probes = r.rrelu ?? [];
  if (probes.length === 0) return [{ preset: r.name, claim: 'RReLU layers in the model', figure: 'none found', holds: false }];
  const p = probes[0]!;
  const t = p.training;
  const uniformStd = (p.upper - p.lower) / Math.sqrt(12);
  const training = probes.every(
    (q) => q.training.every((s) => s.min >= q.lower - 1e-6 && s.max <= q.upper + 1e-6 && Math.abs(s.std - uniformStd) < 0.2 * uniformStd) && q.changedBetweenSteps > 0.99,
  );
  const middle = (p.lower + p.upper) / 2;
  const evaluation = probes.every((q) => Math.abs(q.evaluation.min - middle) < 1e-6 && Math.abs(q.evaluation.max - middle) < 1e-6);
  return [
    {
      preset: r.name,
      claim: `training: random slopes ~ U(${p.lower.toFixed(3)}, ${p.upper.toFixed(3)}), new ones every step`,
      figure: `${p.layer} on x = -1 (4,096 inputs): slopes ${t.map((s) => `${s.min.toFixed(3)}..${s.max.toFixed(3)}, mean ${s.mean.toFixed(3)}, std ${s.std.toFixed(3)}`).join('; ')} (uniform std ${uniformStd.toFixed(3)}); ${pct(p.changedBetweenSteps)} differ between two steps; ${probes.length} layers`,
      holds: training,
    },
    {
      preset: r.name,
      claim: `evaluation: one fixed slope, their mean (${middle.toFixed(4)})`,
      figure: `${p.layer} in inference: slopes ${p.evaluation.min.toFixed(4)}..${p.evaluation.max.toFixed(4)}`,
      holds: evaluation,
    },
  ];
}

export const CHECKS: readonly CheckSpec[] = [
  { needs: ['relu-high-lr'], evaluate: reluDies },
  { needs: ['relu-high-lr', 'speed-relu'], evaluate: reluDiesMoreThanGentle },
  { needs: ['leaky-high-lr'], evaluate: cannotDie('leaky-high-lr') },
  { needs: ['prelu-high-lr'], evaluate: cannotDie('prelu-high-lr') },
  { needs: ['mfm-high-lr'], evaluate: mfmPieces },
  { needs: ['mfm-high-lr', 'relu-high-lr'], evaluate: mfmAgainstRelu },
  { needs: ['sigmoid-saturation'], evaluate: sigmoidSaturates },
  { needs: ['sigmoid-centring'], evaluate: centring('sigmoid-centring', 'sigmoid') },
  { needs: ['tanh-centring'], evaluate: centring('tanh-centring', 'tanh') },
  { needs: ['maxout-cost'], evaluate: maxoutParams },
  { needs: ['speed-relu', 'speed-tanh'], evaluate: speed('speed-tanh') },
  { needs: ['speed-relu', 'speed-sigmoid'], evaluate: speed('speed-sigmoid') },
  { needs: ['speed-relu', 'speed-sigmoid'], evaluate: sigmoidGradientAgainstRelu },
  { needs: ['prelu-depth'], evaluate: preluDepth('prelu-depth') },
  // The same claim at the high rate: the slopes' order depends on the rate (bench/NOTES.md).
  { needs: ['prelu-high-lr'], evaluate: preluDepth('prelu-high-lr') },
  { needs: ['rrelu-slopes'], evaluate: rreluSlopes },
];

/**
 * Every check whose runs all ran (a run that failed to start gives only its "learns" row), in
 * the order of the runs: each run's own rows, then the comparisons it leads.
 */
export function evaluateChecks(records: Records): { checks: Check[]; skipped: string[] } {
  const byRun = new Map<string, Check[]>([...records.keys()].map((name) => [name, [...everyRunChecks(records.get(name)!)]]));
  const skipped: string[] = [];
  for (const spec of CHECKS) {
    const missing = spec.needs.filter((n) => !records.has(n) || records.get(n)!.error !== undefined);
    if (missing.length > 0) {
      if (spec.needs.some((n) => records.has(n))) skipped.push(`${spec.needs.join(' + ')} (not run: ${missing.join(', ')})`);
      continue;
    }
    byRun.get(spec.needs[0]!)!.push(...spec.evaluate(records));
  }
  return { checks: [...byRun.values()].flat(), skipped };
}
