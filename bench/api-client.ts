/** Plain-fetch calls to the API for set-up and the after-load checks (not on the measured path). */

const REQUEST_TIMEOUT_MS = 10_000;

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    }
    return JSON.parse(text) as T;
  }
}

interface Customer {
  readonly customer_id: string;
}

/** Creates `count` customers, `concurrency` requests at a time; returns their ids in order. */
export async function createCustomers(
  api: ApiClient,
  count: number,
  concurrency: number,
  label: string,
): Promise<{ ids: string[]; seconds: number }> {
  const started = performance.now();
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const customer = await api.json<Customer>('POST', '/customers', {
        email: `bench+${label}-${i}@example.com`,
        name: `Bench ${label} ${i}`,
      });
      ids[i] = customer.customer_id;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ids, seconds: (performance.now() - started) / 1000 };
}

interface Wallet {
  readonly balance: number;
  readonly currency: string;
}

interface Entry {
  readonly id: string;
  readonly currency: string;
  readonly amount: number;
  readonly is_credit: boolean;
  readonly before_balance: number;
  readonly after_balance: number;
}

/** What the load generator knows about one customer: credits sent, and those answered 2xx. */
export interface ClientLedger {
  sentCount: number;
  sentSum: number;
  ackedCount: number;
  ackedSum: number;
}

export interface CustomerCheck {
  readonly customerId: string;
  readonly balance: number;
  readonly entryCount: number;
  readonly entrySum: number;
  readonly acked: { count: number; sum: number };
  readonly sent: { count: number; sum: number };
  readonly problems: string[];
}

const PAGE_SIZE = 100;
const PAGES_MAX = 5_000;

/**
 * Reads one customer's USD wallet and every USD entry (newest first, 100 a page) and checks:
 * balance == sum of signed entries; each entry's after = before +/- amount; entries chain
 * (an entry's before == the next older one's after); the newest after == balance; and what
 * the client saw is bracketed: every credit answered 2xx is there, none beyond what was sent.
 */
export async function checkCustomer(
  api: ApiClient,
  customerId: string,
  ledger: ClientLedger | undefined,
): Promise<CustomerCheck> {
  // Re-read when the balance moved while paging (a request still in flight when the load stopped).
  for (let attempt = 0; ; attempt += 1) {
    const before = await usdBalance(api, customerId);
    const entries = await allUsdEntries(api, customerId);
    const after = await usdBalance(api, customerId);
    if (before !== after && attempt < 3) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    return judge(customerId, after, entries, ledger);
  }
}

async function usdBalance(api: ApiClient, customerId: string): Promise<number> {
  const list = await api.json<{ items: Wallet[] }>('GET', `/customers/${customerId}/wallets`);
  return list.items.find((w) => w.currency === 'USD')?.balance ?? Number.NaN;
}

async function allUsdEntries(api: ApiClient, customerId: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (let page = 0; page < PAGES_MAX; page += 1) {
    const path = `/customers/${customerId}/wallets/ledger-entries?currency=USD&page_size=${PAGE_SIZE}&page_number=${page}`;
    const { items } = await api.json<{ items: Entry[] }>('GET', path);
    entries.push(...items);
    if (items.length < PAGE_SIZE) return entries;
  }
  throw new Error(`${customerId} has more than ${PAGES_MAX * PAGE_SIZE} entries; the check gave up`);
}

function judge(customerId: string, balance: number, entries: Entry[], ledger: ClientLedger | undefined): CustomerCheck {
  const problems: string[] = [];
  let sum = 0;
  const ids = new Set<string>();
  entries.forEach((entry, index) => {
    const signed = entry.is_credit ? entry.amount : -entry.amount;
    sum += signed;
    if (ids.has(entry.id)) problems.push(`entry ${entry.id} listed twice`);
    ids.add(entry.id);
    if (entry.currency !== 'USD') problems.push(`entry ${entry.id} has currency ${entry.currency} in a USD listing`);
    if (entry.after_balance !== entry.before_balance + signed) {
      problems.push(
        `entry ${entry.id}: after_balance ${entry.after_balance} != before ${entry.before_balance} ${signed >= 0 ? '+' : '-'} ${entry.amount}`,
      );
    }
    const older = entries[index + 1];
    if (older !== undefined && older.after_balance !== entry.before_balance) {
      problems.push(
        `entry ${entry.id}: before_balance ${entry.before_balance} != the previous entry's after_balance ${older.after_balance}`,
      );
    }
  });
  if (sum !== balance) problems.push(`balance ${balance} != sum of ${entries.length} entries ${sum}`);
  if (entries.length > 0 && entries[0].after_balance !== balance) {
    problems.push(`newest entry's after_balance ${entries[0].after_balance} != balance ${balance}`);
  }
  if (entries.length > 0 && entries[entries.length - 1].before_balance !== 0) {
    problems.push(`oldest entry's before_balance is ${entries[entries.length - 1].before_balance}, not 0`);
  }
  const acked = { count: ledger?.ackedCount ?? 0, sum: ledger?.ackedSum ?? 0 };
  const sent = { count: ledger?.sentCount ?? 0, sum: ledger?.sentSum ?? 0 };
  if (ledger !== undefined) {
    // Only credits are sent, so the bounds hold for counts and sums alike.
    if (entries.length < acked.count || sum < acked.sum) {
      problems.push(
        `lost acknowledged credits: ${entries.length} entries (sum ${sum}) < ${acked.count} answered 2xx (sum ${acked.sum})`,
      );
    }
    if (entries.length > sent.count || sum > sent.sum) {
      problems.push(`more applied than sent: ${entries.length} entries (sum ${sum}) > ${sent.count} sent (sum ${sent.sum})`);
    }
  }
  return { customerId, balance, entryCount: entries.length, entrySum: sum, acked, sent, problems: problems.slice(0, 10) };
}
