import { DomainError } from '#domain';
import type { CustomerView, ReadModelStore } from '#read-models';

/** Another business's customer is reported exactly like one that does not exist. */
export async function requireCustomer(readModels: ReadModelStore, businessId: string, customerId: string): Promise<CustomerView> {
  const customer = await readModels.findCustomer(businessId, customerId);
  if (customer === null) throw new DomainError('CUSTOMER_NOT_FOUND', `Customer ${customerId} was not found.`);
  return customer;
}
