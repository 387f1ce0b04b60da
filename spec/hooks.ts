/** Mocha global hooks: start what a run asks for, stop what the suite started on demand. */
import { stopDynamoLocal } from '../fixtures/dynamodb-local.js';
import { type RedisServer, startRedis } from '../fixtures/redis-server.js';

let redis: RedisServer | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env['CACHETTE_TEST_STORAGE'] === 'redis') {
    redis = await startRedis();
    process.env['CACHETTE_TEST_REDIS_URL'] = redis.url;
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  await stopDynamoLocal();
  await redis?.stop();
}
