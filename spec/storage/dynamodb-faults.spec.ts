import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import nock from 'nock';
import { CommandCounter, dropTables, dynamoStorage } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { FakeClock } from '../../lib/testing.js';
import { fetchText, useOrigin } from '../support.js';

/** Faults we cannot make DynamoDB Local produce, injected into the SDK's HTTP traffic. */
const faults: Array<{ name: string; inject: (scope: nock.Interceptor) => nock.Scope }> = [
  {
    name: 'throttling',
    inject: (scope) =>
      scope.reply(
        400,
        {
          __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
          message: 'Rate of requests exceeds the allowed throughput.',
        },
        { 'x-amzn-errortype': 'ThrottlingException', 'content-type': 'application/x-amz-json-1.0' },
      ),
  },
  {
    name: 'HTTP 500',
    inject: (scope) => scope.reply(500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal error' }),
  },
  {
    name: 'ECONNRESET',
    inject: (scope) => scope.replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
  },
  {
    name: 'a 2 s stall',
    inject: (scope) => scope.delay(2000).reply(200, {}),
  },
];

const READ_TIMEOUT = 300;

// nock intercepts as soon as it is imported, global fetch included: only this file's tests may see it.
nock.restore();

describe('DynamoDBStorage under faults (nock on the SDK traffic)', function () {
  this.timeout(60_000);
  const env = useOrigin();
  let endpoint: string;

  before(async function () {
    this.timeout(180_000);
    endpoint = await dynamoEndpoint();
    if (!nock.isActive()) nock.activate();
  });

  afterEach(async () => {
    nock.cleanAll();
    await dropTables();
  });

  after(() => {
    nock.restore();
  });

  for (const fault of faults) {
    it(`${fault.name}: every request is answered by the origin, a stalled read ends at its deadline; the breaker opens, then recovers`, async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter, { timeouts: { read: READ_TIMEOUT / 1000, write: 1 } });
      const clock = new FakeClock();
      const cache = env.cache({ storage, clock, circuitBreaker: { failures: 3, cooldown: 1 } });
      const states: string[] = [];
      const listener = (message: unknown) => states.push((message as { state: string }).state);
      const errors: Array<{ operation: string; message: string }> = [];
      const onError = (message: unknown) => {
        const { operation, error } = message as { operation: string; error: Error };
        errors.push({ operation, message: error.message });
      };
      diagnostics.subscribe('cachette:breaker', listener);
      diagnostics.subscribe('cachette:storage-error', onError);
      try {
        fault.inject(nock(endpoint).persist().post('/'));

        for (let i = 0; i < 3; i++) {
          const response = await fetchText(cache, `${env.origin.url}/a`);
          expect(response.status).to.equal(200);
          expect(response.body).to.equal('from origin');
          // The failing write lands (off the response path) before the next request reads.
          await cache.settled();
        }
        // Reads and writes fail in turn (read, write, read): the third failure opens the breaker, and the third request reads nothing.
        // Each read ended as a failure — at its deadline when DynamoDB stalled — not with DynamoDB's late answer.
        const reads = errors.filter((event) => event.operation === 'get');
        expect(reads).to.have.length(2);
        if (fault.name.includes('stall')) expect(reads.every((event) => /deadline/.test(event.message))).to.equal(true);
        expect(states).to.include('open');

        // Open: DynamoDB is not even called, so it adds nothing.
        counter.reset();
        for (let i = 0; i < 5; i++) {
          expect((await fetchText(cache, `${env.origin.url}/a`)).body).to.equal('from origin');
        }
        await cache.settled();
        expect(counter.get('GetItemCommand') + counter.get('PutItemCommand')).to.equal(0);

        // DynamoDB is back: after the cool-down one probe goes through, succeeds, and the breaker closes.
        nock.cleanAll();
        await clock.advance(1);
        await fetchText(cache, `${env.origin.url}/a`);
        await cache.settled();
        expect(states.slice(-2)).to.deep.equal(['half-open', 'closed']);
        const hit = await fetchText(cache, `${env.origin.url}/a`);
        expect(hit.cacheStatus).to.match(/^cachette; hit/);
      } finally {
        diagnostics.unsubscribe('cachette:breaker', listener);
        diagnostics.unsubscribe('cachette:storage-error', onError);
      }
    });
  }

  it('50 reads under way at once against a stalled DynamoDB all end at the read deadline, and Node warns of no listener leak', async () => {
    const storage = await dynamoStorage(undefined, { timeouts: { read: READ_TIMEOUT / 1000 } });
    const partition = storage.partition('p');
    nock(endpoint).persist().post('/').delay(2000).reply(200, {});
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    try {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => partition.get(`k${i}`)));
      for (const result of results) {
        expect(result.status).to.equal('rejected');
        expect(String((result as PromiseRejectedResult).reason)).to.match(/did not answer within the deadline/);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).to.deep.equal([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a refused request (a validation error) is reported loudly and does not open the breaker', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
    const storage = await dynamoStorage(undefined, { timeouts: { read: READ_TIMEOUT / 1000 } });
    const errors: string[] = [];
    const cache = env.cache({ storage, circuitBreaker: { failures: 2, cooldown: 30 }, logger: { error: (message) => errors.push(message), warn: () => {} } });
    nock(endpoint).persist().post('/').reply(
      400,
      {
        __type: 'com.amazon.coral.validate#ValidationException',
        message: 'One or more parameter values were invalid',
      },
      { 'x-amzn-errortype': 'ValidationException', 'content-type': 'application/x-amz-json-1.0' },
    );
    const states: string[] = [];
    const listener = (message: unknown) => states.push((message as { state: string }).state);
    diagnostics.subscribe('cachette:breaker', listener);
    try {
      for (let i = 0; i < 4; i++) expect((await fetchText(cache, `${env.origin.url}/a`)).body).to.equal('from origin');
      await cache.settled();
      expect(states).to.deep.equal([]);
      expect(errors.some((message) => /DynamoDB refused the request on table .*One or more parameter values were invalid/.test(message))).to.equal(true);
    } finally {
      diagnostics.unsubscribe('cachette:breaker', listener);
    }
  });

  it('clear(): a batch refused mid-way rejects clear() with its error, nothing is left unobserved, and a retry finishes the job', async () => {
    const counter = new CommandCounter();
    const storage = await dynamoStorage(counter, { timeouts: { write: 5 } });
    const partition = storage.partition('p');
    const keys = Array.from({ length: 120 }, (_, i) => `k${i}`);
    for (const key of keys) await partition.set(key, new TextEncoder().encode(key));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // The first batch is refused; the others reach DynamoDB Local (forwarded with fetch, which nock leaves alone).
      // A persisted interceptor: a consumed one makes nock refuse requests it had already begun to match.
      let batches = 0;
      let answering = 0;
      nock(endpoint, { allowUnmocked: true })
        .persist()
        .matchHeader('x-amz-target', 'DynamoDB_20120810.BatchWriteItem')
        .post('/')
        .reply(async function (_uri, body) {
          batches += 1;
          if (batches === 1) {
            return [
              400,
              { __type: 'com.amazon.coral.validate#ValidationException', message: 'refused for the test' },
              { 'content-type': 'application/x-amz-json-1.0' },
            ];
          }
          const headers = Object.fromEntries(
            Object.entries(this.req.headers).filter(([name]) => name !== 'host' && name !== 'content-length' && name !== 'connection'),
          );
          answering += 1;
          try {
            const real = await fetch(endpoint, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
            return [real.status, await real.text(), { 'content-type': 'application/x-amz-json-1.0' }];
          } finally {
            answering -= 1;
          }
        });
      const error = await partition.clear().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(String(error)).to.match(/refused for the test/);
      // The batches sent alongside the refused one are answered, and what they settle is seen.
      while (answering > 0) await new Promise((resolve) => setImmediate(resolve));
      for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).to.deep.equal([]);
    } finally {
      nock.cleanAll();
      process.off('unhandledRejection', onUnhandled);
    }
    expect(await partition.size()).to.be.above(0);
    await partition.clear();
    expect(await partition.size()).to.equal(0);
  });

  describe('what DynamoDB leaves unprocessed is retried', () => {
    const encode = (text: string) => new TextEncoder().encode(text);

    it('BatchGetItem: UnprocessedKeys are asked again (with backoff) until answered', async () => {
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter, { timeouts: { read: 5 } });
      const partition = storage.partition('p');
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      for (const key of keys) await partition.set(key, encode(key));
      let throttled = 0;
      nock(endpoint, { allowUnmocked: true })
        .matchHeader('x-amz-target', 'DynamoDB_20120810.BatchGetItem')
        .post('/')
        .twice()
        .reply((_uri, body) => {
          throttled += 1;
          return [200, { Responses: {}, UnprocessedKeys: requestItems(body) }, { 'content-type': 'application/x-amz-json-1.0' }];
        });
      counter.reset();
      const found = await partition.getMany(keys);
      expect(found.size).to.equal(30);
      expect(throttled).to.equal(2);
      expect(counter.get('BatchGetItemCommand')).to.equal(3);
    });

    it('BatchWriteItem: UnprocessedItems are sent again until written', async () => {
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter, { timeouts: { write: 5 } });
      const partition = storage.partition('p');
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      for (const key of keys) await partition.set(key, encode(key));
      nock(endpoint, { allowUnmocked: true })
        .matchHeader('x-amz-target', 'DynamoDB_20120810.BatchWriteItem')
        .post('/')
        .once()
        .reply((_uri, body) => [200, { UnprocessedItems: requestItems(body) }, { 'content-type': 'application/x-amz-json-1.0' }]);
      counter.reset();
      await partition.clear();
      expect(counter.get('BatchWriteItemCommand')).to.equal(2);
      expect(await partition.size()).to.equal(0);
    });
  });
});

/** The RequestItems of a batch call as nock hands its body over (text, for DynamoDB's JSON type). */
function requestItems(body: unknown): unknown {
  return (typeof body === 'string' ? JSON.parse(body) : (body as { RequestItems: unknown })).RequestItems;
}
