import { entitySchema } from '../persistence/entity-schema.js';
import { idColumn, timeColumn } from '../persistence/columns.js';

export interface ThrottleCounterRow {
  key: string;
  hits: number;
  resetAt: Date;
}

/** One fixed-window counter of the login throttle. */
export const ThrottleCounterEntity = entitySchema<ThrottleCounterRow>({
  name: 'AuthThrottleCounter',
  tableName: 'auth_throttle_counters',
  columns: {
    key: idColumn('key', { primary: true }),
    hits: { name: 'hits', type: 'integer' },
    resetAt: timeColumn('reset_at'),
  },
  indices: [{ name: 'IDX_auth_throttle_counters_reset_at', columns: ['resetAt'] }],
});
