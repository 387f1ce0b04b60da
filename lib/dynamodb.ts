/** `cachette/dynamodb`: the DynamoDB backend. Needs the optional peer dependency @aws-sdk/client-dynamodb (Lambda runtimes ship it). */

export type { AttributeNames } from './storage/dynamodb/layout.js';
export { DynamoDBStorage, type DynamoDBStorageOptions } from './storage/dynamodb/storage.js';
