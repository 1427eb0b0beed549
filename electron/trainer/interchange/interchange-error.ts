// Why a checkpoint cannot be imported or a run exported, with the way out (a FileError: the
// command line and the app show reason, path and remedy as they are).
import { FileError } from '../../../files/file-error';

const DEFAULT_REMEDY = 'Check that this is a PyTorch checkpoint written by torch.save';

export class InterchangeError extends FileError {
  override readonly name = 'InterchangeError';
  constructor(reason: string, remedy: string = DEFAULT_REMEDY, path?: string) {
    super(reason, remedy, path);
  }

  /** The same error, naming the file concerned. */
  about(path: string): InterchangeError {
    return this.path === undefined ? new InterchangeError(this.reason, this.remedy, path) : this;
  }
}
