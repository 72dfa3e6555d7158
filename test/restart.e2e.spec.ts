import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READ_MODEL_BACKEND, startTestServer } from './support/test-server.js';

describe(`restart on the same DATA_DIR (read models: ${READ_MODEL_BACKEND})`, () => {
  it('keeps every balance, entry and idempotency key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledger-restart-'));
    const mongoDbName = `ledger_restart_${randomUUID().slice(0, 8)}`;
    try {
      const first = await startTestServer({ dataDir, mongoDbName });
      const sdk = first.sdk();
      const id = (await sdk.customers.create({ email: 'durable@example.com', name: 'Durable' })).customer_id;
      await sdk.customers.wallets.ledgerEntries.create(id, { amount: 700, currency: 'USD', entry_type: 'credit', idempotency_key: 'before-restart' });
      await sdk.customers.wallets.ledgerEntries.create(id, { amount: 200, currency: 'USD', entry_type: 'debit' });
      await sdk.customers.wallets.ledgerEntries.create(id, { amount: 5, currency: 'INR', entry_type: 'credit' });
      const walletsBefore = await sdk.customers.wallets.list(id);
      const historyBefore = (await sdk.customers.wallets.ledgerEntries.list(id)).items;
      await first.stop();

      const second = await startTestServer({ dataDir, mongoDbName });
      try {
        const again = second.sdk();
        expect(await again.customers.wallets.list(id)).toEqual(walletsBefore);
        expect((await again.customers.wallets.ledgerEntries.list(id)).items).toEqual(historyBefore);
        expect((await again.customers.retrieve(id)).email).toBe('durable@example.com');
        // The idempotency key survived: the replay applies nothing.
        const replay = await again.customers.wallets.ledgerEntries.create(id, { amount: 700, currency: 'USD', entry_type: 'credit', idempotency_key: 'before-restart' });
        expect(replay.balance).toBe(700);
        const after = await again.customers.wallets.ledgerEntries.create(id, { amount: 1, currency: 'USD', entry_type: 'debit' });
        expect(after.balance).toBe(499);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
