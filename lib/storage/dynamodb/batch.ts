/**
 * Batched reads and writes, as AWS recommends them: BatchGetItem in chunks
 * of 100 keys, BatchWriteItem in chunks of 25 requests, and whatever
 * DynamoDB leaves unprocessed retried with exponential backoff and full
 * jitter — a bounded number of times.
 */
import type { AttributeValue, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { DeadlineSignals } from '../deadline-signals.js';
import { BatchGetItemCommand, BatchWriteItemCommand } from './sdk.js';

export type Item = Record<string, AttributeValue>;
export type ItemKey = Record<string, AttributeValue>;

const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;
const MAX_ROUNDS = 10;
const BASE_DELAY_MS = 25;
const MAX_DELAY_MS = 2000;

/** "Full jitter": a random wait between 0 and the exponential bound. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long one call may take, in ms, and the deadline signals it may share (its storage's). */
export interface SendOptions {
  timeout: number;
  deadlines: DeadlineSignals;
}

/**
 * A `client.send` with a deadline (`call` hands the signal to it): an abort
 * cuts the SDK's retries short too, and a stalled call gives its socket back.
 */
export function sendWithin<T>(send: SendOptions, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  return call(send.deadlines.signal(send.timeout));
}

export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keys: ItemKey[],
  extra: { consistentRead: boolean; projection?: string | undefined; names?: Record<string, string> | undefined },
  send: SendOptions,
): Promise<Item[]> {
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: ItemKey[] = keys.slice(i, i + BATCH_GET_LIMIT);
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_ROUNDS) throw new Error(`DynamoDB left ${pending.length} keys unprocessed after ${MAX_ROUNDS} BatchGetItem rounds`);
      if (round > 0) await sleep(backoff(round));
      const out = await sendWithin(send, (abortSignal) =>
        client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [table]: {
                Keys: pending,
                ConsistentRead: extra.consistentRead,
                ...(extra.projection === undefined ? {} : { ProjectionExpression: extra.projection, ExpressionAttributeNames: extra.names }),
              },
            },
          }),
          { abortSignal },
        ),
      );
      found.push(...(out.Responses?.[table] ?? []));
      pending = (out.UnprocessedKeys?.[table]?.Keys ?? []) as ItemKey[];
    }
  }
  return found;
}

export async function batchWrite(client: DynamoDBClient, table: string, requests: WriteRequest[], send: SendOptions): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
    let pending = requests.slice(i, i + BATCH_WRITE_LIMIT);
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_ROUNDS) throw new Error(`DynamoDB left ${pending.length} writes unprocessed after ${MAX_ROUNDS} BatchWriteItem rounds`);
      if (round > 0) await sleep(backoff(round));
      const out = await sendWithin(send, (abortSignal) => client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }), { abortSignal }));
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  }
}

/**
 * Collects deletions from several shard queries running at once and sends
 * them in full batches of 25, so that deleting N items costs ⌈N/25⌉ calls.
 */
export class DeleteBuffer {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #send: SendOptions;
  #pending: WriteRequest[] = [];
  /** Batches under way; they never reject: the first failure is kept in #error. */
  #inFlight: Array<Promise<void>> = [];
  #error: unknown;
  #failed = false;
  deleted = 0;

  constructor(client: DynamoDBClient, table: string, send: SendOptions) {
    this.#client = client;
    this.#table = table;
    this.#send = send;
  }

  /** Queues a deletion; throws the error of an earlier batch, if one failed. */
  async add(key: ItemKey): Promise<void> {
    this.#throwIfFailed();
    this.#pending.push({ DeleteRequest: { Key: key } });
    if (this.#pending.length < BATCH_WRITE_LIMIT) return;
    this.#write(this.#pending.splice(0, BATCH_WRITE_LIMIT));
    // Keep a few batches in flight, not an unbounded number.
    if (this.#inFlight.length >= 4) await Promise.all(this.#inFlight.splice(0));
    this.#throwIfFailed();
  }

  /**
   * Waits for `work` (the scan feeding `add`), then sends what is left; returns
   * how many were deleted. Should `work` fail, the batches already sent are
   * waited for (none is left running unobserved) and its error is thrown.
   */
  async flushAfter(work: Promise<void>): Promise<number> {
    try {
      await work;
    } catch (error) {
      await Promise.all(this.#inFlight.splice(0));
      throw error;
    }
    if (this.#pending.length > 0) this.#write(this.#pending.splice(0));
    await Promise.all(this.#inFlight.splice(0));
    this.#throwIfFailed();
    return this.deleted;
  }

  #write(batch: WriteRequest[]): void {
    this.#inFlight.push(
      batchWrite(this.#client, this.#table, batch, this.#send).then(
        () => {
          this.deleted += batch.length;
        },
        (error: unknown) => {
          if (this.#failed) return;
          this.#failed = true;
          this.#error = error;
        },
      ),
    );
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#error;
  }
}

/**
 * Runs `work` over `items` with at most `limit` at a time. On a failure, no
 * new item is started; the ones under way finish, then the first error is thrown.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const results = await Promise.allSettled(workers);
  const rejected = results.find((result) => result.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}
