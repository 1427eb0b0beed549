// Imports a dataset and prints the report as JSON. The permission test runs it as
// an unprivileged user, since root reads every file whatever its mode says.
import { importDataset } from '../import';

const [path, dataDir] = process.argv.slice(2);
if (path === undefined || dataDir === undefined) throw new Error('usage: import-report.ts <path> <dataDir>');
const dataset = await importDataset(path, { dataDir, inputSize: 32 });
process.stdout.write(JSON.stringify(dataset.report));
