import { expect } from 'chai';
import { type BreakerState, CircuitBreaker } from '../../lib/storage/breaker.js';

describe('CircuitBreaker (an injected clock)', () => {
  function breaker(threshold = 3, cooldownMs = 1000) {
    const clock = { now: 0 };
    const changes: BreakerState[] = [];
    const instance = new CircuitBreaker({ failureThreshold: threshold, cooldownMs, now: () => clock.now, onStateChange: (state) => changes.push(state) });
    return { instance, clock, changes };
  }

  it('opens after the threshold of consecutive failures, and a success in between resets the count', () => {
    const { instance } = breaker(3);
    for (const outcome of ['failure', 'failure', 'success', 'failure', 'failure'] as const) instance[outcome](instance.allow() as number);
    expect(instance.state).to.equal('closed');
    instance.failure(instance.allow() as number);
    expect(instance.state).to.equal('open');
    expect(instance.allow()).to.equal(undefined);
  });

  it('after the cool-down, lets one probe through; its success closes the breaker', () => {
    const { instance, clock, changes } = breaker(1, 1000);
    instance.failure(instance.allow() as number);
    clock.now = 999;
    expect(instance.allow()).to.equal(undefined);
    clock.now = 1000;
    const probe = instance.allow();
    expect(probe).to.not.equal(undefined);
    expect(instance.state).to.equal('half-open');
    expect(instance.allow(), 'a second call while the probe is out').to.equal(undefined);
    instance.success(probe as number);
    expect(instance.state).to.equal('closed');
    expect(changes).to.deep.equal(['open', 'half-open', 'closed']);
  });

  it('a failed probe opens it again for a whole cool-down', () => {
    const { instance, clock } = breaker(1, 1000);
    instance.failure(instance.allow() as number);
    clock.now = 1000;
    instance.failure(instance.allow() as number);
    expect(instance.state).to.equal('open');
    clock.now = 1999;
    expect(instance.allow()).to.equal(undefined);
  });

  it('in half-open, only the probe decides: calls started before it moved there change nothing', () => {
    const { instance, clock } = breaker(2, 1000);
    const early = instance.allow() as number; // a slow call, started while closed
    instance.failure(instance.allow() as number);
    instance.failure(instance.allow() as number);
    expect(instance.state).to.equal('open');
    clock.now = 1000;
    const probe = instance.allow() as number;
    instance.success(early); // the slow call ends well: not a sign the storage is back
    expect(instance.state).to.equal('half-open');
    instance.failure(early);
    expect(instance.state).to.equal('half-open');
    instance.success(probe);
    expect(instance.state).to.equal('closed');
  });

  it('after a recovery, failures of calls started during the outage do not re-open it', () => {
    const { instance, clock } = breaker(1, 1000);
    const started = instance.allow() as number;
    instance.failure(instance.allow() as number);
    clock.now = 1000;
    instance.success(instance.allow() as number);
    expect(instance.state).to.equal('closed');
    instance.failure(started);
    expect(instance.state).to.equal('closed');
    // A failure of a call made since still counts.
    instance.failure(instance.allow() as number);
    expect(instance.state).to.equal('open');
  });
});
