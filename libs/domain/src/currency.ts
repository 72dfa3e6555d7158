/** A currency the ledger accepts, with its ISO-4217 minor unit. */
export interface CurrencySpec {
  readonly code: string;
  /** Digits after the decimal point in the ISO-4217 minor unit (USD 2, JPY 0, KWD 3). */
  readonly minorUnitDigits: number;
  /** USD per one major unit of this currency, used only for `total_balance_usd`. */
  readonly usdPerMajorUnit: number;
}

/**
 * ISO-4217 minor units for the codes we know. A configured currency must appear here,
 * so nobody can store yen with two decimals by mistake.
 */
export const ISO_4217_MINOR_UNITS: Readonly<Record<string, number>> = Object.freeze({
  USD: 2,
  INR: 2,
  EUR: 2,
  GBP: 2,
  AUD: 2,
  CAD: 2,
  SGD: 2,
  AED: 2,
  BRL: 2,
  MXN: 2,
  CHF: 2,
  CNY: 2,
  HKD: 2,
  NZD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  ZAR: 2,
  PLN: 2,
  THB: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  KWD: 3,
  BHD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
});

export const DEFAULT_CURRENCIES: readonly CurrencySpec[] = Object.freeze([
  { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
  { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 },
]);

/** The largest total the API reports: past it a JSON number (an IEEE double) cannot carry every integer. */
export const TOTAL_USD_MINOR_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** An exact non-negative rational number. */
interface Ratio {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

/**
 * The rate as the decimal the operator wrote. A double's shortest round-trip form
 * (`String(0.012)` is "0.012") is that decimal whenever it has at most 15 significant
 * digits, which the configuration enforces; so 0.012 counts as exactly 12/1000, not as
 * the binary fraction nearest to it.
 */
export function exactRate(rate: number): Ratio {
  if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`rate must be a finite non-negative number (got ${rate})`);
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(rate));
  if (match === null) throw new RangeError(`rate ${rate} has no decimal form`);
  const [, whole, fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText) - fraction.length;
  const digits = BigInt(whole + fraction);
  return exponent >= 0
    ? { numerator: digits * 10n ** BigInt(exponent), denominator: 1n }
    : { numerator: digits, denominator: 10n ** BigInt(-exponent) };
}

/**
 * Every balance converted to US cents with its configured rate, summed exactly (rationals
 * in BigInt) and rounded once, at the end, to the nearest cent with halves rounded up
 * (balances are never negative, so up is away from zero). A currency with no spec (removed
 * from the configuration) has no rate and is left out. The result may exceed
 * `TOTAL_USD_MINOR_MAX`; callers decide what that means.
 */
export function totalUsdMinor(
  balances: Iterable<{ readonly currency: string; readonly balanceMinor: number }>,
  currencies: ReadonlyMap<string, CurrencySpec>,
): bigint {
  let numerator = 0n;
  let denominator = 1n;
  for (const { currency, balanceMinor } of balances) {
    const spec = currencies.get(currency);
    if (spec === undefined) continue;
    const cents = centsPerMinorUnit(spec);
    const termNumerator = BigInt(balanceMinor) * cents.numerator;
    const termDenominator = cents.denominator;
    if (termDenominator === denominator) {
      numerator += termNumerator;
    } else {
      numerator = numerator * termDenominator + termNumerator * denominator;
      denominator *= termDenominator;
    }
  }
  return roundHalfAwayFromZero(numerator, denominator);
}

/** Each spec's rate in US cents per minor unit, worked out once per spec: the decider converts on every credit. */
const CENTS_PER_MINOR_UNIT = new WeakMap<CurrencySpec, Ratio>();

function centsPerMinorUnit(spec: CurrencySpec): Ratio {
  let ratio = CENTS_PER_MINOR_UNIT.get(spec);
  if (ratio === undefined) {
    // cents = balance / 10^digits * rate * 100
    const rate = exactRate(spec.usdPerMajorUnit);
    ratio = { numerator: rate.numerator * 100n, denominator: rate.denominator * 10n ** BigInt(spec.minorUnitDigits) };
    CENTS_PER_MINOR_UNIT.set(spec, ratio);
  }
  return ratio;
}

function roundHalfAwayFromZero(numerator: bigint, denominator: bigint): bigint {
  const magnitude = numerator < 0n ? -numerator : numerator;
  const rounded = (2n * magnitude + denominator) / (2n * denominator);
  return numerator < 0n ? -rounded : rounded;
}
