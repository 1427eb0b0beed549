// Client-side exports (issue 14, 4): a run's metrics as CSV, a chart as PNG or SVG. Files
// leave the page as a browser download (a Blob behind <a download>): in serve mode the
// browser saves it; in the desktop app Electron's download asks where with its save
// dialog (main sets no save path), so nothing is written without the user choosing where.
import type { RunMetricsView } from './run-records';
import { canDraw2d } from '../draw/canvas';

const CSV_COLUMNS = ['kind', 'step', 'epoch', 'loss', 'accuracy', 'lr', 'train_loss', 'train_accuracy', 'val_loss', 'val_accuracy'] as const;

function cell(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The run's metrics rows as CSV: one line per step and per epoch end, in step order (a step before its epoch end). */
export function metricsCsv(metrics: Pick<RunMetricsView, 'steps' | 'epochs'>): string {
  const rows: { order: number; step: number; values: (number | string | null)[] }[] = [];
  for (const s of metrics.steps) rows.push({ order: 0, step: s.step, values: ['step', s.step, s.epoch, s.loss, s.accuracy, s.lr, null, null, null, null] });
  for (const e of metrics.epochs) rows.push({ order: 1, step: e.step, values: ['epoch', e.step, e.epoch, null, null, null, e.trainLoss, e.trainAccuracy, e.valLoss, e.valAccuracy] });
  rows.sort((a, b) => a.step - b.step || a.order - b.order);
  return [CSV_COLUMNS.join(','), ...rows.map((r) => r.values.map(cell).join(','))].join('\n') + '\n';
}

/** A file name from a title: letters, digits, dot, dash and underscore only. */
export function fileName(base: string, ext: string): string {
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 120) || 'export';
  return `${safe}.${ext}`;
}

/** Hands a Blob to the browser as a download named `name`. */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A canvas as a PNG Blob (null where the page cannot encode one). */
export function canvasPng(canvas: HTMLCanvasElement): Promise<Blob | null> {
  return new Promise((resolve) => {
    try {
      canvas.toBlob((blob) => resolve(blob), 'image/png');
    } catch {
      resolve(null);
    }
  });
}

/** The width and height an SVG's root element gives, or null. */
export function svgSize(svg: string): { width: number; height: number } | null {
  const root = /^<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const width = Number(/\swidth="([\d.]+)"/.exec(root)?.[1]);
  const height = Number(/\sheight="([\d.]+)"/.exec(root)?.[1]);
  return width > 0 && height > 0 ? { width, height } : null;
}

/**
 * SVG text drawn onto a canvas `scale` times its size (on white) and encoded as PNG: the PNG of
 * a chart drawn as SVG. Null where the page has no 2D canvas or cannot load the drawing.
 */
export function svgPng(svg: string, scale = 2): Promise<Blob | null> {
  const size = svgSize(svg);
  if (!size || !canDraw2d() || typeof Image === 'undefined') return Promise.resolve(null);
  const { width, height } = size;
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      const context = canvas.getContext('2d');
      if (!context) return resolve(null);
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      void canvasPng(canvas).then(resolve);
    };
    image.onerror = () => resolve(null);
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  });
}

export interface SvgSeries {
  label: string;
  values: readonly (number | null)[];
  colour: string;
  dash?: readonly number[] | null;
  /** Drawn faint (raw series behind smoothed ones, reference lines). */
  faint?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => String(Math.round(v * 100) / 100);

/**
 * A line chart as real SVG: one polyline per series (broken at gaps), axes with min and max
 * labels, the title and a legend. A log y axis plots log10 of the values (non-positive left out).
 */
export function chartSvg(options: { title: string; x: readonly number[]; series: readonly SvgSeries[]; xLabel: string; yLabel: string; logY?: boolean; yRange?: readonly [number, number] | null; width?: number; height?: number }): string {
  const { title, x, series, xLabel, yLabel, logY = false, yRange = null, width = 640, height = 360 } = options;
  const left = 60;
  const right = 16;
  const top = 28;
  const bottom = 40 + 16 * series.length;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const fy = (v: number | null): number | null => (v === null || !Number.isFinite(v) || (logY && v <= 0) ? null : logY ? Math.log10(v) : v);
  const xs = x.filter(Number.isFinite);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const ys = series.flatMap((s) => s.values.map(fy).filter((v): v is number => v !== null));
  let yMin = yRange ? (fy(yRange[0]) ?? 0) : ys.length ? Math.min(...ys) : 0;
  let yMax = yRange ? (fy(yRange[1]) ?? 1) : ys.length ? Math.max(...ys) : 1;
  if (yMax === yMin) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const px = (v: number) => left + (xMax === xMin ? plotW / 2 : ((v - xMin) / (xMax - xMin)) * plotW);
  const py = (v: number) => top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  const yText = (v: number) => (logY ? Number((10 ** v).toPrecision(3)) : Number(v.toPrecision(4))).toString();
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<g stroke="#888" fill="none"><line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}"/><line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}"/></g>`);
  out.push(`<g fill="#333"><text x="${left - 4}" y="${top + 4}" text-anchor="end">${esc(yText(yMax))}</text><text x="${left - 4}" y="${top + plotH}" text-anchor="end">${esc(yText(yMin))}</text>`);
  out.push(`<text x="${left}" y="${top + plotH + 14}">${esc(String(xMin))}</text><text x="${left + plotW}" y="${top + plotH + 14}" text-anchor="end">${esc(String(xMax))}</text>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 14}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}${logY ? ' (log)' : ''}</text></g>`);
  series.forEach((s, i) => {
    const runs: string[] = [];
    let current: string[] = [];
    s.values.forEach((v, j) => {
      const y = fy(v);
      const xv = x[j];
      if (y === null || xv === undefined || !Number.isFinite(xv)) {
        if (current.length) runs.push(current.join(' '));
        current = [];
        return;
      }
      current.push(`${num(px(xv))},${num(py(Math.min(yMax, Math.max(yMin, y))))}`);
    });
    if (current.length) runs.push(current.join(' '));
    const dash = s.dash && s.dash.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : '';
    const style = `fill="none" stroke="${esc(s.colour)}" stroke-width="${s.faint ? 1 : 1.5}"${s.faint ? ' stroke-opacity="0.3"' : ''}${dash}`;
    out.push(`<g data-series="${esc(s.label)}">`);
    for (const points of runs) out.push(points.includes(' ') ? `<polyline ${style} points="${points}"/>` : `<circle cx="${points.split(',')[0]}" cy="${points.split(',')[1]}" r="2" fill="${esc(s.colour)}"/>`);
    out.push('</g>');
    const ly = top + plotH + 30 + 16 * i;
    out.push(`<line x1="${left}" y1="${ly - 4}" x2="${left + 20}" y2="${ly - 4}" stroke="${esc(s.colour)}" stroke-width="2"${dash}/><text x="${left + 26}" y="${ly}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/**
 * The tiles of an activation-map grid drawn onto one canvas, `columns` wide, each tile scaled
 * up (nearest neighbour, so pixels stay pixels) to at least `minTile` px, 2 px apart on white.
 * Null where the page has no 2D canvas or there is nothing to draw.
 */
export function composeGrid(tiles: readonly (HTMLCanvasElement | null)[], columns: number, minTile = 64, make: () => HTMLCanvasElement = () => document.createElement('canvas')): HTMLCanvasElement | null {
  const drawn = tiles.filter((t): t is HTMLCanvasElement => t !== null && t.width > 0 && t.height > 0);
  if (drawn.length === 0 || columns < 1) return null;
  const w = Math.max(...drawn.map((t) => t.width));
  const h = Math.max(...drawn.map((t) => t.height));
  const scale = Math.max(1, Math.ceil(minTile / Math.max(w, h)));
  const gap = 2;
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const out = make();
  out.width = cols * (w * scale + gap) + gap;
  out.height = rows * (h * scale + gap) + gap;
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = out.getContext('2d');
  } catch {
    ctx = null;
  }
  if (!ctx) return null;
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  tiles.forEach((tile, i) => {
    if (!tile) return;
    const x = gap + (i % cols) * (w * scale + gap);
    const y = gap + Math.floor(i / cols) * (h * scale + gap);
    ctx.drawImage(tile, x, y, tile.width * scale, tile.height * scale);
  });
  return out;
}
