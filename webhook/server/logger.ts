/**
 * Structured logs: one JSON object per line with time, level, message and fields (the admission
 * request's uid among them). The sink and clock are injected so tests read what was logged.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

export function jsonLogger(write: (line: string) => void, now: () => number = Date.now, minLevel: LogLevel = 'info'): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return {
    log(level, msg, fields = {}) {
      if (order[level] < order[minLevel]) return;
      write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields })}\n`);
    },
  };
}

/** Keeps records in memory, for tests. */
export function memoryLogger(): Logger & { records: ({ level: LogLevel; msg: string } & LogFields)[] } {
  const records: ({ level: LogLevel; msg: string } & LogFields)[] = [];
  return { records, log: (level, msg, fields = {}) => void records.push({ level, msg, ...fields }) };
}

export const silentLogger: Logger = { log: () => undefined };
