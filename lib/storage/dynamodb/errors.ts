/**
 * Which DynamoDB failures say "the storage is unwell" (they count toward the
 * cache's circuit breaker) and which say "this one request was refused"
 * (our input: reported loudly, never retried, not counted).
 */
import { StorageRequestError } from '../contract.js';

const REFUSALS = new Set(['ValidationException', 'SerializationException', 'ItemCollectionSizeLimitExceededException', 'TransactionCanceledException']);

export function classify(error: unknown, table: string): unknown {
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') return error;
  if (REFUSALS.has(name)) {
    return new StorageRequestError(`DynamoDB refused the request on table "${table}": ${(error as Error).message}`, name, { cause: error });
  }
  if (name === 'ResourceNotFoundException') {
    return new Error(
      `DynamoDB table "${table}" was not found: create it (DynamoDBStorage({ createTable: true }) or await storage.createTable(), ` +
        'or with the CloudFormation/Terraform in docs/storages.md of cachette), or check the region and credentials',
      { cause: error },
    );
  }
  // Our deadline aborted the call (the SDK names socket resets "TimeoutError" too: those keep their own message).
  if (name === 'AbortError') {
    return new Error(`DynamoDB did not answer within the deadline (table "${table}")`, { cause: error });
  }
  return error;
}
