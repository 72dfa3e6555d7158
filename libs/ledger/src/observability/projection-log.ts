import type { Logger } from '@nestjs/common';
import type { ProjectionLog } from '../read-side/projection-process.js';

/** The projection process's log lines through a Nest logger: errors with their stack, warnings with their cause. */
export function nestProjectionLog(logger: Logger): ProjectionLog {
  return (level, message, error) => {
    if (level === 'info') logger.log(message);
    else if (level === 'warn') logger.warn(error === undefined ? message : `${message} ${String(error)}`);
    else logger.error(message, error instanceof Error ? error.stack : String(error));
  };
}
