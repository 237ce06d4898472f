import { ApiKeyEntity } from '../api-keys/api-key.entity.js';
import { DpopProofEntity } from '../dpop/dpop.entity.js';
import { RevocationLogEntity, RevokedTokenEntity, UserCutoffEntity } from '../revocation/revocation.entities.js';
import { SessionEntity, SessionRotationEntity } from '../sessions/session.entity.js';
import { ThrottleCounterEntity } from '../throttle/throttle.entity.js';

/** The TypeORM entities of the module: add them to your DataSource's `entities`. */
export const authEntities = [
  SessionEntity,
  SessionRotationEntity,
  RevokedTokenEntity,
  UserCutoffEntity,
  ApiKeyEntity,
  RevocationLogEntity,
  ThrottleCounterEntity,
  DpopProofEntity,
];
