// The ceiling under the import: decodeFace alone (read + sharp), no hashing, no
// cache, no bookkeeping. Usage: tsx bench/decode-case.ts <folder> <storedSize> <concurrency>
import { readFile } from 'node:fs/promises';
import { decodeFace, DEFAULT_DECODE } from '../datasets/decode';
import { TaskPool } from '../datasets/pool';
import { walkFolder } from '../datasets/walk';

const [folder, storedSize, concurrency] = process.argv.slice(2);
if (!folder) throw new Error('usage: decode-case.ts <folder> <storedSize> <concurrency>');
const { files } = await walkFolder(folder);
const images = await Promise.all(files.filter((f) => /\.(jpe?g|png|pgm)$/i.test(f.relPath)).map((f) => readFile(f.absPath)));
const pool = new TaskPool(Number(concurrency ?? 6));
const started = performance.now();
for (const bytes of images) await pool.run(async () => void (await decodeFace(bytes, { ...DEFAULT_DECODE, storedSize: Number(storedSize ?? 144) })));
await pool.drain();
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ times: [{ seconds, decoded: images.length, images: images.length }], peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
