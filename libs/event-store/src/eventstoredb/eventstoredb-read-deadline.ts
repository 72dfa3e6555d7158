import { DeadlineExceededError } from '@kurrent/kurrentdb-client';

/*
 * Why the adapter enforces read deadlines itself: @kurrent/kurrentdb-client 1.3.1 serves
 * `readStream`/`readAll` through its native bridge (@kurrent/bridge 0.2.2, the Rust client
 * kurrentdb 1.1.0). The bridge is handed only the stream, direction, position, count,
 * requiresLeader, resolveLinks and credentials: the call's `deadline` never reaches it, and the
 * Rust client exempts streaming calls (reads are) from the connection string's
 * `defaultDeadline`. So the gRPC Read goes out without a `grpc-timeout`, and a server that
 * accepts it and then stalls holds the read, and the command or projector awaiting it, forever.
 */

/**
 * Drains one read page, failing with the client's own `DeadlineExceededError` (what a gRPC
 * deadline produced with client 6.2.1) when the whole page has not arrived within
 * `deadlineMs`. The bridge's iterator cannot be cancelled, so a timed-out read is abandoned:
 * its late events are dropped and it stops being pulled. Its late error goes nowhere, but it
 * is observed (the race below subscribed to `drain`), so it cannot become an unhandled
 * rejection, which would end the process.
 */
export async function drainWithin<T>(page: AsyncIterable<T>, deadlineMs: number, what: string): Promise<T[]> {
  const iterator = page[Symbol.asyncIterator]();
  const items: T[] = [];
  let abandoned = false;
  const drain = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (abandoned) {
        // Closes the client's generator instead of pulling the rest. The bridge offers no cancel:
        // the native stream under it is released only once the runtime drops it.
        await iterator.return?.();
        return items;
      }
      if (next.done) return items;
      items.push(next.value);
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandoned = true;
      reject(new DeadlineExceededError(undefined, `${what}: EventStoreDB did not answer within ${deadlineMs} ms`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([drain, expired]);
  } finally {
    clearTimeout(timer);
  }
}
