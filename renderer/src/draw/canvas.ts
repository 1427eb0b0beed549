// Whether the page can draw on a 2D canvas. jsdom (the component tests) cannot, and says
// "not implemented" each time it is asked, so the answer is taken once per page: it is a
// fact about the page, not state that changes.
let answer: boolean | null = null;

export function canDraw2d(): boolean {
  if (answer === null) {
    try {
      answer = typeof document !== 'undefined' && typeof ImageData !== 'undefined' && document.createElement('canvas').getContext('2d') !== null;
    } catch {
      answer = false;
    }
  }
  return answer;
}
