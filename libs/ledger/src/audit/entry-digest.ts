import type { LedgerEntryView } from '#read-models';

/**
 * An order-sensitive 64-bit fingerprint of a ledger history (two 32-bit FNV-style
 * hashes), so a whole log can be swept holding one small value per customer instead of
 * every entry. It finds accidental differences (corruption, bugs), not forged ones; a
 * customer whose fingerprint differs is then compared entry by entry.
 */
export class EntryDigest {
  private a = 0x811c9dc5;
  private b = 0x2f2b5a1d;
  private positions = 0x9e3779b9;

  /** Hashes the fields both sides must agree on, in a fixed order (no string is built). */
  addEntry(e: LedgerEntryView): void {
    this.text(e.id);
    this.text(e.businessId);
    this.text(e.currency);
    this.number(e.amountMinor);
    this.number(e.isCredit ? 1 : 0);
    this.number(e.beforeBalanceMinor);
    this.number(e.afterBalanceMinor);
    if (e.reason === null) this.number(-1);
    else this.text(e.reason);
    this.text(e.createdAt);
    if (e.eventPosition !== undefined)
      this.positions =
        Math.imul(this.positions ^ (e.eventPosition >>> 0), 0x01000193) ^ Math.floor(e.eventPosition / 0x100000000);
  }

  /** Fingerprint of the entries' content. */
  get value(): string {
    return `${(this.a >>> 0).toString(16)}:${(this.b >>> 0).toString(16)}`;
  }

  /** Fingerprint of the entries' event positions (read-model layout 2 and later). */
  get positionValue(): number {
    return this.positions >>> 0;
  }

  private text(text: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      a = Math.imul(a ^ code, 0x01000193);
      b = Math.imul(b ^ code, 0x5bd1e995);
      b ^= b >>> 15;
    }
    // A separator after every field, so ["ab", "c"] and ["a", "bc"] differ.
    this.a = Math.imul(a ^ 0x1e, 0x01000193);
    this.b = Math.imul(b ^ 0x1e, 0x5bd1e995);
  }

  private number(value: number): void {
    const low = value >>> 0;
    const high = Math.floor(value / 0x100000000) | 0;
    this.a = Math.imul(Math.imul(this.a ^ low, 0x01000193) ^ high, 0x01000193);
    const b = Math.imul(Math.imul(this.b ^ low, 0x5bd1e995) ^ high, 0x5bd1e995);
    this.b = b ^ (b >>> 15);
  }
}
