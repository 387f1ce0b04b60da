import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openRecording } from 'cachette/testing';

let recording;
before(async () => {
  recording = await openRecording('test/recordings/users.jsonl');
  recording.install(); // Node's fetch and undici's request now go through the recording
});
after(() => recording.close()); // restores the dispatcher and writes the recording

test('reads a user', async () => {
  const response = await fetch(`${process.env.API_URL}/users/1`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).name, 'Ada');
});
