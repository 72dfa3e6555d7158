export class GetCustomerQuery {
  constructor(
    readonly businessId: string,
    readonly customerId: string,
  ) {}
}
