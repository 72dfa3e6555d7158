import type { LedgerEntryView } from '../../../read-models/src/read-model.port.js';

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

  addEntry(entry: LedgerEntryView): void {
    this.add(entryKey(entry));
    if (entry.eventPosition !== undefined) this.positions = mixNumber(this.positions, entry.eventPosition);
  }

  /** Fingerprint of the entries' content. */
  get value(): string {
    return `${(this.a >>> 0).toString(16)}:${(this.b >>> 0).toString(16)}`;
  }

  /** Fingerprint of the entries' event positions (read-model layout 2 and later). */
  get positionValue(): number {
    return this.positions >>> 0;
  }

  private add(text: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      a = Math.imul(a ^ code, 0x01000193);
      b = Math.imul(b ^ code, 0x5bd1e995);
      b ^= b >>> 15;
    }
    // Separator, so ["ab", "c"] and ["a", "bc"] differ.
    this.a = Math.imul(a ^ 0x1e, 0x01000193);
    this.b = Math.imul(b ^ 0x1e, 0x5bd1e995);
  }
}

/** The fields of an entry that both sides must agree on, in a fixed order. */
function entryKey(e: LedgerEntryView): string {
  return `${e.id}|${e.businessId}|${e.currency}|${e.amountMinor}|${e.isCredit ? 1 : 0}|${e.beforeBalanceMinor}|${e.afterBalanceMinor}|${
    e.reason === null ? '\u0000' : e.reason
  }|${e.createdAt}`;
}

function mixNumber(hash: number, value: number): number {
  const mixed = Math.imul(hash ^ (value | 0), 0x01000193);
  return Math.imul(mixed ^ Math.floor(value / 0x100000000), 0x5bd1e995);
}
