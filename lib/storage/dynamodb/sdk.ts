/**
 * The AWS SDK, an optional peer dependency: loaded here once, so that a
 * missing package fails with a message that says what to install.
 */
type Sdk = typeof import('@aws-sdk/client-dynamodb');

async function load(): Promise<Sdk> {
  try {
    return await import('@aws-sdk/client-dynamodb');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes('@aws-sdk/client-dynamodb')) {
      throw new Error(
        "cachette/dynamodb needs the @aws-sdk/client-dynamodb package, an optional peer dependency: npm install @aws-sdk/client-dynamodb (AWS Lambda's Node.js runtimes include it)",
        { cause: error },
      );
    }
    throw error;
  }
}

export const {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateTimeToLiveCommand,
} = await load();
