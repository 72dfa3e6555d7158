import { WrongExpectedRevisionError, type ExpectedRevision } from './event-store.port.js';

/** The one rule every adapter without native concurrency control applies. */
export function checkExpectedRevision(streamId: string, expected: ExpectedRevision, actual: number | 'no_stream'): void {
  if (expected === 'any') return;
  if (expected !== actual) throw new WrongExpectedRevisionError(streamId, expected, actual);
}
