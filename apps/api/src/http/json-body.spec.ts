import { MalformedJsonError, RequestValidationError } from './api-errors.js';
import { parseStrictJson } from './json-body.js';

describe('parseStrictJson', () => {
  it('parses plain JSON', () => {
    expect(parseStrictJson('{"amount":1,"tags":["a",{"b":null}]}')).toEqual({ amount: 1, tags: ['a', { b: null }] });
  });

  it.each(['', '   ', '{"a":', 'amount=1', '{a:1}'])('calls %j malformed, not a validation failure', (text) => {
    expect(() => parseStrictJson(text)).toThrow(MalformedJsonError);
  });

  it.each([
    ['{"__proto__":{"admin":true}}', '__proto__', '__proto__'],
    ['{"metadata":{"__proto__":{}}}', '__proto__', 'metadata.__proto__'],
    ['[{"x":{"__proto__":1}}]', '__proto__', '0.x.__proto__'],
    ['{"constructor":{"prototype":{"polluted":1}}}', 'constructor.prototype', 'constructor.prototype'],
  ])('refuses %s, naming the key %s at %s', (text, key, path) => {
    const error = (() => {
      try {
        parseStrictJson(text);
      } catch (caught) {
        return caught;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).message).toContain(`"${key}"`);
    expect((error as RequestValidationError).details).toEqual({ fields: { [path]: [`the key "${key}" is not allowed`] } });
    // Nothing was polluted on the way.
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('accepts a key named constructor that holds no prototype (a customer may use the word)', () => {
    expect(parseStrictJson('{"metadata":{"constructor":"yes"}}')).toEqual({ metadata: { constructor: 'yes' } });
  });

  it('refuses nesting deeper than it walks, rather than recursing without bound', () => {
    expect(() => parseStrictJson(`${'['.repeat(40)}${']'.repeat(40)}`)).toThrow(RequestValidationError);
    expect(parseStrictJson(`${'['.repeat(20)}${']'.repeat(20)}`)).toBeDefined();
  });
});
