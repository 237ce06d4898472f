import type { AuditSink } from './audit-event.js';

/** What `AuditEmitter` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface AuditSettings {
  audit?: AuditSink;
}
