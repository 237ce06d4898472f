import type { DataSource, Repository } from 'typeorm';
import { exclusive } from '../persistence/transactions.js';
import { typeorm } from '../persistence/typeorm-runtime.js';
import { ApiKeyEntity, type ApiKeyRow } from './api-key.entity.js';
import type { ApiKeyRecord, ApiKeyStore } from './api-key.types.js';

export class InMemoryApiKeyStore implements ApiKeyStore {
  private readonly byId = new Map<string, ApiKeyRecord>();

  async insert(key: ApiKeyRecord): Promise<void> {
    for (const k of this.byId.values()) if (k.prefix === key.prefix) throw new Error('duplicate API key prefix');
    this.byId.set(key.id, { ...key });
  }
  async findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    for (const k of this.byId.values()) if (k.prefix === prefix) return { ...k };
    return null;
  }
  async list(): Promise<ApiKeyRecord[]> {
    return [...this.byId.values()].map((k) => ({ ...k }));
  }
  async revoke(id: string, at: Date): Promise<boolean> {
    const key = this.byId.get(id);
    if (!key || key.revokedAt) return false;
    key.revokedAt = at;
    return true;
  }
  async touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    for (const [id, at] of lastUsed) {
      const key = this.byId.get(id);
      if (key) key.lastUsedAt = at;
    }
  }
}

export class TypeOrmApiKeyStore implements ApiKeyStore {
  private readonly repo: Repository<ApiKeyRow>;

  constructor(private readonly dataSource: DataSource) {
    this.repo = dataSource.getRepository(ApiKeyEntity);
  }

  async insert(key: ApiKeyRecord): Promise<void> {
    await exclusive(this.dataSource, () => this.repo.insert({ ...key, permissions: JSON.stringify(key.permissions) }));
  }
  async findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    const row = await this.repo.findOne({ where: { prefix } });
    return row ? recordOf(row) : null;
  }
  async list(): Promise<ApiKeyRecord[]> {
    return (await this.repo.find({ order: { createdAt: 'ASC' } })).map(recordOf);
  }
  async revoke(id: string, at: Date): Promise<boolean> {
    const { IsNull } = await typeorm();
    return (await exclusive(this.dataSource, () => this.repo.update({ id, revokedAt: IsNull() }, { revokedAt: at }))).affected === 1;
  }
  async touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    // Called once per flush interval with the keys used since the last one, not once per request.
    await exclusive(this.dataSource, async () => {
      for (const [id, at] of lastUsed) await this.repo.update({ id }, { lastUsedAt: at });
    });
  }
}

function recordOf(row: ApiKeyRow): ApiKeyRecord {
  return { ...row, permissions: JSON.parse(row.permissions) as string[] };
}
