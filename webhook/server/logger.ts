/**
 * Structured logs: one JSON object per line with time, level, message and fields (the admission
 * request's uid among them). The sink and clock are injected so tests read what was logged.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** Write out anything buffered (before exit). */
  flush?(): void;
}

/**
 * JSON lines through `write`. With `batch`, the lines of one event-loop turn go out in one write:
 * under load many reviews finish per turn, and one write per line cost as much as a review.
 * Errors are written at once, and `flush` empties the batch before exit.
 */
export function jsonLogger(write: (text: string) => void, now: () => number = Date.now, minLevel: LogLevel = 'info', batch = false): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  return {
    log(level, msg, fields = {}) {
      if (order[level] < order[minLevel]) return;
      const line = `${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields })}\n`;
      if (!batch) {
        write(line);
        return;
      }
      pending += line;
      if (level === 'error') flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/** Keeps records in memory, for tests. */
export function memoryLogger(): Logger & { records: ({ level: LogLevel; msg: string } & LogFields)[] } {
  const records: ({ level: LogLevel; msg: string } & LogFields)[] = [];
  return { records, log: (level, msg, fields = {}) => void records.push({ level, msg, ...fields }) };
}

export const silentLogger: Logger = { log: () => undefined };
