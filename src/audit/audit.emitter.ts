import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { AuditSettings } from './audit-settings.js';
import type { AuditEvent, AuditSink } from './audit-event.js';

/** The default sink: one structured line per event through Nest's Logger. */
export class LoggerAuditSink implements AuditSink {
  private readonly logger = new Logger('AuthAudit');

  emit(event: AuditEvent): void {
    const line = JSON.stringify({ ...event, at: event.at.toISOString() });
    if (event.type === 'access.denied' || event.type === 'login.failed' || event.type === 'api_key.rejected') {
      this.logger.warn(line);
    } else if (event.type === 'refresh.reuse_detected') {
      this.logger.error(line);
    } else {
      this.logger.log(line);
    }
  }
}

/**
 * What the core calls to record an event. A failing sink must never turn a
 * request into a 500 or a denied login into an allowed one, so errors are
 * caught and reported, not thrown.
 */
@Injectable()
export class AuditEmitter {
  private readonly logger = new Logger('AuthAudit');
  private readonly sink: AuditSink;

  constructor(@Inject(AUTH_OPTIONS) options: AuditSettings) {
    this.sink = options.audit ?? new LoggerAuditSink();
  }

  emit(event: Omit<AuditEvent, 'at'>): void {
    const full: AuditEvent = { ...event, at: new Date() };
    try {
      const result = this.sink.emit(full);
      if (result && typeof (result as Promise<void>).catch === 'function') {
        (result as Promise<void>).catch((err: unknown) => this.report(err));
      }
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    this.logger.error(`audit sink failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
