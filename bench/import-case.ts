// One import benchmark case, in its own process so its peak RSS is its own.
// Usage: tsx bench/import-case.ts <source> <dataDir> <inputSize> <repeats>
import { importDataset } from '../datasets/import';

const [source, dataDir, inputSize, repeats] = process.argv.slice(2);
if (!source || !dataDir) throw new Error('usage: import-case.ts <source> <dataDir> <inputSize> <repeats>');
const times: Array<{ seconds: number; decoded: number; images: number }> = [];
for (let i = 0; i < Number(repeats ?? 1); i++) {
  const started = performance.now();
  const dataset = await importDataset(source, { dataDir, inputSize: Number(inputSize ?? 128) });
  await dataset.pixels(); // a warm open is not done until the faces are in memory
  times.push({ seconds: (performance.now() - started) / 1000, decoded: dataset.report.decoded, images: dataset.images.length });
}
process.stdout.write(JSON.stringify({ times, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
