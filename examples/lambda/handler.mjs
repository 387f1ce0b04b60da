// An AWS Lambda handler that fetches event.url through a cache on DynamoDB.
//
// Environment: CACHE_TABLE (the table), and the AWS SDK's own variables
// (AWS_REGION, credentials; AWS_ENDPOINT_URL_DYNAMODB to point at DynamoDB Local).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createCache } from 'cachette';
import { DynamoDBStorage } from 'cachette/dynamodb';

// Module scope: made once per instance (the cold start), reused by every invocation.
const cache = createCache({
  storage: new DynamoDBStorage({ tableName: process.env.CACHE_TABLE, client: new DynamoDBClient({}) }),
  // A warm instance answers repeated requests from memory: no DynamoDB call at all.
  memoryTier: { maxBytes: 32 * 1024 * 1024 },
});

export async function handler(event) {
  const response = await cache.fetch(event.url);
  const body = await response.text();
  // Lambda freezes the instance once the handler returns: let a new entry reach DynamoDB first
  // (only misses wait, a few milliseconds), so the next instance finds it.
  await cache.settled();
  return {
    statusCode: response.status,
    headers: { 'cache-status': response.headers.get('cache-status') ?? '' },
    body,
  };
}
