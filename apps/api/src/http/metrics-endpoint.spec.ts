import { metricsAllowed } from './metrics-endpoint.js';

describe('metricsAllowed', () => {
  const token = 'metrics-token-0123456789';

  it('lets every scrape through when no token is configured (the documented default)', () => {
    expect(metricsAllowed(null, undefined)).toBe(true);
  });

  it.each([
    [undefined],
    [''],
    [token],
    [`Basic ${token}`],
    [`Bearer ${token}x`],
    [`Bearer ${token.slice(1)}`],
    [`Bearer ${'x'.repeat(2000)}`],
  ])('refuses the Authorization header %j', (header) => {
    expect(metricsAllowed(token, header)).toBe(false);
  });

  it('accepts the token as a Bearer header, case-insensitively on the scheme', () => {
    expect(metricsAllowed(token, `Bearer ${token}`)).toBe(true);
    expect(metricsAllowed(token, `bearer ${token}`)).toBe(true);
  });
});
