// @democrai/nest-auth/testing: helpers for an app's own tests. Needs @nestjs/testing and supertest (optional peers).
export { createTestApp, TEST_JWT_SECRET, type TestAppOptions, type TestAuthApp, type AsClient } from './test-app.js';
export { TestClock } from './test-clock.js';
export { RecordingAuditSink } from './recording-audit-sink.js';
export { ControllableRevocationStore } from './controllable-revocation-store.js';
export { TestUsers, TestPasswordHasher, type TestUser } from './test-users.js';
