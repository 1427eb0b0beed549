// Readers that take what they can from a record written by another version of the lab, derived
// from the one schema of that record (run-record.ts, metrics-rows.ts) rather than written again:
// every field the reader does not insist on becomes optional, and a field of the wrong type
// becomes undefined instead of failing the whole record.
import { z } from 'zod';

/** `schema` made optional, its value undefined when absent or unreadable. */
export function lenient<S extends z.ZodType>(schema: S): z.ZodCatch<z.ZodOptional<S>> {
  return schema.optional().catch(undefined);
}

export type LenientShape<S extends z.core.$ZodShape> = { [K in keyof S]: z.ZodCatch<z.ZodOptional<S[K] & z.ZodType>> };

/** Every field of `shape` lenient (see lenient). */
export function lenientShape<S extends z.core.$ZodShape>(shape: S): LenientShape<S> {
  return Object.fromEntries(Object.entries(shape).map(([key, field]) => [key, lenient(field as z.ZodType)])) as LenientShape<S>;
}

/** An object whose fields are all lenient and whose unknown fields are kept (a newer lab's). */
export function lenientObject<S extends z.core.$ZodShape>(schema: z.ZodObject<S>) {
  return z.looseObject(lenientShape(schema.shape));
}
