// A port whose other end is in a page: this process's end of a MessageChannel made there.
// Messages go in through page.evaluate (to the page global `target`'s `deliver`) and come out
// through a function the test exposes, each encoded so typed arrays survive (page-codec.ts).
// Shaped as Electron's MessagePortMain (`on`/`off`, {data} events), as the app's trainer sees its port.
import type { Page } from 'playwright-core';
import type { PortLike } from '../electron/trainer/training/core-port';
import { decode, encode } from './page-codec';

/** This process's end of the page's channel: messages go in through evaluate, come out through an exposed function. */
export class PagePort implements PortLike {
  private readonly listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  constructor(
    private readonly page: Page,
    /** The page global whose `deliver(message)` takes this end's messages. */
    private readonly target: string,
  ) {}

  receive(message: unknown): void {
    for (const listener of this.listeners.get('message') ?? []) listener({ data: decode(message) }); // as MessagePortMain gives it
  }

  postMessage(message: unknown): void {
    this.page.evaluate(([target, m]) => (globalThis as unknown as Record<string, { deliver(m: unknown): void }>)[target]!.deliver(m), [this.target, encode(message)] as const).catch(() => this.close());
  }

  on(event: string, listener: (...args: unknown[]) => void): void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
  }

  off(event: string, listener: (...args: unknown[]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  close(): void {
    for (const listener of this.listeners.get('close') ?? []) listener();
    this.listeners.clear();
  }
}
