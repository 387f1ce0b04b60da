/** Mocha global hooks: stop what the suite started on demand. */
import { stopDynamoLocal } from '../fixtures/dynamodb-local.js';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopDynamoLocal();
}
