/** Capturing what gets logged: a pino logger into an array, the library's logger swapped for one, and a recording logger for the layers and runOnce. */
import { pino, type Logger } from 'pino';
import { logger as libraryLogger, setLogger } from '../../src/log.js';

/** One pino line, parsed. */
export interface LogLine { level: number; msg: string; [key: string]: unknown }

/** A pino logger at `level` whose lines are parsed into `lines`. */
export function pinoInto(level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/**
 * Replaces the library's logger (`setLogger`) with one capturing into `lines`
 * until `restore()` puts the previous one back.
 *
 * @example const logs = captureLibraryLogs('warn'); try { ... } finally { logs.restore(); }
 */
export function captureLibraryLogs(level = 'debug'): { lines: LogLine[]; restore: () => void } {
  const previous = libraryLogger;
  const { logger, lines } = pinoInto(level);
  setLogger(logger);
  return { lines, restore: () => setLogger(previous) };
}

/** A logger (the Redis layers' `LayerLogger`, runOnce's `RunOnceLogger`) that records each call's level and message in `lines`. */
export function recordingLogger(): {
  lines: Array<{ level: string; message: string }>;
  debug: (fields: object, message: string) => void;
  info: (fields: object, message: string) => void;
  warn: (fields: object, message: string) => void;
  error: (fields: object, message: string) => void;
} {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (_fields: object, message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
