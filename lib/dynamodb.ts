/** `cachette/dynamodb`: the DynamoDB backend. Needs the optional peer dependency @aws-sdk/client-dynamodb (Lambda runtimes ship it). */
export { DynamoDBStorage, type DynamoDBStorageOptions } from './storage/dynamodb/storage.js';
export type { AttributeNames } from './storage/dynamodb/layout.js';
