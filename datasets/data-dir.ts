// Where the lab keeps what it makes: dataset caches, downloads and (later) runs.
import envPaths from 'env-paths';
import { resolve } from 'node:path';

/** FACE_CNN_LAB_DATA overrides the platform's usual place (~/.local/share/face-cnn-lab on Linux). */
export function labDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['FACE_CNN_LAB_DATA'];
  if (override !== undefined && override !== '') return resolve(override);
  return envPaths('face-cnn-lab', { suffix: '' }).data;
}
