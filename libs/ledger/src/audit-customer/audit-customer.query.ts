/** An operator's audit of one customer: replay its stream and compare it with the read models. */
export class AuditCustomerQuery {
  constructor(readonly customerId: string) {}
}
