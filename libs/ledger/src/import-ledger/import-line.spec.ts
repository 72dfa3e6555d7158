import { ImportLineError, csvLineParser, parseNdjsonLine, splitCsv } from './import-line.js';

describe('import lines', () => {
  it('reads the three NDJSON record types', () => {
    expect(parseNdjsonLine('{"type":"customer","ref":"a-1","email":"a@b.co","name":"A"}')).toEqual({
      kind: 'customer', ref: 'a-1', email: 'a@b.co', name: 'A', phoneNumber: null, metadata: {},
    });
    expect(parseNdjsonLine('{"type":"opening_balance","customer":"a-1","currency":"USD","amount":5}')).toEqual({
      kind: 'opening_balance', customer: { ref: 'a-1' }, currency: 'USD', amountMinor: 5,
    });
    expect(parseNdjsonLine('{"type":"entry","customer_id":"cus_abc","entry_type":"debit","currency":"INR","amount":7,"occurred_at":"2024-01-01T01:00:00+01:00"}')).toEqual({
      kind: 'entry', customer: { customerId: 'cus_abc' }, direction: 'debit', currency: 'INR', amountMinor: 7, reason: null, occurredAt: '2024-01-01T00:00:00.000Z',
    });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[1]', 'not a JSON object'],
    ['{"type":"refund"}', 'type must be'],
    ['{"type":"customer","ref":"a b","email":"a@b.co","name":"A"}', 'ref must be'],
    ['{"type":"customer","ref":"a","email":"nope","name":"A"}', 'email must be'],
    ['{"type":"opening_balance","customer":"a","currency":"usd","amount":5}', 'currency must be'],
    ['{"type":"opening_balance","customer":"a","currency":"USD","amount":"5"}', 'amount must be'],
    ['{"type":"opening_balance","customer":"a","customer_id":"cus_a","currency":"USD","amount":5}', 'exactly one of customer'],
    ['{"type":"entry","customer":"a","entry_type":"credit","currency":"USD","amount":5}', 'occurred_at must be'],
    ['{"type":"entry","customer":"a","entry_type":"credit","currency":"USD","amount":5,"occurred_at":"2024-01-01"}', 'occurred_at must be'],
    ['{"type":"entry","customer":"a","entry_type":"gift","currency":"USD","amount":5,"occurred_at":"2024-01-01T00:00:00Z"}', 'entry_type must be'],
    ['{"type":"opening_balance","customer":"a","currency":"USD","amount":5,"balance":9}', 'unknown field(s) for opening_balance: balance'],
  ])('refuses %s', (text, message) => {
    expect(() => parseNdjsonLine(text)).toThrow(ImportLineError);
    expect(() => parseNdjsonLine(text)).toThrow(message);
  });

  it('splits CSV with quotes, escaped quotes and empty cells', () => {
    expect(splitCsv('a,"b, c","say ""hi""",,e\r')).toEqual(['a', 'b, c', 'say "hi"', '', 'e']);
    expect(() => splitCsv('"open')).toThrow('unterminated');
  });

  it('maps CSV columns by the header and reads amounts as whole numbers only', () => {
    const parse = csvLineParser('type,customer,currency,amount');
    expect(parse('opening_balance,a,USD,100')).toEqual({ kind: 'opening_balance', customer: { ref: 'a' }, currency: 'USD', amountMinor: 100 });
    expect(() => parse('opening_balance,a,USD,1.5')).toThrow('amount must be');
    expect(() => parse('opening_balance,a,USD')).toThrow('3 fields, the header has 4');
    expect(() => csvLineParser('type,colour')).toThrow('unknown: colour');
  });
});
