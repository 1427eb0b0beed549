// The histograms' shape, apart from messages.ts so the compute core (bundled into the GPU
// host's page) takes these numbers without zod.

/** Equal bins per histogram. */
export const HISTOGRAM_BINS = 30;
/** Largest number of values a histogram counts (larger tensors are counted on a strided sample). */
export const HISTOGRAM_SAMPLE = 1 << 20;
