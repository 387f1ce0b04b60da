export { createCache, HttpCache, type DeleteOptions, type ContainsOptions, type CacheFetch, type CacheFetchInit } from './cache.js';
export type { RequestCacheOptions, FetchCacheMode } from './policy/control.js';
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export { TieredStorage, type TieredStorageOptions } from './storage/tiered.js';
export {
  StorageRequestError,
  isSweepable,
  type Storage,
  type Partition,
  type SetOptions,
  type SweepablePartition,
  type SyncReadablePartition,
  type LeasingPartition,
  type LeaseAttempt,
} from './storage/contract.js';
export type { CacheOptions, Expiration, UrlExpiration, FilterInput } from './options.js';
export type { CacheKeyRequest, KeyFunction } from './policy/key.js';
export { channels, type Logger } from './diagnostics.js';
