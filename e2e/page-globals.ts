// The few browser APIs the test's in-page functions use, typed here because the node
// tsconfig has no DOM library (adding it would let DOM globals slip into the trainer's code).
// In a page function: `const { document } = globalThis as unknown as PageGlobals;`.
export interface PageImageData {
  data: Uint8ClampedArray;
}

export interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d', options?: { willReadFrequently?: boolean }): {
    drawImage(image: PageCanvas, x: number, y: number): void;
    getImageData(x: number, y: number, width: number, height: number): PageImageData;
  } | null;
}

export interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
}

export interface PageGlobals {
  document: {
    body: PageElement;
    createElement(tag: 'canvas'): PageCanvas;
    querySelector(selector: string): PageElement | null;
  };
  MutationObserver: new (callback: (records: unknown[], observer: { disconnect(): void }) => void) => {
    observe(target: PageElement, options: { childList?: boolean; subtree?: boolean; attributes?: boolean }): void;
  };
  getComputedStyle(element: PageElement): { backgroundColor: string };
  /** Set by the Data step: an import-progress element was in the page at some point. */
  sawImportProgress?: boolean;
}
