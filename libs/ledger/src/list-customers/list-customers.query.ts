export class ListCustomersQuery {
  constructor(
    readonly businessId: string,
    readonly pageNumber: number,
    readonly pageSize: number,
    readonly email: string | undefined,
  ) {}
}
