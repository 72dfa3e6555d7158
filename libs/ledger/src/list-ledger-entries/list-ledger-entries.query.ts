export class ListLedgerEntriesQuery {
  constructor(
    readonly businessId: string,
    readonly customerId: string,
    readonly pageNumber: number,
    readonly pageSize: number,
    readonly currency: string | undefined,
  ) {}
}
