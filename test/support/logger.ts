import type { LoggerService } from '@nestjs/common';

/** Keeps every line Nest logs, so tests can check what reached the log. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.keep(message, rest);
  }
  private keep(message: unknown, rest: unknown[]) {
    this.lines.push([message, ...rest].map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' '));
  }
  get text(): string {
    return this.lines.join('\n');
  }
}
