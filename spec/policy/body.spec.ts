import { expect } from 'chai';
import fc from 'fast-check';
import { bodyForKey } from '../../lib/policy/body.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const none = new Set<string>();
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const keyed = (body: string, mode: 'exact' | 'canonical', ignored: ReadonlySet<string> = none, type = JSON_TYPE) =>
  text(bodyForKey(Buffer.from(body), type, ignored, mode));

describe('request bodies in keys', () => {
  it('by default, a body is its bytes', () => {
    const body = Buffer.from('{ "b": 1, "a": 2 }');
    expect(bodyForKey(body, JSON_TYPE, none, 'exact')).to.equal(body);
  });

  it('ignored members leave a JSON body, ignored fields a form; the rest stays as sent', () => {
    const ignored = new Set(['nonce']);
    expect(keyed(' {"q":1.0, "nonce":"a", "z":[1, 2]} ', 'exact', ignored)).to.equal(' {"q":1.0, "z":[1, 2]} ');
    expect(keyed('{"nonce":"a" , "q":1}', 'exact', ignored)).to.equal('{"q":1}');
    expect(keyed('{"q":1 ,"nonce":"a"}', 'exact', ignored)).to.equal('{"q":1}');
    expect(keyed('\ufeff{"q":1,"nonce":"a"}', 'exact', ignored), 'a byte-order mark is no JSON: the bytes').to.equal('\ufeff{"q":1,"nonce":"a"}');
    expect(keyed('{"q":1,"n\\u006fnce":"a"}', 'exact', ignored), 'the name as decoded').to.equal('{"q":1}');
    expect(keyed('q=%E9&nonce=1&a=2', 'exact', ignored, 'application/x-www-form-urlencoded')).to.equal('q=%E9&a=2');
    const form = 'application/x-www-form-urlencoded';
    expect(keyed('a=1&%61=2', 'canonical', none, form), 'sorted by the name the origin reads, repeated ones in order').to.equal('a=1&%61=2');
    expect(keyed('%61=2&a=1', 'canonical', none, form)).to.equal('%61=2&a=1');
    expect(keyed('b=1&a=2', 'canonical', none, form)).to.equal('a=2&b=1');
    expect(keyed('non%63e=1&q=2', 'exact', ignored, 'application/x-www-form-urlencoded')).to.equal('q=2');
  });

  it('canonical JSON: the same value whatever its member order and blanks, its scalars as written', () => {
    expect(keyed('{ "b" : [ 1 , {"y":2, "x":1} ], "a": "\\u0041" }', 'canonical')).to.equal('{"a":"\\u0041","b":[1,{"x":1,"y":2}]}');
    expect(keyed('{"n":9007199254740993,"m":1e400,"f":1.0}', 'canonical')).to.equal('{"f":1.0,"m":1e400,"n":9007199254740993}');
    expect(keyed('{"a":2,"a":1}', 'canonical'), 'repeated names keep their order').to.equal('{"a":2,"a":1}');
  });

  it('property: canonical JSON reads back as the value it was made from, and is its own canonical form', () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        const canonical = keyed(json, 'canonical');
        expect(JSON.parse(canonical)).to.deep.equal(JSON.parse(json));
        expect(keyed(canonical, 'canonical')).to.equal(canonical);
      }),
      { numRuns: 500 },
    );
  });

  it('what the parser cannot read is keyed by its bytes: not JSON, not UTF-8, nested past its depth', () => {
    for (const body of [Buffer.from('{"a":'), Buffer.from([0x7b, 0xff, 0x7d]), Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)]) {
      expect(bodyForKey(body, JSON_TYPE, new Set(['a']), 'canonical')).to.equal(body);
    }
  });
});
