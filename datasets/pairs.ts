// Verification pairs in the format of LFW's pairs.txt: read, written, generated for
// any imported dataset, and resolved to image indices. This module only gathers
// the public API: reading, writing and resolving are in pairs-file.ts,
// generating in pairs-generate.ts.

export type { DatasetLayout } from './splits';
export { formatPairs, parsePairs, resolvePairs } from './pairs-file';
export type { Pair, PairImage, PairsFile, ResolvedPairs } from './pairs-file';
export { generatePairs, LFW_PAIRS_PER_FOLD } from './pairs-generate';
export type { GeneratedPairs, GeneratePairsOptions } from './pairs-generate';
