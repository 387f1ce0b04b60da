/**
 * Creating the table: on-demand billing, TTL on the expires attribute,
 * waiting until it is ACTIVE. Safe to run from several processes at once
 * (an existing table, or TTL already on, are fine).
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeNames } from './layout.js';
import { CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } from './sdk.js';

const POLL_MS = 250;
const WAIT_MS = 120_000;

export async function createTable(client: DynamoDBClient, table: string, names: AttributeNames): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: names.partitionKey, AttributeType: 'S' },
          { AttributeName: names.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: names.partitionKey, KeyType: 'HASH' },
          { AttributeName: names.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    // Another process created it first: fine, as long as it becomes ACTIVE.
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  await waitUntilActive(client, table);
  await enableTtl(client, table, names.expires);
}

async function waitUntilActive(client: DynamoDBClient, table: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`DynamoDB table "${table}" is still ${Table?.TableStatus} after ${WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function enableTtl(client: DynamoDBClient, table: string, attribute: string): Promise<void> {
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
  const status = TimeToLiveDescription?.TimeToLiveStatus;
  if ((status === 'ENABLED' || status === 'ENABLING') && TimeToLiveDescription?.AttributeName === attribute) return;
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: true, AttributeName: attribute } }));
  } catch (error) {
    // "TimeToLive is already enabled": another process won the race.
    if (!/already enabled/i.test((error as Error).message)) throw error;
  }
}
