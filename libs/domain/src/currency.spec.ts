import { TOTAL_USD_MINOR_MAX, exactRate, totalUsdMinor, type CurrencySpec } from './currency.js';

const MAX = Number.MAX_SAFE_INTEGER;
const specs = (...list: CurrencySpec[]) => new Map(list.map((spec) => [spec.code, spec]));
const USD: CurrencySpec = { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 };
const INR: CurrencySpec = { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 };
const JPY: CurrencySpec = { code: 'JPY', minorUnitDigits: 0, usdPerMajorUnit: 0.0067 };
const KWD: CurrencySpec = { code: 'KWD', minorUnitDigits: 3, usdPerMajorUnit: 3.25 };

describe('exactRate', () => {
  it.each([
    [0.012, 12n, 1000n],
    [1, 1n, 1n],
    [3.25, 325n, 100n],
    [1e-7, 1n, 10_000_000n],
    [1e21, 10n ** 21n, 1n],
    [0.000123456789012345, 123456789012345n, 10n ** 18n],
  ])('reads %s as the decimal it was written as', (rate, numerator, denominator) => {
    expect(exactRate(rate)).toEqual({ numerator, denominator });
  });
});

describe('totalUsdMinor', () => {
  it('is exact where floating point is not: USD and INR both at 2^53 − 1', () => {
    const balances = [
      { currency: 'USD', balanceMinor: MAX },
      { currency: 'INR', balanceMinor: MAX },
    ];
    // MAX + MAX * 0.012 = 9115285645797882.892 → 9115285645797883; doubles give ...882.
    expect(totalUsdMinor(balances, specs(USD, INR))).toBe(9115285645797883n);
    expect(Math.round(MAX + (MAX / 100) * 0.012 * 100)).not.toBe(9115285645797883);
  });

  it('rounds once, at the end, half up', () => {
    // 1 paisa is 0.012 cents: 41 paise are 0.492 cents, 42 are 0.504.
    expect(totalUsdMinor([{ currency: 'INR', balanceMinor: 41 }], specs(INR))).toBe(0n);
    expect(totalUsdMinor([{ currency: 'INR', balanceMinor: 42 }], specs(INR))).toBe(1n);
    // 125 paise are exactly 1.5 cents: half rounds up.
    expect(totalUsdMinor([{ currency: 'INR', balanceMinor: 125 }], specs(INR))).toBe(2n);
    // Rounding each term first would give 0 + 0 = 0; the exact sum is 0.492 + 0.492 = 0.984 → 1.
    const twoCurrencies = specs(INR, { ...INR, code: 'EUR' });
    const split = [
      { currency: 'INR', balanceMinor: 41 },
      { currency: 'EUR', balanceMinor: 41 },
    ];
    expect(totalUsdMinor(split, twoCurrencies)).toBe(1n);
  });

  it('converts currencies with 0 and 3 minor digits', () => {
    // 1000 yen * 0.0067 = 6.70 USD; 1.000 dinar * 3.25 = 3.25 USD.
    const balances = [
      { currency: 'JPY', balanceMinor: 1000 },
      { currency: 'KWD', balanceMinor: 1000 },
    ];
    expect(totalUsdMinor(balances, specs(JPY, KWD))).toBe(670n + 325n);
  });

  it('leaves out a currency without a rate', () => {
    const balances = [
      { currency: 'USD', balanceMinor: 5 },
      { currency: 'EUR', balanceMinor: 1_000_000 },
    ];
    expect(totalUsdMinor(balances, specs(USD))).toBe(5n);
  });

  it('names the bound the API reports up to', () => {
    expect(TOTAL_USD_MINOR_MAX).toBe(BigInt(MAX));
  });
});
