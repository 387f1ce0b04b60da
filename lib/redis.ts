/** `cachette/redis`: the Redis / Valkey backend. Needs the optional peer dependency @redis/client (or redis, which includes it). */
export { type RedisCommander, RedisStorage, type RedisStorageOptions } from './storage/redis.js';
