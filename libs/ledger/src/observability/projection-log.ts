import type { Logger } from '@nestjs/common';
import type { ProjectionLog } from '../read-side/projection-process.js';

export interface NestLogStyle {
  /** The level an `error` line is written at: the API demotes its runner's lease trouble to warnings. */
  readonly errorsAs: 'error' | 'warn';
  /** What follows the message: the stack (a projector batch failure) or the error's message on the same line. */
  readonly errorDetail: 'stack' | 'message';
}

/** The projection process's log lines through a Nest logger, in the given style. */
export function nestProjectionLog(logger: Logger, style: NestLogStyle): ProjectionLog {
  return (level, message, error) => {
    if (level === 'info') return logger.log(message);
    if (level === 'error' && style.errorsAs === 'error' && style.errorDetail === 'stack') {
      return logger.error(message, error instanceof Error ? error.stack : String(error));
    }
    const detail = error === undefined ? '' : ` ${error instanceof Error ? error.message : String(error)}`;
    if (level === 'error' && style.errorsAs === 'error') logger.error(message + detail);
    else logger.warn(message + detail);
  };
}
