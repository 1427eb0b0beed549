// The headless lab: `npm run lab -- <command>`. Plain Node, no Electron.
import { releaseWebGpu } from '../../../models/backend-webgpu';
import { Command } from 'commander';
import { registerDataCommands } from './data-commands';
import { registerTrainCommands } from './train-commands';
import * as tf from '@tensorflow/tfjs';
import { registerInfoCommand } from './info-command';
import { registerServeCommand } from './serve-command';
import { registerInterchangeCommands } from './interchange-commands';
import { registerInspectCommand } from './inspect-command';
import { escapeConsole, printErr, printOut } from './terminal-text';

// Errors a user causes and can act on: shown as one line. Anything else is a bug.
const USER_ERRORS = new Set(['FileError', 'DatasetError', 'RunError', 'TrainingError', 'ConfigError', 'ModelConfigError', 'ActivationSpecError', 'BackendError', 'GpuDeviceError', 'InterchangeError']);

// The lab reports its backend itself; tfjs' banner ("install our node backend") would repeat it.
tf.enableProdMode();

// `npm run lab` runs in the project folder; paths on the command line are the user's, relative to where they typed.
const userCwd = process.env['INIT_CWD'];
if (userCwd) process.chdir(userCwd);

// Names, paths and messages from outside may hold terminal escape codes: all output is escaped (terminal-text.ts).
escapeConsole();

const program = new Command('lab')
  .description('Face CNN Lab, headless: import face datasets, train Light CNNs with the activations you choose, evaluate them')
  .option('--data-dir <dir>', 'where the lab keeps caches, downloads and runs (default: FACE_CNN_LAB_DATA or the platform data folder)')
  .hook('preAction', (command) => {
    const dataDir = command.opts<{ dataDir?: string }>().dataDir;
    if (dataDir !== undefined) process.env['FACE_CNN_LAB_DATA'] = dataDir;
  })
  // Commander's own messages quote what was typed; subcommands inherit this.
  .configureOutput({ writeOut: (text) => void printOut(text), writeErr: (text) => void printErr(text) });

registerDataCommands(program);
registerTrainCommands(program);
registerInfoCommand(program);
registerServeCommand(program);
registerInterchangeCommands(program);
registerInspectCommand(program);
pointAtHelpAfterErrors(program);

/**
 * A mistake on the command line prints commander's error and one line naming the command's
 * --help, not the whole help (40 lines that push the error off screen).
 */
function pointAtHelpAfterErrors(command: Command): void {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  command.showHelpAfterError(`(${names.join(' ')} --help lists the options)`);
  for (const sub of command.commands) pointAtHelpAfterErrors(sub);
}

try {
  await program.parseAsync(process.argv);
  releaseWebGpu(); // Dawn's instance would keep the process alive
} catch (error) {
  if (error instanceof Error && USER_ERRORS.has(error.name)) {
    printErr(`error: ${error.message}\n`);
    process.exit(1);
  }
  printErr(`unexpected error (please report it): ${(error as Error).stack ?? String(error)}\n`);
  process.exit(2);
}
