// Per-viewer flow control of streamed channels (progress, layer stats, histograms, activation frames): at most one
// un-acked message per channel; while a viewer has not taken the last one, the next replaces it (layer stats,
// activation frames) or is accumulated into it, up to a bound (progress, histograms). Training never waits for a
// viewer, and a slow one costs a bounded amount of memory.
import type { ServerMessage } from '#protocol/messages';
import type { Connection } from './connection';

/** Progress items kept for a viewer that has not acked; older ones are dropped (the run's metrics file has them all). */
export const MAX_PENDING_PROGRESS = 2000;
/** Histogram items kept likewise (about 1 MB for LightCNN-9); getRun's metrics have them all. */
export const MAX_PENDING_HISTOGRAMS = 50;

/** One message of a streamed channel. */
export type Streamed = { kind: 'json'; message: ServerMessage } | { kind: 'binary'; frame: ArrayBuffer };

interface StreamSlot {
  awaiting: boolean;
  pending: Streamed | null;
}

/** One viewer's streamed channels. */
export class ViewerStreams {
  private readonly slots = new Map<string, StreamSlot>();

  constructor(private readonly connection: Connection) {}

  /** Sends the item now if the viewer has taken the channel's last one, else keeps it (merged) for the viewer's ack. */
  stream(channel: string, item: Streamed): void {
    let slot = this.slots.get(channel);
    if (!slot) this.slots.set(channel, (slot = { awaiting: false, pending: null }));
    if (!slot.awaiting) {
      slot.awaiting = true;
      send(this.connection, item);
      return;
    }
    slot.pending = slot.pending ? merge(slot.pending, item) : item;
  }

  /** The viewer took the channel's last message: what it missed meanwhile goes now. */
  acked(channel: string): void {
    const slot = this.slots.get(channel);
    if (!slot) return;
    const next = slot.pending;
    slot.pending = null;
    slot.awaiting = next !== null;
    if (next) send(this.connection, next);
  }
}

function send(connection: Connection, item: Streamed): void {
  if (item.kind === 'json') connection.sendJson(item.message);
  else connection.sendBinary(item.frame);
}

/** What a viewer has not taken yet, and the newest: progress and histograms accumulate (bounded), anything else is replaced. */
export function merge(pending: Streamed, next: Streamed): Streamed {
  if (pending.kind === 'json' && next.kind === 'json' && pending.message.type === 'progress' && next.message.type === 'progress') {
    const items = [...pending.message.items, ...next.message.items];
    return { kind: 'json', message: { ...pending.message, items: items.slice(-MAX_PENDING_PROGRESS) } };
  }
  if (pending.kind === 'json' && next.kind === 'json' && pending.message.type === 'histograms' && next.message.type === 'histograms') {
    // Viewers keep a history of these: accumulate, bounded (an item is 8-25 kB for LightCNN-9).
    const items = [...pending.message.items, ...next.message.items];
    return { kind: 'json', message: { ...pending.message, items: items.slice(-MAX_PENDING_HISTOGRAMS) } };
  }
  return next;
}
