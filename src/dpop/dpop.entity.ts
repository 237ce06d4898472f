import { idColumn, timeColumn } from '../persistence/columns.js';
import { entitySchema } from '../persistence/entity-schema.js';

export interface DpopProofRow {
  key: string;
  expiresAt: Date;
}

/** One DPoP proof already used (its digest), kept while its `iat` could still pass. */
export const DpopProofEntity = entitySchema<DpopProofRow>({
  name: 'AuthDpopProof',
  tableName: 'auth_dpop_proofs',
  columns: {
    key: idColumn('key', { primary: true, length: 64 }),
    expiresAt: timeColumn('expires_at'),
  },
  indices: [{ name: 'IDX_auth_dpop_proofs_expires_at', columns: ['expiresAt'] }],
});
