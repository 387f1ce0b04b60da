export {
  type CacheFetch,
  type CacheFetchInit,
  createCache,
  type DeleteOptions,
  type EntryRef,
  type ExportOptions,
  type HttpCache,
  type TransferOptions,
  type TransferResult,
} from './cache.js';
export type { Clock, Timer } from './clock.js';
export { channels, type DecisionEvent, type DecisionOutcome, type Logger } from './diagnostics.js';
export type { CacheOptions, Expiration, FilterInput, UrlExpiration } from './options.js';
export type { BodyKeyMode } from './policy/body.js';
export type { FetchCacheMode, RequestCacheOptions } from './policy/control.js';
export type { RequestHeaders, RequestHeadersInput, ResponseHeaders } from './policy/headers.js';
export type { CacheKeyRequest, KeyFunction } from './policy/key.js';
export { RecordingMissError, type RecordingMode, type RecordingOptions } from './recording.js';
export type { CompressionCodec } from './records/compression.js';
export type { EntryFilter, EntryInfo, EntryState } from './records/inspect.js';
export type { CacheStats } from './stats.js';
export {
  BasePartition,
  type CompletePartition,
  type HeldValue,
  type LeaseAttempt,
  type Partition,
  type PartitionCapabilities,
  type SetOptions,
  type Storage,
  type StorageCapabilities,
  StorageRequestError,
} from './storage/contract.js';
export { StorageDeadlineError } from './storage/deadline.js';
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
