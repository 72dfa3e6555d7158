import { startTestServer, type TestServer } from './support/test-server.js';

interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
  components: { schemas: Record<string, { properties: Record<string, { type?: string; nullable?: boolean; maximum?: number }>; required?: string[] }> };
}

describe('OpenAPI document', () => {
  let server: TestServer;
  let doc: OpenApi;
  beforeAll(async () => {
    server = await startTestServer();
    const response = await server.fetch('/openapi.json', { key: null });
    expect(response.status).toBe(200);
    doc = (await response.json()) as OpenApi;
  });
  afterAll(async () => server.close());

  const schemaOf = (path: string, method: string) => {
    const ref = doc.paths[path][method].responses['200'].content?.['application/json'].schema.$ref ?? '';
    return doc.components.schemas[ref.replace('#/components/schemas/', '')];
  };

  it('describes every route of the contract', () => {
    expect(Object.keys(doc.paths['/customers']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/customers/{customer_id}']).sort()).toEqual(['get', 'patch']);
    expect(Object.keys(doc.paths['/customers/{customer_id}/wallets'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/customers/{customer_id}/wallets/ledger-entries']).sort()).toEqual(['get', 'post']);
  });

  it('gives the exact wire shapes', () => {
    expect(Object.keys(schemaOf('/customers/{customer_id}', 'get').properties).sort()).toEqual(
      ['business_id', 'created_at', 'customer_id', 'email', 'metadata', 'name', 'phone_number'],
    );
    expect(Object.keys(schemaOf('/customers/{customer_id}/wallets/ledger-entries', 'post').properties).sort()).toEqual(
      ['balance', 'created_at', 'currency', 'customer_id', 'updated_at'],
    );
    expect(Object.keys(schemaOf('/customers/{customer_id}/wallets', 'get').properties).sort()).toEqual(['items', 'total_balance_usd']);
    const transaction = doc.components.schemas.CustomerWalletTransactionResponse.properties;
    expect(Object.keys(transaction).sort()).toEqual([
      'after_balance', 'amount', 'before_balance', 'business_id', 'created_at', 'currency', 'customer_id', 'event_type', 'id',
      'is_credit', 'reason', 'reference_object_id',
    ]);
    expect(transaction.reason.nullable).toBe(true);
    expect(doc.components.schemas.CreateLedgerEntryDto.properties.amount.maximum).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('serves the docs UI', async () => {
    const response = await server.fetch('/docs', { key: null });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('swagger');
  });
});
