// Messages between a test and a page, through playwright's evaluate and exposed functions,
// which carry JSON plus typed arrays: ArrayBuffers, Sets and Maps are wrapped on the way and
// unwrapped on arrival, so both ends see what a MessagePort's structured clone would give.
// Used on both sides (bundled into the test page too): no Node here.
type Wrapped = { __ab: Uint8Array } | { __set: unknown[] } | { __map: [unknown, unknown][] };

export function encode(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { __ab: new Uint8Array(value.slice(0)) } satisfies Wrapped;
  if (ArrayBuffer.isView(value)) return value;
  if (value instanceof Set) return { __set: [...value].map(encode) } satisfies Wrapped;
  if (value instanceof Map) return { __map: [...value].map(([k, v]) => [encode(k), encode(v)] as [unknown, unknown]) } satisfies Wrapped;
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const record = value as Record<string, unknown>;
  if (record['__ab'] instanceof Uint8Array) {
    const bytes = record['__ab'];
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
  if (Array.isArray(record['__set'])) return new Set(record['__set'].map(decode));
  if (Array.isArray(record['__map'])) return new Map((record['__map'] as [unknown, unknown][]).map(([k, v]) => [decode(k), decode(v)]));
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, decode(v)]));
}
