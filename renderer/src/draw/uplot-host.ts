// What every uPlot chart of the lab does around its own options: load uPlot on first draw
// (it reads window.matchMedia when imported, which jsdom lacks, so a page without a canvas
// never evaluates it), follow the container's width, redraw when the system theme flips
// (axis and grid colours come from the theme's CSS variables), and clean up.
import type uPlot from 'uplot';
import { canDraw2d } from './canvas';

let loaded: Promise<typeof uPlot> | null = null;

function loadUPlot(): Promise<typeof uPlot> {
  loaded ??= import('uplot').then((module) => module.default);
  return loaded;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** The colour of muted, non-data marks (reference lines) in the current theme. */
export function mutedColour(): string {
  return cssVar('--muted', '#888');
}

/** An axis in the theme's colours. */
export function themedAxis(label: string): uPlot.Axis {
  const axisColour = cssVar('--muted', '#666');
  const gridColour = cssVar('--border', '#ddd');
  return { label, stroke: axisColour, grid: { stroke: gridColour, width: 1 }, ticks: { stroke: gridColour, width: 1 } };
}

export class UPlotHost {
  private U: typeof uPlot | null = null;
  private loading = false;
  private destroyed = false;
  private observer: ResizeObserver | null = null;
  private stopScheme: (() => void) | null = null;
  plot: uPlot | null = null;
  width = 400;

  /**
   * `draw` makes or updates the plot with the uPlot constructor (once it is loaded); `onTheme`
   * runs when the system theme flips, before the redraw.
   */
  constructor(
    private readonly container: () => HTMLElement | undefined,
    private readonly height: () => number,
    private readonly draw: (U: typeof uPlot) => void,
    private readonly onTheme: () => void = () => {},
  ) {}

  /** Draws now, or once uPlot has loaded; nothing where the page cannot draw. */
  redraw(): void {
    if (this.destroyed || !this.container() || !canDraw2d()) return;
    if (this.U) {
      this.draw(this.U);
      return;
    }
    if (this.loading) return;
    this.loading = true;
    void loadUPlot().then((U) => {
      this.U = U;
      this.redraw();
    });
  }

  /** Replaces the plot (destroying the old one). */
  replace(plot: uPlot): void {
    this.plot?.destroy();
    this.plot = plot;
  }

  /** Call from onMount: starts following the container's width and the system theme. */
  mount(): void {
    const container = this.container();
    if (!container) return;
    this.width = Math.max(200, container.clientWidth || 400);
    if (typeof ResizeObserver !== 'undefined') {
      this.observer = new ResizeObserver(() => {
        const w = Math.max(200, container.clientWidth);
        if (this.plot && Math.abs(w - this.width) > 4) {
          this.width = w;
          this.plot.setSize({ width: w, height: this.height() });
        }
      });
      this.observer.observe(container);
    }
    const scheme = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    const onScheme = () => {
      this.onTheme();
      this.redraw();
    };
    scheme?.addEventListener?.('change', onScheme);
    this.stopScheme = () => scheme?.removeEventListener?.('change', onScheme);
  }

  /** Call from onDestroy. */
  destroy(): void {
    this.destroyed = true;
    this.observer?.disconnect();
    this.stopScheme?.();
    this.plot?.destroy();
    this.plot = null;
  }
}
