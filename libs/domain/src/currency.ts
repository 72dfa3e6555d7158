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
  USD: 2, INR: 2, EUR: 2, GBP: 2, AUD: 2, CAD: 2, SGD: 2, AED: 2, BRL: 2, MXN: 2,
  CHF: 2, CNY: 2, HKD: 2, NZD: 2, SEK: 2, NOK: 2, DKK: 2, ZAR: 2, PLN: 2, THB: 2,
  JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0,
  KWD: 3, BHD: 3, OMR: 3, JOD: 3, TND: 3,
});

export const DEFAULT_CURRENCIES: readonly CurrencySpec[] = Object.freeze([
  { code: 'USD', minorUnitDigits: 2, usdPerMajorUnit: 1 },
  { code: 'INR', minorUnitDigits: 2, usdPerMajorUnit: 0.012 },
]);

/** Converts a balance to USD minor units (cents) with the configured rate, unrounded. */
export function toUsdMinor(balanceMinor: number, spec: CurrencySpec): number {
  const major = balanceMinor / 10 ** spec.minorUnitDigits;
  return major * spec.usdPerMajorUnit * 100;
}
