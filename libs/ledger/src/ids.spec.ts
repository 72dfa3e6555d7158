import { newId } from './ids.js';

describe('newId', () => {
  it('mints distinct 96-bit hex ids across many pool refills', () => {
    const ids = Array.from({ length: 5000 }, () => newId('wle'));
    for (const id of ids) expect(id).toMatch(/^wle_[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newId('cus')).toMatch(/^cus_[0-9a-f]{24}$/);
  });
});
