// A run's metrics.jsonl rows, as the training session writes them (electron/trainer/training/
// session.ts) and getRun's metrics carry them: a row a step, one at each epoch end, a 'layers'
// row of dead counts every few steps and a 'histograms' row when the histograms are taken.
// Every row has an integer step and an epoch; a row of a kind a reader does not know is kept by
// the run store and left out by the views. NaN and Infinity are written as null (JSON has neither).
//
// Viewers read rows with the readers below, derived from the schemas: a row whose step cannot be
// read is skipped, any other field that cannot be read becomes undefined.
//
// Bundled into the renderer: zod and other protocol files only, no node: modules.
import { z } from 'zod';
import { lenientShape } from './lenient';
import { firstFiltersSchema, histogramSchema, layerHistogramsSchema, layerStatsSchema, type Histogram } from './messages';

/** What every row has; the run store reads and keeps any such row, whatever its kind. */
export const metricsRowSchema = z.looseObject({ step: z.number().int().min(0), epoch: z.number().min(0) });
/** One row of metrics.jsonl, of any kind. */
export type MetricsRow = z.infer<typeof metricsRowSchema>;

const step = metricsRowSchema.shape.step;
const epoch = z.number().int().min(0);

/** One training step: kind 'step', or no kind (rows written before kinds existed). */
export const stepRowSchema = metricsRowSchema.extend({
  kind: z.literal('step').optional(),
  step,
  epoch,
  /** The batch's loss; null when it was NaN or infinite (the run then stopped). */
  loss: z.number().nullable(),
  accuracy: z.number().nullable(),
  lr: z.number(),
  gradNorm: z.number().nullable(),
  imagesPerSecond: z.number().nullable(),
  stepMs: z.number(),
});
export type StepRow = z.infer<typeof stepRowSchema>;

/** An epoch end: the epoch's mean training numbers and the held-out ones (null without a validation split). */
export const epochRowSchema = metricsRowSchema.extend({
  kind: z.literal('epoch'),
  step,
  epoch,
  trainLoss: z.number().nullable(),
  trainAccuracy: z.number().nullable(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
});
export type EpochRow = z.infer<typeof epochRowSchema>;

/**
 * Marks the rows of an inspection pass (electron/trainer/inspection/): the weights of the
 * checkpoint at `step` run once over a dataset in inference mode, nothing trained. Such rows
 * describe that pass, not training at `step`: a 'layers' row's window is the pass's batches,
 * its dead counts are over every image of the pass, and the numbers that need a gradient are null.
 */
export const inspectionMarkSchema = z.object({
  /** The dataset's name, and the path or synthetic spec it was opened from. */
  data: z.string(),
  source: z.string(),
  /** Its content hash (the same hash: the same images and labels). */
  hash: z.string(),
  images: z.number().int().min(0),
  batches: z.number().int().min(0),
  /** When the pass ran (ISO 8601). */
  at: z.string(),
});
export type InspectionMark = z.infer<typeof inspectionMarkSchema>;

/** Every activation layer's health (the layerStats stream's LayerStats) at one step, over a window of steps. */
export const layersRowSchema = metricsRowSchema.extend({
  kind: z.literal('layers'),
  step,
  epoch,
  /** Steps the dead counts were taken over. */
  window: z.number().int().min(1),
  layers: z.array(layerStatsSchema),
  /** Set on the row of an inspection pass (inspectionMarkSchema). */
  inspection: inspectionMarkSchema.optional(),
});
export type LayersRow = z.infer<typeof layersRowSchema>;

/** Every activation layer's weight and activation histograms at one step, and on some rows the first convolution's filters. */
export const histogramsRowSchema = metricsRowSchema.extend({
  kind: z.literal('histograms'),
  step,
  epoch,
  layers: z.array(layerHistogramsSchema),
  filters: firstFiltersSchema.optional(),
  /** Set on the row of an inspection pass: the activations are of its last batch. */
  inspection: inspectionMarkSchema.optional(),
});
export type HistogramsRow = z.infer<typeof histogramsRowSchema>;

export const METRICS_ROW_KINDS = ['step', 'epoch', 'layers', 'histograms'] as const;
export type MetricsRowKind = (typeof METRICS_ROW_KINDS)[number];

/** A row's kind ('step' for a row without one), or null for a kind this lab does not know (a newer lab's) or a row that is not an object. */
export function metricsRowKind(row: unknown): MetricsRowKind | null {
  if (typeof row !== 'object' || row === null) return null;
  const kind = (row as { kind?: unknown }).kind;
  if (kind === undefined) return 'step';
  return (METRICS_ROW_KINDS as readonly unknown[]).includes(kind) ? (kind as MetricsRowKind) : null;
}

// ---------------------------------------------------------------------------
// Readers for viewers

/** The step is needed; an epoch that cannot be read is 0; any other field, undefined. */
function rowReader<S extends z.core.$ZodShape>(schema: z.ZodObject<S>) {
  return z.looseObject(lenientShape(schema.shape)).extend({ step, epoch: z.number().catch(0) });
}

export const stepRowReader = rowReader(stepRowSchema);
export const epochRowReader = rowReader(epochRowSchema);
/** A 'layers' row; its entries are read one by one (layerCountReader), an unreadable one left out. */
export const layersRowReader = rowReader(layersRowSchema).extend({ layers: z.array(z.unknown()) });
/** A 'histograms' row; its entries are read one by one (layerHistogramsReader), unreadable filters left off. */
export const histogramsRowReader = rowReader(histogramsRowSchema).extend({ layers: z.array(z.unknown()) });

/** The counts of one layer in a 'layers' row that a view shows: the layer's name is needed. */
export const layerCountReader = z.looseObject({
  ...lenientShape(layerStatsSchema.pick({ activation: true, rule: true, filters: true, deadFilters: true, units: true, deadUnits: true, negativeRegimeFilters: true }).shape),
  layer: layerStatsSchema.shape.layer,
});

/** A histogram that can be drawn: its counts finite and not negative, its range finite and in order. */
export function drawableHistogram(h: Histogram): boolean {
  return h.counts.length > 0 && Number.isFinite(h.min) && Number.isFinite(h.max) && h.min <= h.max && h.counts.every((c) => Number.isFinite(c) && c >= 0);
}

const drawable = histogramSchema.nullable().refine((h) => h === null || drawableHistogram(h));

/** One layer's entry in a 'histograms' row, with histograms that can be drawn (null: the tensor held NaN or an infinity). */
export const layerHistogramsReader = layerHistogramsSchema.extend({ weights: drawable, activations: drawable });

/** The first convolution's filters, if their values fill the shape they claim and are all finite. */
export function readFilters(raw: unknown): z.infer<typeof firstFiltersSchema> | null {
  const parsed = firstFiltersSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { height, width, inChannels, count, values } = parsed.data;
  const sized = height > 0 && width > 0 && inChannels > 0 && count > 0 && values.length === height * width * inChannels * count;
  return sized && values.every(Number.isFinite) ? parsed.data : null;
}
