// The histograms' shape, apart from messages.ts so the compute core (bundled into the GPU
// host's page) takes these numbers without zod.

/** Equal bins per histogram. */
export const HISTOGRAM_BINS = 30;
/**
 * Largest number of values a histogram counts (larger tensors are counted on a strided sample).
 * 65,536 values put a bin holding 1% of them within about 4% of its true share, plenty for a
 * chart; more would cost GPU time (webgpu's bincount contends on 30 counters) and memory.
 */
export const HISTOGRAM_SAMPLE = 1 << 16;
