/** Scope check on the publish/subscribe path: Permissions.allowsTopic for typical scopes.
 *   node --import tsx bench/micro/permissions.ts */
import { Permissions } from '../../src/auth/scopes.js';
import { PermissionScopes, type Permission } from '../../src/protocol/index.js';
import { consume, measure, runIfMain, type MicroResult } from './harness.js';

export async function permissionsMicro(ms = 1000): Promise<MicroResult[]> {
  const all = new Permissions(PermissionScopes.allDataReadWrite().permissions);
  const exact = new Permissions(PermissionScopes.topicPublishSubscribe('bench', 'room-42').permissions);
  const prefix = new Permissions(PermissionScopes.topicNamePrefixSubscribeOnly('bench', 'room-').permissions);
  // 20 permissions (the default maximum), the match is the last one: the worst linear scan.
  const many: Permission[] = [];
  for (let i = 0; i < 19; i++) many.push({ role: 'readwrite', cache: `cache-${i}`, item: { keyPrefix: `k${i}-` } });
  many.push({ role: 'publishsubscribe', cache: 'bench', topic: { namePrefix: 'room-' } });
  const twenty = new Permissions(many);
  return [
    await measure('scopes', 'allowsTopic: all data (allDataReadWrite)', () => consume(all.allowsTopic('publish', 'bench', 'room-42')), { ms, batch: 10_000 }),
    await measure('scopes', 'allowsTopic: exact topic, hit', () => consume(exact.allowsTopic('publish', 'bench', 'room-42')), { ms, batch: 10_000 }),
    await measure('scopes', 'allowsTopic: exact topic, miss', () => consume(exact.allowsTopic('publish', 'bench', 'room-43')), { ms, batch: 10_000 }),
    await measure('scopes', 'allowsTopic: name prefix, subscribe hit', () => consume(prefix.allowsTopic('subscribe', 'bench', 'room-42')), { ms, batch: 10_000 }),
    await measure('scopes', 'allowsTopic: 20 permissions, match is last', () => consume(twenty.allowsTopic('publish', 'bench', 'room-42')), { ms, batch: 10_000 }),
  ];
}

runIfMain('permissions.ts', () => permissionsMicro());
