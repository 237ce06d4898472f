import type { AuditEvent, AuditEventType, AuditSink } from '../audit/audit-event.js';

/** An audit sink that keeps every event, for assertions. Optionally forwards each one to another sink. */
export class RecordingAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];

  constructor(private readonly forward?: AuditSink) {}

  emit(event: AuditEvent): void | Promise<void> {
    this.events.push(event);
    return this.forward?.emit(event);
  }

  /** The events of one type, oldest first. */
  ofType(type: AuditEventType): AuditEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** The latest event (of `type`, when given). */
  last(type?: AuditEventType): AuditEvent | undefined {
    const list = type === undefined ? this.events : this.ofType(type);
    return list[list.length - 1];
  }

  clear(): void {
    this.events.length = 0;
  }
}
